//! `POST /v1/auth/login`: signup-or-login with a one-time code sent by SMS or by email.
//!
//! Order matters: the code is checked (wrong tries counted) before anything else, the code is
//! only used up once the request can succeed (a new phone or address without `name` keeps its
//! code), and a concurrent signup for the same phone or address turns into a login of the
//! customer that won.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::Role;
use shared::auth::otp::is_well_formed;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::{Audience, parse_full_name};
use shared::domain::validation::bounded_text;
use shared::domain::{CodeRecipient, Customer, CustomerId, SignInChannel, Username, ValidationErrors};
use shared::http::{ApiError, JsonBody, json, parse_json_lenient};
use shared::metrics::Metric;
use shared::services::codes;
use shared::store::customers::LoginProof;
use shared::store::{StoreError, UniqueField};
use shared::time::Timestamp;

use crate::tokens::open_session;

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

struct ValidLogin {
    to: CodeRecipient,
    code: String,
    names: Option<(String, String)>,
    device_name: Option<String>,
}

fn validate(app: &App, body: LoginRequest, mut errors: ValidationErrors) -> Result<ValidLogin, ValidationErrors> {
    let to = crate::otp::recipient(app, body.phone.as_deref(), body.email.as_deref(), &mut errors);
    let code = body.code.as_deref().map(str::trim).unwrap_or_default().to_string();
    if !is_well_formed(&code) {
        errors.add("code", "must be the 6 digits we sent");
    }
    let names = body.name.as_deref().and_then(|name| errors.check("name", parse_full_name(name)));
    let device_name = device_name(body.device_name.as_deref(), &mut errors);
    errors.into_result()?;
    match to {
        Some(to) => Ok(ValidLogin { to, code, names, device_name }),
        None => Err(ValidationErrors::single("phone", "is required unless email is given")),
    }
}

pub fn device_name(text: Option<&str>, errors: &mut ValidationErrors) -> Option<String> {
    text.and_then(|d| errors.check("device_name", bounded_text(d, MAX_DEVICE_NAME)))
}

pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (body, shape_errors) = parse_json_lenient::<LoginRequest>(req)?;
    let login = validate(app, body, shape_errors)?;
    let now = app.clock.now();

    let code_hash = codes::check(app, &login.to, &login.code).await?;
    let existing = find_by_recipient(app, &login.to).await?;
    if let Some(customer) = &existing {
        ensure_may_log_in(customer)?;
    } else if login.names.is_none() {
        let what = login.to.noun();
        return Err(ApiError::validation("name", format!("is required to create an account for a new {what}")));
    }
    codes::consume(app, &login.to, &code_hash).await?;

    let proof = LoginProof::Code(&login.to);
    let (customer, created) = match existing {
        Some(customer) => (log_in(app, &customer.customer_id, proof, now).await?, false),
        None => sign_up_or_join(app, &login, now).await?,
    };
    let channel = SignInChannel::of_code(&login.to);
    signed_in(app, &app.issuer(req), customer, created, login.device_name, &channel, now).await
}

async fn find_by_recipient(app: &App, to: &CodeRecipient) -> Result<Option<Customer>, StoreError> {
    match to {
        CodeRecipient::Phone(phone) => app.store.find_customer_by_phone(phone).await,
        CodeRecipient::Email(email) => app.store.find_customer_by_email(email).await,
        // A staff reset's address is never a customer's sign-in.
        CodeRecipient::StaffReset(_) => Ok(None),
    }
}

/// The token response of every customer login: a new session, the customer, `created`, and
/// the `Signup`/`Login` metric with the channel (`sms`, `email`, `oidc:<provider>`).
pub async fn signed_in(
    app: &App,
    issuer: &str,
    customer: Customer,
    created: bool,
    device_name: Option<String>,
    channel: &SignInChannel,
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let mut response =
        open_session(app, issuer, customer.customer_id.as_str(), Role::Customer, device_name, now).await?;
    let metric = if created { Metric::Signup } else { Metric::Login };
    shared::metrics::count_by_channel(crate::otp::FUNCTION, metric, &channel.to_string());
    tracing::info!(customer_id = %customer.customer_id, %channel, created, "customer signed in");
    response["customer"] = customer.to_json(Audience::Owner);
    response["created"] = json!(created);
    json(StatusCode::OK, &response)
}

pub fn ensure_may_log_in(customer: &Customer) -> Result<(), ApiError> {
    if customer.is_active() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("this account is {}", customer.status.as_str())))
    }
}

pub async fn log_in(app: &App, id: &CustomerId, proof: LoginProof<'_>, now: Timestamp) -> Result<Customer, ApiError> {
    match app.store.record_login(id, now, proof).await? {
        Some(customer) => Ok(customer),
        None => Err(ApiError::Forbidden("this account may not log in".into())),
    }
}

/// A new customer signing up themselves by `channel`, logged in at once; custom-field defaults
/// apply.
pub async fn new_customer(
    app: &App,
    names: (String, String),
    channel: SignInChannel,
    now: Timestamp,
) -> Result<Customer, ApiError> {
    let (first, last) = names;
    let mut customer = Customer::new(CustomerId::generate(), Username::base(&first, &last), (first, last), now);
    // Milliseconds within the login's second: the creation order of simultaneous signups.
    customer.created_ms = Some(now.unix() * 1000 + app.clock.now_ms().rem_euclid(1000));
    customer.last_login_at = Some(now);
    customer.sign_in_channel = Some(channel);
    // Required fields cannot be asked of a customer at signup, so staff fill those in later.
    let definitions = app.store.list_fields().await?;
    let mut ignored = ValidationErrors::new();
    shared::domain::fields::fill_defaults(&mut customer.custom_fields, &definitions, false, &mut ignored);
    Ok(customer)
}

/// The audit note of a self-signup, naming its channel.
pub fn signup_note(channel: &SignInChannel) -> AuditNote {
    AuditNote::new("self-signup", AuditAction::Create).with_reason(format!("signed up by {channel}"))
}

/// Creates the customer; if a concurrent request created one for this phone or address first,
/// logs into that one instead, so every successful response names the same customer.
async fn sign_up_or_join(app: &App, login: &ValidLogin, now: Timestamp) -> Result<(Customer, bool), ApiError> {
    let channel = SignInChannel::of_code(&login.to);
    let mut customer = new_customer(app, login.names.clone().unwrap_or_default(), channel.clone(), now).await?;
    match &login.to {
        CodeRecipient::Phone(phone) => {
            customer.phone = Some(phone.clone());
            customer.phone_verified = true;
        }
        CodeRecipient::Email(email) | CodeRecipient::StaffReset(email) => {
            customer.email = Some(email.clone());
            customer.email_verified = true;
        }
    }
    match app.store.create_customer(customer, &signup_note(&channel), false).await {
        Ok(created) => Ok((created, true)),
        Err(StoreError::Taken(UniqueField::Phone | UniqueField::Email)) => {
            let winner = find_by_recipient(app, &login.to)
                .await?
                .ok_or_else(|| ApiError::Internal("contact sentinel without a customer".into()))?;
            ensure_may_log_in(&winner)?;
            Ok((log_in(app, &winner.customer_id, LoginProof::Code(&login.to), now).await?, false))
        }
        Err(err) => Err(err.into()),
    }
}
