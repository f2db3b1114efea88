//! Staff passwords: change (`POST /v1/auth/staff/password`), reset by an emailed code
//! (`POST /v1/auth/staff/password-reset`, `/confirm`) and the admin's reset for a member
//! (`POST /v1/staff/{staff_id}/password-reset`). The requests are read here; the rules
//! (the lock-out, the even work of a reset request) are in `services::staff::password`.

use std::time::Instant;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::App;
use shared::auth::Principal;
use shared::domain::EmailAddress;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json, source_ip};
use shared::services::staff::password::{self, ResetCode};

use crate::staff::staff_id;

#[derive(Debug, Deserialize)]
struct ChangeRequest {
    current_password: String,
    new_password: String,
}

impl JsonBody for ChangeRequest {
    const FIELDS: &'static [&'static str] = &["current_password", "new_password"];
}

/// `POST /v1/auth/staff/password`: every other session of the member ends; this one stays.
pub async fn change(app: &App, req: &Request, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let body: ChangeRequest = parse_json(req)?;
    password::change(app, principal, &body.current_password, &body.new_password).await?;
    no_content()
}

#[derive(Debug, Deserialize)]
struct ResetRequest {
    email: String,
}

impl JsonBody for ResetRequest {
    const FIELDS: &'static [&'static str] = &["email"];
}

fn email(text: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(text).map_err(|message| ApiError::validation("email", message))
}

/// The answer of a reset request: `{"expires_in"}` (and, with `OTP_DEV_ECHO=1`, `dev_code`: a
/// code is generated and stored for every address, so the local stack's bodies are alike too;
/// it only works where an account exists).
fn reset_body(code: &ResetCode) -> Value {
    let mut body = json!({ "expires_in": code.expires_in });
    if let Some(dev_code) = &code.dev_code {
        body["dev_code"] = json!(dev_code);
    }
    body
}

/// `POST /v1/auth/staff/password-reset`: always 202, whether or not the account exists.
pub async fn request_reset(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let body: ResetRequest = parse_json(req)?;
    let email = email(&body.email)?;
    let code = password::request_reset(app, &email, source_ip(req).as_deref(), started).await?;
    json(StatusCode::ACCEPTED, &reset_body(&code))
}

#[derive(Debug, Deserialize)]
struct ResetConfirmRequest {
    email: String,
    code: String,
    new_password: String,
}

impl JsonBody for ResetConfirmRequest {
    const FIELDS: &'static [&'static str] = &["email", "code", "new_password"];
}

/// `POST /v1/auth/staff/password-reset/confirm`: a wrong code is 400 and counts against the
/// code; a weak password is 422 and leaves the code usable. 204.
pub async fn confirm_reset(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: ResetConfirmRequest = parse_json(req)?;
    let email = email(&body.email)?;
    password::confirm_reset(app, &email, &body.code, &body.new_password).await?;
    no_content()
}

/// `POST /v1/staff/{staff_id}/password-reset`: emails the member a reset code. 202.
pub async fn admin_reset(app: &App, admin: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let code = password::admin_reset(app, admin, &staff_id(raw_id)?).await?;
    json(StatusCode::ACCEPTED, &reset_body(&code))
}
