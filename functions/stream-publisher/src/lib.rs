//! The stream publisher: reads the table's DynamoDB stream and publishes the change events of
//! `domain::events` to an EventBridge bus. An event exists exactly when its write committed
//! (no dual write); delivery is at least once, and every event carries an id derived from its
//! stream record, so consumers de-duplicate redeliveries on it.
//!
//! A batch is published in order, ten events per `PutEvents`. When some fail, the batch
//! reports the first record with a failed event (`ReportBatchItemFailures`), so Lambda retries
//! from there; after its retries the batch goes to the DLQ.

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::domain::events::{ChangeEvent, SOURCE};
use shared::services::changes::change_events;

/// `PutEvents` takes at most this many entries.
pub const PUT_EVENTS_LIMIT: usize = 10;

/// Where events go: EventBridge in AWS; a file in the local stack; memory in tests.
pub trait EventSink: Sync {
    /// Publishes up to ten events; `Ok` holds, per event, whether it was accepted.
    fn publish(&self, events: &[ChangeEvent]) -> impl Future<Output = Result<Vec<bool>, String>> + Send;
}

/// The events of one record, or why it could not be read.
fn record_events(record: &EventRecord) -> Result<Vec<ChangeEvent>, String> {
    let time =
        shared::time::Timestamp::from_unix(record.change.approximate_creation_date_time.timestamp()).to_rfc3339();
    change_events(&record.event_id, &time, &record.change.old_image, &record.change.new_image)
        .map_err(|e| e.to_string())
}

/// Publishes a batch of stream records; the response names the first record to retry from.
pub async fn handle_batch<S: EventSink>(sink: &S, event: Event) -> DynamoDbEventResponse {
    let mut pending: Vec<(usize, ChangeEvent)> = Vec::new();
    let mut first_failed: Option<usize> = None;
    for (index, record) in event.records.iter().enumerate() {
        match record_events(record) {
            Ok(events) => pending.extend(events.into_iter().map(|e| (index, e))),
            Err(why) => {
                tracing::error!(event_id = %record.event_id, error = %why, "unreadable stream record");
                first_failed = Some(index);
                break;
            }
        }
    }
    // Records from the first unreadable one on are retried, so their events wait too.
    if let Some(stop) = first_failed {
        pending.retain(|(index, _)| *index < stop);
    }
    for chunk in pending.chunks(PUT_EVENTS_LIMIT) {
        let events: Vec<ChangeEvent> = chunk.iter().map(|(_, e)| e.clone()).collect();
        let accepted = sink.publish(&events).await.unwrap_or_else(|why| {
            tracing::error!(error = %why, "publishing change events failed");
            vec![false; events.len()]
        });
        for ((index, event), ok) in chunk.iter().zip(accepted.iter().chain(std::iter::repeat(&false))) {
            if !ok {
                tracing::warn!(event_id = %event.id, "change event not accepted; the batch is retried from its record");
                first_failed = Some(first_failed.map_or(*index, |f| f.min(*index)));
            }
        }
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(index) = first_failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = event.records.get(index).and_then(|r| r.change.sequence_number.clone());
        response.batch_item_failures.push(failure);
    }
    response
}

/// EventBridge: each event an entry with `source` `customer-platform`, `detail-type` the event
/// type, and the whole event (id, type, time, detail) as its detail.
pub struct EventBridgeSink {
    pub client: aws_sdk_eventbridge::Client,
    pub bus_name: String,
}

impl EventSink for EventBridgeSink {
    async fn publish(&self, events: &[ChangeEvent]) -> Result<Vec<bool>, String> {
        let entries = events
            .iter()
            .map(|event| {
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(SOURCE)
                    .detail_type(event.kind.as_str())
                    .detail(event.to_json().to_string())
                    .build()
            })
            .collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string())?;
        Ok(out.entries().iter().map(|entry| entry.error_code().is_none()).collect())
    }
}
