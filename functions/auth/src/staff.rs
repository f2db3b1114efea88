//! Staff login and the admin's staff management: the requests are read here, the use cases are
//! `services::staff::accounts`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::Principal;
use shared::domain::staff::{StaffChange, StaffId, StaffMember, new_staff, parse_staff_role};
use shared::domain::validation::{ValidationErrors, bounded_text};
use shared::http::paging::PageRequest;
use shared::http::response::with_location;
use shared::http::{ApiError, JsonBody, Scope, json, parse_json};
use shared::services::staff::StaffError;
use shared::services::staff::accounts::{self, StaffLogin, StaffSession};
use shared::services::staff::mfa::MfaTicket;

use crate::tokens::token_fields;

#[derive(Debug, Deserialize)]
struct StaffLoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    device_name: Option<String>,
}

impl JsonBody for StaffLoginRequest {
    const FIELDS: &'static [&'static str] = &["email", "password", "device_name"];
}

/// Staff login: tokens, or an `mfa_token` for the second step.
pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: StaffLoginRequest = parse_json(req)?;
    let device_name = match body.device_name.as_deref() {
        Some(name) => Some(bounded_text(name, 100).map_err(|m| ApiError::validation("device_name", m))?),
        None => None,
    };
    match accounts::login(app, &app.issuer(req), &body.email, &body.password, device_name).await? {
        StaffLogin::SecondStep(ticket) => json(StatusCode::OK, &second_step_body(&ticket)),
        StaffLogin::SignedIn(session) => signed_in(&session),
    }
}

/// The answer of a password that needs a second step.
fn second_step_body(ticket: &MfaTicket) -> serde_json::Value {
    let mut body = json!({ "mfa_required": true, "mfa_token": ticket.token, "expires_in": ticket.expires_in });
    if !ticket.is_login() {
        body["mfa_enrolment_required"] = json!(true);
    }
    body
}

/// The answer of a completed staff login: the tokens and the member.
pub fn signed_in(session: &StaffSession) -> Result<Response<Body>, ApiError> {
    let mut response = token_fields(&session.tokens);
    response["staff"] = session.staff.to_json();
    json(StatusCode::OK, &response)
}

/// The member a path names: an id that does not parse is no member either.
pub fn staff_id(raw_id: &str) -> Result<StaffId, ApiError> {
    Ok(StaffId::parse(raw_id).ok_or(StaffError::NotFound)?)
}

#[derive(Debug, Deserialize)]
struct CreateStaffRequest {
    email: String,
    password: String,
    name: String,
    role: String,
}

impl JsonBody for CreateStaffRequest {
    const FIELDS: &'static [&'static str] = &["email", "password", "name", "role"];
}

pub async fn create(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: CreateStaffRequest = parse_json(req)?;
    let staff = new_staff(&body.email, &body.password, &body.name, &body.role, app.clock.now())?;
    accounts::create(app, &staff).await?;
    with_location(json(StatusCode::CREATED, &staff.to_json())?, &format!("/v1/staff/{}", staff.staff_id))
}

pub async fn list(app: &App, req: &Request, scope: Scope) -> Result<Response<Body>, ApiError> {
    let request = PageRequest::from_request(app, req, scope)?;
    let page = accounts::list(app, request.limit, request.start.clone()).await?;
    request.respond(app, page, StaffMember::to_json)
}

#[derive(Debug, Default, Deserialize)]
struct UpdateStaffRequest {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    name: Option<String>,
}

impl JsonBody for UpdateStaffRequest {
    const FIELDS: &'static [&'static str] = &["role", "disabled", "name"];
}

/// Role change, disable/enable, rename.
pub async fn update(app: &App, req: &Request, admin: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let body: UpdateStaffRequest = parse_json(req)?;
    let id = staff_id(raw_id)?;
    let mut errors = ValidationErrors::new();
    let role = body.role.as_deref().and_then(|r| errors.check("role", parse_staff_role(r)));
    let name = body.name.as_deref().and_then(|n| errors.check("name", bounded_text(n, 100)));
    errors.into_result()?;
    let change = StaffChange { role, disabled: body.disabled, name };
    let staff = accounts::update(app, admin, &id, &change).await?;
    json(StatusCode::OK, &staff.to_json())
}
