//! Customer search: the planner's steps over the index.
//!
//! 1. Pick the entry point (`domain::search::choose_entry`) and read its entries, at most
//!    the counting cap of them. Each carries its customer's `SearchDoc`.
//! 2. Filter them on the request (the group and the last login, which entries do not carry,
//!    with one extra read per 100 candidates when asked for).
//! 3. When the entry held at most the counting cap entries, the matches are all known: `total` is
//!    exact, they are sorted in memory and the page is cut after the cursor's position.
//!    Otherwise `total` counts the matches among the entries read (`total_exact: false`), and
//!    the page comes from walking an index kept in the requested order (creation time or
//!    name), filtering as it goes, so a page costs what it walks, never every customer.
//! 4. The page's customers are read by key (one `BatchGetItem`) and checked once more.

use std::collections::{HashMap, HashSet, VecDeque};

use store::keys;
use store::search::{SortKeyRange, created_range, created_sk};
use store::{Store, StoreError};
use thiserror::Error;

use crate::domain::customer::CustomerStatus;
use crate::domain::search::{
    Entry, MIN_PHONE_FRAGMENT, Position, SearchDoc, SearchRequest, SortField, SortOrder, choose_entry,
};
use crate::domain::{Customer, CustomerId};
use crate::time::Timestamp;

#[derive(Debug, Error)]
pub enum SearchError {
    #[error("sorting by last_login_at needs a search that matches at most {0} customers; add a filter")]
    TooBroadToSort(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of results.
#[derive(Debug)]
pub struct SearchPage {
    pub customers: Vec<Customer>,
    pub total: usize,
    pub total_exact: bool,
    /// Where the next page starts, when there is one.
    pub next: Option<Position>,
}

/// A customer that may match: its document and, once known, its last login.
#[derive(Debug, Clone)]
struct Candidate {
    doc: SearchDoc,
    /// `None` until read (entries do not carry it); then the customer's last login, if any.
    last_login: Option<Option<i64>>,
}

impl Candidate {
    fn of_doc(doc: SearchDoc) -> Self {
        Self { doc, last_login: None }
    }

    fn of_customer(customer: &Customer) -> Self {
        Self { doc: SearchDoc::of(customer), last_login: Some(customer.last_login_at.map(|t| t.unix())) }
    }

    fn position(&self, field: SortField) -> Position {
        Position::of(&self.doc, self.last_login.flatten(), field)
    }
}

fn id_of(doc: &SearchDoc) -> Option<CustomerId> {
    CustomerId::parse(&doc.id)
}

/// Searches with counting capped at `cap` matches (the contract's 10,000 in production).
pub async fn search(
    store: &Store,
    request: &SearchRequest,
    now: Timestamp,
    after: Option<&Position>,
    cap: usize,
) -> Result<SearchPage, SearchError> {
    if let Some(total) = counted_total(store, request).await?
        && total > cap
    {
        // Every customer, or every one of some statuses: the counters know how many, so only
        // the page is read.
        let (page, next) = Box::pin(walk(store, request, after, cap)).await?;
        return Ok(SearchPage {
            customers: page_customers(store, request, &page).await?,
            total,
            total_exact: true,
            next,
        });
    }
    let entry = choose_entry(request, now.unix());
    let (candidates, complete) = Box::pin(read_entry(store, &entry, cap)).await?;
    let matches = filter(store, request, candidates, cap, None).await?;
    if complete {
        let total = matches.len();
        let (page, next) = cut_page(request, matches, after);
        return Ok(SearchPage {
            customers: page_customers(store, request, &page).await?,
            total,
            total_exact: true,
            next,
        });
    }
    let total = matches.len();
    let (page, next) = Box::pin(walk(store, request, after, cap)).await?;
    Ok(SearchPage { customers: page_customers(store, request, &page).await?, total, total_exact: false, next })
}

/// Every match of a search, page after page (an export): the same steps as `search`, but the
/// entry point is read once, and only up to `sort_budget` entries (not the counting cap), so
/// memory stays flat. When it holds at most that many, the matches are sorted once and handed
/// out `request.limit` at a time; otherwise each page is walked on from where the last one
/// stopped, over the index kept in the requested order. Paging through `search` instead would
/// re-read up to the cap's worth of entries for every page.
pub struct AllMatches<'a> {
    store: &'a Store,
    request: &'a SearchRequest,
    cap: usize,
    sort_budget: usize,
    state: MatchState,
    /// Where this run started (a job resuming from its checkpoint): the matches after it.
    start_after: Option<Position>,
    /// The position of the last match handed out.
    last: Option<Position>,
}

enum MatchState {
    Start,
    Sorted(std::vec::IntoIter<Candidate>),
    Walking(Option<Position>),
    Done,
}

impl<'a> AllMatches<'a> {
    /// `cap` is the counting cap, `sort_budget` how many entries may be sorted in memory (a
    /// sort by last login, which no index keeps, may always use the cap).
    pub fn new(store: &'a Store, request: &'a SearchRequest, cap: usize, sort_budget: usize) -> Self {
        Self::after(store, request, cap, sort_budget, None)
    }

    /// The matches after `start_after` (a position `resume_point` gave), in the same order: the
    /// plan is made again and the matches up to that position are skipped. A match whose sort
    /// value changed in between may be skipped or met twice; the creation time (the default
    /// order) never changes.
    pub fn after(
        store: &'a Store,
        request: &'a SearchRequest,
        cap: usize,
        sort_budget: usize,
        start_after: Option<Position>,
    ) -> Self {
        let sort_budget = if request.sort_by == SortField::LastLoginAt { cap } else { sort_budget.clamp(1, cap) };
        Self { store, request, cap, sort_budget, state: MatchState::Start, last: start_after.clone(), start_after }
    }

    /// Where the matches still to hand out start: after this position (`None`: the first).
    pub fn resume_point(&self) -> Option<Position> {
        match &self.state {
            MatchState::Walking(Some(next)) => Some(next.clone()),
            _ => self.last.clone(),
        }
    }

    /// Whether every match was handed out.
    pub fn is_done(&self) -> bool {
        match &self.state {
            MatchState::Done => true,
            MatchState::Sorted(rest) => rest.len() == 0,
            MatchState::Start | MatchState::Walking(_) => false,
        }
    }

    /// The next page of customers (at most `request.limit`), or `None` after the last.
    pub async fn next_page(&mut self, now: Timestamp) -> Result<Option<Vec<Customer>>, SearchError> {
        loop {
            match &mut self.state {
                MatchState::Start => self.state = Box::pin(self.plan(now)).await?,
                MatchState::Sorted(matches) => {
                    let page: Vec<Candidate> = matches.by_ref().take(self.request.limit.max(1)).collect();
                    if page.is_empty() {
                        self.state = MatchState::Done;
                        return Ok(None);
                    }
                    self.last = page.last().map(|c| c.position(self.request.sort_by));
                    return Ok(Some(page_customers(self.store, self.request, &page).await?));
                }
                MatchState::Walking(after) => {
                    let (page, next) = Box::pin(walk(self.store, self.request, after.as_ref(), self.cap)).await?;
                    self.last = page.last().map(|c| c.position(self.request.sort_by)).or(self.last.take());
                    self.state = match next {
                        Some(position) => MatchState::Walking(Some(position)),
                        None => MatchState::Done,
                    };
                    // A walk that covered the cap's worth of entries without a match goes on.
                    if !page.is_empty() {
                        return Ok(Some(page_customers(self.store, self.request, &page).await?));
                    }
                }
                MatchState::Done => return Ok(None),
            }
        }
    }

    /// Reads the entry point once: every match sorted, or a walk when there are more than the
    /// sort budget.
    async fn plan(&self, now: Timestamp) -> Result<MatchState, SearchError> {
        if let Some(total) = counted_total(self.store, self.request).await?
            && total > self.sort_budget
        {
            return Ok(MatchState::Walking(self.start_after.clone()));
        }
        let entry = choose_entry(self.request, now.unix());
        let (candidates, complete) = Box::pin(read_entry(self.store, &entry, self.sort_budget)).await?;
        if !complete {
            return Ok(MatchState::Walking(self.start_after.clone()));
        }
        let matches = filter(self.store, self.request, candidates, self.cap, None).await?;
        let (field, order) = (self.request.sort_by, self.request.sort_order);
        let mut ranked: Vec<(Position, Candidate)> = matches.into_iter().map(|c| (c.position(field), c)).collect();
        ranked.sort_by(|a, b| a.0.compare(&b.0, order));
        let start = match &self.start_after {
            Some(after) => ranked.partition_point(|(position, _)| position.compare(after, order).is_le()),
            None => 0,
        };
        let sorted: Vec<Candidate> = ranked.into_iter().skip(start).map(|(_, candidate)| candidate).collect();
        Ok(MatchState::Sorted(sorted.into_iter()))
    }
}

/// The number of matches when the counters know it: a search of every customer, or of some
/// statuses, and nothing else.
async fn counted_total(store: &Store, request: &SearchRequest) -> Result<Option<usize>, StoreError> {
    let unfiltered = SearchRequest {
        statuses: request.statuses.clone(),
        sort_by: request.sort_by,
        sort_order: request.sort_order,
        limit: request.limit,
        cursor: request.cursor.clone(),
        ..SearchRequest::default()
    };
    if *request != unfiltered {
        return Ok(None);
    }
    let counters = store.global_counters().await?;
    let statuses = request.statuses.clone().unwrap_or_else(|| CustomerStatus::ALL.to_vec());
    let total: i64 =
        statuses.iter().map(|s| counters.get(&format!("status_{}", s.as_str())).copied().unwrap_or(0)).sum();
    Ok(Some(total.max(0) as usize))
}

/// Reads the entry point's candidates; `true` when they are all of them (at most the cap).
async fn read_entry(store: &Store, entry: &Entry, cap: usize) -> Result<(Vec<Candidate>, bool), StoreError> {
    let budget = cap + 1;
    // One customer may have several entries under one prefix (`mary` and `mary@…`).
    let docs = |(docs, complete): (Vec<SearchDoc>, bool)| {
        (unique_by_id(docs).into_iter().map(Candidate::of_doc).collect(), complete)
    };
    let prefix = |p: &str| SortKeyRange::Prefix(p.to_string());
    Ok(match entry {
        Entry::Word(word) => {
            let (word_pk, phone_pk, range) = (keys::search_word_pk(word), keys::search_phone_pk(word), prefix(word));
            let words = store.entries_in(&word_pk, &range, budget);
            if word.len() >= MIN_PHONE_FRAGMENT && word.bytes().all(|b| b.is_ascii_digit()) {
                let phones = store.entries_in(&phone_pk, &range, budget);
                let ((mut found, words_complete), (more, phones_complete)) = futures::try_join!(words, phones)?;
                found.extend(more);
                let found = unique_by_id(found);
                let complete = words_complete && phones_complete && found.len() <= cap;
                docs((found, complete))
            } else {
                docs(words.await?)
            }
        }
        Entry::Phone(digits) => docs(store.entries_in(&keys::search_phone_pk(digits), &prefix(digits), budget).await?),
        Entry::Tag(tag) => docs(store.entries_in(&keys::search_tag_pk(tag), &SortKeyRange::All, budget).await?),
        Entry::City(v) => docs(store.entries_in(&keys::search_place_pk("city", v), &SortKeyRange::All, budget).await?),
        Entry::State(v) => {
            docs(store.entries_in(&keys::search_place_pk("state", v), &SortKeyRange::All, budget).await?)
        }
        Entry::Country(v) => {
            docs(store.entries_in(&keys::search_place_pk("country", v), &SortKeyRange::All, budget).await?)
        }
        Entry::Group(group) => {
            let (ids, complete) = store.group_member_ids(group, cap).await?;
            customers_of(store, &ids, complete).await?
        }
        Entry::LastLogin { first_day, last_day } => {
            let days = (*first_day..=*last_day).map(|day| store.login_day_ids(day, budget));
            let mut ids = Vec::new();
            let mut complete = true;
            for (day_ids, day_complete) in futures::future::try_join_all(days).await? {
                ids.extend(day_ids);
                complete &= day_complete;
            }
            let mut seen = HashSet::new();
            ids.retain(|id| seen.insert(id.as_str().to_string()));
            complete &= ids.len() <= cap;
            ids.truncate(budget);
            customers_of(store, &ids, complete).await?
        }
        Entry::Created { statuses, after, before } => docs(read_created(store, statuses, *after, *before, cap).await?),
    })
}

fn unique_by_id(docs: Vec<SearchDoc>) -> Vec<SearchDoc> {
    let mut seen = HashSet::new();
    docs.into_iter().filter(|d| seen.insert(d.id.clone())).collect()
}

async fn customers_of(store: &Store, ids: &[CustomerId], complete: bool) -> Result<(Vec<Candidate>, bool), StoreError> {
    let customers = store.batch_get_customers(ids, true).await?;
    Ok((customers.iter().map(Candidate::of_customer).collect(), complete))
}

/// The customers of `statuses` created in the window, one status after another (the shards of
/// a status in parallel: they split it evenly), until the budget is spent.
async fn read_created(
    store: &Store,
    statuses: &[CustomerStatus],
    after: Option<i64>,
    before: Option<i64>,
    cap: usize,
) -> Result<(Vec<SearchDoc>, bool), StoreError> {
    if let (Some(a), Some(b)) = (after, before)
        && a >= b
    {
        return Ok((Vec::new(), true));
    }
    let range = created_range(after, before);
    let mut found = Vec::new();
    for status in statuses {
        let remaining = cap + 1 - found.len();
        let per_shard = remaining.div_ceil(keys::CREATED_SHARDS as usize);
        let pks: Vec<String> =
            (0..keys::CREATED_SHARDS).map(|shard| keys::search_created_pk(status.as_str(), shard)).collect();
        let shards = pks.iter().map(|pk| store.entries_in(pk, &range, per_shard));
        for (docs, complete) in futures::future::try_join_all(shards).await? {
            found.extend(docs);
            if !complete {
                return Ok((found, false));
            }
        }
        if found.len() > cap {
            return Ok((found, false));
        }
    }
    Ok((found, true))
}

/// The candidates that match every criterion, reading what entries do not carry (group
/// membership, last login) only when the request asks for it.
async fn filter(
    store: &Store,
    request: &SearchRequest,
    candidates: Vec<Candidate>,
    cap: usize,
    known_members: Option<&HashSet<String>>,
) -> Result<Vec<Candidate>, StoreError> {
    let mut matching: Vec<Candidate> = candidates.into_iter().filter(|c| c.doc.matches(request)).collect();
    if let Some(group) = &request.group {
        let members = match known_members {
            Some(members) => members.clone(),
            None => {
                let ids: Vec<CustomerId> = matching.iter().filter_map(|c| id_of(&c.doc)).collect();
                let (members, complete) = store.group_member_ids(group, cap).await?;
                if complete && members.len() < ids.len() * 4 {
                    members.into_iter().map(|id| id.as_str().to_string()).collect()
                } else {
                    store.members_among(group, &ids).await?
                }
            }
        };
        matching.retain(|c| members.contains(&c.doc.id));
    }
    if request.needs_last_login() {
        let unknown: Vec<CustomerId> =
            matching.iter().filter(|c| c.last_login.is_none()).filter_map(|c| id_of(&c.doc)).collect();
        if !unknown.is_empty() {
            let logins: HashMap<String, Option<i64>> = store
                .batch_get_customers(&unknown, true)
                .await?
                .into_iter()
                .map(|c| (c.customer_id.as_str().to_string(), c.last_login_at.map(|t| t.unix())))
                .collect();
            for candidate in matching.iter_mut().filter(|c| c.last_login.is_none()) {
                candidate.last_login = logins.get(&candidate.doc.id).copied();
            }
            // A candidate with no customer behind it was erased meanwhile.
            matching.retain(|c| c.last_login.is_some());
        }
        matching.retain(|c| request.matches_last_login(c.last_login.flatten()));
    }
    Ok(matching)
}

/// Sorts every match and cuts the page that follows `after`.
fn cut_page(
    request: &SearchRequest,
    matches: Vec<Candidate>,
    after: Option<&Position>,
) -> (Vec<Candidate>, Option<Position>) {
    let field = request.sort_by;
    let order = request.sort_order;
    // Positions computed once each (a name position is a new string), not per comparison.
    let mut ranked: Vec<(Position, Candidate)> = matches.into_iter().map(|c| (c.position(field), c)).collect();
    ranked.sort_by(|a, b| a.0.compare(&b.0, order));
    let start = match after {
        Some(cursor) => ranked.partition_point(|(position, _)| position.compare(cursor, order).is_le()),
        None => 0,
    };
    let mut page: Vec<(Position, Candidate)> = ranked.into_iter().skip(start).take(request.limit + 1).collect();
    let more = page.len() > request.limit;
    page.truncate(request.limit);
    let next = if more { page.last().map(|(position, _)| position.clone()) } else { None };
    (page.into_iter().map(|(_, candidate)| candidate).collect(), next)
}

/// A partition being walked in key order: what has been read and not yet used.
struct Lane {
    pk: String,
    buffer: VecDeque<(String, SearchDoc)>,
    /// Where to continue reading; `None` once the partition is exhausted.
    resume: Option<Option<String>>,
}

/// The page after `after`, walking the index kept in the requested order: the creation-time
/// partitions of the statuses asked for, or the name partitions. The partitions are merged by
/// sort key, read `chunk` entries at a time; the walk stops after the counting cap entries, and a
/// short page then carries a cursor to where it stopped.
async fn walk(
    store: &Store,
    request: &SearchRequest,
    after: Option<&Position>,
    cap: usize,
) -> Result<(Vec<Candidate>, Option<Position>), SearchError> {
    let ascending = request.sort_order == SortOrder::Asc;
    let (pks, start_sk) = match request.sort_by {
        SortField::LastLoginAt => return Err(SearchError::TooBroadToSort(cap)),
        SortField::CreatedAt => {
            let statuses = request.statuses.clone().unwrap_or_else(|| CustomerStatus::ALL.to_vec());
            let pks = statuses
                .iter()
                .flat_map(|s| (0..keys::CREATED_SHARDS).map(move |shard| keys::search_created_pk(s.as_str(), shard)))
                .collect::<Vec<_>>();
            let start = after.map(|p| match &p.value {
                crate::domain::search::SortValue::Int(created) => created_sk(*created, &p.id),
                _ => String::new(),
            });
            (pks, start)
        }
        SortField::FirstName | SortField::LastName => {
            let field = if request.sort_by == SortField::FirstName { "first" } else { "last" };
            let pks = ('0'..='9').chain('a'..='z').chain(['_']).map(|c| format!("SN#{field}#{c}")).collect::<Vec<_>>();
            let start = after.map(|p| match &p.value {
                crate::domain::search::SortValue::Text(names) => format!("{names}{}{}", keys::SEARCH_SEPARATOR, p.id),
                _ => String::new(),
            });
            (pks, start)
        }
    };
    let chunk = (request.limit * 2).clamp(25, 200);
    let mut lanes: Vec<Lane> =
        pks.into_iter().map(|pk| Lane { pk, buffer: VecDeque::new(), resume: Some(start_sk.clone()) }).collect();
    // A walk filters batch after batch: the group's members are read once for all of them
    // (when the group is within the cap; otherwise each batch asks about its own candidates).
    let members: Option<HashSet<String>> = match &request.group {
        Some(group) => {
            let (ids, complete) = store.group_member_ids(group, cap).await?;
            complete.then(|| ids.into_iter().map(|id| id.as_str().to_string()).collect())
        }
        None => None,
    };
    let mut page = Vec::new();
    let mut walked = 0usize;
    let mut last_walked: Option<Candidate> = None;
    while walked < cap {
        refill(store, &mut lanes, ascending, chunk).await?;
        let mut batch = Vec::new();
        while batch.len() < chunk {
            let best = lanes
                .iter()
                .enumerate()
                .filter_map(|(i, lane)| lane.buffer.front().map(|(sk, _)| (i, sk)))
                .reduce(|a, b| if (b.1 < a.1) == ascending { b } else { a })
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let Some((_, doc)) = lanes[i].buffer.pop_front() else { break };
            batch.push(Candidate::of_doc(doc));
            if lanes[i].buffer.is_empty() && lanes[i].resume.is_some() {
                break; // read more of this lane before going on, to keep the merge in order
            }
        }
        if batch.is_empty() {
            return Ok((page, None));
        }
        walked += batch.len();
        last_walked = batch.last().cloned();
        for candidate in filter(store, request, batch, cap, members.as_ref()).await? {
            page.push(candidate);
            if page.len() > request.limit {
                page.truncate(request.limit);
                let next = page.last().map(|c| c.position(request.sort_by));
                return Ok((page, next));
            }
        }
    }
    let next = last_walked.map(|c| c.position(request.sort_by));
    Ok((page, next))
}

/// Reads the next chunk of every lane whose buffer ran dry and that has more.
async fn refill(store: &Store, lanes: &mut [Lane], ascending: bool, chunk: usize) -> Result<(), StoreError> {
    let reads = lanes.iter().enumerate().filter(|(_, lane)| lane.buffer.is_empty()).filter_map(|(i, lane)| {
        let resume = lane.resume.clone()?;
        let pk = lane.pk.clone();
        Some(async move { store.entries_after(&pk, ascending, resume.as_deref(), chunk).await.map(|page| (i, page)) })
    });
    for (i, page) in futures::future::try_join_all(reads).await? {
        lanes[i].resume = page.more_after.map(Some);
        lanes[i].buffer.extend(page.entries);
    }
    Ok(())
}

/// The page's customers, read by key and checked once more (an entry left behind by an
/// interrupted write never shows a customer that no longer matches).
async fn page_customers(
    store: &Store,
    request: &SearchRequest,
    page: &[Candidate],
) -> Result<Vec<Customer>, StoreError> {
    let ids: Vec<CustomerId> = page.iter().filter_map(|c| id_of(&c.doc)).collect();
    let customers = store.batch_get_customers(&ids, true).await?;
    Ok(customers
        .into_iter()
        .filter(|c| SearchDoc::of(c).matches(request) && request.matches_last_login(c.last_login_at.map(|t| t.unix())))
        .collect())
}
