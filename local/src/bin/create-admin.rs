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

use aws_config::BehaviorVersion;
use local_stack::admin::{AdminOutcome, ensure_admin};
use shared::store::Store;

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
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required (the stack's TableName output)")?;
    eprintln!("password for {email} (one line on standard input):");
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);

    let http = shared::app::https_client(shared::app::TrustRoots::System)?;
    let sdk = aws_config::defaults(BehaviorVersion::latest()).http_client(http).load().await;
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        dynamodb = dynamodb.endpoint_url(endpoint);
    }
    let store = Store::new(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()), table);
    match ensure_admin(&store, &email, password, &name).await? {
        AdminOutcome::Created(id) => println!("created admin {id} ({email})"),
        AdminOutcome::AlreadyExists(id) => {
            println!("a staff account with this email exists already: {id}; nothing changed")
        }
    }
    Ok(())
}
