//! A customer's ways to sign in: the identity providers linked to them
//! (`GET/DELETE /v1/me/identities`) and confirming their email address with a code
//! (`POST /v1/me/email/verification`, `/confirm`).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::otp::is_well_formed;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::{CodeRecipient, Customer, CustomerId, EmailAddress};
use shared::email::EmailPurpose;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json, source_ip};
use shared::services::codes::{self, CodeError};
use shared::services::customers::update_customer;
use shared::store::StoreError;
use shared::store::identities::IdentityChange;

use crate::{customer_response, gone};

pub async fn list_identities(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    let items: Vec<_> = app.store.list_identities(me).await?.iter().map(|link| link.to_json()).collect();
    json(StatusCode::OK, &json!({ "items": items }))
}

/// Removes the link to `provider`, unless it is the customer's only way in: no phone, no
/// verified email, no other provider.
pub async fn unlink_identity(app: &App, me: &CustomerId, provider: &str) -> Result<Response<Body>, ApiError> {
    let customer = app.store.get_customer(me).await?.ok_or_else(gone)?;
    let links = app.store.list_identities(me).await?;
    let link = links
        .iter()
        .find(|link| link.provider == provider)
        .ok_or_else(|| ApiError::NotFound(format!("no {provider} account is linked to you")))?;
    let other_way_in = customer.phone.is_some() || (customer.email.is_some() && customer.email_verified);
    if !other_way_in && links.len() == 1 {
        return Err(ApiError::Conflict {
            detail: "this is your only way to sign in; add a phone or a verified email, or link another provider first"
                .into(),
            field: None,
        });
    }
    let note = AuditNote::new(me.as_str(), AuditAction::Update).with_reason(format!("unlinked {provider}"));
    match app.store.change_identity(&customer, IdentityChange::Unlink(link), &note, app.clock.now()).await {
        Ok(_) => no_content(),
        Err(StoreError::VersionConflict) => {
            Err(ApiError::Conflict { detail: "your account changed meanwhile; try again".into(), field: None })
        }
        Err(err) => Err(err.into()),
    }
}

fn my_email(customer: &Customer) -> Result<EmailAddress, ApiError> {
    if !customer.is_active() {
        return Err(ApiError::Forbidden(format!("this account is {}", customer.status.as_str())));
    }
    customer.email.clone().ok_or_else(|| ApiError::Conflict {
        detail: "you have no email address on file; add one first".into(),
        // Not a duplicate: the field list of a conflict says "is already taken".
        field: None,
    })
}

/// Sends a code to my email (202; 409 without one), within the code limits.
pub async fn request_verification(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let customer = app.store.get_customer(me).await?.ok_or_else(gone)?;
    let to = CodeRecipient::Email(my_email(&customer)?);
    let code = codes::issue(app, &to, source_ip(req).as_deref(), EmailPurpose::VerifyEmail, "profile").await?;
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
    let customer = app.store.get_customer(me).await?.ok_or_else(gone)?;
    let email = my_email(&customer)?;
    let to = CodeRecipient::Email(email.clone());
    let as_bad_request = |err: CodeError| match err {
        CodeError::Invalid(detail) => ApiError::BadRequest(detail),
        other => other.into(),
    };
    let hash = codes::check(app, &to, &code).await.map_err(as_bad_request)?;
    codes::consume(app, &to, &hash).await.map_err(as_bad_request)?;
    let note = AuditNote::new(me.as_str(), AuditAction::VerifyEmail);
    let verify = |current: &Customer, _now| {
        if current.email.as_ref() != Some(&email) {
            return Err(ApiError::Conflict { detail: "your email changed meanwhile".into(), field: Some("email") });
        }
        let mut next = current.clone();
        next.email_verified = true;
        Ok(next)
    };
    let updated = update_customer(&app.store, &app.clock, me, None, &note, verify)
        .await
        .map_err(|e| ApiError::from_update(e, gone))?;
    customer_response(&updated)
}
