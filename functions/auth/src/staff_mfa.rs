//! Two-factor authentication for staff (TOTP, issue #23): enrol, confirm, turn off, the second
//! step of a login (`POST /v1/auth/staff/login/mfa`), and the admin's reset. The requests are
//! read here; the rules are in `services::staff::mfa`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::roles::{Access, authorize};
use shared::auth::{AuthError, Principal};
use shared::http::response::with_location;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json};
use shared::services::staff::mfa::{self, Enrolling};

use crate::staff::{signed_in, staff_id};

#[derive(Debug, Deserialize)]
struct MfaLoginRequest {
    mfa_token: String,
    code: String,
}

impl JsonBody for MfaLoginRequest {
    const FIELDS: &'static [&'static str] = &["mfa_token", "code"];
}

/// `POST /v1/auth/staff/login/mfa`: a current TOTP code or an unused recovery code.
pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: MfaLoginRequest = parse_json(req)?;
    let session = mfa::login(app, &app.issuer(req), &body.mfa_token, &body.code).await?;
    signed_in(&session)
}

/// Who is enrolling: a staff access token, or an enrolment-only `mfa_token` as the bearer
/// (what a password login hands a member who must enrol before using the API).
async fn enrolling_member(app: &App, req: &Request) -> Result<Enrolling, ApiError> {
    match authorize(req.headers(), Access::Staff, app.keys().jwt(), &app.issuer(req)) {
        Ok(Some(principal)) => Ok(Enrolling::by_access_token(app, &principal).await?),
        Err(AuthError::InvalidToken) => {
            let bearer = bearer(req).ok_or(AuthError::InvalidToken)?;
            Ok(Enrolling::by_enrolment_token(app, bearer).await?)
        }
        Ok(None) => Err(AuthError::MissingToken.into()),
        Err(err) => Err(err.into()),
    }
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `POST /v1/auth/staff/mfa/totp`: a new secret, pending until a code confirms it. 201.
pub async fn enrol(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let enrolling = enrolling_member(app, req).await?;
    let enrolment = mfa::enrol(app, &enrolling).await?;
    let body = json!({ "secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri });
    // The enrolment lives at the route that created it (confirmed at `.../confirm`).
    with_location(json(StatusCode::CREATED, &body)?, "/v1/auth/staff/mfa/totp")
}

#[derive(Debug, Deserialize)]
struct ConfirmRequest {
    code: String,
}

impl JsonBody for ConfirmRequest {
    const FIELDS: &'static [&'static str] = &["code"];
}

/// `POST /v1/auth/staff/mfa/totp/confirm`: a current code of the pending secret turns two
/// factors on; the ten recovery codes are in this answer only. A wrong code is 400.
pub async fn confirm(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let enrolling = enrolling_member(app, req).await?;
    let body: ConfirmRequest = parse_json(req)?;
    let codes = mfa::confirm(app, &enrolling, &body.code).await?;
    json(StatusCode::OK, &json!({ "recovery_codes": codes }))
}

#[derive(Debug, Deserialize)]
struct DisableRequest {
    password: String,
}

impl JsonBody for DisableRequest {
    const FIELDS: &'static [&'static str] = &["password"];
}

/// `DELETE /v1/auth/staff/mfa`: needs the password (403 when wrong, counted like a failed
/// login); 409 where the deployment requires two factors for the member's role. 204.
pub async fn disable(app: &App, req: &Request, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let body: DisableRequest = parse_json(req)?;
    mfa::disable(app, principal, &body.password).await?;
    no_content()
}

/// `DELETE /v1/staff/{staff_id}/mfa`: an admin removes a member's two factors. 204.
pub async fn admin_reset(app: &App, admin: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    mfa::admin_reset(app, admin, &staff_id(raw_id)?).await?;
    no_content()
}
