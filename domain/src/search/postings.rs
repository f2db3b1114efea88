//! Posting lists: the compact half of the search index.
//!
//! A posting list holds every customer with one indexed value: a name word, a tag, a city, a
//! state, a country, a status, or a last-login day. It is split into *blocks* by a hash of the
//! customer id (a fixed number of buckets per kind of list), and a customer is one attribute of
//! its block: named by the eight characters of its id, valued by a [`Member`] of about a dozen
//! characters (status, verified, creation time, a hash of the country, and per kind the word's
//! place in the names or the login time). A search reads whole lists in one `Query` each (a few
//! hundred blocks at most), intersects them by id and filters on what members carry, so reading
//! 25,000 customers costs ~600 KB and a few milliseconds of CPU instead of 25,000 items.
//!
//! A customer is in exactly one block of each of its lists, and a write moves it with a `SET` or
//! `REMOVE` of its own attribute, inside the customer's transaction: readers see a list as the
//! customer write left it, never a half of it.
//!
//! The email, the username and the id are not name words (each is one customer's): they are kept
//! as entries under the shortest prefix no name word of the customer shares
//! ([`unique_word_partition`]), so a query word the names already answer never reads them.

use std::collections::BTreeMap;

use super::doc::{SearchDoc, name_words};
use crate::customer::CustomerStatus;

/// The kinds of posting list, each with its key prefix and number of buckets. The buckets keep
/// a block near 1–2 KB at 100,000 customers for the most common value of the kind (a block's
/// size is what a write to it costs), while a rare value has as many blocks as members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ListKind {
    Word,
    Tag,
    City,
    State,
    Country,
    Status,
    /// Customers whose last login fell on a UTC day.
    LastLogin,
}

impl ListKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Word => "w",
            Self::Tag => "t",
            Self::City => "ci",
            Self::State => "st",
            Self::Country => "co",
            Self::Status => "s",
            Self::LastLogin => "ll",
        }
    }

    pub fn buckets(self) -> u32 {
        match self {
            Self::Word | Self::Tag => 256,
            Self::City | Self::State => 512,
            Self::Country | Self::Status => 1024,
            Self::LastLogin => 64,
        }
    }
}

/// One posting list: a kind and a folded value (a word, a tag, `kitwe`, `active`, a day number).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListId {
    pub kind: ListKind,
    pub value: String,
}

impl ListId {
    pub fn new(kind: ListKind, value: impl Into<String>) -> Self {
        Self { kind, value: value.into() }
    }

    pub fn last_login_day(day: i64) -> Self {
        Self::new(ListKind::LastLogin, day.to_string())
    }
}

/// Where one customer sits in one list: the list, its bucket and the attribute named by the id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub list: ListId,
    pub bucket: u32,
    /// The customer id without its `CUST_` prefix.
    pub name: String,
}

/// The id's eight characters, the attribute a customer's change is in its block.
pub fn member_name(customer_id: &str) -> &str {
    customer_id.strip_prefix("CUST_").unwrap_or(customer_id)
}

/// The customer id of a member attribute.
pub fn customer_id_of(name: &str) -> String {
    format!("CUST_{name}")
}

/// A customer as a member of packed blocks: the eight hex digits of its id as a number, so a
/// member costs four bytes and lists are intersected by comparing integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberKey(pub u32);

impl MemberKey {
    /// The key of a customer id (`CUST_` and eight upper-case hex digits) or of its member
    /// name (the digits alone).
    pub fn parse(id_or_name: &str) -> Option<Self> {
        let digits = member_name(id_or_name);
        let valid = digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        valid.then(|| u32::from_str_radix(digits, 16).ok().map(Self)).flatten()
    }

    pub fn customer_id(self) -> String {
        format!("CUST_{:08X}", self.0)
    }

    pub fn name(self) -> String {
        format!("{:08X}", self.0)
    }
}

/// FNV-1a, 32 bits: stable across builds and machines (buckets and hashes are stored).
fn fnv(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Last-login lists are split by country first: `LOGIN_COUNTRY_GROUPS` runs of consecutive
/// buckets, a customer's run chosen by its country's hash and its bucket within the run by its
/// id. A login window with a country (the back office's "active in Zambia this month") reads
/// only the run of that country: its customers and those of the countries sharing the run.
pub const LOGIN_COUNTRY_GROUPS: u32 = 8;

/// The bucket of a customer in a list of `kind`: by its id, and for last-login lists by its
/// country (`country`, the place hash members carry) first.
pub fn bucket_of(kind: ListKind, customer_id: &str, country: Option<u32>) -> u32 {
    let by_id = fnv(member_name(customer_id));
    match kind {
        ListKind::LastLogin => {
            let per_group = kind.buckets() / LOGIN_COUNTRY_GROUPS;
            login_country_group(country) * per_group + by_id % per_group
        }
        _ => by_id % kind.buckets(),
    }
}

fn login_country_group(country: Option<u32>) -> u32 {
    country.map_or(0, |hash| hash % LOGIN_COUNTRY_GROUPS)
}

/// The buckets of a last-login list that hold the customers of `folded_country`.
pub fn login_buckets_of_country(folded_country: &str) -> std::ops::RangeInclusive<u32> {
    let per_group = ListKind::LastLogin.buckets() / LOGIN_COUNTRY_GROUPS;
    let first = login_country_group(Some(place_hash(folded_country))) * per_group;
    first..=first + per_group - 1
}

/// A place's 24-bit hash, which members carry so that a country or city filter needs no list.
/// Two places of one kind sharing a hash would match each other's filter: with 10,000 cities,
/// the chance that any other city shares the one asked for is 1 in 1,700.
pub fn place_hash(folded_place: &str) -> u32 {
    fnv(folded_place) & 0x00ff_ffff
}

/// Word flags: the word is the first word of the first name, and the first name starts with it
/// as written (`o'brien` starts with its word `obrien` only once the apostrophe is gone).
pub const FIRST_NAME_START: u8 = 1;
pub const FIRST_NAME_LITERAL: u8 = 2;
pub const LAST_NAME_START: u8 = 4;
pub const LAST_NAME_LITERAL: u8 = 8;

/// What a customer's attribute in a block says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub status: CustomerStatus,
    pub verified: bool,
    /// Unix milliseconds.
    pub created: i64,
    pub country: Option<u32>,
    pub city: Option<u32>,
    /// Word lists: `FIRST_NAME_*` and `LAST_NAME_*` flags.
    pub flags: u8,
    /// Last-login lists: the login, unix seconds.
    pub login: Option<i64>,
}

const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const NONE: char = '.';

fn push_number(out: &mut String, value: u64, width: usize) {
    for i in (0..width).rev() {
        out.push(DIGITS[((value >> (6 * i)) & 63) as usize] as char);
    }
}

fn digit_value(byte: u8) -> Option<u64> {
    DIGITS.iter().position(|d| *d == byte).map(|p| p as u64)
}

fn read_number(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, b| Some((acc << 6) | digit_value(*b)?))
}

fn status_index(status: CustomerStatus) -> usize {
    CustomerStatus::ALL.iter().position(|s| *s == status).unwrap_or(0)
}

impl Member {
    pub fn of(doc: &SearchDoc) -> Self {
        Self {
            status: doc.status,
            verified: doc.verified,
            created: doc.created,
            country: doc.country.as_deref().map(place_hash),
            city: doc.city.as_deref().map(place_hash),
            flags: 0,
            login: None,
        }
    }

    /// `s` status and verified, `ccccccc` creation ms, `hhhh` country and city hashes (or
    /// `....`), then `f` flags or `llllll` login seconds when present.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(24);
        out.push(DIGITS[status_index(self.status) * 2 + usize::from(self.verified)] as char);
        push_number(&mut out, self.created.max(0) as u64, 7);
        for place in [self.country, self.city] {
            match place {
                Some(hash) => push_number(&mut out, u64::from(hash), 4),
                None => out.extend([NONE; 4]),
            }
        }
        if self.flags != 0 {
            push_number(&mut out, u64::from(self.flags), 1);
        }
        if let Some(login) = self.login {
            push_number(&mut out, login.max(0) as u64, 6);
        }
        out
    }

    pub fn decode(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let head = digit_value(*bytes.first()?)? as usize;
        let status = *CustomerStatus::ALL.get(head / 2)?;
        let created = read_number(bytes.get(1..8)?)? as i64;
        let place = |range: std::ops::Range<usize>| match bytes.get(range) {
            Some(b"....") => Some(None),
            Some(hash) => read_number(hash).map(|h| Some(h as u32)),
            None => None,
        };
        let (country, city) = (place(8..12)?, place(12..16)?);
        let (flags, login) = match bytes.len() {
            16 => (0, None),
            17 => (read_number(&bytes[16..17])? as u8, None),
            22 => (0, Some(read_number(&bytes[16..22])? as i64)),
            _ => return None,
        };
        Some(Self { status, verified: head % 2 == 1, created, country, city, flags, login })
    }
}

/// A block's members as one binary value, sorted by key: a format byte, then per member its
/// key (4 bytes), a head byte (status, verified, and which optional fields follow), the
/// creation time (6 bytes), then the country and city hashes (3 bytes each), the word flags (1)
/// and the login (5) when present: 17 bytes for most members (the text form with its
/// attribute name is 25), and decoding is a copy of bytes, not a parse of a JSON map.
pub mod packed {
    use super::{Member, MemberKey};
    use crate::customer::CustomerStatus;

    const FORMAT: u8 = 1;
    const VERIFIED: u8 = 1 << 3;
    const HAS_COUNTRY: u8 = 1 << 4;
    const HAS_CITY: u8 = 1 << 5;
    const HAS_FLAGS: u8 = 1 << 6;
    const HAS_LOGIN: u8 = 1 << 7;
    const STATUS_BITS: u8 = 0b111;

    fn push_be(out: &mut Vec<u8>, value: u64, bytes: usize) {
        out.extend_from_slice(&value.to_be_bytes()[8 - bytes..]);
    }

    fn read_be(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    }

    fn push_member(out: &mut Vec<u8>, key: MemberKey, member: &Member) {
        let mut head = super::status_index(member.status) as u8;
        for (set, bit) in [
            (member.verified, VERIFIED),
            (member.country.is_some(), HAS_COUNTRY),
            (member.city.is_some(), HAS_CITY),
            (member.flags != 0, HAS_FLAGS),
            (member.login.is_some(), HAS_LOGIN),
        ] {
            if set {
                head |= bit;
            }
        }
        out.extend_from_slice(&key.0.to_be_bytes());
        out.push(head);
        push_be(out, member.created.clamp(0, (1 << 48) - 1) as u64, 6);
        for place in [member.country, member.city].into_iter().flatten() {
            push_be(out, u64::from(place & 0x00ff_ffff), 3);
        }
        if member.flags != 0 {
            out.push(member.flags);
        }
        if let Some(login) = member.login {
            push_be(out, login.clamp(0, (1 << 40) - 1) as u64, 5);
        }
    }

    /// Packs members (in any order; a key given twice keeps its last member).
    pub fn pack(members: impl IntoIterator<Item = (MemberKey, Member)>) -> Vec<u8> {
        let mut members: Vec<(MemberKey, Member)> = members.into_iter().collect();
        members.reverse();
        members.sort_by_key(|(key, _)| *key);
        members.dedup_by_key(|(key, _)| *key);
        let mut out = Vec::with_capacity(1 + members.len() * 18);
        out.push(FORMAT);
        for (key, member) in &members {
            push_member(&mut out, *key, member);
        }
        out
    }

    /// A byte reader that fails, rather than panics, past the end.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
            self.0 = rest;
            Some(head)
        }

        fn member(&mut self) -> Option<(MemberKey, Member)> {
            let key = MemberKey(read_be(self.take(4)?) as u32);
            let head = self.take(1)?[0];
            let status = *CustomerStatus::ALL.get(usize::from(head & STATUS_BITS))?;
            let created = read_be(self.take(6)?) as i64;
            let mut place = |bit: u8| -> Option<Option<u32>> {
                if head & bit == 0 { Some(None) } else { Some(Some(read_be(self.take(3)?) as u32)) }
            };
            let (country, city) = (place(HAS_COUNTRY)?, place(HAS_CITY)?);
            let flags = if head & HAS_FLAGS == 0 { 0 } else { self.take(1)?[0] };
            let login = if head & HAS_LOGIN == 0 { None } else { Some(read_be(self.take(5)?) as i64) };
            let member = Member { status, verified: head & VERIFIED != 0, created, country, city, flags, login };
            Some((key, member))
        }
    }

    /// The members of a packed block, in key order; `None` when the bytes are not a block.
    pub fn unpack(bytes: &[u8]) -> Option<Vec<(MemberKey, Member)>> {
        let (format, body) = bytes.split_first()?;
        if *format != FORMAT {
            return None;
        }
        let mut reader = Reader(body);
        let mut members = Vec::with_capacity(body.len() / 17);
        while !reader.0.is_empty() {
            members.push(reader.member()?);
        }
        Some(members)
    }

    /// A packed block with changes applied over it (`None`: the customer left the block), in
    /// key order.
    pub fn fold(
        snapshot: Vec<(MemberKey, Member)>,
        changes: impl IntoIterator<Item = (MemberKey, Option<Member>)>,
    ) -> Vec<(MemberKey, Member)> {
        let mut changes: Vec<(MemberKey, Option<Member>)> = changes.into_iter().collect();
        if changes.is_empty() {
            return snapshot;
        }
        changes.sort_by_key(|(key, _)| *key);
        let mut out = Vec::with_capacity(snapshot.len() + changes.len());
        let mut changes = changes.into_iter().peekable();
        for (key, member) in snapshot {
            while let Some((changed, value)) = changes.next_if(|(changed, _)| *changed < key) {
                out.extend(value.map(|m| (changed, m)));
            }
            match changes.next_if(|(changed, _)| *changed == key) {
                Some((_, value)) => out.extend(value.map(|m| (key, m))),
                None => out.push((key, member)),
            }
        }
        out.extend(changes.filter_map(|(key, value)| value.map(|m| (key, m))));
        out
    }
}

/// The name words of a document with their flags.
pub fn name_word_flags(doc: &SearchDoc) -> BTreeMap<String, u8> {
    let mut words: BTreeMap<String, u8> = BTreeMap::new();
    for (name, start, literal) in
        [(&doc.first, FIRST_NAME_START, FIRST_NAME_LITERAL), (&doc.last, LAST_NAME_START, LAST_NAME_LITERAL)]
    {
        for (i, word) in name_words(name).into_iter().enumerate() {
            let mut flags = 0;
            if i == 0 {
                flags |= start;
                if name.starts_with(word.as_str()) {
                    flags |= literal;
                }
            }
            *words.entry(word).or_insert(0) |= flags;
        }
    }
    words
}

/// Every slot of a customer and the member it holds there: one per name word, tag, place and
/// status, and the day of its last login (`last_login`, unix seconds) when it has one.
pub fn memberships(doc: &SearchDoc, last_login: Option<i64>) -> BTreeMap<Slot, String> {
    let member = Member::of(doc);
    let name = member_name(&doc.id).to_string();
    let slot = |list: ListId| Slot { bucket: bucket_of(list.kind, &doc.id, member.country), list, name: name.clone() };
    let mut slots = BTreeMap::new();
    for (word, flags) in name_word_flags(doc) {
        slots.insert(slot(ListId::new(ListKind::Word, word)), Member { flags, ..member }.encode());
    }
    let plain = member.encode();
    for tag in &doc.tags {
        slots.insert(slot(ListId::new(ListKind::Tag, tag.clone())), plain.clone());
    }
    for (kind, value) in [(ListKind::City, &doc.city), (ListKind::State, &doc.state), (ListKind::Country, &doc.country)]
    {
        if let Some(value) = value {
            slots.insert(slot(ListId::new(kind, value.clone())), plain.clone());
        }
    }
    slots.insert(slot(ListId::new(ListKind::Status, doc.status.as_str())), plain.clone());
    if let Some(at) = last_login {
        let list = ListId::last_login_day(at.div_euclid(86_400));
        slots.insert(slot(list), Member { login: Some(at), ..member }.encode());
    }
    slots
}

/// One change to a block: the customer's attribute set to a member, or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWrite {
    pub slot: Slot,
    pub member: Option<String>,
}

/// The block writes that take a customer's memberships from `before` to `after`.
pub fn slot_writes(before: &BTreeMap<Slot, String>, after: &BTreeMap<Slot, String>) -> Vec<SlotWrite> {
    let mut writes: Vec<SlotWrite> = after
        .iter()
        .filter(|(slot, member)| before.get(*slot) != Some(*member))
        .map(|(slot, member)| SlotWrite { slot: slot.clone(), member: Some(member.clone()) })
        .collect();
    writes.extend(
        before
            .keys()
            .filter(|slot| !after.contains_key(*slot))
            .map(|slot| SlotWrite { slot: slot.clone(), member: None }),
    );
    writes
}

/// Unique-word partitions hold at most this many leading characters of the word.
pub const UNIQUE_PARTITION_MAX: usize = 12;

/// The partition (a prefix of `word`) under which a unique word (email, username, id) of a
/// customer whose name words are `names` is kept: one character past the longest prefix a name
/// word shares. A query word no longer than that prefix finds the customer by its names, so it
/// never needs the entry; a longer one reads every partition that is a prefix of it
/// ([`unique_partitions_for`]). `None` when the names answer every prefix of the word.
pub fn unique_word_partition(word: &str, names: &[String]) -> Option<String> {
    let shared = names.iter().map(|n| common_prefix_len(word, n)).max().unwrap_or(0);
    if shared >= word.len() {
        return None;
    }
    Some(word[..(shared + 1).min(UNIQUE_PARTITION_MAX).min(word.len())].to_string())
}

fn common_prefix_len(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// The partitions a query word reads unique words from: each of its prefixes, up to the
/// partitions' length.
pub fn unique_partitions_for(word: &str) -> Vec<String> {
    (1..=word.len().min(UNIQUE_PARTITION_MAX))
        .filter(|&n| word.is_char_boundary(n))
        .map(|n| word[..n].to_string())
        .collect()
}

/// The unique words of a document (email, username, folded id) that need an entry, with their
/// partitions.
pub fn unique_words(doc: &SearchDoc) -> Vec<(String, String)> {
    let names: Vec<String> = name_word_flags(doc).into_keys().collect();
    let mut out: Vec<(String, String)> = Vec::new();
    for word in doc.words().into_iter().filter(|w| !names.contains(w)) {
        if let Some(partition) = unique_word_partition(&word, &names)
            && !out.iter().any(|(w, _)| *w == word)
        {
            out.push((word, partition));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> SearchDoc {
        SearchDoc {
            id: "CUST_1A2B3C4D".into(),
            first: "mary ann".into(),
            last: "o'brien".into(),
            username: "maryobrien7".into(),
            email: Some("m.obrien@example.com".into()),
            phone: None,
            status: CustomerStatus::Suspended,
            verified: true,
            country: Some("zambia".into()),
            state: None,
            city: Some("kitwe".into()),
            company: None,
            tags: vec!["vip".into()],
            created: 1_767_225_600_123,
            custom: BTreeMap::new(),
        }
    }

    #[test]
    fn a_login_sits_in_the_bucket_run_of_its_country_and_other_lists_by_id_alone() {
        let zambian = memberships(&doc(), Some(1_767_300_000));
        let login = zambian.keys().find(|slot| slot.list.kind == ListKind::LastLogin).expect("a login slot");
        assert!(login_buckets_of_country("zambia").contains(&login.bucket));
        assert_eq!(login_buckets_of_country("zambia").count() as u32, 64 / LOGIN_COUNTRY_GROUPS);
        // The same customer in Kenya: another run (the two hashes differ in their low bits),
        // while its word, tag and status buckets stay where they were.
        let kenyan_doc = SearchDoc { country: Some("kenya".into()), ..doc() };
        assert_ne!(login_buckets_of_country("kenya"), login_buckets_of_country("zambia"));
        let kenyan = memberships(&kenyan_doc, Some(1_767_300_000));
        let moved = kenyan.keys().find(|slot| slot.list.kind == ListKind::LastLogin).expect("a login slot");
        assert!(login_buckets_of_country("kenya").contains(&moved.bucket));
        let by_id = |slots: &BTreeMap<Slot, String>| {
            slots.keys().filter(|s| s.list.kind == ListKind::Tag).map(|s| s.bucket).collect::<Vec<_>>()
        };
        assert_eq!(by_id(&zambian), by_id(&kenyan));
    }

    #[test]
    fn members_round_trip_through_their_short_text() {
        let member = Member { flags: LAST_NAME_START, ..Member::of(&doc()) };
        let text = member.encode();
        assert_eq!(text.len(), 17);
        assert_eq!(Member::decode(&text), Some(member));
        let login = Member { login: Some(1_767_300_000), ..Member::of(&doc()) };
        assert_eq!(Member::decode(&login.encode()), Some(login));
        let nowhere = Member { country: None, city: None, ..Member::of(&doc()) };
        assert_eq!(Member::decode(&nowhere.encode()), Some(nowhere));
        assert_eq!(Member::decode("garbage"), None);
    }

    #[test]
    fn packed_blocks_round_trip_in_key_order_and_refuse_garbage() {
        let plain = Member::of(&doc());
        let word = Member { flags: LAST_NAME_START | LAST_NAME_LITERAL, ..plain };
        let nowhere = Member { country: None, city: None, verified: false, ..plain };
        let login = Member { login: Some(1_767_300_000), status: CustomerStatus::Archived, ..plain };
        let members = [(MemberKey(0xFFFF_FFFF), word), (MemberKey(7), nowhere), (MemberKey(0x1A2B_3C4D), login)];
        let bytes = packed::pack(members);
        assert_eq!(bytes.len(), 1 + (4 + 1 + 6 + 6 + 1) + (4 + 1 + 6) + (4 + 1 + 6 + 6 + 5));
        let unpacked = packed::unpack(&bytes).expect("a block");
        assert_eq!(
            unpacked,
            [(MemberKey(7), nowhere), (MemberKey(0x1A2B_3C4D), login), (MemberKey(0xFFFF_FFFF), word)]
        );
        assert_eq!(packed::unpack(&bytes[..bytes.len() - 1]), None, "a cut block is not a block");
        assert_eq!(packed::unpack(&[9, 1, 2]), None, "an unknown format is not a block");
        assert_eq!(packed::unpack(&packed::pack([])), Some(Vec::new()));
    }

    #[test]
    fn changes_fold_over_a_snapshot() {
        let plain = Member::of(&doc());
        let moved = Member { city: None, ..plain };
        let snapshot = vec![(MemberKey(1), plain), (MemberKey(3), plain), (MemberKey(5), plain)];
        let changes = [
            (MemberKey(5), None),
            (MemberKey(0), Some(plain)),
            (MemberKey(3), Some(moved)),
            (MemberKey(9), Some(plain)),
            (MemberKey(4), None),
        ];
        let folded = packed::fold(snapshot, changes);
        assert_eq!(
            folded,
            [(MemberKey(0), plain), (MemberKey(1), plain), (MemberKey(3), moved), (MemberKey(9), plain)]
        );
    }

    #[test]
    fn member_keys_are_the_ids_hex_digits() {
        let key = MemberKey::parse("CUST_1A2B3C4D").expect("an id");
        assert_eq!(key, MemberKey(0x1A2B_3C4D));
        assert_eq!(MemberKey::parse("1A2B3C4D"), Some(key));
        assert_eq!(key.customer_id(), "CUST_1A2B3C4D");
        assert_eq!(key.name(), "1A2B3C4D");
        assert_eq!(MemberKey(10).customer_id(), "CUST_0000000A");
        for bad in ["CUST_1a2b3c4d", "CUST_1A2B3C4", "1A2B3C4G", "+1A2B3C4", ""] {
            assert_eq!(MemberKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn name_words_carry_where_they_start_a_name() {
        let flags = name_word_flags(&doc());
        assert_eq!(flags["mary"], FIRST_NAME_START | FIRST_NAME_LITERAL);
        assert_eq!(flags["ann"], 0);
        assert_eq!(flags["obrien"], LAST_NAME_START, "o'brien does not start with obrien as written");
    }

    #[test]
    fn a_customer_has_one_slot_per_list_and_moves_between_days() {
        let before = memberships(&doc(), Some(86_400 * 20_000 + 5));
        let kinds: Vec<ListKind> = before.keys().map(|s| s.list.kind).collect();
        assert_eq!(kinds.iter().filter(|k| **k == ListKind::Word).count(), 3);
        assert!(kinds.contains(&ListKind::LastLogin) && kinds.contains(&ListKind::Country));
        let after = memberships(&doc(), Some(86_400 * 20_001));
        let writes = slot_writes(&before, &after);
        assert_eq!(writes.len(), 2, "{writes:?}");
        assert!(writes.iter().any(|w| w.member.is_none() && w.slot.list == ListId::last_login_day(20_000)));
        assert!(writes.iter().any(|w| w.member.is_some() && w.slot.list == ListId::last_login_day(20_001)));
        assert!(slot_writes(&after, &after).is_empty());
    }

    #[test]
    fn unique_words_sit_where_the_names_stop_answering() {
        let names = vec!["mary".to_string(), "obrien".to_string()];
        assert_eq!(unique_word_partition("maryobrien7", &names).as_deref(), Some("maryo"));
        assert_eq!(unique_word_partition("m.obrien@example.com", &names).as_deref(), Some("m."));
        assert_eq!(unique_word_partition("mary", &names), None);
        assert_eq!(unique_word_partition("cust_1a2b3c4d", &names).as_deref(), Some("c"));
        let long = unique_word_partition("zzzzzzzzzzzzzzzzzz", &[]).expect("partition");
        assert_eq!(long, "z");
        let deep = unique_word_partition("maryyyyyyyyyyyyyyyy", &["maryyyyyyyyyyyyyyx".to_string()]).expect("p");
        assert_eq!(deep.len(), UNIQUE_PARTITION_MAX);
        // A query word finds the entry exactly when its names do not: it reads its own prefixes.
        assert!(unique_partitions_for("maryob").contains(&"maryo".to_string()));
        assert!(!unique_partitions_for("mary").contains(&"maryo".to_string()));
        let words: Vec<String> = unique_words(&doc()).into_iter().map(|(w, _)| w).collect();
        assert_eq!(words, ["m.obrien@example.com", "maryobrien7", "cust_1a2b3c4d"]);
    }
}
