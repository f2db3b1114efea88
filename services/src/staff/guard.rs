//! The lock-out of staff logins, per email: every password or second-factor attempt reserves a
//! slot first (a conditional write), and only then is the secret checked. However many guesses
//! arrive at once, at most the threshold number are checked per window, and one that comes
//! after the lock is refused unchecked. A right answer takes its attempt back.

use store::login_guard::{LoginGuard, guard_subject};

use super::StaffError;
use crate::App;
use crate::time::Timestamp;

/// Attempts of a failed-login write that keeps losing races with concurrent failures.
const GUARD_ATTEMPTS: usize = 20;

/// The refusal while an email's login is locked for `retry_after` more seconds.
pub fn locked(retry_after: i64) -> StaffError {
    StaffError::Locked { retry_after: retry_after.max(1) as u64 }
}

/// The refusal of the attempt that set the lock: locked for the whole window.
pub fn locked_for_window(app: &App) -> StaffError {
    locked(app.config.staff_lockout.window.as_secs() as i64)
}

/// An attempt counted against an email's lock-out.
#[derive(Debug)]
pub struct Attempt {
    subject: String,
    now: Timestamp,
    /// Whether this attempt reached the threshold and set the lock.
    pub locked_it: bool,
}

/// Counts the attempt as a failure before its secret is checked (a right one takes it back
/// with [`clear`]). The attempt that reaches the threshold within the window locks the email
/// for the window, so no later attempt is checked until it ends. A reservation that loses a
/// race re-reads and tries again, and never clears a lock another request set.
pub async fn reserve(app: &App, email_text: &str, now: Timestamp) -> Result<Attempt, StaffError> {
    let subject = guard_subject(email_text);
    let policy = app.config.staff_lockout;
    let window = policy.window.as_secs() as i64;
    let mut guard = app.store.get_login_guard(&subject).await?;
    for _ in 0..GUARD_ATTEMPTS {
        if let Some(until) = guard.locked_until.filter(|&until| until > now.unix()) {
            return Err(locked(until - now.unix()));
        }
        let mut attempts: Vec<i64> =
            guard.failed_logins.iter().copied().filter(|&at| at > now.unix() - window).collect();
        attempts.push(now.unix());
        let lock = attempts.len() >= policy.threshold as usize;
        let next = LoginGuard {
            failed_logins: if lock { Vec::new() } else { attempts },
            locked_until: lock.then_some(now.unix() + window),
            version: guard.version + 1,
        };
        if app.store.save_login_guard(&subject, &guard, &next, now.unix() + window + 60).await? {
            return Ok(Attempt { subject, now, locked_it: lock });
        }
        guard = app.store.get_login_guard(&subject).await?;
    }
    Err(StaffError::GuardContended)
}

/// A right answer ends the email's run of failures, and a lock its own attempt set; a lock
/// that other attempts set meanwhile stays.
pub async fn clear(app: &App, attempt: &Attempt) -> Result<(), StaffError> {
    clear_subject(app, &attempt.subject, attempt.now, attempt.locked_it).await
}

/// Lifts the email's lock-out and its run of failures, whoever set them (a completed reset).
pub async fn lift(app: &App, email_text: &str, now: Timestamp) -> Result<(), StaffError> {
    clear_subject(app, &guard_subject(email_text), now, true).await
}

async fn clear_subject(
    app: &App,
    subject: &str,
    now: Timestamp,
    locked_by_this_attempt: bool,
) -> Result<(), StaffError> {
    for _ in 0..GUARD_ATTEMPTS {
        let guard = app.store.get_login_guard(subject).await?;
        let locked_by_others = !locked_by_this_attempt && guard.locked_until.is_some_and(|until| until > now.unix());
        if locked_by_others || (guard.failed_logins.is_empty() && guard.locked_until.is_none()) {
            return Ok(());
        }
        let cleared = LoginGuard { failed_logins: Vec::new(), locked_until: None, version: guard.version + 1 };
        if app.store.save_login_guard(subject, &guard, &cleared, now.unix() + 60).await? {
            return Ok(());
        }
    }
    Ok(())
}
