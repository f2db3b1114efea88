//! Posting lists in the table (see `domain::search::postings` for what they hold): one item
//! per block, `PK = IX#<kind>#<value>`, `SK = <bucket>`, one attribute per customer. A list is
//! read with one `Query` (a page per MB); a customer moves with one `UpdateItem` per block in
//! its own transaction. Name words also have a directory, `PK = IXD#<first letter>`,
//! `SK = <word>`, so a query word finds the words it prefixes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::keys::{self, entity};
use super::search::slots_of;
use super::table::SortKeyRange;
use super::{Item, Store, StoreError, s, string_attr};
use crate::domain::Customer;
use crate::domain::search::postings::{ListId, ListKind, Member, Slot, SlotWrite};

/// Words a directory look-up returns at most: a prefix that starts more words than this is
/// too short to read list by list.
pub const MAX_WORDS_PER_PREFIX: usize = 200;

/// Whether an attribute of a block item is a member (not a key or the entity).
pub(crate) fn is_member(name: &str) -> bool {
    name != keys::PK && name != keys::SK && name != keys::ENTITY
}

/// The members of a block item, by member name (the id without `CUST_`): the item's own
/// strings are moved, not copied, since a search may decode tens of thousands.
pub fn members_of(item: Item) -> impl Iterator<Item = (String, Member)> {
    item.into_iter().filter(|(name, _)| is_member(name)).filter_map(|(name, value)| {
        let member = Member::decode(value.as_s().ok()?)?;
        Some((name, member))
    })
}

/// One `UpdateItem` of a bulk merge: a block's key and some of its members.
type BlockUpdate<'a> = (&'a String, &'a String, Vec<(&'a String, &'a String)>);

/// A list as read: its members by member name (`domain::search::postings::member_name`).
pub type ListMembers = HashMap<String, Member>;

/// The posting lists of many customers, gathered per block (a bulk load, a rebuild, a check).
#[derive(Debug, Default)]
pub struct BlockSet {
    /// (PK, SK) of each block → member attribute → member.
    pub blocks: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// The name words the directory needs.
    pub words: BTreeSet<String>,
}

impl BlockSet {
    pub fn add(&mut self, customer: &Customer) {
        for (slot, member) in slots_of(Some(customer)) {
            let block = (keys::search_list_pk(&slot.list), keys::search_block_sk(slot.bucket));
            self.blocks.entry(block).or_default().insert(slot.name, member);
            if slot.list.kind == ListKind::Word {
                self.words.insert(slot.list.value);
            }
        }
    }

    /// How many members it holds.
    pub fn members(&self) -> usize {
        self.blocks.values().map(BTreeMap::len).sum()
    }
}

impl Store {
    /// The transaction action of one block write: the customer's attribute set or removed.
    pub(crate) fn slot_action(&self, write: &SlotWrite) -> Result<TransactWriteItem, StoreError> {
        let Slot { list, bucket, name } = &write.slot;
        let update = Update::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::search_list_pk(list)))
            .key(keys::SK, s(keys::search_block_sk(*bucket)))
            .expression_attribute_names("#m", name)
            .expression_attribute_names("#e", keys::ENTITY)
            .expression_attribute_values(":e", s(entity::POSTINGS));
        let update = match &write.member {
            Some(member) => {
                update.update_expression("SET #m = :m, #e = :e").expression_attribute_values(":m", s(member.clone()))
            }
            None => update.update_expression("SET #e = :e REMOVE #m"),
        };
        let update = update.build().map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Every member of a list, read consistently: one `Query` of its blocks (a page per MB).
    pub async fn posting_list(&self, list: ListId) -> Result<ListMembers, StoreError> {
        let items = self.query_range(&keys::search_list_pk(&list), &SortKeyRange::All).await?;
        let mut members = HashMap::with_capacity(items.len() * 8);
        for item in items {
            members.extend(members_of(item));
        }
        Ok(members)
    }

    /// Records name words in the directory (idempotent puts, outside any transaction: an entry
    /// for a word nobody has any more only costs a look-up of an empty list).
    pub async fn register_words(&self, words: &[String]) -> Result<(), StoreError> {
        let items = words
            .iter()
            .map(|word| {
                Item::from([
                    (keys::PK.into(), s(keys::search_directory_pk(word))),
                    (keys::SK.into(), s(word.clone())),
                    (keys::ENTITY.into(), s(entity::WORD)),
                ])
            })
            .collect();
        self.batch_put(items).await
    }

    /// The name words that start with `prefix`, at most `MAX_WORDS_PER_PREFIX` (`None` beyond).
    pub async fn words_starting(&self, prefix: &str) -> Result<Option<Vec<String>>, StoreError> {
        let range = SortKeyRange::Prefix(prefix.to_string());
        let items = self.query_limited(&keys::search_directory_pk(prefix), &range, MAX_WORDS_PER_PREFIX + 1).await?;
        if items.len() > MAX_WORDS_PER_PREFIX {
            return Ok(None);
        }
        Ok(Some(items.iter().filter_map(|item| string_attr(item, keys::SK)).map(str::to_string).collect()))
    }

    /// Writes every block of `set` whole (replacing what a block held) and its words: a rebuild.
    pub async fn put_blocks(&self, set: &BlockSet) -> Result<(), StoreError> {
        let items = set
            .blocks
            .iter()
            .map(|((pk, sk), members)| {
                let mut item = Item::from([
                    (keys::PK.into(), s(pk.clone())),
                    (keys::SK.into(), s(sk.clone())),
                    (keys::ENTITY.into(), s(entity::POSTINGS)),
                ]);
                item.extend(members.iter().map(|(name, member)| (name.clone(), s(member.clone()))));
                item
            })
            .collect();
        self.batch_put(items).await?;
        self.register_words(&set.words.iter().cloned().collect::<Vec<_>>()).await
    }

    /// Adds members to blocks without touching the others there (a bulk load beside writes
    /// that went through transactions): one `UpdateItem` per block and 100 members.
    pub async fn merge_blocks(&self, set: &BlockSet) -> Result<(), StoreError> {
        use futures::{StreamExt, TryStreamExt};
        let updates: Vec<BlockUpdate<'_>> = set
            .blocks
            .iter()
            .flat_map(|((pk, sk), members)| {
                let members: Vec<(&String, &String)> = members.iter().collect();
                members.chunks(100).map(|chunk| (pk, sk, chunk.to_vec())).collect::<Vec<_>>()
            })
            .collect();
        futures::stream::iter(updates)
            .map(|(pk, sk, chunk)| async move {
                let sets: Vec<String> = (0..chunk.len()).map(|i| format!("#m{i} = :m{i}")).collect();
                let mut request = self
                    .client()
                    .update_item()
                    .key(keys::PK, s(pk.clone()))
                    .key(keys::SK, s(sk.clone()))
                    .update_expression(format!("SET #e = :e, {}", sets.join(", ")))
                    .expression_attribute_names("#e", keys::ENTITY)
                    .expression_attribute_values(":e", s(entity::POSTINGS));
                for (i, (name, member)) in chunk.iter().enumerate() {
                    request = request
                        .expression_attribute_names(format!("#m{i}"), *name)
                        .expression_attribute_values(format!(":m{i}"), s((*member).clone()));
                }
                self.call(request).await?;
                Ok::<(), StoreError>(())
            })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        self.register_words(&set.words.iter().cloned().collect::<Vec<_>>()).await
    }
}
