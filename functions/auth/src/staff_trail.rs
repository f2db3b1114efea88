//! The security trail of staff accounts: what is recorded, and the admin's view of it
//! (`GET /v1/staff/{staff_id}/audit`). A lock-out and a completed reset also reach the event
//! bus, derived from their trail entries on the table's stream (`store::changes`).

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::domain::staff::StaffId;
use shared::domain::staff_security::{SecurityEvent, SecurityEventKind};
use shared::http::paging::PageRequest;
use shared::http::{ApiError, Scope};
use shared::metrics::{self, Metric};

/// Records `event` in the member's trail. The change it describes has happened already, so a
/// failed write is logged rather than turned into an error the caller could not act on.
pub async fn record(app: &App, staff_id: &StaffId, event: SecurityEventKind, actor: &str, detail: Option<String>) {
    let (at, at_ms) = app.clock.now_with_ms();
    let entry = SecurityEvent { staff_id: staff_id.to_string(), event, at, at_ms, actor: actor.to_string(), detail };
    if let Err(err) = app.store.put_security_event(&entry).await {
        tracing::error!(error = %err, event = event.as_str(), "a security trail entry could not be written");
    }
}

/// A wrong password or second-factor code of a known member (`failure` is `PasswordFailed` or
/// `MfaFailed`), and the lock-out when this attempt set it.
pub async fn failure(app: &App, staff_id: &StaffId, failure: SecurityEventKind, locked_by_this_attempt: bool) {
    record(app, staff_id, failure, staff_id.as_str(), None).await;
    if locked_by_this_attempt {
        metrics::count("auth", Metric::StaffLockout);
        record(app, staff_id, SecurityEventKind::LockedOut, staff_id.as_str(), None).await;
    }
}

/// `GET /v1/staff/{staff_id}/audit`: newest first, paged like every list.
pub async fn list(app: &App, req: &Request, raw_id: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::NotFound("no such staff member".into());
    let id = StaffId::parse(raw_id).ok_or_else(not_found)?;
    app.store.get_staff(&id).await?.ok_or_else(not_found)?;
    let request = PageRequest::from_request(app, req, scope)?;
    let page = app.store.list_security_events(&id, request.limit, request.start.clone()).await?;
    request.respond(app, page, SecurityEvent::to_json)
}
