//! Rebuilding and checking the search index and the statistics counters from the customer
//! items: what a deployment that already holds customers runs on the day it adds search, and
//! after any change of the index format. Not a request path: it scans the table.
//!
//! `reindex` runs in three phases, each resumable (a checkpoint item records the phase and the
//! scan position after every page, and a repeat carries on from there; `--restart` starts over):
//! 1. every customer's entries are written settled at the customer's version (idempotent puts,
//!    so a document that changed format, and an entry left pending by an interrupted write, is
//!    rewritten too);
//! 2. every entry is checked against its customer, and stale ones are deleted;
//! 3. every posting list is rewritten whole from the customers (each block one put; blocks no
//!    customer is in deleted) and every name word put in the directory: run it while no
//!    customer is written (a write between the scan and the put is lost from its lists until
//!    the next `reindex`; `verify` shows it);
//! 4. the counters are recounted and corrected by the difference (run it while no customer is
//!    written, or run `verify` afterwards: a write between the count and the correction shows up
//!    as drift, which another `reindex` removes).
//!
//! `verify` recounts everything and writes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use shared::domain::Customer;
use shared::domain::search::SearchDoc;
use shared::domain::stats::{CounterChange, Facet, FacetValue};
use shared::store::postings::BlockSet;
use shared::store::rebuild::{RebuildCheckpoint, ScanPage, ScanPosition, StoredEntry};
use shared::store::search::{EntryKey, entry_keys};
use shared::store::stats::date_text;
use shared::store::{Store, StoreError};

/// What a check found: zero everywhere means the index and counters agree with the customers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    pub customers: usize,
    pub entries: usize,
    /// Entries a customer should have and does not.
    pub missing_entries: usize,
    /// Entries whose document is not the customer's current one, or that are still pending
    /// (staged by a write that was interrupted; readers check them against the customer).
    pub outdated_entries: usize,
    /// Entries of no customer, or of a key the customer no longer has.
    pub stale_entries: usize,
    /// Posting-list members (a customer in one block of one list).
    pub members: usize,
    /// Members a customer should have and does not.
    pub missing_members: usize,
    /// Members that do not say what the customer's member says.
    pub outdated_members: usize,
    /// Members of no customer, or in a list the customer is no longer in.
    pub stale_members: usize,
    /// Name words of a list that the directory does not have.
    pub missing_words: usize,
    /// Counters that differ: (counter, expected, actual).
    pub counters: Vec<(String, i64, i64)>,
}

impl Drift {
    pub fn is_zero(&self) -> bool {
        self.missing_entries == 0
            && self.outdated_entries == 0
            && self.stale_entries == 0
            && self.missing_members == 0
            && self.outdated_members == 0
            && self.stale_members == 0
            && self.missing_words == 0
            && self.counters.is_empty()
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "customers: {}", self.customers)?;
        writeln!(f, "index entries: {}", self.entries)?;
        writeln!(f, "missing entries: {}", self.missing_entries)?;
        writeln!(f, "outdated entries: {}", self.outdated_entries)?;
        writeln!(f, "stale entries: {}", self.stale_entries)?;
        writeln!(f, "list members: {}", self.members)?;
        writeln!(f, "missing members: {}", self.missing_members)?;
        writeln!(f, "outdated members: {}", self.outdated_members)?;
        writeln!(f, "stale members: {}", self.stale_members)?;
        writeln!(f, "words missing from the directory: {}", self.missing_words)?;
        writeln!(f, "counters off: {}", self.counters.len())?;
        for (name, expected, actual) in self.counters.iter().take(50) {
            writeln!(f, "  {name}: expected {expected}, found {actual}")?;
        }
        Ok(())
    }
}

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub customers: usize,
    pub entries_written: usize,
    pub stale_deleted: usize,
    pub blocks_written: usize,
    pub counters_corrected: usize,
    pub resumed: bool,
}

/// Every page of a Scan (`scan`: one page from a position), from the start, to `visit`.
async fn each_page<T, Page>(
    scan: impl Fn(Option<ScanPosition>) -> Page,
    mut visit: impl FnMut(Vec<T>) -> Result<(), StoreError>,
) -> Result<(), StoreError>
where
    Page: Future<Output = Result<ScanPage<T>, StoreError>>,
{
    let mut start = None;
    loop {
        let page = scan(start).await?;
        visit(page.items)?;
        start = page.next;
        if start.is_none() {
            return Ok(());
        }
    }
}

/// Every customer, from the start, to `visit`.
async fn each_customer(store: &Store, mut visit: impl FnMut(&Customer)) -> Result<(), StoreError> {
    each_page(
        |start| store.scan_customers(start),
        |customers| {
            customers.iter().for_each(&mut visit);
            Ok(())
        },
    )
    .await
}

/// Every posting list as the customers say it should be.
#[derive(Default)]
struct Lists(BlockSet);

impl Lists {
    fn add(&mut self, customer: &Customer) {
        self.0.add(customer);
    }

    /// Counts what the stored blocks and directory miss or hold besides.
    async fn drift(&self, store: &Store, drift: &mut Drift) -> Result<(), StoreError> {
        let mut seen = 0;
        each_page(
            |start| store.scan_blocks(start),
            |blocks| {
                for block in blocks {
                    let expected = self.0.blocks.get(&(block.key.pk, block.key.sk));
                    for (key, member) in block.members {
                        drift.members += 1;
                        match expected.and_then(|block| block.get(&key)) {
                            None => drift.stale_members += 1,
                            Some(expected) => {
                                seen += 1;
                                if member != *expected {
                                    drift.outdated_members += 1;
                                }
                            }
                        }
                    }
                }
                Ok(())
            },
        )
        .await?;
        drift.missing_members = self.0.members() - seen;
        let mut words = HashSet::new();
        each_page(
            |start| store.scan_words(start),
            |page| {
                words.extend(page);
                Ok(())
            },
        )
        .await?;
        drift.missing_words = self.0.words.iter().filter(|w| !words.contains(*w)).count();
        Ok(())
    }
}

/// The counters as the customers say they should be.
#[derive(Default)]
struct Recount {
    global: BTreeMap<String, i64>,
    facets: BTreeMap<(Facet, String), (String, i64)>,
    signups: BTreeMap<String, i64>,
}

impl Recount {
    fn add(&mut self, customer: &Customer) {
        let change = CounterChange::between(None, Some(customer));
        for (name, delta) in change.global {
            *self.global.entry(name).or_insert(0) += delta;
        }
        for (facet, value, delta) in change.facets {
            self.facets.entry((facet, value.key)).or_insert((value.display, 0)).1 += delta;
        }
        *self.signups.entry(date_text(customer.created_at.date())).or_insert(0) += 1;
    }
}

/// The counters as stored, in the same shape.
async fn stored_counters(store: &Store, recount: &Recount) -> Result<Recount, StoreError> {
    let mut stored = Recount { global: store.global_counters().await?, ..Recount::default() };
    stored.global.retain(|_, v| *v != 0);
    for facet in [Facet::Country, Facet::State, Facet::City] {
        for count in store.facet_counts(facet, None).await? {
            stored.facets.insert((facet, count.key), (count.display, count.count));
        }
    }
    if let (Some(first), Some(last)) = (recount.signups.keys().next(), recount.signups.keys().next_back()) {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let first = time::Date::parse(first, &format).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let last = time::Date::parse(last, &format).map_err(|e| StoreError::Malformed(e.to_string()))?;
        for (day, counts) in store.daily_counts(first, last).await? {
            if counts.signups != 0 {
                stored.signups.insert(day, counts.signups);
            }
        }
    }
    Ok(stored)
}

/// Counter differences: (name, expected, actual).
fn counter_drift(expected: &Recount, actual: &Recount) -> Vec<(String, i64, i64)> {
    let mut drift = Vec::new();
    let global: HashSet<&String> = expected.global.keys().chain(actual.global.keys()).collect();
    for name in global {
        let (e, a) = (expected.global.get(name).copied().unwrap_or(0), actual.global.get(name).copied().unwrap_or(0));
        if e != a {
            drift.push((name.clone(), e, a));
        }
    }
    let facets: HashSet<&(Facet, String)> = expected.facets.keys().chain(actual.facets.keys()).collect();
    for key in facets {
        let e = expected.facets.get(key).map_or(0, |v| v.1);
        let a = actual.facets.get(key).map_or(0, |v| v.1);
        if e != a {
            drift.push((
                format!("{}:{}", key.0.name(), key.1.replace(shared::domain::stats::FACET_SEPARATOR, "/")),
                e,
                a,
            ));
        }
    }
    let days: HashSet<&String> = expected.signups.keys().chain(actual.signups.keys()).collect();
    for day in days {
        let (e, a) = (expected.signups.get(day).copied().unwrap_or(0), actual.signups.get(day).copied().unwrap_or(0));
        if e != a {
            drift.push((format!("signups:{day}"), e, a));
        }
    }
    drift.sort();
    drift
}

/// Recounts everything and compares; writes nothing.
pub async fn verify(store: &Store) -> Result<Drift, StoreError> {
    let mut drift = Drift::default();
    let mut expected: HashMap<EntryKey, (SearchDoc, u64)> = HashMap::new();
    let mut recount = Recount::default();
    let mut lists = Lists::default();
    each_customer(store, |customer| {
        drift.customers += 1;
        recount.add(customer);
        lists.add(customer);
        let doc = SearchDoc::of(customer);
        for key in entry_keys(&doc) {
            expected.insert(key, (doc.clone(), customer.version));
        }
    })
    .await?;
    let mut seen = HashSet::new();
    each_page(
        |start| store.scan_entries(start),
        |entries| {
            for entry in entries {
                drift.entries += 1;
                match expected.get(&entry.key) {
                    None => drift.stale_entries += 1,
                    Some((doc, version)) => {
                        if !entry.is_current(doc, *version)? {
                            drift.outdated_entries += 1;
                        }
                        seen.insert(entry.key);
                    }
                }
            }
            Ok(())
        },
    )
    .await?;
    drift.missing_entries = expected.len() - seen.len();
    lists.drift(store, &mut drift).await?;
    drift.counters = counter_drift(&recount, &stored_counters(store, &recount).await?);
    Ok(drift)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Entries,
    Stale,
    Lists,
    Counters,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Entries => "entries",
            Phase::Stale => "stale",
            Phase::Lists => "lists",
            Phase::Counters => "counters",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Phase::Entries, Phase::Stale, Phase::Lists, Phase::Counters].into_iter().find(|p| p.name() == text)
    }
}

async fn load_checkpoint(store: &Store) -> Result<Option<(Phase, Option<ScanPosition>)>, StoreError> {
    let Some(checkpoint) = store.rebuild_checkpoint().await? else { return Ok(None) };
    let phase = Phase::parse(&checkpoint.phase).ok_or_else(|| StoreError::Malformed("checkpoint phase".into()))?;
    Ok(Some((phase, checkpoint.position)))
}

async fn save_checkpoint(store: &Store, phase: Phase, position: Option<ScanPosition>) -> Result<(), StoreError> {
    store.save_rebuild_checkpoint(&RebuildCheckpoint { phase: phase.name().into(), position }).await
}

/// Rebuilds the index and the counters (see the module's doc); `restart` ignores a checkpoint.
pub async fn reindex(store: &Store, restart: bool) -> Result<Rebuilt, StoreError> {
    let mut report = Rebuilt::default();
    let (mut phase, mut start) = match load_checkpoint(store).await? {
        Some(checkpoint) if !restart => {
            report.resumed = true;
            checkpoint
        }
        _ => (Phase::Entries, None),
    };
    if phase == Phase::Entries {
        loop {
            let page = store.scan_customers(start).await?;
            report.customers += page.items.len();
            report.entries_written += store.rewrite_entries(&page.items).await?;
            start = page.next;
            save_checkpoint(store, if start.is_some() { Phase::Entries } else { Phase::Stale }, start.clone()).await?;
            if start.is_none() {
                break;
            }
        }
        phase = Phase::Stale;
    }
    if phase == Phase::Stale {
        loop {
            let page = store.scan_entries(start).await?;
            let stale = stale_among(store, &page.items).await?;
            report.stale_deleted += stale.len();
            store.apply_index_overflow(Vec::new(), stale).await?;
            start = page.next;
            save_checkpoint(store, if start.is_some() { Phase::Stale } else { Phase::Lists }, start.clone()).await?;
            if start.is_none() {
                break;
            }
        }
        phase = Phase::Lists;
    }
    if phase == Phase::Lists {
        report.blocks_written = rebuild_lists(store).await?;
        save_checkpoint(store, Phase::Counters, None).await?;
    }
    report.counters_corrected = correct_counters(store).await?;
    store.clear_rebuild_checkpoint().await?;
    Ok(report)
}

/// Rewrites every posting list from the customers (the phase is repeated whole when resumed);
/// returns how many blocks were written.
async fn rebuild_lists(store: &Store) -> Result<usize, StoreError> {
    let mut lists = Lists::default();
    each_customer(store, |customer| lists.add(customer)).await?;
    let mut unexpected = Vec::new();
    each_page(
        |start| store.scan_blocks(start),
        |blocks| {
            unexpected.extend(
                blocks
                    .into_iter()
                    .map(|block| block.key)
                    .filter(|key| !lists.0.blocks.contains_key(&(key.pk.clone(), key.sk.clone()))),
            );
            Ok(())
        },
    )
    .await?;
    store.put_blocks(&lists.0).await?;
    store.apply_index_overflow(Vec::new(), unexpected).await?;
    Ok(lists.0.blocks.len())
}

/// The entries of a page that belong to no customer, or to a key the customer no longer has.
async fn stale_among(store: &Store, entries: &[StoredEntry]) -> Result<Vec<EntryKey>, StoreError> {
    let ids: Vec<shared::domain::CustomerId> =
        entries.iter().filter_map(|entry| shared::domain::CustomerId::parse(&entry.customer_id)).collect();
    let customers = store.batch_get_customers(&ids, true).await?;
    let current: HashMap<String, std::collections::BTreeSet<EntryKey>> =
        customers.iter().map(|c| (c.customer_id.as_str().to_string(), entry_keys(&SearchDoc::of(c)))).collect();
    Ok(entries
        .iter()
        .filter(|entry| !current.get(&entry.customer_id).is_some_and(|keys| keys.contains(&entry.key)))
        .map(|entry| entry.key.clone())
        .collect())
}

/// Recounts from the customers and adds the difference to the stored counters.
async fn correct_counters(store: &Store) -> Result<usize, StoreError> {
    let mut recount = Recount::default();
    each_customer(store, |customer| recount.add(customer)).await?;
    let stored = stored_counters(store, &recount).await?;
    let mut correction = CounterChange::default();
    let names: HashSet<&String> = recount.global.keys().chain(stored.global.keys()).collect();
    for name in names {
        let delta = recount.global.get(name).copied().unwrap_or(0) - stored.global.get(name).copied().unwrap_or(0);
        if delta != 0 {
            correction.global.insert(name.clone(), delta);
        }
    }
    let facets: HashSet<&(Facet, String)> = recount.facets.keys().chain(stored.facets.keys()).collect();
    for key in facets {
        let expected = recount.facets.get(key);
        let actual = stored.facets.get(key);
        let delta = expected.map_or(0, |v| v.1) - actual.map_or(0, |v| v.1);
        if delta != 0 {
            let display = expected.or(actual).map(|v| v.0.clone()).unwrap_or_default();
            correction.facets.push((key.0, FacetValue { key: key.1.clone(), display }, delta));
        }
    }
    let mut corrected = correction.global.len() + correction.facets.len();
    store.adjust_counters(&correction).await?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let days: HashSet<&String> = recount.signups.keys().chain(stored.signups.keys()).collect();
    for day in days {
        let delta = recount.signups.get(day).copied().unwrap_or(0) - stored.signups.get(day).copied().unwrap_or(0);
        if delta != 0 {
            let date = time::Date::parse(day, &format).map_err(|e| StoreError::Malformed(e.to_string()))?;
            store.adjust_day_counter(date, "signups", delta).await?;
            corrected += 1;
        }
    }
    Ok(corrected)
}
