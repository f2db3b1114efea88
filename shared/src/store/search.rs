//! The search index: entries that point at a customer and carry its `SearchDoc`, so a search
//! reads the entries of one criterion and filters them without reading any customer. Entries
//! are written in the customer's own transaction (see `customers.rs`): a customer is findable
//! the moment its write returns, and an erase leaves none behind.

use std::collections::{BTreeSet, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem};

use super::keys::{self, SEARCH_SEPARATOR as SEP, entity};
use super::{Item, Store, StoreError, n, s, string_attr};
use crate::domain::customer::Customer;
use crate::domain::search::SearchDoc;
use crate::domain::{CustomerId, GroupId};
use crate::time::Timestamp;

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

/// Every entry a customer's document has.
pub fn entry_keys(doc: &SearchDoc) -> BTreeSet<EntryKey> {
    let id = doc.id.as_str();
    let mut keys = BTreeSet::new();
    for word in doc.words() {
        keys.insert(EntryKey::new(keys::search_word_pk(&word), format!("{word}{SEP}{id}")));
    }
    for suffix in doc.phone_suffixes() {
        keys.insert(EntryKey::new(keys::search_phone_pk(&suffix), format!("{suffix}{SEP}{id}")));
    }
    for tag in &doc.tags {
        keys.insert(EntryKey::new(keys::search_tag_pk(tag), id.to_string()));
    }
    for (kind, value) in [("country", &doc.country), ("state", &doc.state), ("city", &doc.city)] {
        if let Some(value) = value {
            keys.insert(EntryKey::new(keys::search_place_pk(kind, value), id.to_string()));
        }
    }
    keys.insert(EntryKey::new(
        keys::search_created_pk(doc.status.as_str(), created_shard(id)),
        created_sk(doc.created, id),
    ));
    keys.insert(EntryKey::new(keys::search_name_pk("first", &doc.first), name_sk(&doc.first, &doc.last, id)));
    keys.insert(EntryKey::new(keys::search_name_pk("last", &doc.last), name_sk(&doc.last, &doc.first, id)));
    keys
}

/// The index writes that take a customer from `before` to `after` (`None`: absent). When the
/// document changes every entry is rewritten (each carries it); otherwise only entries whose
/// key appears or disappears are written.
#[derive(Debug, Default)]
pub struct IndexChange {
    pub puts: Vec<Item>,
    pub deletes: Vec<EntryKey>,
}

impl IndexChange {
    pub fn between(before: Option<&Customer>, after: Option<&Customer>) -> Result<Self, StoreError> {
        let old_doc = before.map(SearchDoc::of);
        let new_doc = after.map(SearchDoc::of);
        let old_keys = old_doc.as_ref().map(entry_keys).unwrap_or_default();
        let new_keys = new_doc.as_ref().map(entry_keys).unwrap_or_default();
        let mut change = Self::default();
        if let Some(doc) = &new_doc {
            let rewrite_all = old_doc.as_ref() != Some(doc);
            for key in new_keys.iter().filter(|k| rewrite_all || !old_keys.contains(k)) {
                change.puts.push(entry_item(key, doc)?);
            }
        }
        change.deletes = old_keys.difference(&new_keys).cloned().collect();
        Ok(change)
    }

    pub fn len(&self) -> usize {
        self.puts.len() + self.deletes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn entry_item(key: &EntryKey, doc: &SearchDoc) -> Result<Item, StoreError> {
    Ok(Item::from([
        (keys::PK.into(), s(&key.pk)),
        (keys::SK.into(), s(&key.sk)),
        (keys::ENTITY.into(), s(entity::SEARCH_ENTRY)),
        ("cid".into(), s(&doc.id)),
        (DOC.into(), s(serde_json::to_string(doc).map_err(|e| StoreError::Malformed(e.to_string()))?)),
    ]))
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

    /// Writes index changes outside a transaction (those that did not fit in the customer's,
    /// and the rebuild's): puts first (so a customer is never missing from the index), then
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
                .table_name(self.table())
                .consistent_read(true)
                .limit(((budget - docs.len()) as i32).clamp(1, 1000))
                .projection_expression("#doc")
                .expression_attribute_names("#doc", DOC)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(Self::CAPACITY);
            let out = range.condition(request, pk).send().await.map_err(StoreError::backend)?;
            self.meter().read(out.consumed_capacity());
            for item in out.items() {
                docs.push(entry_doc(item)?);
            }
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
            .table_name(self.table())
            .consistent_read(true)
            .scan_index_forward(ascending)
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", s(pk))
            .limit(limit as i32)
            .return_consumed_capacity(Self::CAPACITY);
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
        let out = request.send().await.map_err(StoreError::backend)?;
        self.meter().read(out.consumed_capacity());
        let mut entries = Vec::new();
        for item in out.items() {
            let sk = string_attr(item, keys::SK).unwrap_or_default().to_string();
            entries.push((sk, entry_doc(item)?));
        }
        let more_after = out.last_evaluated_key.is_some().then(|| entries.last().map(|(sk, _)| sk.clone())).flatten();
        Ok(EntryPage { entries, more_after })
    }

    /// Notes that the customer logged in on `day` (unix day number): the last-login index.
    pub async fn record_login_day(&self, id: &CustomerId, day: i64) -> Result<(), StoreError> {
        let out = self
            .client()
            .put_item()
            .table_name(self.table())
            .item(keys::PK, s(keys::login_day_pk(day)))
            .item(keys::SK, s(id.as_str()))
            .item(keys::ENTITY, s(entity::LOGIN_DAY))
            .item(keys::TTL, n((day + keys::LOGIN_DAY_TTL_DAYS) * 86_400))
            .return_consumed_capacity(Self::CAPACITY)
            .send()
            .await
            .map_err(StoreError::backend)?;
        self.meter().write(out.consumed_capacity());
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
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .set_index_name(index.map(str::to_string))
                .consistent_read(index.is_none())
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start)
                .return_consumed_capacity(Self::CAPACITY)
                .send()
                .await
                .map_err(StoreError::backend)?;
            self.meter().read(out.consumed_capacity());
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
    fn an_unchanged_document_writes_nothing_and_a_new_word_one_entry() {
        let before = customer();
        assert!(IndexChange::between(Some(&before), Some(&before)).expect("change").is_empty());
        let mut after = before.clone();
        after.last_login_at = Some(Timestamp::from_unix(1_800_000_000));
        after.total_transactions = 9;
        assert!(IndexChange::between(Some(&before), Some(&after)).expect("change").is_empty(), "volatile values");
    }

    #[test]
    fn a_changed_document_rewrites_every_entry_and_drops_the_old_ones() {
        let before = customer();
        let mut after = before.clone();
        after.city = Some("Ndola".into());
        let change = IndexChange::between(Some(&before), Some(&after)).expect("change");
        assert_eq!(change.puts.len(), entry_keys(&SearchDoc::of(&after)).len());
        assert_eq!(change.deletes, [EntryKey::new("SL#city#lusaka".into(), "CUST_0000AAAA".into())]);
        let erase = IndexChange::between(Some(&after), None).expect("change");
        assert!(erase.puts.is_empty());
        assert_eq!(erase.deletes.len(), entry_keys(&SearchDoc::of(&after)).len());
    }

    #[test]
    fn an_entry_carries_its_document_as_one_json_string_and_legacy_map_entries_still_read() {
        let doc = SearchDoc::of(&customer());
        let key = EntryKey::new("ST#vip".into(), "CUST_0000AAAA".into());
        let item = entry_item(&key, &doc).expect("item");
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
