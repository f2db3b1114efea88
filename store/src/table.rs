//! The table-wide base of the store: helpers every store module builds on (transactions and
//! how their cancellations are read, conditional puts, versioned writes, partition sweeps,
//! backoff). Entity modules (`customers`, `carts`, …) hold only their own items and rules.

use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest};

use super::keys::{self, entity};
use super::{Item, Store, StoreError, UniqueField, n, s};
use crate::domain::ids::random_token;

/// The greatest Unicode scalar value. DynamoDB orders strings by their UTF-8 bytes, so every key
/// that starts with a prefix lies between the prefix and the prefix followed by this.
const PAST_EVERY_CHARACTER: char = '\u{10FFFF}';

/// Which sort keys of a partition a `Query` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyRange {
    All,
    /// Read as `BETWEEN prefix AND prefix + U+10FFFF`, not `begins_with`: the same range on
    /// DynamoDB, but DynamoDB Local answers `begins_with` by walking the whole partition (36 ms
    /// for 100 matches in a 150,000-item partition, against 3 ms for the range).
    Prefix(String),
    /// Inclusive at both ends.
    Between(String, String),
}

impl SortKeyRange {
    /// `request` with the key condition `PK = pk` and this range of `SK`.
    pub(crate) fn condition(&self, request: QueryFluentBuilder, pk: &str) -> QueryFluentBuilder {
        let request = request.expression_attribute_names("#pk", keys::PK).expression_attribute_values(":pk", s(pk));
        let (low, high) = match self {
            SortKeyRange::All => return request.key_condition_expression("#pk = :pk"),
            SortKeyRange::Prefix(prefix) if prefix.is_empty() => return request.key_condition_expression("#pk = :pk"),
            SortKeyRange::Prefix(prefix) => (prefix.clone(), format!("{prefix}{PAST_EVERY_CHARACTER}")),
            SortKeyRange::Between(low, high) => (low.clone(), high.clone()),
        };
        request
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
    }
}

/// `BatchWriteItem` takes at most this many requests.
const BATCH_WRITE_LIMIT: usize = 25;
/// Rounds of unprocessed items a batch write retries before it gives up.
const BATCH_WRITE_ATTEMPTS: usize = 8;

impl Store {
    /// Every item of a partition whose sort key starts with `prefix` (all of them for `None`).
    pub(crate) async fn query_prefix(
        &self,
        pk: &str,
        prefix: Option<&str>,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let range = prefix.map_or(SortKeyRange::All, |p| SortKeyRange::Prefix(p.to_string()));
        self.query_all(pk, &range, projection).await
    }

    /// Every item of a partition whose sort key is in `range`, read consistently.
    pub(crate) async fn query_range(&self, pk: &str, range: &SortKeyRange) -> Result<Vec<Item>, StoreError> {
        self.query_all(pk, range, None).await
    }

    async fn query_all(
        &self,
        pk: &str,
        range: &SortKeyRange,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_up_to(pk, range, projection, None).await
    }

    /// At most `limit` items of a partition whose sort key is in `range`, read consistently.
    pub(crate) async fn query_limited(
        &self,
        pk: &str,
        range: &SortKeyRange,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_up_to(pk, range, None, Some(limit)).await
    }

    /// The items of a partition whose sort key is in `range` (at most `limit`, when given), read
    /// consistently, page after page.
    async fn query_up_to(
        &self,
        pk: &str,
        range: &SortKeyRange,
        projection: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let page_limit = limit.map(|l| (l - items.len()).clamp(1, 1000) as i32);
            let request = self.client().query();
            let out = self
                .call(
                    range
                        .condition(request, pk)
                        .set_projection_expression(projection.map(str::to_string))
                        .consistent_read(true)
                        .set_limit(page_limit)
                        .set_exclusive_start_key(start_key),
                )
                .await?;
            items.extend(out.items.unwrap_or_default());
            start_key = out.last_evaluated_key;
            if start_key.is_none() || limit.is_some_and(|l| items.len() >= l) {
                return Ok(items);
            }
        }
    }

    /// Deletes the items of a partition whose sort key starts with `prefix` (all for `None`).
    pub(crate) async fn delete_prefix(&self, pk: &str, prefix: Option<&str>) -> Result<(), StoreError> {
        let keys = self.query_prefix(pk, prefix, Some("PK, SK")).await?;
        for chunk in keys.chunks(BATCH_WRITE_LIMIT) {
            self.batch_delete(chunk).await?;
        }
        Ok(())
    }

    pub(crate) async fn batch_delete(&self, keys: &[Item]) -> Result<(), StoreError> {
        let requests = keys
            .iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key.clone()))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(|e| StoreError::Backend(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        self.batch_write(requests).await
    }

    /// Puts `items` unconditionally, 25 to a batch.
    pub(crate) async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| StoreError::Backend(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// One `BatchWriteItem` of at most 25 requests, unprocessed ones retried with backoff.
    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..BATCH_WRITE_ATTEMPTS {
            let out = self.call(self.client().batch_write_item().request_items(self.table(), requests)).await?;
            requests = out.unprocessed_items.and_then(|mut m| m.remove(self.table())).unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            backoff(attempt).await;
        }
        Err(StoreError::Backend("batch write left unprocessed items".into()))
    }

    /// The items of one `BatchGetItem` request (at most 100 keys), unprocessed keys retried.
    pub(crate) async fn batch_get(&self, request: KeysAndAttributes) -> Result<Vec<Item>, StoreError> {
        let mut pending = Some(request);
        let mut found = Vec::new();
        for attempt in 0..BATCH_WRITE_ATTEMPTS {
            let Some(request) = pending.take() else { return Ok(found) };
            let out = self.call(self.client().batch_get_item().request_items(self.table(), request)).await?;
            found.extend(out.responses.and_then(|mut r| r.remove(self.table())).unwrap_or_default());
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(self.table())).filter(|k| !k.keys().is_empty());
            if pending.is_some() {
                backoff(attempt).await;
            }
        }
        match pending {
            None => Ok(found),
            Some(_) => Err(StoreError::Backend("batch get left unprocessed keys".into())),
        }
    }

    /// Puts a new `item` and `sentinel` (see [`sentinel`]) in one transaction: `Taken(field)`
    /// when the sentinel's value is someone else's already.
    pub(crate) async fn create_with_sentinel(
        &self,
        item: Item,
        sentinel: Item,
        field: UniqueField,
    ) -> Result<(), StoreError> {
        let items = vec![self.put_if_absent(item)?, self.put_if_absent(sentinel)?];
        match self.transact(items, &[None, Some(field)]).await {
            Ok(()) => Ok(()),
            Err(TxError::Taken(field)) => Err(StoreError::Taken(field)),
            Err(TxError::Condition | TxError::Conflict) => Err(StoreError::VersionConflict),
            Err(TxError::Store(err)) => Err(err),
        }
    }

    pub(crate) fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction with a client request token (so SDK retries apply it at most once)
    /// and maps a cancellation to the action that caused it.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        fields: &[Option<UniqueField>],
    ) -> Result<(), TxError> {
        let result = self
            .metered(
                self.client()
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .client_request_token(random_token(18)),
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                let reasons = err
                    .as_service_error()
                    .and_then(|e| match e {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                            Some(c.cancellation_reasons().to_vec())
                        }
                        _ => None,
                    });
                match reasons {
                    Some(reasons) => Err(classify(&reasons, fields)),
                    None if is_retryable_conflict(&err) => Err(TxError::Conflict),
                    None => Err(TxError::Store(StoreError::backend(err))),
                }
            }
        }
    }
}

/// The sentinel that reserves a unique value (`value_key`, see `keys::unique_pk`) for its
/// owner, named by `owner_attribute`.
pub(crate) fn sentinel(value_key: &str, owner_attribute: &str, owner: &str) -> Item {
    Item::from([
        (keys::PK.to_string(), s(keys::unique_pk(value_key))),
        (keys::SK.to_string(), s(keys::UNIQUE_SK)),
        (keys::ENTITY.to_string(), s(entity::UNIQUE)),
        (owner_attribute.to_string(), s(owner)),
    ])
}

pub(crate) enum TxError {
    Taken(UniqueField),
    Condition,
    Conflict,
    Store(StoreError),
}

impl From<StoreError> for TxError {
    fn from(err: StoreError) -> Self {
        TxError::Store(err)
    }
}

fn classify(reasons: &[aws_sdk_dynamodb::types::CancellationReason], fields: &[Option<UniqueField>]) -> TxError {
    // A failed condition is a definite answer; a conflict only means "try again".
    let mut outcome = TxError::Conflict;
    for (index, reason) in reasons.iter().enumerate() {
        if reason.code() == Some("ConditionalCheckFailed") {
            match fields.get(index).copied().flatten() {
                Some(field) => return TxError::Taken(field),
                None => outcome = TxError::Condition,
            }
        }
    }
    outcome
}

fn is_retryable_conflict<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(
        err.as_service_error().and_then(|e| e.code()),
        Some("TransactionInProgressException" | "TransactionConflictException")
    )
}

/// Sleeps before retry `attempt` (0-based): exponential with jitter, capped at ~340 ms. The
/// services' read-change-write loops wait with it too.
pub async fn backoff(attempt: usize) {
    let jitter: u64 = rand::random_range(0..20);
    let millis = 10u64 * (1 << attempt.min(5)) + jitter;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// The optimistic-concurrency condition of every versioned item: the write applies only while
/// the stored `version` is still `expected`.
pub(crate) trait AtVersion: Sized {
    fn at_version(self, expected: u64) -> Self;
}

macro_rules! at_version {
    ($($builder:ty),*) => {$(
        impl AtVersion for $builder {
            fn at_version(self, expected: u64) -> Self {
                self.condition_expression("#version = :expected")
                    .expression_attribute_names("#version", keys::VERSION)
                    .expression_attribute_values(":expected", n(expected))
            }
        }
    )*};
}

at_version!(
    aws_sdk_dynamodb::types::builders::ConditionCheckBuilder,
    aws_sdk_dynamodb::types::builders::PutBuilder,
    aws_sdk_dynamodb::types::builders::DeleteBuilder,
    aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder
);
