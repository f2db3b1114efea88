//! Posting lists in the table (see `domain::search::postings` for what they hold): one item
//! per block, `PK = IX#<kind>#<value>`, `SK = <bucket>`. A block keeps its members **packed**
//! in one binary attribute (`p`, `domain::search::postings::packed`) and, beside it, the
//! **changes** written since: one attribute per customer a write moved, named by the id's
//! eight digits and valued by the member's text, or `-` for a customer that left. A customer
//! write sets its change attributes in its own transaction (and a fresh write token `v`), so
//! readers see a list as a committed write left it. A reader folds the changes over the packed
//! members; a block with [`COMPACT_AFTER`] changes or more is rewritten packed by the reader
//! that found it, on condition that its write token is still the one read (no write came in
//! between), so the changes a reader decodes one by one stay few.
//!
//! Name words also have a directory, `PK = IXD#<first letter>`, `SK = <word>`, so a query word
//! finds the words it prefixes.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use futures::{StreamExt, TryStreamExt};

use super::keys::{self, entity};
use super::search::slots_of;
use super::table::SortKeyRange;
use super::{Item, Store, StoreError, s, string_attr};
use crate::domain::Customer;
use crate::domain::ids::random_token;
use crate::domain::search::postings::{ListId, ListKind, Member, MemberKey, Slot, SlotWrite, packed};

/// Words a directory look-up returns at most: a prefix that starts more words than this is
/// too short to read list by list.
pub const MAX_WORDS_PER_PREFIX: usize = 200;

/// A block with this many changes over its packed members is compacted by its next reader.
pub const COMPACT_AFTER: usize = 16;

/// The packed members of a block.
const PACKED: &str = "p";
/// A random token every write of a block sets: a compaction applies only if it is unchanged.
const WRITE_TOKEN: &str = "v";
/// The change of a customer that left the block.
const LEFT: &str = "-";

/// A list as read: its members in key order, each once.
pub type ListMembers = Vec<(MemberKey, Member)>;

/// A block item as read: its packed members, the changes over them and its write token.
#[derive(Debug)]
pub(crate) struct Block {
    pk: String,
    sk: String,
    packed: Vec<(MemberKey, Member)>,
    changes: Vec<(MemberKey, Option<Member>)>,
    token: Option<String>,
    /// `false` when its packed value could not be read: it is then never rewritten (a
    /// compaction would lose those members for good); `verify` reports it, `reindex` repairs it.
    intact: bool,
}

impl Block {
    /// Reads a block item; what is not a block's (a corrupt packed value, which is logged, or a
    /// change that is not a member) is left out.
    pub(crate) fn of(item: Item) -> Self {
        let text = |name: &str| string_attr(&item, name).unwrap_or_default().to_string();
        let (pk, sk, token) = (text(keys::PK), text(keys::SK), string_attr(&item, WRITE_TOKEN).map(str::to_string));
        let packed = match item.get(PACKED) {
            None => Some(Vec::new()),
            Some(value) => value.as_b().ok().and_then(|bytes| packed::unpack(bytes.as_ref())),
        };
        let intact = packed.is_some();
        if !intact {
            tracing::error!(pk, sk, "a posting-list block's packed members are unreadable");
        }
        let changes = item
            .iter()
            .filter_map(|(name, value)| {
                let key = MemberKey::parse(name)?;
                let text = value.as_s().ok()?;
                if text == LEFT {
                    return Some((key, None));
                }
                Member::decode(text).map(|member| (key, Some(member)))
            })
            .collect();
        Self { pk, sk, packed: packed.unwrap_or_default(), changes, token, intact }
    }

    /// A block not written yet.
    fn absent(pk: &str, sk: &str) -> Self {
        Self { pk: pk.into(), sk: sk.into(), packed: Vec::new(), changes: Vec::new(), token: None, intact: true }
    }

    /// Its members with the changes applied, in key order.
    pub(crate) fn members(&self) -> Vec<(MemberKey, Member)> {
        packed::fold(self.packed.clone(), self.changes.iter().copied())
    }

    fn into_members(self) -> Vec<(MemberKey, Member)> {
        packed::fold(self.packed, self.changes)
    }
}

/// The posting lists of many customers, gathered per block (a bulk load, a rebuild, a check).
#[derive(Debug, Default)]
pub struct BlockSet {
    /// (PK, SK) of each block → its members.
    pub blocks: BTreeMap<(String, String), BTreeMap<MemberKey, Member>>,
    /// The name words the directory needs.
    pub words: BTreeSet<String>,
}

impl BlockSet {
    pub fn add(&mut self, customer: &Customer) {
        for (slot, text) in slots_of(Some(customer)) {
            let (Some(key), Some(member)) = (MemberKey::parse(&slot.name), Member::decode(&text)) else { continue };
            let block = (keys::search_list_pk(&slot.list), keys::search_block_sk(slot.bucket));
            self.blocks.entry(block).or_default().insert(key, member);
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

fn blob(members: impl IntoIterator<Item = (MemberKey, Member)>) -> AttributeValue {
    AttributeValue::B(Blob::new(packed::pack(members)))
}

fn block_item(pk: &str, sk: &str, members: impl IntoIterator<Item = (MemberKey, Member)>) -> Item {
    Item::from([
        (keys::PK.into(), s(pk)),
        (keys::SK.into(), s(sk)),
        (keys::ENTITY.into(), s(entity::POSTINGS)),
        (PACKED.into(), blob(members)),
        (WRITE_TOKEN.into(), s(random_token(6))),
    ])
}

impl Store {
    /// The transaction action of one block write: the customer's change set (its member, or
    /// `-` when it leaves the block) and a new write token.
    pub(crate) fn slot_action(&self, write: &SlotWrite) -> Result<TransactWriteItem, StoreError> {
        let Slot { list, bucket, name } = &write.slot;
        let update = Update::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::search_list_pk(list)))
            .key(keys::SK, s(keys::search_block_sk(*bucket)))
            .update_expression("SET #m = :m, #e = :e, #v = :v")
            .expression_attribute_names("#m", name)
            .expression_attribute_names("#e", keys::ENTITY)
            .expression_attribute_names("#v", WRITE_TOKEN)
            .expression_attribute_values(":e", s(entity::POSTINGS))
            .expression_attribute_values(":m", s(write.member.clone().unwrap_or_else(|| LEFT.to_string())))
            .expression_attribute_values(":v", s(random_token(6)))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Every member of a list, read consistently: one `Query` of its blocks (a page per MB).
    /// Blocks with many changes are compacted on the way.
    pub async fn posting_list(&self, list: ListId) -> Result<ListMembers, StoreError> {
        self.posting_list_in(list, &SortKeyRange::All).await
    }

    /// The members of some of a list's buckets (a last-login list's run for one country), read
    /// and compacted like a whole list.
    pub async fn posting_list_buckets(
        &self,
        list: ListId,
        buckets: std::ops::RangeInclusive<u32>,
    ) -> Result<ListMembers, StoreError> {
        let range =
            SortKeyRange::Between(keys::search_block_sk(*buckets.start()), keys::search_block_sk(*buckets.end()));
        self.posting_list_in(list, &range).await
    }

    async fn posting_list_in(&self, list: ListId, range: &SortKeyRange) -> Result<ListMembers, StoreError> {
        let items = self.query_range(&keys::search_list_pk(&list), range).await?;
        let blocks: Vec<Block> = items.into_iter().map(Block::of).collect();
        let compact_after = self.compact_after();
        let stale: Vec<&Block> = blocks.iter().filter(|b| b.intact && b.changes.len() >= compact_after).collect();
        self.compact(&stale).await;
        let mut members = Vec::with_capacity(blocks.iter().map(|b| b.packed.len() + b.changes.len()).sum());
        for block in blocks {
            members.extend(block.into_members());
        }
        // Blocks are buckets of a hash of the id: each is in key order, the list is not.
        members.sort_unstable_by_key(|(key, _)| *key);
        Ok(members)
    }

    fn compact_after(&self) -> usize {
        #[cfg(feature = "test-faults")]
        if let n @ 1.. = self.faults().compact_after.load(std::sync::atomic::Ordering::SeqCst) {
            return n;
        }
        COMPACT_AFTER
    }

    /// Rewrites blocks packed, each only if no write came in since it was read, 16 at a time.
    async fn compact(&self, blocks: &[&Block]) {
        #[cfg(feature = "test-faults")]
        if !blocks.is_empty() {
            self.faults().pass_compaction_gate().await;
        }
        for chunk in blocks.chunks(16) {
            let mut writes = Vec::with_capacity(chunk.len());
            for block in chunk {
                writes.push(self.compact_block(block));
            }
            futures::future::join_all(writes).await;
        }
    }

    /// A failure is logged: the block stays as it was, correct, and a later reader compacts it.
    async fn compact_block(&self, block: &Block) {
        if let Err(err) = self.replace_block(block, block.members()).await {
            tracing::warn!(pk = block.pk, sk = block.sk, error = %err, "posting-list block not compacted");
        }
    }

    /// Writes `members` as the whole of `block` (packed, no changes) if its write token is still
    /// the one read; `false` when a write came in since.
    async fn replace_block(&self, block: &Block, members: Vec<(MemberKey, Member)>) -> Result<bool, StoreError> {
        let (condition, values) = match &block.token {
            Some(token) => ("#v = :v", Some([(":v".to_string(), s(token.clone()))].into())),
            None => ("attribute_not_exists(#v)", None),
        };
        let (pk, sk) = (s(&block.pk), s(&block.sk));
        let written = if members.is_empty() {
            let request = self.client().delete_item().key(keys::PK, pk).key(keys::SK, sk);
            let request = request.condition_expression(condition).expression_attribute_names("#v", WRITE_TOKEN);
            self.call_if(request.set_expression_attribute_values(values)).await?.is_some()
        } else {
            let request = self.client().put_item().set_item(Some(block_item(&block.pk, &block.sk, members)));
            let request = request.condition_expression(condition).expression_attribute_names("#v", WRITE_TOKEN);
            self.call_if(request.set_expression_attribute_values(values)).await?.is_some()
        };
        Ok(written)
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
            .map(|((pk, sk), members)| block_item(pk, sk, members.iter().map(|(k, m)| (*k, *m))))
            .collect();
        self.batch_put(items).await?;
        self.register_words(&set.words.iter().cloned().collect::<Vec<_>>()).await
    }

    /// Adds members to blocks without losing what writes that went through transactions put
    /// there (a bulk load): each block is read, its members and the new ones written packed on
    /// condition that no write came in between, and read again when one did.
    pub async fn merge_blocks(&self, set: &BlockSet) -> Result<(), StoreError> {
        futures::stream::iter(set.blocks.iter())
            .map(|((pk, sk), members)| self.merge_block(pk, sk, members))
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await?;
        self.register_words(&set.words.iter().cloned().collect::<Vec<_>>()).await
    }

    async fn merge_block(&self, pk: &str, sk: &str, added: &BTreeMap<MemberKey, Member>) -> Result<(), StoreError> {
        loop {
            let block = match self.get_raw(pk.to_string(), sk).await? {
                Some(item) => Block::of(item),
                None => Block::absent(pk, sk),
            };
            if !block.intact {
                return Err(StoreError::Backend(format!("block {pk}/{sk} is unreadable: run `search-index reindex`")));
            }
            let members = packed::fold(block.members(), added.iter().map(|(k, m)| (*k, Some(*m))));
            if self.replace_block(&block, members).await? {
                return Ok(());
            }
        }
    }
}
