//! The erase of a customer: the table's records, then their stored responses, their media and
//! the sweep of their partition; resumable, and completed by a scheduled sweep when a request
//! stopped part-way. Apart from `customers` because it uses `media`, which uses `customers`.

use store::StoreError;

use crate::domain::CustomerId;
use crate::time::Timestamp;

/// The ONE erase of a customer, for `DELETE /v1/me` and the admin's hard delete: the table's
/// records (`Store::remove_customer`), then the rest (`finish_erase`). Resumable at every step:
/// a repeat after an interruption finds the erase record still `sweeping` and finishes, and so
/// does the scheduled sweep (`sweep_unfinished_erases`) without anyone repeating it.
pub async fn erase_customer(
    app: &crate::App,
    id: &CustomerId,
    actor: &str,
    rule: crate::domain::customer::EraseRule,
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
