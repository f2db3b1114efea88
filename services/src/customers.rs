//! Customer use cases that read, change and write: the loop every customer update goes through
//! (`PATCH /v1/me`, staff `PATCH`/`PUT`, bulk update, status changes, verification, soft
//! delete): optimistic concurrency on `version`, `If-Match` honoured, the audit entry written
//! in the same transaction as the change.

use std::time::{Duration, Instant};

use platform::clock::Clock;
use store::backoff;
use store::{Store, StoreError};
use thiserror::Error;

use crate::domain::audit::AuditNote;
use crate::domain::{Customer, CustomerId};
use crate::time::Timestamp;

/// How long an update without `If-Match` keeps trying while other writers win the races: long
/// enough for dozens of concurrent writers of one customer, well inside the function timeout.
const UPDATE_BUDGET: Duration = Duration::from_secs(7);

/// Why an update did not apply. `E` is what the change itself may refuse with.
#[derive(Debug, Error)]
pub enum UpdateError<E> {
    #[error("no such customer")]
    NotFound,
    #[error("the customer is not at the expected version")]
    PreconditionFailed,
    #[error("the customer kept changing while this update was tried")]
    Contended,
    #[error("the change was refused")]
    Refused(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `change` to the current customer and writes the result. With `expected` (the
/// versions an `If-Match` accepts), a customer at another version is `PreconditionFailed`;
/// without it, a lost race re-reads and applies the change again, so it is atomic either way.
/// A change that alters nothing writes nothing (and audits nothing). Returns the customer as it
/// now is.
pub async fn update_customer<E, F>(
    store: &Store,
    clock: &Clock,
    id: &CustomerId,
    expected: Option<&[u64]>,
    note: &AuditNote,
    change: F,
) -> Result<Customer, UpdateError<E>>
where
    F: Fn(&Customer, Timestamp) -> Result<Customer, E>,
{
    let started = Instant::now();
    let mut attempt = 0;
    while started.elapsed() < UPDATE_BUDGET {
        let current = store.get_customer(id).await?.ok_or(UpdateError::NotFound)?;
        if expected.is_some_and(|versions| !versions.contains(&current.version)) {
            return Err(UpdateError::PreconditionFailed);
        }
        let now = clock.now();
        let mut next = change(&current, now).map_err(UpdateError::Refused)?;
        if next == current {
            return Ok(current);
        }
        match store.replace_customer(&current, &mut next, now, note).await {
            Ok(()) => return Ok(next),
            Err(StoreError::VersionConflict) if expected.is_some() => return Err(UpdateError::PreconditionFailed),
            Err(StoreError::VersionConflict) => {
                // Jittered, so the writers that lost this round do not collide again at once.
                backoff(attempt).await;
                attempt += 1;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(UpdateError::Contended)
}

/// The ONE erase of a customer, for `DELETE /v1/me` and the admin's hard delete: the table's
/// records (`Store::remove_customer`), then the rest (`finish_erase`). Resumable at every step:
/// a repeat after an interruption finds the erase record still `sweeping` and finishes, and so
/// does the scheduled sweep (`sweep_unfinished_erases`) without anyone repeating it.
pub async fn erase_customer(
    app: &crate::App,
    id: &CustomerId,
    actor: &str,
    rule: store::customers::EraseRule,
) -> Result<(), store::customers::EraseError> {
    app.store.remove_customer(id, actor, rule).await?;
    finish_erase(app, id).await
}

/// The second half of an erase whose record says `sweeping`: the stored idempotent responses
/// that hold the customer, the customer's media (objects in S3 and their items), then the sweep
/// of its partition and login-day entries. Idempotent; `NotFound` once the erase is `done`.
pub async fn finish_erase(app: &crate::App, id: &CustomerId) -> Result<(), store::customers::EraseError> {
    use store::customers::EraseError;
    app.store.purge_idempotency_of(id).await?;
    crate::media::purge_customer(app, id)
        .await
        .map_err(|e| EraseError::Store(StoreError::Backend(format!("erasing media: {e}"))))?;
    app.store.sweep_erased(id).await
}

/// What one run of the sweep of unfinished erases did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EraseSweep {
    /// Erases completed (or found completed meanwhile by another run or a repeat).
    pub completed: usize,
    /// Erases that failed again; they stay on the list for the next run.
    pub failed: usize,
}

/// Completes the erases that stopped part-way (their record still `sweeping`) and started
/// more than `grace` before `now`, so an erase still running in its request is left alone: at
/// most `limit` per run, oldest first. Run on a schedule (the erase-sweeper function in AWS, a
/// background task in the local stack).
pub async fn sweep_unfinished_erases(
    app: &crate::App,
    now: Timestamp,
    grace: std::time::Duration,
    limit: i32,
) -> Result<EraseSweep, StoreError> {
    use store::customers::EraseError;
    let started_before = now.plus_seconds(-(grace.as_secs() as i64));
    let mut sweep = EraseSweep::default();
    for id in app.store.unfinished_erasures(started_before, limit).await? {
        match finish_erase(app, &id).await {
            Ok(()) | Err(EraseError::NotFound) => sweep.completed += 1,
            Err(err) => {
                tracing::error!(customer_id = %id, error = %err, "an unfinished erase failed again; retried next run");
                sweep.failed += 1;
            }
        }
    }
    Ok(sweep)
}
