//! Change events in the local stack: DynamoDB Local has streams, so the local stack reads the
//! table's stream itself (as Lambda's event source mapping does in AWS) and hands each batch to
//! the stream publisher's handler, with a file instead of EventBridge as the destination.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use shared::domain::events::ChangeEvent;
use stream_publisher::{EventSink, handle_batch};

/// Reads every shard of a table's stream from its start, remembering where each shard is.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Shard id → the iterator to read next (`None` once a closed shard is read to its end).
    positions: HashMap<String, Option<String>>,
}

fn error<E: std::error::Error>(err: E) -> String {
    aws_sdk_dynamodbstreams::error::DisplayErrorContext(err).to_string()
}

impl StreamReader {
    /// The reader of `table`'s latest stream, at the stream's start.
    pub async fn open(
        sdk: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        tables: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> Result<Self, String> {
        let described = tables.describe_table().table_name(table).send().await.map_err(error)?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| format!("table {table} has no stream (template.yaml declares one)"))?
            .to_string();
        let mut config = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self {
            client: aws_sdk_dynamodbstreams::Client::from_conf(config.build()),
            stream_arn,
            positions: HashMap::new(),
        })
    }

    /// Every record written since the last read, oldest first within each shard.
    pub async fn read(&mut self) -> Result<Vec<EventRecord>, String> {
        self.discover_shards().await?;
        let mut records = Vec::new();
        let shards: Vec<String> = self.positions.keys().cloned().collect();
        for shard in shards {
            let Some(Some(iterator)) = self.positions.get(&shard).cloned() else { continue };
            let out = self.client.get_records().shard_iterator(iterator).send().await.map_err(error)?;
            records.extend(out.records().iter().map(to_lambda_record));
            self.positions.insert(shard, out.next_shard_iterator().map(str::to_string));
        }
        Ok(records)
    }

    async fn discover_shards(&mut self) -> Result<(), String> {
        let described = self.client.describe_stream().stream_arn(&self.stream_arn).send().await.map_err(error)?;
        let shards = described.stream_description().map(|d| d.shards().to_vec()).unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id() else { continue };
            if self.positions.contains_key(id) {
                continue;
            }
            let out = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(error)?;
            self.positions.insert(id.to_string(), out.shard_iterator().map(str::to_string));
        }
        Ok(())
    }
}

/// A stream record as Lambda's event source mapping delivers it.
fn to_lambda_record(record: &Record) -> EventRecord {
    let mut event = EventRecord::default();
    event.event_id = record.event_id().unwrap_or_default().to_string();
    event.event_name = record.event_name().map(|n| n.as_str().to_string()).unwrap_or_default();
    event.event_source = Some("aws:dynamodb".into());
    if let Some(change) = record.dynamodb() {
        let image = |image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
            serde_dynamo::Item::from(image.cloned().unwrap_or_default())
        };
        event.change.keys = image(change.keys());
        event.change.new_image = image(change.new_image());
        event.change.old_image = image(change.old_image());
        event.change.sequence_number = change.sequence_number().map(str::to_string);
        if let Some(at) = change.approximate_creation_date_time()
            && let Some(time) = chrono::DateTime::from_timestamp(at.secs(), 0)
        {
            event.change.approximate_creation_date_time = time;
        }
    }
    event
}

/// Publishes what was written since the last call; the number of records read.
pub async fn publish_new<S: EventSink>(reader: &mut StreamReader, sink: &S) -> Result<usize, String> {
    let records = reader.read().await?;
    let count = records.len();
    if count > 0 {
        let mut batch = Event::default();
        batch.records = records;
        let response = handle_batch(sink, batch).await;
        if !response.batch_item_failures.is_empty() {
            return Err("some change events could not be published".into());
        }
    }
    Ok(count)
}

/// Polls the stream for as long as the local stack runs.
pub async fn poll_forever<S: EventSink>(mut reader: StreamReader, sink: S, every: Duration) {
    loop {
        if let Err(why) = publish_new(&mut reader, &sink).await {
            tracing::warn!(error = %why, "reading the change stream");
        }
        tokio::time::sleep(every).await;
    }
}

/// The local stack's event destination: one JSON line per event, appended to a file, each id
/// written once (a consumer that de-duplicates, as EventBridge consumers should).
pub struct JsonLinesSink {
    path: PathBuf,
    seen: Mutex<HashSet<String>>,
}

impl JsonLinesSink {
    pub fn new(path: PathBuf) -> Self {
        let seen = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|event| event["id"].as_str().map(str::to_string))
            .collect();
        Self { path, seen: Mutex::new(seen) }
    }
}

impl EventSink for JsonLinesSink {
    async fn publish(&self, events: &[ChangeEvent]) -> Result<Vec<bool>, String> {
        let mut seen = self.seen.lock().map_err(|_| "poisoned".to_string())?;
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| e.to_string())?;
        for event in events {
            if seen.insert(event.id.clone()) {
                writeln!(file, "{}", event.to_json()).map_err(|e| e.to_string())?;
            }
        }
        Ok(vec![true; events.len()])
    }
}
