//! Staff passwords: change (`POST /v1/auth/staff/password`), reset by an emailed code
//! (`POST /v1/auth/staff/password-reset`, `/confirm`) and the admin's reset for a member
//! (`POST /v1/staff/{staff_id}/password-reset`).
//!
//! A reset request answers the same whether or not the account exists, and does the same work
//! either way: the same reads (a look-up of a placeholder member stands in for the profile
//! read), the same limits and the same stored code, keyed by the address. Only the email
//! itself differs; with SES delivery every answer is held back to `SES_ANSWER_FLOOR`, so the
//! time SES takes does not show either.

use std::time::{Duration, Instant};

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::App;
use shared::auth::Principal;
use shared::auth::otp::is_well_formed;
use shared::auth::password;
use shared::config::EmailDelivery;
use shared::domain::CodeRecipient;
use shared::domain::staff::{StaffId, StaffMember};
use shared::domain::staff_security::SecurityEventKind;
use shared::domain::{EmailAddress, SessionId};
use shared::email::EmailPurpose;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json, source_ip};
use shared::metrics::{self, Metric};
use shared::services::codes::{self, CodeError};
use shared::store::StoreError;
use shared::store::login_guard::guard_subject;

use crate::otp::FUNCTION;
use crate::staff::{clear_guard, reserve_attempt};
use crate::staff_trail;

/// With SES delivery, no reset request is answered sooner than this after it arrived.
const SES_ANSWER_FLOOR: Duration = Duration::from_millis(400);
/// Retries of a password write that keeps meeting an admin's concurrent edit.
const WRITE_ATTEMPTS: usize = 3;

/// The member a staff token speaks for, as stored now.
pub async fn current_member(app: &App, principal: &Principal) -> Result<StaffMember, ApiError> {
    let gone = || ApiError::Unauthorized("this account is disabled".into());
    let id = StaffId::parse(&principal.subject).ok_or_else(|| ApiError::Forbidden("this route is for staff".into()))?;
    app.store.get_staff(&id).await?.filter(|s| !s.disabled).ok_or_else(gone)
}

/// Checks a member's password as a login does: the attempt counts towards the lock-out before
/// Argon2 runs (429 while locked), a right one clears the run of failures, and a wrong one is
/// recorded in the trail and answered 403.
pub async fn check_password(app: &App, staff: &StaffMember, password_text: &str) -> Result<(), ApiError> {
    let now = app.clock.now();
    let subject = guard_subject(staff.email.as_str());
    let locked_by_this_attempt = reserve_attempt(app, &subject, now).await?;
    if password::verify(password_text, &staff.password_hash) {
        return clear_guard(app, &subject, now, locked_by_this_attempt).await;
    }
    staff_trail::failure(app, &staff.staff_id, SecurityEventKind::PasswordFailed, locked_by_this_attempt).await;
    Err(ApiError::Forbidden("the password is wrong".into()))
}

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
    let staff = current_member(app, principal).await?;
    password::check_new_password(&body.new_password, &staff.email)
        .map_err(|message| ApiError::validation("new_password", message))?;
    check_password(app, &staff, &body.current_password).await?;
    set_password(app, &staff, &body.new_password).await?;
    let current = SessionId::parse(&principal.session_id)
        .ok_or_else(|| ApiError::Unauthorized("invalid or expired token".into()))?;
    app.store.delete_other_sessions(staff.staff_id.as_str(), &current).await?;
    staff_trail::record(app, &staff.staff_id, SecurityEventKind::PasswordChanged, staff.staff_id.as_str(), None).await;
    no_content()
}

/// Stores a new password hash, re-reading the member when an admin changed it meanwhile.
async fn set_password(app: &App, staff: &StaffMember, new_password: &str) -> Result<(), ApiError> {
    let hash = password::hash(new_password).map_err(ApiError::Internal)?;
    let mut current = staff.clone();
    for _ in 0..WRITE_ATTEMPTS {
        let mut next = StaffMember { password_hash: hash.clone(), ..current.clone() };
        match app.store.replace_staff(&current, &mut next, app.clock.now()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::VersionConflict) => {
                current = app
                    .store
                    .get_staff(&staff.staff_id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound("no such staff member".into()))?;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict { detail: "the account is being changed elsewhere; try again".into(), field: None })
}

#[derive(Debug, Deserialize)]
struct ResetRequest {
    email: String,
}

impl JsonBody for ResetRequest {
    const FIELDS: &'static [&'static str] = &["email"];
}

/// `POST /v1/auth/staff/password-reset`: always 202 with `{"expires_in"}` (and, with
/// `OTP_DEV_ECHO=1`, `dev_code`: a code is generated and stored for every address, so the
/// local stack's bodies are alike too; it only works where an account exists).
pub async fn request_reset(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let body: ResetRequest = parse_json(req)?;
    let email = EmailAddress::parse(&body.email).map_err(|message| ApiError::validation("email", message))?;
    let member = find_member_evenly(app, &email).await?;
    let answer = issue_reset_code(app, &email, member.as_ref(), source_ip(req).as_deref()).await;
    if matches!(app.config.email_delivery, EmailDelivery::Ses(_)) {
        tokio::time::sleep(SES_ANSWER_FLOOR.saturating_sub(started.elapsed())).await;
    }
    json(StatusCode::ACCEPTED, &answer?)
}

/// The active member with this email, in the same number of reads whether or not one exists.
async fn find_member_evenly(app: &App, email: &EmailAddress) -> Result<Option<StaffMember>, ApiError> {
    let member = app.store.find_staff_by_email(email).await?;
    if member.is_none() {
        // The read a known address spends on the profile.
        let placeholder =
            StaffId::parse("STAFF_00000000").ok_or_else(|| ApiError::Internal("placeholder id".into()))?;
        app.store.get_staff(&placeholder).await?;
    }
    Ok(member.filter(|m| !m.disabled))
}

/// Creates a reset code for `email` within the one-time code limits (per address, per IP;
/// `services::codes`), and emails it when `member` exists. The answer's body.
async fn issue_reset_code(
    app: &App,
    email: &EmailAddress,
    member: Option<&StaffMember>,
    ip: Option<&str>,
) -> Result<Value, ApiError> {
    let recipient = CodeRecipient::StaffReset(email.clone());
    let code = codes::create(app, &recipient, ip, FUNCTION).await?;
    if member.is_some() {
        // A failure is logged and counted there, and answered like a sent code: a 503 only
        // for existing accounts would tell them apart.
        let _ = codes::deliver(app, &recipient, &code, EmailPurpose::PasswordReset, FUNCTION).await;
    }
    let mut body = json!({ "expires_in": app.config.otp.code_ttl.as_secs() });
    if app.config.otp_dev_echo {
        body["dev_code"] = json!(code.digits());
    }
    Ok(body)
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

/// `POST /v1/auth/staff/password-reset/confirm`: the right code sets the password, ends every
/// session and lifts a lock-out; two factors stay as they are. A wrong code is 400 and counts
/// against the code; a weak password is 422 and leaves the code usable.
pub async fn confirm_reset(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: ResetConfirmRequest = parse_json(req)?;
    let email = EmailAddress::parse(&body.email).map_err(|message| ApiError::validation("email", message))?;
    let recipient = CodeRecipient::StaffReset(email.clone());
    let code_hash = verify_reset_code(app, &recipient, body.code.trim()).await?;
    let staff = app.store.find_staff_by_email(&email).await?.filter(|s| !s.disabled).ok_or_else(wrong_code)?;
    password::check_new_password(&body.new_password, &email)
        .map_err(|message| ApiError::validation("new_password", message))?;
    let now = app.clock.now();
    codes::consume(app, &recipient, &code_hash).await.map_err(as_bad_request)?;
    set_password(app, &staff, &body.new_password).await?;
    app.store.delete_all_sessions(staff.staff_id.as_str()).await?;
    clear_guard(app, &guard_subject(email.as_str()), now, true).await?;
    metrics::count(FUNCTION, Metric::StaffPasswordReset);
    staff_trail::record(app, &staff.staff_id, SecurityEventKind::PasswordReset, staff.staff_id.as_str(), None).await;
    no_content()
}

/// The stored hash of the reset code when `code` is it; a wrong code counts against it. Every
/// refusal is 400, a code out of tries included (no wait helps: a new code must be requested).
async fn verify_reset_code(app: &App, recipient: &CodeRecipient, code: &str) -> Result<String, ApiError> {
    if !is_well_formed(code) {
        return Err(wrong_code());
    }
    codes::check(app, recipient, code).await.map_err(as_bad_request)
}

fn wrong_code() -> ApiError {
    ApiError::BadRequest("the code is wrong or has expired; request a new one".into())
}

fn as_bad_request(err: CodeError) -> ApiError {
    match err {
        CodeError::Invalid(detail) | CodeError::Limited { detail, .. } => ApiError::BadRequest(detail),
        other => other.into(),
    }
}

/// `POST /v1/staff/{staff_id}/password-reset`: emails the member a reset code (the same code
/// and limits as the member's own request). 202.
pub async fn admin_reset(app: &App, admin: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::NotFound("no such staff member".into());
    let id = StaffId::parse(raw_id).ok_or_else(not_found)?;
    let staff = app.store.get_staff(&id).await?.ok_or_else(not_found)?;
    if staff.disabled {
        return Err(ApiError::Conflict { detail: "the account is disabled; enable it first".into(), field: None });
    }
    let body = issue_reset_code(app, &staff.email, Some(&staff), None).await?;
    staff_trail::record(app, &id, SecurityEventKind::PasswordResetRequested, &admin.subject, None).await;
    json(StatusCode::ACCEPTED, &body)
}
