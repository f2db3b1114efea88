//! Staff passwords: a member's change, the reset by an emailed code, and the admin's reset for
//! a member.
//!
//! A reset request answers the same whether or not the account exists, and does the same work
//! either way: the same reads (a look-up of a placeholder member stands in for the profile
//! read), the same limits and the same stored code, keyed by the address. Only the email
//! itself differs; with SES delivery every answer is held back to `SES_ANSWER_FLOOR`, so the
//! time SES takes does not show either.

use std::time::{Duration, Instant};

use auth_core::otp::is_well_formed;
use auth_core::{Principal, password};
use platform::config::EmailDelivery;
use platform::email::EmailPurpose;
use platform::metrics::{self, Metric};
use store::StoreError;

use super::{StaffError, current_member, guard, member, trail};
use crate::App;
use crate::codes::{self, CodeError};
use crate::domain::staff::{StaffId, StaffMember};
use crate::domain::staff_security::SecurityEventKind;
use crate::domain::{CodeRecipient, EmailAddress, SessionId};
use crate::sessions::SessionError;

/// The function that sends reset codes, as metrics name it.
const FUNCTION: &str = "auth";
/// With SES delivery, no reset request is answered sooner than this after it arrived.
const SES_ANSWER_FLOOR: Duration = Duration::from_millis(400);
/// Retries of a password write that keeps meeting an admin's concurrent edit.
const WRITE_ATTEMPTS: usize = 3;

/// Checks a member's password as a login does: the attempt counts towards the lock-out before
/// Argon2 runs (locked: [`StaffError::Locked`]), a right one clears the run of failures, and a
/// wrong one is recorded in the trail and answered [`StaffError::WrongPassword`].
pub async fn check_password(app: &App, staff: &StaffMember, password_text: &str) -> Result<(), StaffError> {
    let attempt = guard::reserve(app, staff.email.as_str(), app.clock.now()).await?;
    if password::verify(password_text, &staff.password_hash) {
        return guard::clear(app, &attempt).await;
    }
    trail::failure(app, &staff.staff_id, SecurityEventKind::PasswordFailed, attempt.locked_it).await;
    Err(StaffError::WrongPassword)
}

/// The rules a new password of `email` meets.
fn check_new_password(new_password: &str, email: &EmailAddress) -> Result<(), StaffError> {
    password::check_new_password(new_password, email).map_err(StaffError::WeakPassword)
}

/// A member changes their password (the current one asked again): every other session of the
/// member ends; the caller's stays.
pub async fn change(
    app: &App,
    principal: &Principal,
    current_password: &str,
    new_password: &str,
) -> Result<(), StaffError> {
    let staff = current_member(app, principal).await?;
    check_new_password(new_password, &staff.email)?;
    check_password(app, &staff, current_password).await?;
    set_password(app, &staff, new_password).await?;
    let current = SessionId::parse(&principal.session_id).ok_or(SessionError::InvalidToken)?;
    app.store.delete_other_sessions(staff.staff_id.as_str(), &current).await?;
    trail::record_own(app, &staff.staff_id, SecurityEventKind::PasswordChanged).await;
    Ok(())
}

/// Stores a new password hash, re-reading the member when an admin changed it meanwhile.
async fn set_password(app: &App, staff: &StaffMember, new_password: &str) -> Result<(), StaffError> {
    let hash = password::hash(new_password).map_err(StaffError::Internal)?;
    let mut current = staff.clone();
    for _ in 0..WRITE_ATTEMPTS {
        let mut next = StaffMember { password_hash: hash.clone(), ..current.clone() };
        match app.store.replace_staff(&current, &mut next, app.clock.now()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::VersionConflict) => current = member(app, &staff.staff_id).await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(StaffError::Contended)
}

/// A reset code created (and emailed where the account exists).
#[derive(Debug)]
pub struct ResetCode {
    /// The code's lifetime, in seconds.
    pub expires_in: u64,
    /// The code itself, where the deployment echoes codes (`OTP_DEV_ECHO=1`, the local stack).
    pub dev_code: Option<String>,
}

/// A reset requested for `email` by someone who may not own it: the same answer, the same work
/// and (with SES) no sooner than `SES_ANSWER_FLOOR` after `started`, whether or not an account
/// exists. The code only works where one does.
pub async fn request_reset(
    app: &App,
    email: &EmailAddress,
    ip: Option<&str>,
    started: Instant,
) -> Result<ResetCode, StaffError> {
    let member = find_member_evenly(app, email).await?;
    let answer = issue_reset_code(app, email, member.as_ref(), ip).await;
    if matches!(app.config.email_delivery, EmailDelivery::Ses(_)) {
        tokio::time::sleep(SES_ANSWER_FLOOR.saturating_sub(started.elapsed())).await;
    }
    answer
}

/// The active member with this email, in the same number of reads whether or not one exists.
async fn find_member_evenly(app: &App, email: &EmailAddress) -> Result<Option<StaffMember>, StaffError> {
    let member = app.store.find_staff_by_email(email).await?;
    if member.is_none() {
        // The read a known address spends on the profile.
        let placeholder =
            StaffId::parse("STAFF_00000000").ok_or_else(|| StaffError::Internal("placeholder id".into()))?;
        app.store.get_staff(&placeholder).await?;
    }
    Ok(member.filter(|m| !m.disabled))
}

/// Creates a reset code for `email` within the one-time code limits (per address, per IP;
/// `codes`), and emails it when `member` exists.
async fn issue_reset_code(
    app: &App,
    email: &EmailAddress,
    member: Option<&StaffMember>,
    ip: Option<&str>,
) -> Result<ResetCode, StaffError> {
    let recipient = CodeRecipient::StaffReset(email.clone());
    let code = codes::create(app, &recipient, ip, FUNCTION).await.map_err(StaffError::Code)?;
    if member.is_some() {
        // A failure is logged and counted there, and answered like a sent code: a 503 only
        // for existing accounts would tell them apart.
        let _ = codes::deliver(app, &recipient, &code, EmailPurpose::PasswordReset, FUNCTION).await;
    }
    Ok(ResetCode {
        expires_in: app.config.otp.code_ttl.as_secs(),
        dev_code: app.config.otp_dev_echo.then(|| code.digits().to_string()),
    })
}

/// The right code sets the password, ends every session and lifts a lock-out; two factors stay
/// as they are. A wrong code is refused and counts against the code; a weak password is
/// refused and leaves the code usable.
pub async fn confirm_reset(app: &App, email: &EmailAddress, code: &str, new_password: &str) -> Result<(), StaffError> {
    let recipient = CodeRecipient::StaffReset(email.clone());
    let code_hash = verify_reset_code(app, &recipient, code.trim()).await?;
    let staff = app.store.find_staff_by_email(email).await?.filter(|s| !s.disabled).ok_or_else(wrong_code)?;
    check_new_password(new_password, email)?;
    let now = app.clock.now();
    codes::consume(app, &recipient, &code_hash).await.map_err(code_refused)?;
    set_password(app, &staff, new_password).await?;
    app.store.delete_all_sessions(staff.staff_id.as_str()).await?;
    guard::lift(app, email.as_str(), now).await?;
    metrics::count(FUNCTION, Metric::StaffPasswordReset);
    trail::record_own(app, &staff.staff_id, SecurityEventKind::PasswordReset).await;
    Ok(())
}

/// The stored hash of the reset code when `code` is it; a wrong code counts against it. Every
/// refusal is [`StaffError::ResetCodeRefused`], a code out of tries included (no wait helps: a
/// new code must be requested).
async fn verify_reset_code(app: &App, recipient: &CodeRecipient, code: &str) -> Result<String, StaffError> {
    if !is_well_formed(code) {
        return Err(wrong_code());
    }
    codes::check(app, recipient, code).await.map_err(code_refused)
}

fn wrong_code() -> StaffError {
    StaffError::ResetCodeRefused("the code is wrong or has expired; request a new one".into())
}

fn code_refused(err: CodeError) -> StaffError {
    match err {
        CodeError::Invalid(detail) | CodeError::Limited { detail, .. } => StaffError::ResetCodeRefused(detail),
        other => StaffError::Code(other),
    }
}

/// An admin has a reset code emailed to a member (the same code and limits as the member's own
/// request).
pub async fn admin_reset(app: &App, admin: &Principal, id: &StaffId) -> Result<ResetCode, StaffError> {
    let staff = member(app, id).await?;
    if staff.disabled {
        return Err(StaffError::ResetOfDisabled);
    }
    let code = issue_reset_code(app, &staff.email, Some(&staff), None).await?;
    trail::record(app, id, SecurityEventKind::PasswordResetRequested, &admin.subject, None).await;
    Ok(code)
}
