//! The security trail of staff accounts: what is recorded, and the admin's view of it. A
//! lock-out and a completed reset also reach the event bus, derived from their trail entries on
//! the table's stream (`store::changes`).

use platform::metrics::{self, Metric};
use store::{Page, PageToken};

use super::StaffError;
use crate::App;
use crate::domain::staff::StaffId;
use crate::domain::staff_security::{SecurityEvent, SecurityEventKind};

/// Records `event` in the member's trail. The change it describes has happened already, so a
/// failed write is logged rather than turned into an error the caller could not act on.
pub async fn record(app: &App, staff_id: &StaffId, event: SecurityEventKind, actor: &str, detail: Option<String>) {
    let (at, at_ms) = app.clock.now_with_ms();
    let entry = SecurityEvent { staff_id: staff_id.to_string(), event, at, at_ms, actor: actor.to_string(), detail };
    if let Err(err) = app.store.put_security_event(&entry).await {
        tracing::error!(error = %err, event = event.as_str(), "a security trail entry could not be written");
    }
}

/// An event the member caused themselves (a login, a password change, …).
pub async fn record_own(app: &App, staff_id: &StaffId, event: SecurityEventKind) {
    record(app, staff_id, event, staff_id.as_str(), None).await;
}

/// A wrong password or second-factor code of a known member (`failure` is `PasswordFailed` or
/// `MfaFailed`), and the lock-out when this attempt set it.
pub async fn failure(app: &App, staff_id: &StaffId, failure: SecurityEventKind, locked_by_this_attempt: bool) {
    record_own(app, staff_id, failure).await;
    if locked_by_this_attempt {
        metrics::count("auth", Metric::StaffLockout);
        record_own(app, staff_id, SecurityEventKind::LockedOut).await;
    }
}

/// A page of the trail of a member (found with `staff::member`), newest first.
pub async fn list(
    app: &App,
    staff_id: &StaffId,
    limit: i32,
    start: Option<PageToken>,
) -> Result<Page<SecurityEvent>, StaffError> {
    Ok(app.store.list_security_events(staff_id, limit, start).await?)
}
