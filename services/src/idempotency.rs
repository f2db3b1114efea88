//! `Idempotency-Key` as a use case: a key (bound to its caller and route) is claimed before the
//! work runs, and the work's outcome is recorded under it, so a repeat within 24 hours gets the
//! first answer back and changes nothing.

use store::StoreError;
use store::idempotency::Claim;

use crate::App;
use crate::domain::CustomerId;
use crate::domain::idempotency::{IdempotencyRecord, StoredResponse};
use crate::time::Timestamp;

/// A claimed key: the work may run.
pub struct ClaimedKey<'a> {
    scope: &'a str,
    request_hash: &'a str,
    claimed_at: Timestamp,
}

/// What a claim found.
pub enum KeyClaim<'a> {
    /// The key is this request's: run the work, then [`record`] its outcome.
    Run(ClaimedKey<'a>),
    /// Another request has (or had) the key.
    Existing(IdempotencyRecord),
}

/// Claims `scope` (the hashed caller, route and key) for the request with `request_hash`.
pub async fn claim<'a>(app: &App, scope: &'a str, request_hash: &'a str) -> Result<KeyClaim<'a>, StoreError> {
    let now = app.clock.now();
    Ok(match app.store.claim_idempotency(scope, request_hash, now).await? {
        Claim::Claimed => KeyClaim::Run(ClaimedKey { scope, request_hash, claimed_at: now }),
        Claim::Existing(record) => KeyClaim::Existing(record),
    })
}

/// Records the outcome of the work: its answer to replay (and the customer it created, so an
/// erase deletes it too), or `None` for a server error, which releases the key so a retry runs
/// the work again.
pub async fn record(
    app: &App,
    key: ClaimedKey<'_>,
    outcome: Option<(StoredResponse, Option<CustomerId>)>,
) -> Result<(), StoreError> {
    match outcome {
        None => app.store.release_idempotency(key.scope).await,
        Some((stored, owner)) => {
            app.store.complete_idempotency(key.scope, key.request_hash, key.claimed_at, stored, owner.as_ref()).await
        }
    }
}
