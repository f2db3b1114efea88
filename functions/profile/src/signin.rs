//! A customer's ways to sign in: the identity providers linked to them
//! (`GET/DELETE /v1/me/identities`) and confirming their email address with a code
//! (`POST /v1/me/email/verification`, `/confirm`). The rules are in `services::profile`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::otp::is_well_formed;
use shared::domain::CustomerId;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json, source_ip};
use shared::services::profile;

use crate::changed;

pub async fn list_identities(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    let items: Vec<_> = profile::identities(app, me).await?.iter().map(|link| link.to_json()).collect();
    json(StatusCode::OK, &json!({ "items": items }))
}

/// Removes the link to `provider`, unless it is the customer's only way in (409).
pub async fn unlink_identity(app: &App, me: &CustomerId, provider: &str) -> Result<Response<Body>, ApiError> {
    profile::unlink_identity(app, me, provider).await?;
    no_content()
}

/// Sends a code to my email (202; 409 without one), within the code limits.
pub async fn request_verification(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let code = profile::request_verification(app, me, source_ip(req).as_deref()).await?;
    let mut body = json!({ "expires_in": app.config.otp.code_ttl.as_secs() });
    if app.config.otp_dev_echo {
        body["dev_code"] = json!(code.digits());
    }
    json(StatusCode::ACCEPTED, &body)
}

#[derive(Debug, Deserialize)]
struct ConfirmRequest {
    code: String,
}

impl JsonBody for ConfirmRequest {
    const FIELDS: &'static [&'static str] = &["code"];
}

/// The right code sets `email_verified` (200 with my profile). A wrong or expired code is 400
/// (not 401: the caller's token is fine), and 5 wrong tries end the code (429).
pub async fn confirm_verification(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: ConfirmRequest = parse_json(req)?;
    let code = body.code.trim().to_string();
    if !is_well_formed(&code) {
        return Err(ApiError::validation("code", "must be the 6 digits we sent"));
    }
    changed(profile::confirm_verification(app, me, &code).await)
}
