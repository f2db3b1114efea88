//! Staff logins (the password step) and the admin's management of accounts.

use auth_core::{Principal, password};
use platform::metrics::{self, Metric};
use store::{Page, PageToken, StoreError};

use super::mfa::{self, MfaTicket};
use super::{StaffError, guard, member, trail};
use crate::App;
use crate::domain::EmailAddress;
use crate::domain::staff::{StaffChange, StaffId, StaffMember, ends_sessions, weakens_own_account};
use crate::domain::staff_security::SecurityEventKind;
use crate::sessions::{SessionTokens, open_session};
use crate::time::Timestamp;

/// What a right password (or a right second factor) leads to.
#[derive(Debug)]
pub enum StaffLogin {
    /// A second step is due: an `mfa_token` for a code (two factors on) or for enrolment (two
    /// factors required and missing).
    SecondStep(MfaTicket),
    /// The login is complete: a session is open.
    SignedIn(StaffSession),
}

/// A completed staff login: the member and the tokens of the new session.
#[derive(Debug)]
pub struct StaffSession {
    pub staff: StaffMember,
    pub tokens: SessionTokens,
}

/// A staff login with `email_text` (as typed) and a password. The attempt reserves a slot in
/// the email's lock-out before Argon2 runs (`guard`). A right password clears the run of
/// failures; a disabled account answers like a wrong password, so a guess learns nothing from
/// it. With two factors on, the attempt stays counted until a code completes it, so knowing the
/// password does not reset the count of wrong codes.
pub async fn login(
    app: &App,
    issuer: &str,
    email_text: &str,
    password_text: &str,
    device_name: Option<String>,
) -> Result<StaffLogin, StaffError> {
    let now = app.clock.now();
    let attempt = guard::reserve(app, email_text, now).await?;
    let staff = match EmailAddress::parse(email_text) {
        Ok(email) => app.store.find_staff_by_email(&email).await?,
        Err(_) => None,
    };
    let known = staff.as_ref().map(|s| s.staff_id.clone());
    let verified = match staff {
        Some(staff) => password::verify(password_text, &staff.password_hash).then_some(staff),
        // Unknown emails cost one Argon2 verification too, so timing reveals nothing.
        None => {
            password::verify_against_nothing(password_text);
            None
        }
    };
    let Some(staff) = verified.filter(|s| !s.disabled) else {
        match &known {
            Some(id) => trail::failure(app, id, SecurityEventKind::PasswordFailed, attempt.locked_it).await,
            None if attempt.locked_it => metrics::count("auth", Metric::StaffLockout),
            None => {}
        }
        if attempt.locked_it {
            return Err(guard::locked_for_window(app));
        }
        return Err(StaffError::BadCredentials);
    };
    // Two factors required and missing: the password was all there is to check.
    let ticket = mfa::second_step(app, &staff, device_name.clone(), now).await?;
    if !ticket.as_ref().is_some_and(MfaTicket::is_login) {
        guard::clear(app, &attempt).await?;
    }
    if let Some(ticket) = ticket {
        return Ok(StaffLogin::SecondStep(ticket));
    }
    Ok(StaffLogin::SignedIn(complete_login(app, issuer, staff, device_name, now, None).await?))
}

/// Opens the session of a completed login and records it in the trail (with the second factor
/// used, if any).
pub(super) async fn complete_login(
    app: &App,
    issuer: &str,
    staff: StaffMember,
    device_name: Option<String>,
    now: Timestamp,
    factor: Option<&str>,
) -> Result<StaffSession, StaffError> {
    let tokens = open_session(app, issuer, staff.staff_id.as_str(), staff.role, device_name, now).await?;
    trail::record(app, &staff.staff_id, SecurityEventKind::Login, staff.staff_id.as_str(), factor.map(Into::into))
        .await;
    Ok(StaffSession { staff, tokens })
}

/// Stores a new account (validated by `domain::staff::new_staff`); an email in use is
/// [`StaffError::EmailTaken`].
pub async fn create(app: &App, staff: &StaffMember) -> Result<(), StaffError> {
    app.store.create_staff(staff).await.map_err(|err| match err {
        StoreError::Taken(_) => StaffError::EmailTaken,
        other => other.into(),
    })
}

/// A page of the accounts.
pub async fn list(app: &App, limit: i32, start: Option<PageToken>) -> Result<Page<StaffMember>, StaffError> {
    Ok(app.store.list_staff(limit, start).await?)
}

/// An admin's change of a member: role, disabled or enabled, name. Disabling or changing the
/// role ends the member's sessions, so the change holds from the next request on (access
/// tokens aside, see `sessions`). Admins cannot disable or demote themselves. Returns the
/// member as now stored.
pub async fn update(
    app: &App,
    admin: &Principal,
    id: &StaffId,
    change: &StaffChange,
) -> Result<StaffMember, StaffError> {
    let current = member(app, id).await?;
    let mut next = change.apply(&current);
    if weakens_own_account(&admin.subject, &next) {
        return Err(StaffError::WeakensSelf);
    }
    if next == current {
        return Ok(current);
    }
    app.store.replace_staff(&current, &mut next, app.clock.now()).await?;
    if ends_sessions(&current, &next) {
        app.store.delete_all_sessions(id.as_str()).await?;
    }
    if next.role != current.role {
        let detail = format!("{} -> {}", current.role.as_str(), next.role.as_str());
        trail::record(app, id, SecurityEventKind::RoleChanged, &admin.subject, Some(detail)).await;
    }
    if next.disabled != current.disabled {
        let detail = if next.disabled { "disabled" } else { "enabled" };
        trail::record(app, id, SecurityEventKind::StatusChanged, &admin.subject, Some(detail.into())).await;
    }
    Ok(next)
}
