//! The search index: entries that point at a customer and carry its `SearchDoc`, so a search
//! reads the entries of one criterion and filters them without reading any customer. Entries
//! are written in the customer's own transaction (see `customers.rs`): a customer is findable
//! the moment its write returns, and an erase leaves none behind. Changes that do not fit in
//! that transaction are written around it, versioned and marked pending until settled (see
//! `IndexOverflow`), so racing writers and interruptions never give a reader a wrong answer.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem};

use super::keys::{self, SEARCH_SEPARATOR as SEP, entity};
use super::{Item, Store, StoreError, n, s, string_attr};
use crate::domain::customer::Customer;
use crate::domain::search::SearchDoc;
use crate::domain::search::postings::{Slot, SlotWrite, memberships, name_word_flags, slot_writes, unique_words};
use crate::domain::{CustomerId, GroupId};
use crate::time::Timestamp;

/// The version of the customer write that last wrote an entry (entries from before versioning
/// have none, which counts as older than any).
const VER: &str = "ver";

/// Present while an entry is not settled: the token of the write that staged it. A reader does
/// not trust a pending entry; it checks it against its customer (`Store::resolve`).
const PENDING: &str = "pend";

/// How many single-entry writes of an overflow run at once.
const OVERFLOW_CONCURRENCY: usize = 16;

/// One entry's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryKey {
    pub pk: String,
    pub sk: String,
}

impl EntryKey {
    fn new(pk: String, sk: String) -> Self {
        Self { pk, sk }
    }
}

/// A stable shard of the creation-time partitions: the same customer always lands in the same
/// one, so an update knows which entry to replace.
fn created_shard(id: &str) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % keys::CREATED_SHARDS
}

/// The sort key of a creation-time entry: `<created in milliseconds, 14 digits>␁<id>`.
pub fn created_sk(created_ms: i64, id: &str) -> String {
    format!("{:014}{SEP}{id}", created_ms.max(0))
}

/// The sort key of a name-order entry: `<name>␁<other name>␁<id>`.
pub fn name_sk(name: &str, other: &str, id: &str) -> String {
    format!("{name}{SEP}{other}{SEP}{id}")
}

/// Every entry a customer's document has: its unique words (email, username, id) where its
/// names stop answering for them, its phone's suffixes, and its places in creation and name
/// order (and in name order within its city). Name words, tags, places, statuses and last
/// logins are posting lists instead (see `postings`).
pub fn entry_keys(doc: &SearchDoc) -> BTreeSet<EntryKey> {
    let id = doc.id.as_str();
    let mut keys = BTreeSet::new();
    for (word, partition) in unique_words(doc) {
        keys.insert(EntryKey::new(keys::search_unique_pk(&partition), format!("{word}{SEP}{id}")));
    }
    for suffix in doc.phone_suffixes() {
        keys.insert(EntryKey::new(keys::search_phone_pk(&suffix), format!("{suffix}{SEP}{id}")));
    }
    keys.insert(EntryKey::new(
        keys::search_created_pk(doc.status.as_str(), created_shard(id)),
        created_sk(doc.created, id),
    ));
    keys.insert(EntryKey::new(keys::search_name_pk("first", &doc.first), name_sk(&doc.first, &doc.last, id)));
    keys.insert(EntryKey::new(keys::search_name_pk("last", &doc.last), name_sk(&doc.last, &doc.first, id)));
    if let Some(city) = &doc.city {
        // A city sorted by name reads its own partition: one page, not a walk of every name.
        keys.insert(EntryKey::new(keys::search_city_name_pk("first", city), name_sk(&doc.first, &doc.last, id)));
        keys.insert(EntryKey::new(keys::search_city_name_pk("last", city), name_sk(&doc.last, &doc.first, id)));
    }
    keys
}

/// A customer's posting-list memberships (none for an absent one).
pub fn slots_of(customer: Option<&Customer>) -> BTreeMap<Slot, String> {
    customer.map_or_else(BTreeMap::new, |c| memberships(&SearchDoc::of(c), c.last_login_at.map(|t| t.unix())))
}

/// The index writes that take a customer from `before` to `after` (`None`: absent). When the
/// document changes every entry is rewritten (each carries it); otherwise only entries whose
/// key appears or disappears are written. Block writes move the customer in its posting lists.
#[derive(Debug, Default)]
pub struct IndexChange {
    /// The version the write gives the customer, which every entry it writes carries.
    pub version: u64,
    pub puts: Vec<Item>,
    pub deletes: Vec<EntryKey>,
    /// Posting-list writes: they go in the customer's transaction, before any entry.
    pub slots: Vec<SlotWrite>,
    /// Name words the customer gains, for the directory (written before the transaction).
    pub new_words: Vec<String>,
}

impl IndexChange {
    pub fn between(before: Option<&Customer>, after: Option<&Customer>) -> Result<Self, StoreError> {
        let old_doc = before.map(SearchDoc::of);
        let new_doc = after.map(SearchDoc::of);
        let old_keys = old_doc.as_ref().map(entry_keys).unwrap_or_default();
        let new_keys = new_doc.as_ref().map(entry_keys).unwrap_or_default();
        let mut change = Self { version: after.map_or(0, |c| c.version), ..Self::default() };
        if let Some(doc) = &new_doc {
            let rewrite_all = old_doc.as_ref() != Some(doc);
            for key in new_keys.iter().filter(|k| rewrite_all || !old_keys.contains(k)) {
                change.puts.push(entry_item(key, doc, change.version)?);
            }
            let old_words = old_doc.as_ref().map(name_word_flags).unwrap_or_default();
            change.new_words = name_word_flags(doc).into_keys().filter(|w| !old_words.contains_key(w)).collect();
        }
        change.deletes = old_keys.difference(&new_keys).cloned().collect();
        change.slots = slot_writes(&slots_of(before), &slots_of(after));
        Ok(change)
    }

    pub fn len(&self) -> usize {
        self.puts.len() + self.deletes.len() + self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A settled entry, as written by the customer write that gave it `version`.
pub fn entry_item(key: &EntryKey, doc: &SearchDoc, version: u64) -> Result<Item, StoreError> {
    Ok(Item::from([
        (keys::PK.into(), s(&key.pk)),
        (keys::SK.into(), s(&key.sk)),
        (keys::ENTITY.into(), s(entity::SEARCH_ENTRY)),
        ("cid".into(), s(&doc.id)),
        (VER.into(), n(version)),
        (DOC.into(), s(serde_json::to_string(doc).map_err(|e| StoreError::Malformed(e.to_string()))?)),
    ]))
}

/// The version that last wrote an entry item (0 for one from before versioning).
pub fn entry_version(item: &Item) -> u64 {
    item.get(VER).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn key_of(item: &Item) -> EntryKey {
    EntryKey::new(
        string_attr(item, keys::PK).unwrap_or_default().to_string(),
        string_attr(item, keys::SK).unwrap_or_default().to_string(),
    )
}

/// The index changes of a customer write that did not fit in its transaction (a customer with
/// dozens of tags whose every entry moves). Written around the transaction so that no
/// interleaving of writers and no interruption gives a reader a wrong answer:
///
/// 1. **stage**, before the transaction: each put written as a *pending* entry (tagged with the
///    write's token) unless an entry of this version or a newer one is there; each entry to
///    delete marked pending at this version unless a newer one wrote it. Readers check pending
///    entries against the customer (`Store::resolve`), so they answer right whether the
///    transaction then commits or not, and whenever the writer stops;
/// 2. **settle**, once it committed: each put made plain if the entry is still there and no
///    newer version wrote it (never recreated: a newer write may have deleted it), and each
///    marked entry deleted unless a newer version wrote it;
/// 3. **reconcile**, when it did not commit, once its version is taken (by the writer that won,
///    or by the loser itself, see `Store::abandon_write`): each entry still carrying the write's
///    token set to what the customer now holds, its document or no entry.
///
/// Every condition compares versions, and the customer's version is taken by one write only,
/// so a late step of an older write can never overwrite, delete or resurrect what a newer one
/// wrote. What an interruption leaves stays pending, which readers check and
/// `search-index reindex` settles.
#[derive(Debug, Default, Clone)]
pub struct IndexOverflow {
    /// The version the write gives the customer.
    pub version: u64,
    /// Settled entries (as `entry_item` makes them).
    pub puts: Vec<Item>,
    pub deletes: Vec<EntryKey>,
}

impl IndexOverflow {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }

    /// Every entry key the overflow writes.
    fn keys(&self) -> impl Iterator<Item = EntryKey> + '_ {
        self.puts.iter().map(key_of).chain(self.deletes.iter().cloned())
    }
}

/// Runs `writes` a few at a time; the first error ends it. (A `Vec`, not an iterator: a
/// closure held in the stream would make the handlers' futures not `Send` for every lifetime.)
async fn all_of<F>(writes: Vec<F>) -> Result<(), StoreError>
where
    F: std::future::Future<Output = Result<(), StoreError>>,
{
    futures::stream::iter(writes).buffer_unordered(OVERFLOW_CONCURRENCY).try_collect::<Vec<()>>().await?;
    Ok(())
}

/// The attribute holding an entry's document: compact JSON in one string. One string is
/// parsed faster than a map of a dozen attributes, by the Lambda and by DynamoDB Local alike
/// (400 entries: 3.8 ms against 9.6 ms).
const DOC: &str = "doc";

fn entry_doc(item: &Item) -> Result<SearchDoc, StoreError> {
    match item.get(DOC) {
        Some(AttributeValue::S(json)) => serde_json::from_str(json).map_err(|e| StoreError::Malformed(e.to_string())),
        // Entries written before the document became a string, until `reindex` rewrites them.
        Some(map @ AttributeValue::M(_)) => Ok(serde_dynamo::from_attribute_value(map.clone())?),
        _ => Err(StoreError::Malformed("search entry without doc".into())),
    }
}

pub use super::table::SortKeyRange;

/// The creation-time sort keys of customers created in `[after, before)` (unix seconds).
pub fn created_range(after: Option<i64>, before: Option<i64>) -> SortKeyRange {
    let low = format!("{:014}", after.unwrap_or(0).max(0) * 1000);
    let high = format!("{:014}{}", before.map_or(99_999_999_999_999, |b| b * 1000 - 1).max(0), '\u{2}');
    SortKeyRange::Between(low, high)
}

/// One page of a walk through an entry partition in key order.
pub struct EntryPage {
    pub entries: Vec<(String, SearchDoc)>,
    /// The sort key to continue after, when the partition holds more.
    pub more_after: Option<String>,
}

impl Store {
    pub(crate) fn put_action(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder().table_name(self.table()).set_item(Some(item)).build();
        Ok(TransactWriteItem::builder().put(put.map_err(|e| StoreError::Backend(e.to_string()))?).build())
    }

    pub(crate) fn delete_action(&self, key: &EntryKey) -> Result<TransactWriteItem, StoreError> {
        let delete =
            Delete::builder().table_name(self.table()).key(keys::PK, s(&key.pk)).key(keys::SK, s(&key.sk)).build();
        Ok(TransactWriteItem::builder().delete(delete.map_err(|e| StoreError::Backend(e.to_string()))?).build())
    }

    /// Step 1 of an overflow (see `IndexOverflow`): before the transaction.
    pub async fn stage_index(&self, overflow: &IndexOverflow, token: &str) -> Result<(), StoreError> {
        let version = overflow.version;
        let puts: Vec<_> = overflow.puts.iter().map(|item| self.stage_put(item, version, token)).collect();
        let deletes: Vec<_> = overflow.deletes.iter().map(|key| self.stage_delete(key, version, token)).collect();
        futures::try_join!(all_of(puts), all_of(deletes))?;
        Ok(())
    }

    async fn stage_put(&self, item: &Item, version: u64, token: &str) -> Result<(), StoreError> {
        let mut pending = item.clone();
        pending.insert(PENDING.into(), s(token));
        let request = self
            .client()
            .put_item()
            .set_item(Some(pending))
            .condition_expression("attribute_not_exists(#ver) OR #ver < :ver")
            .expression_attribute_names("#ver", VER)
            .expression_attribute_values(":ver", n(version));
        self.call_if(request).await?;
        Ok(())
    }

    async fn stage_delete(&self, key: &EntryKey, version: u64, token: &str) -> Result<(), StoreError> {
        let request = self
            .client()
            .update_item()
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .update_expression("SET #pend = :token, #ver = :ver")
            .condition_expression("attribute_exists(#pk) AND (attribute_not_exists(#ver) OR #ver < :ver)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#pend", PENDING)
            .expression_attribute_names("#ver", VER)
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":ver", n(version));
        self.call_if(request).await?;
        Ok(())
    }

    /// Step 2 of an overflow: after its transaction committed.
    pub(crate) async fn settle_index(&self, overflow: &IndexOverflow) -> Result<(), StoreError> {
        let version = overflow.version;
        let puts: Vec<_> = overflow.puts.iter().map(|item| self.settle_put(item, version)).collect();
        let deletes: Vec<_> = overflow.deletes.iter().map(|key| self.settle_delete(key, version)).collect();
        futures::try_join!(all_of(puts), all_of(deletes))?;
        Ok(())
    }

    async fn settle_put(&self, item: &Item, version: u64) -> Result<(), StoreError> {
        let request = self
            .client()
            .put_item()
            .set_item(Some(item.clone()))
            .condition_expression("attribute_exists(#pk) AND #ver <= :ver")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#ver", VER)
            .expression_attribute_values(":ver", n(version));
        self.call_if(request).await?;
        Ok(())
    }

    async fn settle_delete(&self, key: &EntryKey, version: u64) -> Result<(), StoreError> {
        let request = self
            .client()
            .delete_item()
            .key(keys::PK, s(&key.pk))
            .key(keys::SK, s(&key.sk))
            .condition_expression("attribute_not_exists(#ver) OR #ver <= :ver")
            .expression_attribute_names("#ver", VER)
            .expression_attribute_values(":ver", n(version));
        self.call_if(request).await?;
        Ok(())
    }

    /// Step 3 of an overflow whose transaction did not commit, once the customer's version is
    /// at least the overflow's (so no attempt at it can commit any more): every entry still
    /// tagged with `token` becomes what `current` (`None`: erased) holds, at its version.
    pub(crate) async fn reconcile_index(
        &self,
        overflow: &IndexOverflow,
        token: &str,
        current: Option<&Customer>,
    ) -> Result<(), StoreError> {
        let now = current.map(|c| (SearchDoc::of(c), c.version));
        let held = now.as_ref().map(|(doc, _)| entry_keys(doc)).unwrap_or_default();
        let keys: Vec<EntryKey> = overflow.keys().collect();
        let mut writes = Vec::with_capacity(keys.len());
        for key in &keys {
            let settled = match &now {
                Some((doc, version)) if held.contains(key) => Some(entry_item(key, doc, *version)?),
                _ => None,
            };
            writes.push(self.reconcile_entry(key, settled, token));
        }
        all_of(writes).await
    }

    async fn reconcile_entry(&self, key: &EntryKey, settled: Option<Item>, token: &str) -> Result<(), StoreError> {
        let names = HashMap::from([("#pend".to_string(), PENDING.to_string())]);
        let values = HashMap::from([(":token".to_string(), s(token))]);
        let condition = "#pend = :token";
        match settled {
            Some(item) => {
                let request = self
                    .client()
                    .put_item()
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values));
                self.call_if(request).await?;
            }
            None => {
                let request = self
                    .client()
                    .delete_item()
                    .key(keys::PK, s(&key.pk))
                    .key(keys::SK, s(&key.sk))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values));
                self.call_if(request).await?;
            }
        }
        Ok(())
    }

    /// The entries a reader may use among `items` (of partition `pk`), in their order, with
    /// their sort keys: a settled entry as it is; a pending one only if its customer holds that
    /// entry now, and then with the customer's current document (one consistent `BatchGetItem`
    /// for the page's pending entries, which are none but while an overflowing write is in
    /// flight or after one was interrupted).
    async fn resolve(&self, pk: &str, items: &[Item]) -> Result<Vec<(String, SearchDoc)>, StoreError> {
        let mut entries = Vec::with_capacity(items.len());
        let mut pending = Vec::new();
        for item in items {
            if item.contains_key(PENDING) {
                pending.push(entries.len());
            }
            entries.push((string_attr(item, keys::SK).unwrap_or_default().to_string(), entry_doc(item)?));
        }
        if pending.is_empty() {
            return Ok(entries);
        }
        let ids: Vec<CustomerId> = pending.iter().filter_map(|&i| CustomerId::parse(&entries[i].1.id)).collect();
        let current: HashMap<String, SearchDoc> = self
            .batch_get_customers(&ids, true)
            .await?
            .iter()
            .map(|c| (c.customer_id.as_str().to_string(), SearchDoc::of(c)))
            .collect();
        let mut keep = vec![true; entries.len()];
        for i in pending {
            let (sk, doc) = &mut entries[i];
            match current.get(&doc.id) {
                Some(now) if entry_keys(now).contains(&EntryKey::new(pk.to_string(), sk.clone())) => *doc = now.clone(),
                _ => keep[i] = false,
            }
        }
        Ok(entries.into_iter().zip(keep).filter_map(|(entry, kept)| kept.then_some(entry)).collect())
    }

    /// Writes index changes outside a transaction and unconditionally (the erase's deletes and
    /// the rebuild's): puts first (so a customer is never missing from the index), then
    /// deletes. Each is idempotent.
    pub async fn apply_index_overflow(&self, puts: Vec<Item>, deletes: Vec<EntryKey>) -> Result<(), StoreError> {
        self.batch_put(puts).await?;
        let keys = deletes
            .into_iter()
            .map(|k| Item::from([(keys::PK.into(), s(k.pk)), (keys::SK.into(), s(k.sk))]))
            .collect::<Vec<_>>();
        for chunk in keys.chunks(25) {
            self.batch_delete(chunk).await?;
        }
        Ok(())
    }

    /// The documents of a partition's entries whose sort key is in `range`, at most `budget`
    /// of them (and a page more at the most); `true` when that was all of them.
    pub async fn entries_in(
        &self,
        pk: &str,
        range: &SortKeyRange,
        budget: usize,
    ) -> Result<(Vec<SearchDoc>, bool), StoreError> {
        let mut docs = Vec::new();
        let mut start = None;
        loop {
            let request = self
                .client()
                .query()
                .consistent_read(true)
                .limit(((budget - docs.len()) as i32).clamp(1, 1000))
                .projection_expression("#doc, #sk, #pend")
                .expression_attribute_names("#doc", DOC)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_names("#pend", PENDING)
                .set_exclusive_start_key(start);
            let out = self.call(range.condition(request, pk)).await?;
            docs.extend(self.resolve(pk, out.items()).await?.into_iter().map(|(_, doc)| doc));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((docs, true));
            }
            if docs.len() >= budget {
                return Ok((docs, false));
            }
        }
    }

    /// Up to `limit` entries of a partition after (or, descending, before) `after`, in key
    /// order, with their sort keys.
    pub async fn entries_after(
        &self,
        pk: &str,
        ascending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<EntryPage, StoreError> {
        let mut request = self
            .client()
            .query()
            .consistent_read(true)
            .scan_index_forward(ascending)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(pk))
            .limit(limit as i32);
        request = match after {
            Some(after) => request
                .key_condition_expression(if ascending {
                    "#pk = :pk AND #sk > :after"
                } else {
                    "#pk = :pk AND #sk < :after"
                })
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":after", s(after)),
            None => request.key_condition_expression("#pk = :pk"),
        };
        let out = self.call(request).await?;
        // Where the page ended, even if a pending entry at its end is dropped.
        let last_sk = out.items().last().and_then(|item| string_attr(item, keys::SK)).map(str::to_string);
        let more_after = out.last_evaluated_key.is_some().then_some(last_sk).flatten();
        let entries = self.resolve(pk, out.items()).await?;
        Ok(EntryPage { entries, more_after })
    }

    /// Notes that the customer logged in on `day` (unix day number): the last-login index.
    pub async fn record_login_day(&self, id: &CustomerId, day: i64) -> Result<(), StoreError> {
        let request = self
            .client()
            .put_item()
            .item(keys::PK, s(keys::login_day_pk(day)))
            .item(keys::SK, s(id.as_str()))
            .item(keys::ENTITY, s(entity::LOGIN_DAY))
            .item(keys::TTL, n((day + keys::LOGIN_DAY_TTL_DAYS) * 86_400));
        self.call(request).await?;
        Ok(())
    }

    /// Deletes the customer's login-day entries (part of an erase): one consistent
    /// `BatchGetItem` of the entry of every day an entry can still exist for (the entry's
    /// lifetime plus DynamoDB's expiry lag, up to tomorrow), then a `BatchWriteItem` of those
    /// found. The daily counters are left as they are: they count logins, nobody's in
    /// particular.
    pub(crate) async fn delete_login_days(&self, id: &CustomerId, now: Timestamp) -> Result<(), StoreError> {
        let today = now.unix().div_euclid(86_400);
        let first = today - keys::LOGIN_DAY_TTL_DAYS - keys::LOGIN_DAY_EXPIRY_LAG_DAYS;
        let days: Vec<i64> = (first..=today + 1).collect();
        let mut found = Vec::new();
        for chunk in days.chunks(100) {
            let keys_of_days = chunk
                .iter()
                .map(|day| {
                    Item::from([(keys::PK.into(), s(keys::login_day_pk(*day))), (keys::SK.into(), s(id.as_str()))])
                })
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys_of_days))
                .projection_expression("PK, SK")
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            found.extend(self.batch_get(request).await?);
        }
        for chunk in found.chunks(25) {
            self.batch_delete(chunk).await?;
        }
        Ok(())
    }

    /// The customers who logged in on `day`, at most `budget`; `true` when that was all.
    pub async fn login_day_ids(&self, day: i64, budget: usize) -> Result<(Vec<CustomerId>, bool), StoreError> {
        self.ids_of_partition(&keys::login_day_pk(day), None, keys::SK, budget).await
    }

    /// The members of a group, at most `budget`; `true` when that was all.
    pub async fn group_member_ids(
        &self,
        group: &GroupId,
        budget: usize,
    ) -> Result<(Vec<CustomerId>, bool), StoreError> {
        self.ids_of_partition(&keys::group_pk(group), Some("GSI1"), keys::GSI1_SK, budget).await
    }

    async fn ids_of_partition(
        &self,
        pk: &str,
        index: Option<&str>,
        id_attribute: &str,
        budget: usize,
    ) -> Result<(Vec<CustomerId>, bool), StoreError> {
        let pk_name = if index.is_some() { keys::GSI1_PK } else { keys::PK };
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let request = self
                .client()
                .query()
                .set_index_name(index.map(str::to_string))
                .consistent_read(index.is_none())
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start);
            let out = self.call(request).await?;
            ids.extend(
                out.items().iter().filter_map(|item| string_attr(item, id_attribute)).filter_map(CustomerId::parse),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((ids, true));
            }
            if ids.len() > budget {
                return Ok((ids, false));
            }
        }
    }

    /// Which of `ids` are members of `group` (their membership items, read in batches).
    pub async fn members_among(&self, group: &GroupId, ids: &[CustomerId]) -> Result<HashSet<String>, StoreError> {
        let mut members = HashSet::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| {
                    Item::from([
                        (keys::PK.into(), s(keys::customer_pk(id))),
                        (keys::SK.into(), s(keys::member_sk(group))),
                    ])
                })
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .projection_expression("PK")
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            for item in self.batch_get(request).await? {
                if let Some(id) = string_attr(&item, keys::PK).and_then(keys::customer_id_from_pk) {
                    members.insert(id.as_str().to_string());
                }
            }
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::Customer;
    use crate::domain::ids::Username;
    use crate::time::Timestamp;

    fn customer() -> Customer {
        let mut c = Customer::new(
            CustomerId::parse("CUST_0000AAAA").expect("id"),
            Username::base("Ann", "Banda"),
            ("Ann".into(), "Banda".into()),
            Timestamp::from_unix(1_700_000_000),
        );
        c.city = Some("Lusaka".into());
        c.tags = vec!["vip".into()];
        c
    }

    #[test]
    fn an_unchanged_document_writes_nothing_and_a_login_moves_one_list() {
        let before = customer();
        assert!(IndexChange::between(Some(&before), Some(&before)).expect("change").is_empty());
        let mut after = before.clone();
        after.total_transactions = 9;
        assert!(IndexChange::between(Some(&before), Some(&after)).expect("change").is_empty(), "volatile values");
        after.last_login_at = Some(Timestamp::from_unix(1_800_000_000));
        let login = IndexChange::between(Some(&before), Some(&after)).expect("change");
        assert!(login.puts.is_empty() && login.deletes.is_empty(), "no entry carries the last login");
        assert_eq!(login.slots.len(), 1, "the customer joins the login day's list: {:?}", login.slots);
    }

    #[test]
    fn a_changed_document_rewrites_every_entry_and_drops_the_old_ones() {
        let before = customer();
        let mut after = before.clone();
        after.city = Some("Ndola".into());
        let change = IndexChange::between(Some(&before), Some(&after)).expect("change");
        assert_eq!(change.puts.len(), entry_keys(&SearchDoc::of(&after)).len());
        // Places are lists, not entries; only the old city's two name-order entries go.
        let deleted: Vec<&str> = change.deletes.iter().map(|k| k.pk.as_str()).collect();
        assert_eq!(deleted, ["SNC#first#lusaka", "SNC#last#lusaka"]);
        let removed: Vec<&str> =
            change.slots.iter().filter(|w| w.member.is_none()).map(|w| w.slot.list.value.as_str()).collect();
        assert_eq!(removed, ["lusaka"], "out of the old city's list");
        assert_eq!(change.slots.len(), slots_of(Some(&after)).len() + 1, "every member carries the city");
        let erase = IndexChange::between(Some(&after), None).expect("change");
        assert!(erase.puts.is_empty());
        assert_eq!(erase.deletes.len(), entry_keys(&SearchDoc::of(&after)).len());
        assert!(erase.slots.iter().all(|w| w.member.is_none()) && erase.slots.len() == slots_of(Some(&after)).len());
    }

    #[test]
    fn an_entry_carries_its_document_as_one_json_string_and_legacy_map_entries_still_read() {
        let doc = SearchDoc::of(&customer());
        let key = EntryKey::new("ST#vip".into(), "CUST_0000AAAA".into());
        let item = entry_item(&key, &doc, 3).expect("item");
        assert_eq!(entry_version(&item), 3);
        assert!(matches!(item.get(DOC), Some(AttributeValue::S(json)) if json.starts_with('{')));
        assert_eq!(entry_doc(&item).expect("doc"), doc);
        // As the first version wrote it: a map under the long names.
        let long_names = serde_json::json!({
            "id": "CUST_0000AAAA", "first": "ann", "last": "banda", "username": doc.username,
            "status": "active", "verified": false, "city": "lusaka", "tags": ["vip"], "created": doc.created,
        });
        let mut legacy = item.clone();
        legacy.insert(DOC.into(), serde_dynamo::to_attribute_value(long_names).expect("map"));
        assert_eq!(entry_doc(&legacy).expect("legacy doc"), doc);
        legacy.insert(DOC.into(), s("{not json"));
        assert!(matches!(entry_doc(&legacy), Err(StoreError::Malformed(_))));
    }

    #[test]
    fn entry_keys_sort_shorter_names_first() {
        assert!(name_sk("ann", "z", "CUST_2") < name_sk("anna", "a", "CUST_1"));
        assert!(created_sk(99_999, "CUST_1") < created_sk(100_000, "CUST_0"));
    }
}
