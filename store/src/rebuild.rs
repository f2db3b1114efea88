//! What `search-index reindex` and `verify` (in `local`) read and write: the table's items of
//! one entity, a page of a Scan at a time, and the rebuild's checkpoint. Compiled only with the
//! `rebuild` feature, which only the local stack turns on: a Scan is never a request path, and
//! the functions' binaries (built one package at a time) hold none of it.

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, entity};
use super::postings::Block;
use super::search::{EntryKey, entry_item, entry_keys, entry_version};
use super::{Item, Store, StoreError, s, string_attr};
use crate::domain::Customer;
use crate::domain::search::SearchDoc;
use crate::domain::search::postings::{Member, MemberKey};

/// Items a Scan reads per page (before its entity filter).
const SCAN_PAGE: i32 = 500;

/// Where a Scan stopped. Only the store reads what is inside (the last key it read).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPosition(Item);

/// One page of a Scan, and where the next one starts (`None`: the table is done).
pub struct ScanPage<T> {
    pub items: Vec<T>,
    pub next: Option<ScanPosition>,
}

impl ScanPage<Item> {
    fn map<T>(self, read: impl FnMut(Item) -> Result<T, StoreError>) -> Result<ScanPage<T>, StoreError> {
        Ok(ScanPage { items: self.items.into_iter().map(read).collect::<Result<_, _>>()?, next: self.next })
    }
}

/// A search entry as stored.
pub struct StoredEntry {
    pub key: EntryKey,
    /// The id of the customer it points at.
    pub customer_id: String,
    item: Item,
}

impl StoredEntry {
    /// Whether it is what a customer at `version` with `doc` holds: settled, with that
    /// document, written by a version no newer than the customer's.
    pub fn is_current(&self, doc: &SearchDoc, version: u64) -> Result<bool, StoreError> {
        let written = entry_version(&self.item);
        Ok(entry_item(&self.key, doc, written)? == self.item && written <= version)
    }
}

/// A block of a posting list as stored.
pub struct StoredBlock {
    pub key: EntryKey,
    /// Its members, the changes over its packed members applied.
    pub members: Vec<(MemberKey, Member)>,
}

/// Where a rebuild stopped: its phase (named by the rebuild) and the position of its Scan.
pub struct RebuildCheckpoint {
    pub phase: String,
    pub position: Option<ScanPosition>,
}

/// An attribute as a string (empty when missing).
fn text(item: &Item, name: &str) -> String {
    string_attr(item, name).unwrap_or_default().to_string()
}

fn key_of(item: &Item) -> EntryKey {
    EntryKey { pk: text(item, keys::PK), sk: text(item, keys::SK) }
}

impl Store {
    /// One page of a consistent Scan for the items of `entity`.
    async fn scan_page(&self, entity: &str, start: Option<ScanPosition>) -> Result<ScanPage<Item>, StoreError> {
        let out = self
            .call(
                self.client()
                    .scan()
                    .filter_expression("#entity = :entity")
                    .expression_attribute_names("#entity", keys::ENTITY)
                    .expression_attribute_values(":entity", s(entity))
                    .consistent_read(true)
                    .limit(SCAN_PAGE)
                    .set_exclusive_start_key(start.map(|position| position.0)),
            )
            .await?;
        Ok(ScanPage { items: out.items.unwrap_or_default(), next: out.last_evaluated_key.map(ScanPosition) })
    }

    /// One page of the customers.
    pub async fn scan_customers(&self, start: Option<ScanPosition>) -> Result<ScanPage<Customer>, StoreError> {
        self.scan_page(entity::CUSTOMER, start).await?.map(|item| Ok(serde_dynamo::from_item(item)?))
    }

    /// One page of the search entries.
    pub async fn scan_entries(&self, start: Option<ScanPosition>) -> Result<ScanPage<StoredEntry>, StoreError> {
        self.scan_page(entity::SEARCH_ENTRY, start)
            .await?
            .map(|item| Ok(StoredEntry { key: key_of(&item), customer_id: text(&item, "cid"), item }))
    }

    /// One page of the posting lists' blocks.
    pub async fn scan_blocks(&self, start: Option<ScanPosition>) -> Result<ScanPage<StoredBlock>, StoreError> {
        self.scan_page(entity::POSTINGS, start).await?.map(|item| {
            let key = key_of(&item);
            Ok(StoredBlock { key, members: Block::of(item).members() })
        })
    }

    /// One page of the name words of the posting lists' directory.
    pub async fn scan_words(&self, start: Option<ScanPosition>) -> Result<ScanPage<String>, StoreError> {
        self.scan_page(entity::WORD, start).await?.map(|item| Ok(text(&item, keys::SK)))
    }

    /// Writes every entry of `customers` settled, at each one's version (idempotent puts, so an
    /// entry in an old format or left pending is rewritten too); returns how many.
    pub async fn rewrite_entries(&self, customers: &[Customer]) -> Result<usize, StoreError> {
        let mut puts = Vec::new();
        for customer in customers {
            let doc = SearchDoc::of(customer);
            for key in entry_keys(&doc) {
                puts.push(entry_item(&key, &doc, customer.version)?);
            }
        }
        let written = puts.len();
        self.apply_index_overflow(puts, Vec::new()).await?;
        Ok(written)
    }

    /// The rebuild's checkpoint, if one is recorded.
    pub async fn rebuild_checkpoint(&self) -> Result<Option<RebuildCheckpoint>, StoreError> {
        let Some(item) = self.get_raw(keys::REBUILD_CHECKPOINT_PK.into(), keys::REBUILD_CHECKPOINT_SK).await? else {
            return Ok(None);
        };
        let position = match item.get("position") {
            Some(AttributeValue::M(position)) => Some(ScanPosition(position.clone())),
            _ => None,
        };
        Ok(Some(RebuildCheckpoint { phase: text(&item, "phase"), position }))
    }

    /// Records the rebuild's checkpoint (replacing the one before).
    pub async fn save_rebuild_checkpoint(&self, checkpoint: &RebuildCheckpoint) -> Result<(), StoreError> {
        let mut item = Item::from([
            (keys::PK.into(), s(keys::REBUILD_CHECKPOINT_PK)),
            (keys::SK.into(), s(keys::REBUILD_CHECKPOINT_SK)),
            (keys::ENTITY.into(), s(entity::REBUILD_CHECKPOINT)),
            ("phase".into(), s(&checkpoint.phase)),
        ]);
        if let Some(ScanPosition(position)) = &checkpoint.position {
            item.insert("position".into(), AttributeValue::M(position.clone()));
        }
        self.call(self.client().put_item().set_item(Some(item))).await?;
        Ok(())
    }

    /// Deletes the rebuild's checkpoint (a finished rebuild).
    pub async fn clear_rebuild_checkpoint(&self) -> Result<(), StoreError> {
        self.delete_raw(keys::REBUILD_CHECKPOINT_PK.into(), keys::REBUILD_CHECKPOINT_SK).await
    }
}
