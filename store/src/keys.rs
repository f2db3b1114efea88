//! The table's key layout, written down once, here: every key is built by a function of this
//! module, and `docs/architecture.md` links here for the keys while it describes each item's
//! attributes, writers and access patterns.
//!
//! | item            | PK                         | SK                 | GSI keys                                   |
//! |-----------------|----------------------------|--------------------|--------------------------------------------|
//! | customer        | `CUSTOMER#<customer_id>`   | `PROFILE`          | GSI1 phone, GSI2 email, GSI3 username, GSI4 status+created |
//! | session         | `CUSTOMER#<customer_id>`   | `SESSION#<sid>`    | —                                          |
//! | phone sentinel  | `UNIQUE#PHONE#<e164>`      | `UNIQUE`           | —                                          |
//! | email sentinel  | `UNIQUE#EMAIL#<email>`     | `UNIQUE`           | —                                          |
//! | username sentinel | `UNIQUE#USERNAME#<name>` | `UNIQUE`           | —                                          |
//! | one-time code   | `OTP#<e164>` · `OTP#EMAIL#<email>` · `OTP#STAFF_RESET#<email>` | `OTP` | —        |
//! | staff two factors | `STAFF#<staff_id>`       | `MFA`              | — (sealed TOTP seed, last step, recovery hashes) |
//! | mfa challenge   | `MFATOKEN#<sha256(token)>` | `MFATOKEN`         | — (`ttl`: its expiry)                      |
//! | staff security event | `STAFF#<staff_id>`    | `SECEVENT#<ms, 14 digits>#<random>` | — (the member's trail; `ttl` 400 days) |
//! | rate window     | `RATE#<scope>#<subject>`   | `<window start>`   | —                                          |
//! | staff member    | `STAFF#<staff_id>`         | `PROFILE`          | GSI4 `STAFF` + created (admin list)        |
//! | staff session   | `STAFF#<staff_id>`         | `SESSION#<sid>`    | —                                          |
//! | staff email sentinel | `UNIQUE#STAFF_EMAIL#<email>` | `UNIQUE`   | —                                          |
//! | login guard     | `LOGINGUARD#<sha256(email)>` | `GUARD`          | —                                          |
//! | audit entry     | `CUSTOMER#<customer_id>`   | `AUDIT#<version>`  | —                                          |
//! | field definition | `FIELDS`                  | `FIELD#<key>`      | —                                          |
//! | group           | `GROUP#<group_id>`         | `GROUP`            | GSI4 `GROUPS` + lower-cased name           |
//! | group name sentinel | `UNIQUE#GROUP_NAME#<lower name>` | `UNIQUE` | —                                       |
//! | group membership | `CUSTOMER#<customer_id>`  | `MEMBER#<group_id>` | GSI1 `GROUP#<group_id>` + customer id     |
//! | idempotency record | `IDEMPOTENCY#<sha256(actor, route, key)>` | `IDEMPOTENCY` | —                       |
//! | idempotency link | `CUSTOMER#<customer_id>`  | `IDEMPOTENCY#<sha256>` | — (`ttl` as its record: lets the erase find it) |
//! | customer cart   | `CUSTOMER#<customer_id>`   | `CART`             | —                                          |
//! | guest cart      | `GUEST#<sha256(token)>`    | `CART`             | — (`ttl`: last change + 30 days)           |
//! | cart migration  | `GUEST#<sha256(token)>`    | `MIGRATED`         | — (`ttl`: migration + 30 days)             |
//! | search: unique word | `SU#<prefix>` (see `postings::unique_word_partition`) | `<email, username or id>␁<customer_id>` | — (`SearchDoc`) |
//! | search: phone   | `SP#<first 3 digits>`      | `<digit suffix>␁<customer_id>` | — (`SearchDoc`)                |
//! | search: created | `SC#<status>#<shard 0-3>`  | `<created ms, 14 digits>␁<customer_id>` | — (`SearchDoc`)       |
//! | search: name order | `SN#first#<c>` · `SN#last#<c>` | `<name>␁<other name>␁<customer_id>` | — (`SearchDoc`) |
//! | search: name order in a city | `SNC#first#<city>` · `SNC#last#<city>` (folded) | `<name>␁<other name>␁<customer_id>` | — (`SearchDoc`) |
//! | posting-list block | `IX#<kind>#<value>` (kinds `w` `t` `ci` `st` `co` `s` `ll`) | `<bucket, 4 digits>` | — (one attribute per customer: its member) |
//! | word directory  | `IXD#<first char>`         | `<name word>`      | —                                          |
//! | media item      | `MEDIA#<media_id>`         | `MEDIA`            | — (`ttl` while pending: the upload URL's expiry + 1 day) |
//! | media entry     | `CUSTOMER#<customer_id>`   | `MEDIA#<created ms, 14 digits>#<media_id>` | — (`purpose`; `ttl` as its item) |
//! | erase record    | `ERASURE#<customer_id>`    | `ERASURE`          | GSI4 `ERASURES#SWEEPING` + started at, only while unfinished (id, time, actor, `state`: no personal data) |
//! | login day       | `SLD#<unix day>`           | `<customer_id>`    | — (`ttl`: the day + 400 days)              |
//! | counters: totals | `STATS#GLOBAL`            | `<shard 00-31>`    | —                                          |
//! | counters: places | `STATS#country` · `STATS#state` · `STATS#city` | `<facet key>#<shard 0-7>` | —          |
//! | counters: days  | `STATS#DAYS`               | `<yyyy-mm>#<shard 0-7>` (attributes `s01`…`s31`, `l01`…`l31`) | — |
//! | provider link   | `CUSTOMER#<customer_id>`   | `IDENTITY#<provider>` | — (`provider`, `subject`, `email`, `linked_at`) |
//! | provider sentinel | `UNIQUE#IDENTITY#<provider>#<sub>` | `UNIQUE` | — (`customer_id`: who is linked)            |
//! | customer export | `EXPORT#<export_id>`       | `EXPORT`           | GSI4 `EXPORTS#<requester>` + created ms (newest first) |
//! | rebuild checkpoint | `REBUILD#SEARCH`        | `CHECKPOINT`       | — (`phase`, `position`: where `search-index reindex` stopped) |
//!
//! `␁` is U+0001: lower than any character of a folded word, so `ann␁…` sorts before `anna␁…`.
//! The customer item doubles as the customer-id sentinel: it is written with
//! `attribute_not_exists(PK)`, so two customers can never share an id. The customer cart lives
//! in the customer's partition, so `erase_customer`'s partition sweep removes it; a guest cart is
//! keyed by the hash of its token (never the token) and its migration record sits next to it.

use crate::domain::{CodeRecipient, CustomerId, EmailAddress, PhoneE164, SessionId, Username};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const ENTITY: &str = "entity";
pub const TTL: &str = "ttl";
/// The optimistic-concurrency counter of every versioned item.
pub const VERSION: &str = "version";

pub const PROFILE_SK: &str = "PROFILE";
pub const UNIQUE_SK: &str = "UNIQUE";
pub const OTP_SK: &str = "OTP";
pub const SESSION_PREFIX: &str = "SESSION#";
pub const GUARD_SK: &str = "GUARD";
pub const CART_SK: &str = "CART";
pub const MIGRATED_SK: &str = "MIGRATED";

/// The generic key attributes of the four GSIs (which entity fills which is in
/// docs/architecture.md, "GSIs").
pub const GSI1_PK: &str = "GSI1PK";
pub const GSI1_SK: &str = "GSI1SK";
pub const GSI2_PK: &str = "GSI2PK";
pub const GSI2_SK: &str = "GSI2SK";
pub const GSI3_PK: &str = "GSI3PK";
pub const GSI3_SK: &str = "GSI3SK";
pub const GSI4_PK: &str = "GSI4PK";
pub const GSI4_SK: &str = "GSI4SK";

pub const GSI_PHONE: &str = "GSI1";
pub const GSI_EMAIL: &str = "GSI2";
pub const GSI_USERNAME: &str = "GSI3";

pub mod entity {
    pub const CUSTOMER: &str = "customer";
    pub const SESSION: &str = "session";
    pub const UNIQUE: &str = "unique";
    pub const OTP: &str = "otp";
    pub const RATE_WINDOW: &str = "rate_window";
    pub const STAFF: &str = "staff";
    pub const LOGIN_GUARD: &str = "login_guard";
    pub const AUDIT: &str = "audit";
    pub const FIELD: &str = "field_definition";
    pub const GROUP: &str = "group";
    pub const MEMBERSHIP: &str = "group_membership";
    pub const IDEMPOTENCY: &str = "idempotency";
    pub const CART: &str = "cart";
    pub const CART_MIGRATION: &str = "cart_migration";
    pub const SEARCH_ENTRY: &str = "search_entry";
    /// A block of a posting list.
    pub const POSTINGS: &str = "postings";
    /// A name word in the directory of posting lists.
    pub const WORD: &str = "word";
    pub const LOGIN_DAY: &str = "login_day";
    pub const COUNTER: &str = "counter";
    pub const ERASURE: &str = "erasure";
    pub const MEDIA: &str = "media";
    pub const MEDIA_ENTRY: &str = "media_entry";
    pub const IDEMPOTENCY_LINK: &str = "idempotency_link";
    pub const EXPORT: &str = "export";
    pub const STAFF_MFA: &str = "staff_mfa";
    pub const MFA_CHALLENGE: &str = "mfa_challenge";
    pub const STAFF_SECURITY_EVENT: &str = "staff_security_event";
    pub const IDENTITY: &str = "identity";
    pub const REBUILD_CHECKPOINT: &str = "rebuild_checkpoint";
}

/// A customer's link to a provider: one per provider, in the customer's partition (so the
/// erase sweep removes it and one `Query` lists them).
pub const IDENTITY_PREFIX: &str = "IDENTITY#";

pub fn identity_sk(provider: &str) -> String {
    format!("{IDENTITY_PREFIX}{provider}")
}

/// The unique value of a provider's subject (`IDENTITY#google#1234`): the provider name has no
/// `#`, so the pair reads back unambiguously.
pub fn identity_key(provider: &str, subject: &str) -> String {
    format!("IDENTITY#{provider}#{subject}")
}

pub fn customer_pk(id: &CustomerId) -> String {
    format!("CUSTOMER#{id}")
}

pub const STAFF_LIST: &str = "STAFF";

pub fn staff_pk(id: &crate::domain::staff::StaffId) -> String {
    format!("STAFF#{id}")
}

/// The partition that owns a principal's sessions: a staff member's or a customer's item
/// partition, told apart by the id's prefix.
pub fn owner_pk(owner_id: &str) -> String {
    if owner_id.starts_with("STAFF_") { format!("STAFF#{owner_id}") } else { format!("CUSTOMER#{owner_id}") }
}

pub fn staff_email_key(email: &EmailAddress) -> String {
    format!("STAFF_EMAIL#{email}")
}

pub fn customer_id_from_pk(pk: &str) -> Option<CustomerId> {
    CustomerId::parse(pk.strip_prefix("CUSTOMER#")?)
}

pub fn session_sk(id: &SessionId) -> String {
    format!("{SESSION_PREFIX}{}", id.as_str())
}

pub const AUDIT_PREFIX: &str = "AUDIT#";

/// `AUDIT#0000000003`: zero-padded so the versions sort as strings.
pub fn audit_sk(version: u64) -> String {
    format!("{AUDIT_PREFIX}{version:010}")
}

/// Custom field definitions share one small partition: reading all of them is one `Query`.
pub const FIELDS_PK: &str = "FIELDS";
pub const FIELD_PREFIX: &str = "FIELD#";

pub fn field_sk(key: &str) -> String {
    format!("{FIELD_PREFIX}{key}")
}

pub const GROUP_SK: &str = "GROUP";
/// GSI4 partition of the group list, sorted by lower-cased name.
pub const GROUP_LIST: &str = "GROUPS";
pub const MEMBER_PREFIX: &str = "MEMBER#";

pub fn group_pk(id: &crate::domain::GroupId) -> String {
    format!("GROUP#{id}")
}

pub fn member_sk(id: &crate::domain::GroupId) -> String {
    format!("{MEMBER_PREFIX}{id}")
}

pub fn group_name_key(lower_name: &str) -> String {
    format!("GROUP_NAME#{lower_name}")
}

pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
/// In a customer's partition: a stored idempotent response that holds this customer.
pub const IDEMPOTENCY_LINK_PREFIX: &str = "IDEMPOTENCY#";

pub fn idempotency_pk(scope_hash: &str) -> String {
    format!("IDEMPOTENCY#{scope_hash}")
}

pub fn phone_key(phone: &PhoneE164) -> String {
    format!("PHONE#{phone}")
}

pub fn email_key(email: &EmailAddress) -> String {
    format!("EMAIL#{email}")
}

pub fn username_key(username: &Username) -> String {
    format!("USERNAME#{}", username.as_str())
}

/// Sentinel partition for a unique value (`PHONE#…`, `EMAIL#…`, `USERNAME#…`).
pub fn unique_pk(value_key: &str) -> String {
    format!("UNIQUE#{value_key}")
}

/// The GSI4 sort key of a customer: `2026-01-15T10:30:00.123Z#<id>`, milliseconds included so
/// that customers created within one second keep their order.
pub fn created_position(created_ms: i64, id: &CustomerId) -> String {
    let at = crate::time::Timestamp::from_unix(created_ms.div_euclid(1000)).to_rfc3339();
    format!("{}.{:03}Z#{id}", at.trim_end_matches('Z'), created_ms.rem_euclid(1000))
}

pub fn status_partition(status: &str) -> String {
    format!("STATUS#{status}")
}

/// `OTP#+260971234567` for a phone (as before email codes existed), `OTP#EMAIL#ann@example.com`
/// for an address, `OTP#STAFF_RESET#ann@example.com` for a staff password reset.
pub fn otp_pk(to: &CodeRecipient) -> String {
    match to {
        CodeRecipient::Phone(phone) => format!("OTP#{phone}"),
        CodeRecipient::Email(email) => format!("OTP#EMAIL#{email}"),
        CodeRecipient::StaffReset(email) => format!("OTP#STAFF_RESET#{email}"),
    }
}

pub fn login_guard_pk(subject: &str) -> String {
    format!("LOGINGUARD#{subject}")
}

/// `token_hash` is `GuestToken::key_hash`: the token itself is never stored.
pub fn guest_pk(token_hash: &str) -> String {
    format!("GUEST#{token_hash}")
}

pub fn rate_pk(scope: &str, subject: &str) -> String {
    format!("RATE#{scope}#{subject}")
}

/// Separates the parts of a search entry's sort key.
pub const SEARCH_SEPARATOR: char = '\u{1}';
/// Shards of the creation-time search partitions (every signup writes one of them).
pub const CREATED_SHARDS: u32 = 4;
/// Shards of the counters every customer write touches.
pub const GLOBAL_SHARDS: u32 = 32;
/// Shards of a month's daily counters (every signup and login touches today's).
pub const DAY_SHARDS: u32 = 8;
/// Shards of a place counter (one city can take most signups).
pub const FACET_SHARDS: u32 = 8;
/// How long a login-day entry is kept.
pub const LOGIN_DAY_TTL_DAYS: i64 = 400;
/// Days past its `ttl` a login-day entry may still be read (DynamoDB deletes expired items
/// within days, not at once): an erase looks this much further back.
pub const LOGIN_DAY_EXPIRY_LAG_DAYS: i64 = 30;

/// A unique word's entries (email, username, id) under a prefix (see
/// `domain::search::postings::unique_word_partition`).
pub fn search_unique_pk(partition: &str) -> String {
    format!("SU#{partition}")
}

/// The blocks of a posting list (`SK` is the bucket, [`search_block_sk`]).
pub fn search_list_pk(list: &crate::domain::search::postings::ListId) -> String {
    format!("IX#{}#{}", list.kind.code(), list.value)
}

pub fn search_block_sk(bucket: u32) -> String {
    format!("{bucket:04}")
}

/// The name words starting with `word`'s first character (`SK` is the word).
pub fn search_directory_pk(word: &str) -> String {
    format!("IXD#{}", word.chars().next().unwrap_or('_'))
}

pub fn search_phone_pk(digits: &str) -> String {
    format!("SP#{}", digits.get(..3).unwrap_or(digits))
}

pub fn search_created_pk(status: &str, shard: u32) -> String {
    format!("SC#{status}#{shard}")
}

/// `field` is `first` or `last`; names starting with anything but a letter or digit share `_`.
pub fn search_name_pk(field: &str, name: &str) -> String {
    name_partition(field, name.chars().next().filter(char::is_ascii_alphanumeric).unwrap_or('_'))
}

fn name_partition(field: &str, first: char) -> String {
    format!("SN#{field}#{first}")
}

/// Every name-order partition of `field`, in key order but for `_` (names starting with
/// anything else), which a walk must merge with the others.
pub fn search_name_partitions(field: &str) -> Vec<String> {
    ('0'..='9').chain('a'..='z').chain(['_']).map(|c| name_partition(field, c)).collect()
}

/// The name-order partition of one city (folded): a city's customers by first or last name.
pub fn search_city_name_pk(field: &str, city: &str) -> String {
    format!("SNC#{field}#{city}")
}

/// The checkpoint of `search-index reindex` (its phase and scan position): one item.
pub const REBUILD_CHECKPOINT_PK: &str = "REBUILD#SEARCH";
pub const REBUILD_CHECKPOINT_SK: &str = "CHECKPOINT";

pub fn login_day_pk(day: i64) -> String {
    format!("SLD#{day}")
}

/// The record of an erased customer: id, time and actor, no personal data.
pub fn erasure_pk(id: &CustomerId) -> String {
    format!("ERASURE#{id}")
}

pub const ERASURE_SK: &str = "ERASURE";

/// GSI4 partition of the erases not finished yet (a sparse list: the erase record carries the
/// GSI4 keys while `sweeping` and drops them when `done`), sorted by when the erase started, so
/// the sweep of interrupted erases is a `Query`, never a `Scan`.
pub const UNFINISHED_ERASURES_PK: &str = "ERASURES#SWEEPING";

pub const STATS_GLOBAL_PK: &str = "STATS#GLOBAL";

pub fn stats_facet_pk(facet: &str) -> String {
    format!("STATS#{facet}")
}

/// Daily counters: one item per month and shard, an attribute per day (`s07`, `l07`), so a
/// 366-day series is one `Query` of at most 13 × `DAY_SHARDS` items.
pub const STATS_DAYS_PK: &str = "STATS#DAYS";

pub const MEDIA_SK: &str = "MEDIA";
/// The customer's list of media, newest last in key order (read backwards).
pub const MEDIA_ENTRY_PREFIX: &str = "MEDIA#";

pub fn media_pk(id: &crate::domain::media::MediaId) -> String {
    format!("MEDIA#{id}")
}

pub fn media_entry_sk(created_ms: i64, id: &crate::domain::media::MediaId) -> String {
    format!("{MEDIA_ENTRY_PREFIX}{created_ms:014}#{id}")
}

pub fn media_id_from_entry_sk(sk: &str) -> Option<crate::domain::media::MediaId> {
    sk.strip_prefix(MEDIA_ENTRY_PREFIX)?.rsplit('#').next().and_then(crate::domain::media::MediaId::parse)
}

/// Customer exports (issue #12): the record, which is also the export's audit entry.
pub fn export_pk(id: &crate::domain::export::ExportId) -> String {
    format!("EXPORT#{id}")
}

pub const EXPORT_SK: &str = "EXPORT";

/// GSI4 partition of one requester's exports, sorted by creation time.
pub fn exports_list_pk(requested_by: &str) -> String {
    format!("EXPORTS#{requested_by}")
}

/// Staff two factors (issue #23): the member's TOTP item, a login's second-step challenge and
/// the member's security trail.
pub const STAFF_MFA_SK: &str = "MFA";
pub const MFA_CHALLENGE_SK: &str = "MFATOKEN";
pub const SECURITY_EVENT_PREFIX: &str = "SECEVENT#";

pub fn mfa_challenge_pk(token_hash: &str) -> String {
    format!("MFATOKEN#{token_hash}")
}

pub fn security_event_sk(at_ms: i64, unique: &str) -> String {
    format!("{SECURITY_EVENT_PREFIX}{at_ms:014}#{unique}")
}
