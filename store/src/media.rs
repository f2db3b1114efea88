//! Media items: one item per upload (`MEDIA#<media_id>`, read by id) and a small entry in the
//! customer's partition (`MEDIA#<created>#<media_id>`) that lists them newest first and that
//! the erase sweep removes with the rest of the partition.
//!
//! A media item changes status through a lease: `claim` moves it from `pending` (or from a
//! `processing` whose lease ran out) to `processing` under a random claim token, and only the
//! holder of that token can `finish` it. So `complete` called five times at once, or racing
//! the processor, verifies once and ends in one outcome.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, KeysAndAttributes, TransactWriteItem, Update};

use super::keys::{self, entity};
use super::table::{SortKeyRange, TxError};
use super::{Item, Page, PageToken, Store, StoreError, n, s, string_attr};
use crate::domain::CustomerId;
use crate::domain::media::{Media, MediaId, MediaStatus, Purpose};

/// A pending upload's item lives this long after its upload URL expired, then DynamoDB's TTL
/// removes it (and the bucket's lifecycle rule the object, if one was ever put).
const PENDING_GRACE_SECONDS: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("no such customer")]
    NoCustomer,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A claim on a media item: who holds it, until when.
#[derive(Debug, Clone)]
pub struct Claim {
    pub token: String,
    pub until: i64,
}

/// How a claimed media item ends.
pub enum Outcome<'a> {
    Ready(&'a Media),
    Rejected(&'a str),
}

impl Store {
    /// Writes a new pending media item and its entry, only while its customer exists (so an
    /// erase, which deletes the customer first, can never be followed by a new upload).
    pub async fn create_media(&self, media: &Media, upload_expires: i64) -> Result<(), MediaStoreError> {
        let ttl = upload_expires + PENDING_GRACE_SECONDS;
        let mut item = media_item(media)?;
        item.insert(keys::TTL.into(), n(ttl));
        let entry = Item::from([
            (keys::PK.into(), s(keys::customer_pk(&media.customer_id))),
            (keys::SK.into(), s(keys::media_entry_sk(media.created_ms, &media.media_id))),
            (keys::ENTITY.into(), s(entity::MEDIA_ENTRY)),
            ("media_id".into(), s(media.media_id.as_str())),
            ("purpose".into(), s(media.purpose.as_str())),
            (keys::TTL.into(), n(ttl)),
        ]);
        let customer_exists = ConditionCheck::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(&media.customer_id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let actions = vec![
            TransactWriteItem::builder().condition_check(customer_exists).build(),
            self.put_if_absent(item)?,
            self.put_if_absent(entry)?,
        ];
        for attempt in 0..4 {
            match self.transact(actions.clone(), &[]).await {
                Ok(()) => return Ok(()),
                Err(TxError::Condition | TxError::Taken(_)) => return Err(MediaStoreError::NoCustomer),
                Err(TxError::Conflict) => super::table::backoff(attempt).await,
                Err(TxError::Store(err)) => return Err(err.into()),
            }
        }
        Err(StoreError::Backend("media creation kept conflicting".into()).into())
    }

    pub async fn get_media(&self, id: &MediaId) -> Result<Option<Media>, StoreError> {
        self.get_typed(keys::media_pk(id), keys::MEDIA_SK).await
    }

    /// Takes the item for verification: from `pending`, or from `processing` whose lease
    /// expired (a worker that died). `None` when someone else holds it or it is final.
    pub async fn claim_media(&self, id: &MediaId, now: i64, lease_seconds: i64) -> Result<Option<Claim>, StoreError> {
        let claim = Claim { token: crate::domain::ids::random_token(12), until: now + lease_seconds };
        let request = self
            .client()
            .update_item()
            .key(keys::PK, s(keys::media_pk(id)))
            .key(keys::SK, s(keys::MEDIA_SK))
            .update_expression("SET #status = :processing, lease_until = :until, claim = :claim")
            .condition_expression(
                "attribute_exists(PK) AND (#status = :pending OR (#status = :processing AND lease_until < :now))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s(MediaStatus::Processing.as_str()))
            .expression_attribute_values(":pending", s(MediaStatus::Pending.as_str()))
            .expression_attribute_values(":until", n(claim.until))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":claim", s(&claim.token));
        Ok(self.call_if(request).await?.map(|_| claim))
    }

    /// Ends a claimed item: `ready` with its variants (and no more expiry), or `rejected` with
    /// the reason. Only under the claim; `false` when the claim was lost meanwhile.
    pub async fn finish_media(&self, media: &Media, claim: &Claim, outcome: Outcome<'_>) -> Result<bool, StoreError> {
        let mut update = Update::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::media_pk(&media.media_id)))
            .key(keys::SK, s(keys::MEDIA_SK))
            .condition_expression("claim = :claim")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claim", s(&claim.token));
        update = match outcome {
            Outcome::Ready(ready) => update
                .update_expression("SET #status = :ready, variants = :variants REMOVE lease_until, claim, #ttl")
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(":ready", s(MediaStatus::Ready.as_str()))
                .expression_attribute_values(":variants", variants_value(ready)?),
            Outcome::Rejected(reason) => update
                .update_expression("SET #status = :rejected, reason = :reason REMOVE lease_until, claim")
                .expression_attribute_values(":rejected", s(MediaStatus::Rejected.as_str()))
                .expression_attribute_values(":reason", s(reason)),
        };
        let mut actions = vec![
            TransactWriteItem::builder()
                .update(update.build().map_err(|e| StoreError::Backend(e.to_string()))?)
                .build(),
        ];
        // A ready item's entry stops expiring with it.
        if matches!(outcome, Outcome::Ready(_)) {
            let entry = Update::builder()
                .table_name(self.table())
                .key(keys::PK, s(keys::customer_pk(&media.customer_id)))
                .key(keys::SK, s(keys::media_entry_sk(media.created_ms, &media.media_id)))
                .update_expression("REMOVE #ttl")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#ttl", keys::TTL)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            actions.push(TransactWriteItem::builder().update(entry).build());
        }
        match self.transact(actions, &[]).await {
            Ok(()) => Ok(true),
            Err(TxError::Condition | TxError::Taken(_)) => Ok(false),
            Err(TxError::Conflict) => Err(StoreError::VersionConflict),
            Err(TxError::Store(err)) => Err(err),
        }
    }

    /// A customer's media, newest first, optionally of one purpose.
    pub async fn list_media(
        &self,
        customer: &CustomerId,
        purpose: Option<Purpose>,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page<Media>, StoreError> {
        let mut ids = Vec::new();
        let mut start = start;
        let next = loop {
            let mut query = SortKeyRange::Prefix(keys::MEDIA_ENTRY_PREFIX.into())
                .condition(self.client().query(), &keys::customer_pk(customer))
                .scan_index_forward(false)
                .consistent_read(true);
            if let Some(purpose) = purpose {
                query = query
                    .filter_expression("purpose = :purpose")
                    .expression_attribute_values(":purpose", s(purpose.as_str()));
            }
            let wanted = limit - ids.len() as i32;
            let page = self.query_page(query, wanted, start, &[keys::PK, keys::SK]).await?;
            ids.extend(page.items.iter().filter_map(|item| string_attr(item, "media_id")).filter_map(MediaId::parse));
            match page.next {
                Some(next) if (ids.len() as i32) < limit => start = Some(next),
                next => break next,
            }
        };
        Ok(Page { items: self.media_by_ids(&ids).await?, next })
    }

    /// Every media item of a customer (for the erase and the personal export).
    pub async fn customer_media(&self, customer: &CustomerId) -> Result<Vec<Media>, StoreError> {
        let entries =
            self.query_prefix(&keys::customer_pk(customer), Some(keys::MEDIA_ENTRY_PREFIX), Some("media_id")).await?;
        let ids: Vec<MediaId> =
            entries.iter().filter_map(|item| string_attr(item, "media_id")).filter_map(MediaId::parse).collect();
        self.media_by_ids(&ids).await
    }

    /// The items of `ids`, in that order, skipping any that are gone.
    async fn media_by_ids(&self, ids: &[MediaId]) -> Result<Vec<Media>, StoreError> {
        let mut found: HashMap<String, Media> = HashMap::new();
        for chunk in ids.chunks(100) {
            let keys = chunk
                .iter()
                .map(|id| Item::from([(keys::PK.into(), s(keys::media_pk(id))), (keys::SK.into(), s(keys::MEDIA_SK))]))
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            for item in self.batch_get(request).await? {
                let media: Media = serde_dynamo::from_item(item)?;
                found.insert(media.media_id.as_str().to_string(), media);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id.as_str())).collect())
    }

    /// Deletes a media item and its entry (the objects are the service's to delete first).
    pub async fn delete_media(&self, media: &Media) -> Result<(), StoreError> {
        let actions = vec![
            delete_action(self, keys::media_pk(&media.media_id), keys::MEDIA_SK.to_string())?,
            delete_action(
                self,
                keys::customer_pk(&media.customer_id),
                keys::media_entry_sk(media.created_ms, &media.media_id),
            )?,
        ];
        self.transact(actions, &[]).await.map_err(|e| match e {
            TxError::Store(err) => err,
            _ => StoreError::VersionConflict,
        })
    }

    /// Deletes the item only (its entry goes with the customer's partition sweep).
    pub async fn delete_media_item(&self, id: &MediaId) -> Result<(), StoreError> {
        self.delete_raw(keys::media_pk(id), keys::MEDIA_SK).await
    }
}

fn delete_action(store: &Store, pk: String, sk: String) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder()
        .table_name(store.table())
        .key(keys::PK, s(pk))
        .key(keys::SK, s(sk))
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

fn media_item(media: &Media) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(media)?;
    item.insert(keys::PK.into(), s(keys::media_pk(&media.media_id)));
    item.insert(keys::SK.into(), s(keys::MEDIA_SK));
    item.insert(keys::ENTITY.into(), s(entity::MEDIA));
    Ok(item)
}

fn variants_value(media: &Media) -> Result<aws_sdk_dynamodb::types::AttributeValue, StoreError> {
    Ok(serde_dynamo::to_attribute_value(&media.variants)?)
}
