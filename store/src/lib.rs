//! The DynamoDB store. Every call asks for `ReturnConsumedCapacity` and adds it to a meter, so
//! the benchmark and the logs can show what each route costs.
//!
//! Layer: `domain` ← `store` ← `services` ← `edge`; it knows nothing of HTTP, tokens or use cases.

pub mod carts;
pub mod changes;
pub mod customer_lists;
pub mod customers;
pub mod exports;
pub mod fields;
pub mod groups;
pub mod idempotency;
pub mod identities;
pub mod keys;
pub mod login_guard;
pub mod media;
pub mod otp;
pub mod personal_data;
pub mod postings;
pub mod rate_limit;
#[cfg(feature = "rebuild")]
pub mod rebuild;
pub mod search;
pub mod sessions;
pub mod staff;
pub mod staff_security;
pub mod stats;
pub(crate) mod table;

// The domain as `crate::domain` (and its timestamps as `crate::time`), the paths this code had
// when it was part of `shared`.
use ::domain::{self, time};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;

use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
pub use table::backoff;
use thiserror::Error;

/// One item as DynamoDB holds it, named only inside the store.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// One page of a list, and where the next one starts.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageToken>,
}

/// Where a page ended. Only the store reads what is inside (the key attributes of the last item
/// it returned); every other layer passes it on, signed, as an opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PageToken(BTreeMap<String, String>);

impl PageToken {
    /// The (string) attributes of `item` named by `names`: an index's `ExclusiveStartKey`.
    pub(crate) fn of(item: &Item, names: &[&str]) -> Self {
        Self(
            names
                .iter()
                .filter_map(|name| string_attr(item, name).map(|v| (name.to_string(), v.to_string())))
                .collect(),
        )
    }

    pub(crate) fn single(name: &str, value: String) -> Self {
        Self(BTreeMap::from([(name.to_string(), value)]))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn into_start_key(self) -> HashMap<String, AttributeValue> {
        self.0.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect()
    }
}

impl Page<Item> {
    /// Maps the raw items with `serde_dynamo`.
    pub(crate) fn typed<T: serde::de::DeserializeOwned>(self) -> Result<Page<T>, StoreError> {
        let items = self.items.into_iter().map(serde_dynamo::from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next: self.next })
    }
}
pub use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};

/// A value that must be unique across customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Phone,
    Email,
    Username,
    CustomerId,
    GroupName,
    /// A provider's subject, linked to one customer only.
    Identity,
}

impl UniqueField {
    pub fn name(&self) -> &'static str {
        match self {
            UniqueField::Phone => "phone",
            UniqueField::Email => "email",
            UniqueField::Username => "username",
            UniqueField::CustomerId => "customer_id",
            UniqueField::GroupName => "name",
            UniqueField::Identity => "provider",
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{} is already taken", .0.name())]
    Taken(UniqueField),
    #[error("the item changed meanwhile")]
    VersionConflict,
    #[error("not found")]
    NotFound,
    #[error("DynamoDB call failed: {0}")]
    Backend(String),
    #[error("the page token does not belong to this list")]
    BadPageToken,
    #[error("a stored item could not be read: {0}")]
    Malformed(String),
}

impl StoreError {
    pub fn backend<E, R>(err: SdkError<E, R>) -> Self
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StoreError::Backend(DisplayErrorContext(err).to_string())
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(err: serde_dynamo::Error) -> Self {
        StoreError::Malformed(err.to_string())
    }
}

/// Read and write capacity units consumed so far, as counted by DynamoDB.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub read: f64,
    pub write: f64,
}

impl std::ops::Sub for Capacity {
    type Output = Capacity;
    fn sub(self, other: Capacity) -> Capacity {
        Capacity { read: self.read - other.read, write: self.write - other.write }
    }
}

#[derive(Debug, Default)]
pub struct CapacityMeter {
    // Hundredths of a unit: DynamoDB reports halves for eventually consistent reads.
    read: AtomicU64,
    write: AtomicU64,
}

impl CapacityMeter {
    pub fn snapshot(&self) -> Capacity {
        Capacity {
            read: self.read.load(Ordering::Relaxed) as f64 / 100.0,
            write: self.write.load(Ordering::Relaxed) as f64 / 100.0,
        }
    }

    fn add<'a>(counter: &AtomicU64, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 = consumed.into_iter().filter_map(|c| c.capacity_units()).sum();
        counter.fetch_add((units * 100.0).round() as u64, Ordering::Relaxed);
    }

    fn read(&self, consumed: &[ConsumedCapacity]) {
        Self::add(&self.read, consumed);
    }

    fn write(&self, consumed: &[ConsumedCapacity]) {
        Self::add(&self.write, consumed);
    }
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    meter: Arc<CapacityMeter>,
    #[cfg(feature = "test-faults")]
    faults: Arc<Faults>,
}

/// Failures a test can ask for, to prove that an interrupted operation resumes. Compiled only
/// with the `test-faults` feature, which only the tests crate turns on: the functions' binaries,
/// built one package at a time, hold none of it.
#[cfg(feature = "test-faults")]
#[derive(Debug, Default)]
pub struct Faults {
    fail_next_sweep: std::sync::atomic::AtomicBool,
    compact_after: std::sync::atomic::AtomicUsize,
    held_compaction: std::sync::Mutex<Option<Arc<Gate>>>,
}

/// A point where an operation stops until the test releases it: `reached` is notified when it
/// gets there, and it goes on once `release` is.
#[cfg(feature = "test-faults")]
#[derive(Debug, Default)]
pub struct Gate {
    pub reached: tokio::sync::Notify,
    pub release: tokio::sync::Notify,
}

#[cfg(feature = "test-faults")]
impl Faults {
    /// The next erase fails after its transaction, before sweeping the partition.
    pub fn fail_next_sweep(&self) {
        self.fail_next_sweep.store(true, Ordering::SeqCst);
    }

    /// Posting-list blocks are compacted from `changes` changes on (instead of
    /// `postings::COMPACT_AFTER`), so a test with a few customers sees compaction.
    pub fn compact_blocks_after(&self, changes: usize) {
        self.compact_after.store(changes, Ordering::SeqCst);
    }

    /// The next compaction of posting-list blocks stops between its read and its write.
    pub fn hold_next_compaction(&self) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        if let Ok(mut held) = self.held_compaction.lock() {
            *held = Some(gate.clone());
        }
        gate
    }

    pub(crate) async fn pass_compaction_gate(&self) {
        let gate = self.held_compaction.lock().ok().and_then(|mut held| held.take());
        if let Some(gate) = gate {
            gate.reached.notify_one();
            gate.release.notified().await;
        }
    }

    fn check_sweep(&self) -> Result<(), StoreError> {
        if self.fail_next_sweep.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Backend("injected fault: the partition sweep failed".into()));
        }
        Ok(())
    }
}

impl Store {
    fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: Arc::new(CapacityMeter::default()),
            #[cfg(feature = "test-faults")]
            faults: Arc::default(),
        }
    }

    /// The store of `table`, with a DynamoDB client made from the SDK's configuration (an
    /// `&SdkConfig`) and, when given, `endpoint` (DynamoDB Local's).
    pub fn connect(
        sdk: impl Into<aws_sdk_dynamodb::config::Builder>,
        endpoint: Option<&str>,
        table: impl Into<String>,
    ) -> Self {
        let mut config = sdk.into();
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        Self::new(Client::from_conf(config.build()), table)
    }

    /// The raw client, for the infrastructure adapters of the local stack (creating the table,
    /// polling its stream) and the tests' harness: no request path uses it.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn meter(&self) -> &CapacityMeter {
        &self.meter
    }

    #[cfg(feature = "test-faults")]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// `TOTAL` everywhere: cheap to ask for, and it is what the benchmark reports.
    pub(crate) const CAPACITY: ReturnConsumedCapacity = ReturnConsumedCapacity::Total;

    /// The cheapest call that proves the table answers: a consistent-free read of a key that
    /// never exists.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(self.client.get_item().key(keys::PK, s("HEALTH")).key(keys::SK, s("HEALTH"))).await?;
        Ok(())
    }
}

/// A request to DynamoDB from the store: what [`Store::call`] needs to name the table, ask for
/// the consumed capacity and meter it.
pub(crate) trait TableCall: Sized + Send {
    type Output: Send;
    type Error: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static;
    /// Whether the call's capacity is a write's.
    const WRITES: bool;
    /// Names the table (a batch names it with its items) and asks for the consumed capacity.
    fn on_table(self, table: &str) -> Self;
    fn consumed(output: &Self::Output) -> &[ConsumedCapacity];
    fn send(
        self,
    ) -> impl Future<Output = Result<Self::Output, SdkError<Self::Error, aws_sdk_dynamodb::config::http::HttpResponse>>> + Send;
}

macro_rules! table_call {
    (@on_table item, $request:ident, $table:ident) => {
        $request.table_name($table).return_consumed_capacity(Store::CAPACITY)
    };
    (@on_table batch, $request:ident, $table:ident) => {{
        let _ = $table;
        $request.return_consumed_capacity(Store::CAPACITY)
    }};
    (@consumed item, $output:ident) => {
        $output.consumed_capacity().map(std::slice::from_ref).unwrap_or_default()
    };
    (@consumed batch, $output:ident) => {
        $output.consumed_capacity()
    };
    ($($(#[$attr:meta])* $op:ident: $builder:ident, $output:ident, $error:ident, $writes:expr, $kind:ident;)*) => {$(
        $(#[$attr])*
        impl TableCall for aws_sdk_dynamodb::operation::$op::builders::$builder {
            type Output = aws_sdk_dynamodb::operation::$op::$output;
            type Error = aws_sdk_dynamodb::operation::$op::$error;
            const WRITES: bool = $writes;
            fn on_table(self, table: &str) -> Self {
                table_call!(@on_table $kind, self, table)
            }
            fn consumed(output: &Self::Output) -> &[ConsumedCapacity] {
                table_call!(@consumed $kind, output)
            }
            fn send(
                self,
            ) -> impl Future<Output = Result<Self::Output, SdkError<Self::Error, aws_sdk_dynamodb::config::http::HttpResponse>>> + Send {
                self.send()
            }
        }
    )*};
}

// `item`: a request on the table itself, which names it; `batch`: a batch or a transaction,
// whose items name it.
table_call! {
    get_item: GetItemFluentBuilder, GetItemOutput, GetItemError, false, item;
    query: QueryFluentBuilder, QueryOutput, QueryError, false, item;
    #[cfg(feature = "rebuild")]
    scan: ScanFluentBuilder, ScanOutput, ScanError, false, item;
    put_item: PutItemFluentBuilder, PutItemOutput, PutItemError, true, item;
    update_item: UpdateItemFluentBuilder, UpdateItemOutput, UpdateItemError, true, item;
    delete_item: DeleteItemFluentBuilder, DeleteItemOutput, DeleteItemError, true, item;
    batch_get_item: BatchGetItemFluentBuilder, BatchGetItemOutput, BatchGetItemError, false, batch;
    batch_write_item: BatchWriteItemFluentBuilder, BatchWriteItemOutput, BatchWriteItemError, true, batch;
    transact_write_items: TransactWriteItemsFluentBuilder, TransactWriteItemsOutput, TransactWriteItemsError, true, batch;
}

impl Store {
    /// Sends one request, metered: the tail every call shares (the table's name,
    /// `ReturnConsumedCapacity`, the meter, the error) written once.
    pub(crate) async fn call<C: TableCall>(&self, call: C) -> Result<C::Output, StoreError> {
        self.metered(call).await.map_err(StoreError::backend)
    }

    /// [`Store::call`] for a conditional write: `None` when its condition failed.
    pub(crate) async fn call_if<C: TableCall>(&self, call: C) -> Result<Option<C::Output>, StoreError> {
        match self.metered(call).await {
            Ok(out) => Ok(Some(out)),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(StoreError::backend(err)),
        }
    }

    /// [`Store::call`] with the SDK's own error, for a caller that reads it (a transaction's
    /// cancellation reasons).
    pub(crate) async fn metered<C: TableCall>(
        &self,
        call: C,
    ) -> Result<C::Output, SdkError<C::Error, aws_sdk_dynamodb::config::http::HttpResponse>> {
        let out = call.on_table(&self.table).send().await?;
        if C::WRITES {
            self.meter.write(C::consumed(&out));
        } else {
            self.meter.read(C::consumed(&out));
        }
        Ok(out)
    }
}

impl Store {
    /// A strongly consistent read of one item.
    pub(crate) async fn get_raw(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out =
            self.call(self.client.get_item().key(keys::PK, s(pk)).key(keys::SK, s(sk)).consistent_read(true)).await?;
        Ok(out.item)
    }

    /// Deletes one item, whether or not it exists.
    pub(crate) async fn delete_raw(&self, pk: String, sk: &str) -> Result<(), StoreError> {
        self.call(self.client.delete_item().key(keys::PK, s(pk)).key(keys::SK, s(sk))).await?;
        Ok(())
    }

    /// A strongly consistent read of one item, mapped with `serde_dynamo`.
    pub(crate) async fn get_typed<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_raw(pk, sk).await?.map(serde_dynamo::from_item).transpose().map_err(StoreError::from)
    }

    /// Writes a versioned item that expires at `ttl`: only if it is new (`previous_version`
    /// None) or still at `previous_version`. `false` when a concurrent writer got there first.
    pub(crate) async fn put_versioned<T: serde::Serialize>(
        &self,
        record: &T,
        (pk, sk, entity): (String, &str, &str),
        previous_version: Option<u64>,
        ttl: i64,
    ) -> Result<bool, StoreError> {
        let mut item: Item = serde_dynamo::to_item(record)?;
        item.insert(keys::PK.into(), s(pk));
        item.insert(keys::SK.into(), s(sk));
        item.insert(keys::ENTITY.into(), s(entity));
        item.insert(keys::TTL.into(), n(ttl));
        let request = self.client.put_item().set_item(Some(item));
        let request = match previous_version {
            None => request.condition_expression("attribute_not_exists(PK)"),
            Some(version) => request.condition_expression("version = :v").expression_attribute_values(":v", n(version)),
        };
        Ok(self.call_if(request).await?.is_some())
    }

    /// One page of a Query: asks for `limit + 1` items so that a full last page does not come
    /// with a cursor to an empty one; the cursor is the last returned item's `key_names`.
    pub(crate) async fn query_page(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: i32,
        start: Option<PageToken>,
        key_names: &[&str],
    ) -> Result<Page<Item>, StoreError> {
        let out =
            self.call(query.limit(limit + 1).set_exclusive_start_key(start.map(PageToken::into_start_key))).await?;
        let mut items = out.items.unwrap_or_default();
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = match items.last() {
            Some(last) if more => Some(PageToken::of(last, key_names)),
            _ => None,
        };
        Ok(Page { items, next })
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub(crate) fn number_attr(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

pub(crate) fn is_condition_failure<E>(err: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}
