//! Creates the first admin of a deployed stack. There is no default password in AWS: run
//!
//! ```sh
//! TABLE_NAME=<the stack's TableName output> cargo run --release -p local-stack --bin create-admin -- \
//!     --email ops@example.com --name "Ops Lead"
//! ```
//!
//! with AWS credentials allowed to write the table; the password is read from standard input
//! (one line, at least 12 characters) so it never lands in shell history.

use std::io::BufRead;

use local_stack::admin::{AdminOutcome, ensure_admin};

/// How the first admin turns two factors on, which the deployment requires of admins unless
/// `StaffMfaRequired` says otherwise.
const ENROL_HINT: &str = "\
Two-factor authentication (StaffMfaRequired, admins by default):
  1. POST /v1/auth/staff/login {email, password}: the answer has mfa_enrolment_required and an mfa_token
  2. POST /v1/auth/staff/mfa/totp with `Authorization: Bearer <mfa_token>`: scan otpauth_uri
     (or type secret) into an authenticator app
  3. POST /v1/auth/staff/mfa/totp/confirm {code} with the same token: keep the ten recovery codes
  4. sign in again: the password, then POST /v1/auth/staff/login/mfa {mfa_token, code}";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let (Some(email), Some(name)) = (flag("--email"), flag("--name")) else {
        return Err(
            "usage: create-admin --email <email> --name <name>  (password on stdin, TABLE_NAME in the environment)"
                .into(),
        );
    };
    let store = local_stack::tool_store().await?;
    eprintln!("password for {email} (one line on standard input):");
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);

    match ensure_admin(&store, &email, password, &name).await? {
        AdminOutcome::Created(id) => {
            println!("created admin {id} ({email})");
            println!("{ENROL_HINT}");
        }
        AdminOutcome::AlreadyExists(id) => {
            println!("a staff account with this email exists already: {id}; nothing changed")
        }
    }
    Ok(())
}
