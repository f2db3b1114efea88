//! Idempotency records (`Idempotency-Key`): the first request with a key claims it, runs, and
//! stores its response; repeats within 24 hours get that response back. A claim whose request
//! died without answering (a crashed invocation) can be taken over once its lease runs out.

use super::keys::{self, entity};
use super::{Item, Store, StoreError, n, s};
use crate::domain::CustomerId;
use crate::time::Timestamp;

/// The record and the response it keeps: domain values, named here too, where they are stored.
pub use crate::domain::idempotency::{IdempotencyRecord, IdempotencyState, StoredResponse};

/// How long a stored response answers repeats.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;
/// How long a claim blocks repeats before another request may take it over.
pub const CLAIM_LEASE_SECONDS: i64 = 60;

pub enum Claim {
    /// This request owns the key: run it, then `complete_idempotency` or `release_idempotency`.
    Claimed,
    /// Another request has (or had) the key.
    Existing(IdempotencyRecord),
}

impl Store {
    pub async fn claim_idempotency(
        &self,
        scope: &str,
        request_hash: &str,
        now: Timestamp,
    ) -> Result<Claim, StoreError> {
        let record = IdempotencyRecord {
            request_hash: request_hash.to_string(),
            state: IdempotencyState::Pending,
            created_at: now,
            locked_until: now.unix() + CLAIM_LEASE_SECONDS,
            status: None,
            body: None,
            headers: Vec::new(),
        };
        let result = self.call_if(self
            .client()
            .put_item()
            .set_item(Some(record_item(scope, &record)?))
            .condition_expression(
                "attribute_not_exists(PK) OR #ttl < :now OR (#state = :pending AND locked_until < :now AND request_hash = :hash)",
            )
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now.unix()))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":hash", s(request_hash))
            ).await;
        if result?.is_some() {
            return Ok(Claim::Claimed);
        }
        match self.get_typed::<IdempotencyRecord>(keys::idempotency_pk(scope), keys::IDEMPOTENCY_SK).await? {
            Some(existing) => Ok(Claim::Existing(existing)),
            // Expired and deleted between the two calls: the key is free again.
            None => Box::pin(self.claim_idempotency(scope, request_hash, now)).await,
        }
    }

    /// Stores the response for repeats. When it holds a customer (`owner`), a link in the
    /// customer's partition lets the customer's erase delete the stored copy too.
    pub async fn complete_idempotency(
        &self,
        scope: &str,
        request_hash: &str,
        created_at: Timestamp,
        response: StoredResponse,
        owner: Option<&CustomerId>,
    ) -> Result<(), StoreError> {
        let StoredResponse { status, body, headers } = response;
        let record = IdempotencyRecord {
            request_hash: request_hash.to_string(),
            state: IdempotencyState::Done,
            created_at,
            locked_until: 0,
            status: Some(status),
            body: Some(body),
            headers,
        };
        let mut items = vec![record_item(scope, &record)?];
        if let Some(owner) = owner {
            items.push(Item::from([
                (keys::PK.into(), s(keys::customer_pk(owner))),
                (keys::SK.into(), s(format!("{}{scope}", keys::IDEMPOTENCY_LINK_PREFIX))),
                (keys::ENTITY.into(), s(entity::IDEMPOTENCY_LINK)),
                (keys::TTL.into(), n(created_at.unix() + IDEMPOTENCY_TTL_SECONDS)),
            ]));
        }
        self.batch_put(items).await
    }

    /// Deletes the stored responses that hold `customer` (its erase): the links in its
    /// partition name them; the links themselves go with the partition's sweep.
    pub async fn purge_idempotency_of(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let links =
            self.query_prefix(&keys::customer_pk(customer), Some(keys::IDEMPOTENCY_LINK_PREFIX), Some("SK")).await?;
        let records: Vec<Item> = links
            .iter()
            .filter_map(|link| super::string_attr(link, keys::SK))
            .filter_map(|sk| sk.strip_prefix(keys::IDEMPOTENCY_LINK_PREFIX))
            .map(|scope| {
                Item::from([
                    (keys::PK.into(), s(keys::idempotency_pk(scope))),
                    (keys::SK.into(), s(keys::IDEMPOTENCY_SK)),
                ])
            })
            .collect();
        for chunk in records.chunks(25) {
            self.batch_delete(chunk).await?;
        }
        Ok(())
    }

    /// Frees the key after a failure that a retry may fix (a 5xx).
    pub async fn release_idempotency(&self, scope: &str) -> Result<(), StoreError> {
        self.delete_raw(keys::idempotency_pk(scope), keys::IDEMPOTENCY_SK).await
    }
}

fn record_item(scope: &str, record: &IdempotencyRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record)?;
    item.insert(keys::PK.into(), s(keys::idempotency_pk(scope)));
    item.insert(keys::SK.into(), s(keys::IDEMPOTENCY_SK));
    item.insert(keys::ENTITY.into(), s(entity::IDEMPOTENCY));
    item.insert(keys::TTL.into(), n(record.created_at.unix() + IDEMPOTENCY_TTL_SECONDS));
    Ok(item)
}
