//! The read-change-write loop every customer update goes through (`PATCH /v1/me`, staff
//! `PATCH`/`PUT`, bulk update, status changes, verification, soft delete): optimistic
//! concurrency on `version`, `If-Match` honoured, the audit entry written with the change.

use super::ApiError;
use crate::App;
use crate::domain::audit::AuditNote;
use crate::domain::{Customer, CustomerId};
use crate::store::StoreError;
use crate::time::Timestamp;

/// Attempts of an update without `If-Match` that keeps losing races with other writers.
const UPDATE_ATTEMPTS: usize = 5;

/// The result of an update: the customer as it now is, and whether anything was written.
pub struct Updated {
    pub customer: Customer,
    pub changed: bool,
}

/// Applies `change` to the current customer and writes the result. With `expected` (the
/// versions an `If-Match` accepts), a customer at another version is 412; without it, a lost
/// race re-reads and applies the change again, so it is atomic either way. A change that
/// alters nothing writes nothing (and audits nothing).
pub async fn update_customer<F>(
    app: &App,
    id: &CustomerId,
    expected: Option<&[u64]>,
    note: &AuditNote,
    not_found: impl Fn() -> ApiError,
    change: F,
) -> Result<Updated, ApiError>
where
    F: Fn(&Customer, Timestamp) -> Result<Customer, ApiError>,
{
    for _ in 0..UPDATE_ATTEMPTS {
        let current = app.store.get_customer(id).await?.ok_or_else(&not_found)?;
        if expected.is_some_and(|versions| !versions.contains(&current.version)) {
            return Err(ApiError::PreconditionFailed);
        }
        let now = Timestamp::now();
        let mut next = change(&current, now)?;
        if next == current {
            return Ok(Updated { customer: current, changed: false });
        }
        match app.store.replace_customer(&current, &mut next, now, note).await {
            Ok(()) => return Ok(Updated { customer: next, changed: true }),
            Err(StoreError::VersionConflict) if expected.is_some() => return Err(ApiError::PreconditionFailed),
            Err(StoreError::VersionConflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict { detail: "the customer is being changed elsewhere; try again".into(), field: None })
}
