//! Capacity rows of the sign-ins beyond SMS (a code by email, an identity provider: the local
//! stack's development provider) and of the staff account security routes (password reset,
//! two factors, the two-step login).

use integration_tests::TestApp;
use local_stack::dev_idp::{DevIdp, TokenRequest};
use serde_json::json;
use shared::auth::totp::{TotpSecret, base32_decode, step_of};
use shared::domain::staff::new_staff;
use shared::time::Timestamp;

use super::{Row, fail, measure, text};

const EMAIL: &str = "eve.mwale@example.com";

/// `POST /v1/auth/otp` and `/v1/auth/login` by email, then `POST /v1/auth/oidc`: a new
/// customer and a returning one each.
pub(super) async fn signin_rows(t: &TestApp, idp: &DevIdp, rows: &mut Vec<Row>) {
    let otp = json!({ "email": EMAIL });
    let (sent, used) = measure(t, "POST", "/v1/auth/otp", None, Some(otp.clone()), 202).await;
    rows.push(Row {
        route: "POST /v1/auth/otp",
        case: "first code for an email address",
        used,
        writes: true,
        note: "GetItem `OTP#EMAIL#address` (consistent, absent); UpdateItem per-IP `RATE#otp-ip` \
               window; conditional PutItem `OTP#EMAIL#address` (new); no SMS budget window; the \
               email goes out through SES"
            .into(),
        ..Row::default()
    });
    let login = json!({ "email": EMAIL, "code": text(&sent, "dev_code"), "name": "Eve Mwale" });
    let (response, used) = measure(t, "POST", "/v1/auth/login", None, Some(login), 200).await;
    if response.json()["created"] != true {
        fail("the email signup did not create a customer");
    }
    rows.push(Row {
        route: "POST /v1/auth/login",
        case: "new customer by email (signup)",
        tx_sentinels: 3,
        empty_queries: 1,
        empty_consistent_queries: 1,
        used,
        writes: true,
        note: "as the SMS signup, found by email: GetItem `OTP#EMAIL#…`; Query GSI2 by email \
               (empty) + GetItem email sentinel (absent); UpdateItem OTP; Query `FIELDS`; GetItem \
               username sentinel; **transaction**: Put customer + audit entry + username and email \
               sentinels, the customer lands in GSI2, GSI3, GSI4; PutItem session"
            .into(),
        ..Row::default()
    });

    let (sent, _) = measure(t, "POST", "/v1/auth/otp", None, Some(otp), 202).await;
    let login = json!({ "email": EMAIL, "code": text(&sent, "dev_code") });
    let (response, used) = measure(t, "POST", "/v1/auth/login", None, Some(login), 200).await;
    if response.json()["created"] != false {
        fail("the second email login created another customer");
    }
    rows.push(Row {
        route: "POST /v1/auth/login",
        case: "existing customer by email",
        used,
        writes: true,
        note: "as the SMS login, found by email: GetItem `OTP#EMAIL#…`; Query GSI2 + GetItem \
               customer (consistent); UpdateItem OTP; the login's customer write \
               (`last_login_at`, `sign_in_channel`) and login-day entries; PutItem session"
            .into(),
        ..Row::default()
    });

    let provider = idp.provider_entry()["name"].as_str().unwrap_or("local").to_string();
    let token = |sub: &str| {
        idp.mint(&TokenRequest { sub: sub.into(), name: Some("Obi Okafor".into()), ..TokenRequest::default() })
            .unwrap_or_else(|e| fail(&format!("minting an ID token: {e}")))
    };
    let body = json!({ "provider": provider, "id_token": token("capacity-sub-1") });
    let (response, used) = measure(t, "POST", "/v1/auth/oidc", None, Some(body), 200).await;
    if response.json()["created"] != true {
        fail("the first provider sign-in did not create a customer");
    }
    rows.push(Row {
        route: "POST /v1/auth/oidc",
        case: "new provider account (signup), no email",
        tx_sentinels: 2,
        empty_consistent_queries: 1,
        used,
        writes: true,
        note: "the provider's keys from the instance's cache (no DynamoDB); GetItem \
               `UNIQUE#IDENTITY#provider#sub` (consistent, absent); Query `FIELDS`; GetItem \
               username sentinel; **transaction**: Put customer + audit entry + username \
               sentinel + identity sentinel + Put `IDENTITY#provider` link; PutItem session"
            .into(),
        ..Row::default()
    });
    let body = json!({ "provider": provider, "id_token": token("capacity-sub-1") });
    let (response, used) = measure(t, "POST", "/v1/auth/oidc", None, Some(body), 200).await;
    if response.json()["created"] != false {
        fail("the second provider sign-in created another customer");
    }
    rows.push(Row {
        route: "POST /v1/auth/oidc",
        case: "linked provider account (login)",
        used,
        writes: true,
        note: "GetItem identity sentinel (consistent) + GetItem customer (consistent); the \
               login's customer write and login-day entries; PutItem session"
            .into(),
        ..Row::default()
    });
}

const MEMBER_EMAIL: &str = "bench-member@example.com";
const MEMBER_PASSWORD: &str = "bench member password 1";

/// A staff member's password reset (by an address with and without an account), two factors
/// enrolled and confirmed, and the two-step login. `admin` is an admin's access token.
pub(super) async fn staff_security_rows(t: &TestApp, rows: &mut Vec<Row>) {
    let member = new_staff(MEMBER_EMAIL, MEMBER_PASSWORD, "Bench Member", "staff", Timestamp::now())
        .unwrap_or_else(|e| fail(&format!("the member: {e:?}")));
    t.app().store.create_staff(&member).await.unwrap_or_else(|e| fail(&format!("creating the member: {e}")));

    let reset = |email: &str| json!({ "email": email });
    let (sent, used) = measure(t, "POST", "/v1/auth/staff/password-reset", None, Some(reset(MEMBER_EMAIL)), 202).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/password-reset",
        case: "address of an account",
        used,
        writes: true,
        note: "GetItem staff email sentinel + GetItem staff (consistent); GetItem \
               `OTP#STAFF_RESET#address` (consistent, absent); UpdateItem per-IP `RATE#otp-ip` \
               window; conditional PutItem of the code; the email goes out"
            .into(),
        ..Row::default()
    });
    let (_, used) =
        measure(t, "POST", "/v1/auth/staff/password-reset", None, Some(reset("nobody@example.com")), 202).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/password-reset",
        case: "address without an account",
        used,
        writes: true,
        note: "the same work: GetItem staff email sentinel (absent) + GetItem of a placeholder \
               member (the profile read); the code's reads and writes as above; no email"
            .into(),
        ..Row::default()
    });
    let confirm = json!({ "email": MEMBER_EMAIL, "code": text(&sent, "dev_code"), "new_password": MEMBER_PASSWORD });
    let (_, used) = measure(t, "POST", "/v1/auth/staff/password-reset/confirm", None, Some(confirm), 204).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/password-reset/confirm",
        case: "right code",
        used,
        writes: true,
        note: "GetItem of the code (consistent); GetItem staff email sentinel + GetItem staff; \
               UpdateItem of the code (use it); Argon2id (no I/O); PutItem staff conditional on \
               `version`; Query the member's sessions (none here) and delete them; the login \
               guard cleared; PutItem of the security trail entry"
            .into(),
        ..Row::default()
    });

    let login = json!({ "email": MEMBER_EMAIL, "password": MEMBER_PASSWORD });
    let signed_in = t.call("POST", "/v1/auth/staff/login", None, Some(login.clone())).await;
    if signed_in.status != 200 {
        fail(&format!("the member's login answered {}", signed_in.status));
    }
    let token = text(&signed_in, "access_token");
    let (enrolled, used) = measure(t, "POST", "/v1/auth/staff/mfa/totp", Some(&token), None, 201).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/mfa/totp",
        case: "enrol an authenticator",
        used,
        writes: true,
        note: "GetItem staff (consistent); GetItem the member's two-factor item (consistent, \
               absent); conditional PutItem of it with the sealed pending seed"
            .into(),
        ..Row::default()
    });
    let secret = TotpSecret::from_bytes(
        base32_decode(&text(&enrolled, "secret")).unwrap_or_else(|| fail("the secret is not base32")),
    );
    let code_at = |offset: i64| secret.code_at(step_of(t.app().clock.now().unix()) + offset);
    let confirm = json!({ "code": code_at(0) });
    let (_, used) = measure(t, "POST", "/v1/auth/staff/mfa/totp/confirm", Some(&token), Some(confirm), 200).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/mfa/totp/confirm",
        case: "right code",
        used,
        writes: true,
        note: "GetItem staff + the two-factor item (consistent); conditional PutItem of it (the \
               seed confirmed, 10 recovery code hashes); PutItem of the trail entry"
            .into(),
        ..Row::default()
    });

    let (challenge, used) = measure(t, "POST", "/v1/auth/staff/login", None, Some(login), 200).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/login",
        case: "right password, two factors on",
        used,
        writes: true,
        note: "as the password login, then GetItem of the two-factor item (consistent) and \
               PutItem of an `mfa_challenge` (5 min TTL) instead of a session"
            .into(),
        ..Row::default()
    });
    // A code works once: the confirmation used this step's, the login takes the next one.
    let second = json!({ "mfa_token": text(&challenge, "mfa_token"), "code": code_at(1) });
    let (_, used) = measure(t, "POST", "/v1/auth/staff/login/mfa", None, Some(second), 200).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/login/mfa",
        case: "right TOTP code",
        used,
        writes: true,
        note: "GetItem the challenge + staff (consistent); the login guard counted and cleared \
               (GetItem + PutItem each); GetItem + conditional PutItem of the two-factor item \
               (`last_used_step`: a code works once); DeleteItem the challenge; PutItem session; \
               PutItem of the trail entry"
            .into(),
        ..Row::default()
    });
}
