//! The sweep of unfinished erases in AWS: an EventBridge schedule (every 15 minutes) runs this
//! function, which completes every erase whose record is still `sweeping` some minutes after
//! it started (the request that began it failed or timed out part-way). Nobody has to repeat
//! the erase; a repeat still works and finds less to do.

use std::time::Duration;

use serde_json::{Value, json};
use shared::App;
use shared::services::erase::sweep_unfinished_erases;

/// An erase younger than this may still be running in its request (the API gives a request at
/// most 29 seconds): the sweep leaves it alone.
pub const GRACE: Duration = Duration::from_secs(600);
/// Erases completed per run at most (each takes a few calls; the next run takes the rest).
pub const PER_RUN: i32 = 100;

/// One run. `Err` when the list could not be read or an erase failed again (that erase stays
/// on the list for the next run): the invocation then counts as failed, and its alarm fires.
pub async fn sweep(app: &App) -> Result<Value, String> {
    let done = sweep_unfinished_erases(app, app.clock.now(), GRACE, PER_RUN)
        .await
        .map_err(|err| format!("the list of unfinished erases could not be read: {err}"))?;
    tracing::info!(completed = done.completed, failed = done.failed, "swept unfinished erases");
    if done.failed > 0 {
        return Err(format!("{} erase(s) could not be completed; retried next run", done.failed));
    }
    Ok(json!({"completed": done.completed}))
}
