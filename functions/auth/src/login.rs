//! `POST /v1/auth/login`: signup-or-login with a one-time code.
//!
//! Order matters: the code is checked (wrong tries counted) before anything else, the code is
//! only used up once the request can succeed (a new phone without `name` keeps its code), and
//! a concurrent signup for the same phone turns into a login of the customer that won.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::Role;
use shared::auth::otp::{is_well_formed, recent_sends, send_wait};
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::{Audience, parse_full_name};
use shared::domain::validation::bounded_text;
use shared::domain::{Customer, CustomerId, PhoneE164, Username, ValidationErrors};
use shared::http::{ApiError, JsonBody, json, parse_json_lenient};
use shared::metrics::Metric;
use shared::store::otp::{OtpRecord, WrongCode};
use shared::store::{StoreError, UniqueField};
use shared::time::Timestamp;

use crate::tokens::open_session;

const MAX_DEVICE_NAME: usize = 100;

#[derive(Debug, Deserialize)]
struct LoginRequest {
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

impl JsonBody for LoginRequest {
    const FIELDS: &'static [&'static str] = &["phone", "code", "name", "device_name"];
}

struct ValidLogin {
    phone: PhoneE164,
    code: String,
    names: Option<(String, String)>,
    device_name: Option<String>,
}

fn validate(app: &App, body: LoginRequest, mut errors: ValidationErrors) -> Result<ValidLogin, ValidationErrors> {
    let phone = match &body.phone {
        Some(text) => errors.check("phone", PhoneE164::parse(text, app.config.phone_default_region)),
        None => {
            errors.add("phone", "is required");
            None
        }
    };
    let code = body.code.as_deref().map(str::trim).unwrap_or_default().to_string();
    if !is_well_formed(&code) {
        errors.add("code", "must be the 6 digits we sent");
    }
    let names = body.name.as_deref().and_then(|name| errors.check("name", parse_full_name(name)));
    let device_name =
        body.device_name.as_deref().and_then(|d| errors.check("device_name", bounded_text(d, MAX_DEVICE_NAME)));
    errors.into_result()?;
    match phone {
        Some(phone) => Ok(ValidLogin { phone, code, names, device_name }),
        None => Err(ValidationErrors::single("phone", "is required")),
    }
}

pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (body, shape_errors) = parse_json_lenient::<LoginRequest>(req)?;
    let login = validate(app, body, shape_errors)?;
    let now = app.clock.now();

    let code_hash = verify_code(app, &login).await?;
    let existing = app.store.find_customer_by_phone(&login.phone).await?;
    if let Some(customer) = &existing {
        ensure_may_log_in(customer)?;
    } else if login.names.is_none() {
        return Err(ApiError::validation("name", "is required to create an account for a new phone"));
    }
    let consumed = app.store.consume_otp(&login.phone, &code_hash, app.config.otp.max_attempts, now.unix()).await?;
    if !consumed {
        return Err(ApiError::Unauthorized("the code has expired or was already used; request a new one".into()));
    }

    let (customer, created) = match existing {
        Some(customer) => (log_in(app, &customer.customer_id, now).await?, false),
        None => sign_up_or_join(app, &login, now).await?,
    };
    let mut response =
        open_session(app, &app.issuer(req), customer.customer_id.as_str(), Role::Customer, login.device_name, now)
            .await?;
    shared::metrics::count("auth", if created { Metric::Signup } else { Metric::Login });
    response["customer"] = customer.to_json(Audience::Owner);
    response["created"] = json!(created);
    json(StatusCode::OK, &response)
}

/// Checks the code against the stored hash; a wrong code counts against the code's tries.
/// Returns the hash to use it up with.
async fn verify_code(app: &App, login: &ValidLogin) -> Result<String, ApiError> {
    let invalid = || ApiError::Unauthorized("the code is invalid or has expired; request a new one".into());
    let record = app.store.get_otp(&login.phone).await?.ok_or_else(invalid)?;
    let now = app.clock.now().unix();
    let max = app.config.otp.max_attempts;
    if record.attempts >= max {
        return Err(too_many_tries(app, &record, now));
    }
    let code_hash = match record.code_hash.clone() {
        Some(hash) if record.expires_at > now => hash,
        _ => return Err(invalid()),
    };
    if app.keys().otp_hasher()?.matches(&login.phone, &login.code, &code_hash) {
        return Ok(code_hash);
    }
    match app.store.record_wrong_otp(&login.phone, &code_hash, max).await? {
        WrongCode::TriesLeft(left) => Err(ApiError::Unauthorized(format!("wrong code; {left} tries left"))),
        WrongCode::Exhausted => Err(too_many_tries(app, &record, now)),
    }
}

/// The wrong-try limit is a limit like the others: 429, retry once a new code may be requested.
fn too_many_tries(app: &App, record: &OtpRecord, now: i64) -> ApiError {
    let recent = recent_sends(&record.sent_at, now);
    let retry_after = send_wait(&app.config.otp, &recent, now).map_or(1, |wait| wait.seconds);
    crate::otp::too_many("too many wrong codes; request a new code", retry_after)
}

fn ensure_may_log_in(customer: &Customer) -> Result<(), ApiError> {
    if customer.is_active() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("this account is {}", customer.status.as_str())))
    }
}

async fn log_in(app: &App, id: &CustomerId, now: Timestamp) -> Result<Customer, ApiError> {
    match app.store.record_login(id, now).await? {
        Some(customer) => Ok(customer),
        None => Err(ApiError::Forbidden("this account may not log in".into())),
    }
}

/// Creates the customer; if a concurrent request created one for this phone first, logs into
/// that one instead, so every successful response names the same customer.
async fn sign_up_or_join(app: &App, login: &ValidLogin, now: Timestamp) -> Result<(Customer, bool), ApiError> {
    let (first, last) = login.names.clone().unwrap_or_default();
    let mut customer = Customer::new(CustomerId::generate(), Username::base(&first, &last), (first, last), now);
    // Milliseconds within the login's second: the creation order of simultaneous signups.
    customer.created_ms = Some(now.unix() * 1000 + app.clock.now_ms().rem_euclid(1000));
    customer.phone = Some(login.phone.clone());
    customer.phone_verified = true;
    customer.last_login_at = Some(now);
    // Custom-field defaults apply to signups too; required fields cannot be asked of a
    // customer at signup, so staff fill those in later.
    let definitions = app.store.list_fields().await?;
    let mut ignored = shared::domain::ValidationErrors::new();
    shared::domain::fields::fill_defaults(&mut customer.custom_fields, &definitions, false, &mut ignored);
    let note = AuditNote::new("self-signup", AuditAction::Create);
    match app.store.create_customer(customer, &note, false).await {
        Ok(created) => Ok((created, true)),
        Err(StoreError::Taken(UniqueField::Phone)) => {
            let winner = app
                .store
                .find_customer_by_phone(&login.phone)
                .await?
                .ok_or_else(|| ApiError::Internal("phone sentinel without a customer".into()))?;
            ensure_may_log_in(&winner)?;
            Ok((log_in(app, &winner.customer_id, now).await?, false))
        }
        Err(err) => Err(err.into()),
    }
}
