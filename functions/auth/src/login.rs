//! `POST /v1/auth/login`: signup-or-login with a one-time code sent by SMS or by email. The
//! request is read here; the use case is `services::signin::sign_in_with_code`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::Role;
use shared::auth::otp::is_well_formed;
use shared::domain::ValidationErrors;
use shared::domain::customer::{Audience, parse_full_name};
use shared::domain::validation::bounded_text;
use shared::http::{ApiError, JsonBody, json, parse_json_lenient};
use shared::metrics::Metric;
use shared::services::signin::{self, CodeSignIn, SignedIn};
use shared::time::Timestamp;

use shared::services::sessions::open_session;

use crate::tokens::token_fields;

pub const MAX_DEVICE_NAME: usize = 100;

#[derive(Debug, Deserialize)]
struct LoginRequest {
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

impl JsonBody for LoginRequest {
    const FIELDS: &'static [&'static str] = &["phone", "email", "code", "name", "device_name"];
}

fn validate(
    app: &App,
    body: LoginRequest,
    mut errors: ValidationErrors,
) -> Result<(CodeSignIn, Option<String>), ValidationErrors> {
    let to = crate::otp::recipient(app, body.phone.as_deref(), body.email.as_deref(), &mut errors);
    let code = body.code.as_deref().map(str::trim).unwrap_or_default().to_string();
    if !is_well_formed(&code) {
        errors.add("code", "must be the 6 digits we sent");
    }
    let names = body.name.as_deref().and_then(|name| errors.check("name", parse_full_name(name)));
    let device_name = device_name(body.device_name.as_deref(), &mut errors);
    errors.into_result()?;
    match to {
        Some(to) => Ok((CodeSignIn { to, code, names }, device_name)),
        None => Err(ValidationErrors::single("phone", "is required unless email is given")),
    }
}

pub fn device_name(text: Option<&str>, errors: &mut ValidationErrors) -> Option<String> {
    text.and_then(|d| errors.check("device_name", bounded_text(d, MAX_DEVICE_NAME)))
}

pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (body, shape_errors) = parse_json_lenient::<LoginRequest>(req)?;
    let (login, device_name) = validate(app, body, shape_errors)?;
    let now = app.clock.now();
    let signed_in = signin::sign_in_with_code(app, &login, now).await?;
    token_response(app, &app.issuer(req), signed_in, device_name, now).await
}

/// The token response of every customer sign-in: a new session, the customer, `created`, and
/// the `Signup`/`Login` metric with the channel (`sms`, `email`, `oidc:<provider>`).
pub async fn token_response(
    app: &App,
    issuer: &str,
    signed_in: SignedIn,
    device_name: Option<String>,
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let SignedIn { customer, created, channel } = signed_in;
    let tokens = open_session(app, issuer, customer.customer_id.as_str(), Role::Customer, device_name, now).await?;
    let mut response = token_fields(&tokens);
    let metric = if created { Metric::Signup } else { Metric::Login };
    shared::metrics::count_by_channel(crate::otp::FUNCTION, metric, &channel.to_string());
    tracing::info!(customer_id = %customer.customer_id, %channel, created, "customer signed in");
    response["customer"] = customer.to_json(Audience::Owner);
    response["created"] = json!(created);
    json(StatusCode::OK, &response)
}
