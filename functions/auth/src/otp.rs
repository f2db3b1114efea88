//! `POST /v1/auth/otp`: issues a one-time code by SMS (`phone`) or by email (`email`), within
//! the per-recipient and per-IP limits (`shared::services::codes`); SMS codes go only to the
//! allowed countries.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::domain::{CodeRecipient, EmailAddress, PhoneE164, ValidationErrors};
use shared::email::EmailPurpose;
use shared::http::{ApiError, JsonBody, json, parse_json, source_ip};
use shared::services::codes;

#[derive(Debug, Deserialize)]
struct OtpRequest {
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl JsonBody for OtpRequest {
    const FIELDS: &'static [&'static str] = &["phone", "email"];
}

/// Exactly one of `phone` and `email`, normalised; both or neither name both fields. Shared
/// with the login, which names the recipient the same way.
pub fn recipient(
    app: &App,
    phone: Option<&str>,
    email: Option<&str>,
    errors: &mut ValidationErrors,
) -> Option<CodeRecipient> {
    match (phone, email) {
        (Some(phone), None) => {
            errors.check("phone", PhoneE164::parse(phone, app.config.phone_default_region)).map(CodeRecipient::Phone)
        }
        (None, Some(email)) => errors.check("email", EmailAddress::parse(email)).map(CodeRecipient::Email),
        (Some(_), Some(_)) => {
            errors.add("phone", "give either phone or email, not both");
            errors.add("email", "give either phone or email, not both");
            None
        }
        (None, None) => {
            errors.add("phone", "is required unless email is given");
            errors.add("email", "is required unless phone is given");
            None
        }
    }
}

pub async fn request_code(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: OtpRequest = parse_json(req)?;
    let mut errors = ValidationErrors::new();
    let to = recipient(app, body.phone.as_deref(), body.email.as_deref(), &mut errors);
    errors.into_result()?;
    let Some(to) = to else { return Err(ApiError::validation("phone", "is required unless email is given")) };
    if let CodeRecipient::Phone(phone) = &to {
        let allowed = &app.config.otp.allowed_countries;
        if !phone.country().is_some_and(|country| allowed.contains(&country)) {
            return Err(ApiError::validation("phone", "codes are not sent to this country"));
        }
    }
    let code = codes::issue(app, &to, source_ip(req).as_deref(), EmailPurpose::SignIn, FUNCTION).await?;
    code_sent(app, &code)
}

/// The 202 of every route that sends a code: its lifetime and, in the local stack only, the code.
pub fn code_sent(app: &App, code: &shared::auth::otp::OtpCode) -> Result<Response<Body>, ApiError> {
    let mut body = json!({ "expires_in": app.config.otp.code_ttl.as_secs() });
    if app.config.otp_dev_echo {
        body["dev_code"] = json!(code.digits());
    }
    json(StatusCode::ACCEPTED, &body)
}

/// The function's name in metrics (the alarms in template.yaml read it).
pub const FUNCTION: &str = "auth";
