//! The export job in AWS: a DynamoDB Streams batch of export INSERTs (the event source
//! mapping's filter lets nothing else through), each run through the same `ExportJob` the
//! local stack runs in a background task.
//!
//! A job runs in slices of `EXPORT_SLICE_SECONDS`, well inside the function's timeout. A slice
//! that stops at its checkpoint reports its record in `batchItemFailures`: the mapping then
//! delivers the record again, and the next invocation takes the export up where it stopped,
//! until every match is written. The mapping's `ParallelizationFactor` lets several exports
//! run side by side on one shard; an export queued behind others stays `pending`, which is
//! not taken for dead.
//!
//! A job that fails records `failed` itself and the record counts as processed: retrying a
//! deterministic failure would only fail again. A record whose outcome could not be written is
//! also reported, so the mapping retries it (and, once its retries are spent, sends it to the
//! DLQ); a retry takes the export over once the dead job's heartbeat is stale (waiting for it
//! when the job died moments ago), as a new attempt writing its own file.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};
use shared::App;
use shared::domain::export::ExportId;
use shared::services::exports::{ExportJob, JobOutcome};

#[derive(Debug, Deserialize)]
struct StreamEvent {
    #[serde(rename = "Records", default)]
    records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
struct StreamRecord {
    #[serde(rename = "eventName", default)]
    event_name: String,
    #[serde(default)]
    dynamodb: StreamChange,
}

#[derive(Debug, Default, Deserialize)]
struct StreamChange {
    #[serde(rename = "Keys", default)]
    keys: HashMap<String, StringAttribute>,
    #[serde(rename = "SequenceNumber", default)]
    sequence_number: String,
}

#[derive(Debug, Deserialize)]
struct StringAttribute {
    #[serde(rename = "S")]
    s: Option<String>,
}

impl StreamRecord {
    /// The export an INSERT of an export record names.
    fn export_id(&self) -> Option<ExportId> {
        if self.event_name != "INSERT" {
            return None;
        }
        let pk = self.dynamodb.keys.get("PK")?.s.as_deref()?;
        ExportId::parse(pk.strip_prefix("EXPORT#")?)
    }
}

/// Runs the batch's jobs one after another; answers the partial-batch response
/// (`ReportBatchItemFailures`).
pub async fn handle_stream_batch(app: &App, event: Value) -> Value {
    let event: StreamEvent = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(err) => {
            tracing::error!(error = %err, "not a DynamoDB Streams event; nothing done");
            return json!({ "batchItemFailures": [] });
        }
    };
    let job = ExportJob::of(app);
    let mut failures = Vec::new();
    for record in &event.records {
        let Some(id) = record.export_id() else {
            tracing::warn!(event = %record.event_name, "a stream record that is not an export INSERT; skipped");
            continue;
        };
        match job.run(&id).await {
            Ok(JobOutcome::Paused { rows }) => {
                tracing::info!(export_id = %id, rows, "export job paused at its checkpoint; the record comes again");
                failures.push(json!({ "itemIdentifier": record.dynamodb.sequence_number }));
            }
            Ok(outcome) => tracing::info!(export_id = %id, outcome = ?outcome, "export job ended"),
            Err(err) => {
                tracing::error!(export_id = %id, error = %err, "export outcome not recorded; the record is retried");
                failures.push(json!({ "itemIdentifier": record.dynamodb.sequence_number }));
            }
        }
    }
    json!({ "batchItemFailures": failures })
}
