//! Customer search: the planner's steps over the index.
//!
//! 1. **Exact, from posting lists** (`exact_matches`): every criterion a list answers (each
//!    query word, tag, state, name filter, login window, and failing those a place or status)
//!    is read whole (one `Query` per list) and the lists are intersected by id; what members
//!    carry (status, verified, creation time, country, city, login time, name-word flags)
//!    filters the rest. Criteria no member carries (company, custom fields, group, email, a
//!    name filter of several words) are checked on the customers themselves when at most
//!    `RESIDUAL_MAX` candidates remain. The matches are then all known: `total` is exact, they
//!    are sorted in memory and the page is cut after the cursor's position.
//! 2. **Counted**: every customer, or every one of some statuses: the counters know how many,
//!    and the page is walked from the index kept in the requested order. So does a lone
//!    one-character query too broad for the lists: its initials counter says how many at least.
//! 3. **Walked** (a list too long to read, too many candidates left to check): the entry
//!    point (the creation-time index, or the phone's) is read up to the counting cap and
//!    filtered on each entry's document; `total` counts those matches and is exact only when
//!    the entry point held no more. The page comes from walking an index kept in the requested
//!    order (a city's own name order when it is sorted by name), filtering as it goes.
//! 4. The page's customers are read by key (one `BatchGetItem`) and checked once more.

use std::collections::{HashMap, HashSet, VecDeque};

use store::keys;
use store::search::{SortKeyRange, created_range, created_sk};
use store::{Store, StoreError};
use thiserror::Error;

use crate::App;
use crate::domain::customer::CustomerStatus;
use crate::domain::search::postings::{
    FIRST_NAME_LITERAL, FIRST_NAME_START, LAST_NAME_LITERAL, LAST_NAME_START, ListId, ListKind, Member, MemberKey,
    login_buckets_of_country, place_hash, unique_partitions_for,
};
use crate::domain::search::{
    Entry, MIN_PHONE_FRAGMENT, Position, SearchDoc, SearchRequest, SortField, SortOrder, SortValue, choose_entry,
    words_of,
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

/// Searches with counting capped at `SEARCH_COUNT_CAP` matches (the contract's 10,000 in
/// production).
pub async fn search(app: &App, request: &SearchRequest, after: Option<&Position>) -> Result<SearchPage, SearchError> {
    let (store, now, cap) = (&app.store, app.clock.now(), app.config.search_count_cap);
    if let Some(counted) = counted_total(store, request).await?
        && counted.total > cap
    {
        // Every customer, some statuses, a place: the counters know how many (or at least
        // how many), so only the page is read.
        let (page, next) = Box::pin(walk(store, request, after, cap)).await?;
        return Ok(SearchPage {
            customers: page_customers(store, request, &page).await?,
            total: counted.total,
            total_exact: counted.exact,
            next,
        });
    }
    if let Some(mut hits) = Box::pin(exact_matches(store, request, now)).await? {
        let total = hits.len();
        if logins_unknown(request, &hits) {
            if Box::pin(logins_for_page(store, request, &mut hits, after, now.unix())).await? {
                // The page and the one match after it are among the logins met.
                hits.retain(|hit| !logins_unknown_for(hit));
            } else {
                hits = checked_on_customers(store, request, hits).await?;
            }
        }
        let (customers, next) = match page_of_hits(request, &hits, after) {
            Some((ids, next)) => (customers_by_id(store, request, &ids).await?, next),
            None => {
                // Sorted by name and too many to read: the page walks the name index.
                let (page, next) = Box::pin(walk(store, request, after, cap)).await?;
                (page_customers(store, request, &page).await?, next)
            }
        };
        return Ok(SearchPage { customers, total, total_exact: true, next });
    }
    if let Some(counted) = one_character_total(store, request).await?
        && counted > cap
    {
        // A one-character query (too broad for the lists): the counters say how many match,
        // so the entry point is not read to count, and only the page is walked.
        let (page, next) = Box::pin(walk(store, request, after, cap)).await?;
        return Ok(SearchPage {
            customers: page_customers(store, request, &page).await?,
            total: counted,
            total_exact: false,
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
    Sorted(std::vec::IntoIter<(Position, CustomerId)>),
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
                    let page: Vec<(Position, CustomerId)> = matches.by_ref().take(self.request.limit.max(1)).collect();
                    let Some((last, _)) = page.last() else {
                        self.state = MatchState::Done;
                        return Ok(None);
                    };
                    self.last = Some(last.clone());
                    let ids: Vec<CustomerId> = page.into_iter().map(|(_, id)| id).collect();
                    return Ok(Some(customers_by_id(self.store, self.request, &ids).await?));
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
        if let Some(counted) = counted_total(self.store, self.request).await?
            && counted.total > self.sort_budget
        {
            return Ok(MatchState::Walking(self.start_after.clone()));
        }
        let (field, order) = (self.request.sort_by, self.request.sort_order);
        let exact = match Box::pin(exact_matches(self.store, self.request, now)).await? {
            Some(hits) if logins_unknown(self.request, &hits) => {
                Some(checked_on_customers(self.store, self.request, hits).await?)
            }
            exact => exact,
        };
        let ranked: Option<Vec<(Position, CustomerId)>> = match exact {
            Some(hits) if hits.len() <= self.sort_budget => {
                hits.iter().map(|h| Some((h.position(field)?, CustomerId::parse(&h.id)?))).collect::<Option<Vec<_>>>()
            }
            Some(_) => None,
            None => {
                let entry = choose_entry(self.request, now.unix());
                let (candidates, complete) = Box::pin(read_entry(self.store, &entry, self.sort_budget)).await?;
                if complete {
                    let matches = filter(self.store, self.request, candidates, self.cap, None).await?;
                    Some(matches.iter().filter_map(|c| Some((c.position(field), id_of(&c.doc)?))).collect())
                } else {
                    None
                }
            }
        };
        let Some(mut ranked) = ranked else { return Ok(MatchState::Walking(self.start_after.clone())) };
        ranked.sort_by(|a, b| a.0.compare(&b.0, order));
        let start = match &self.start_after {
            Some(after) => ranked.partition_point(|(position, _)| position.compare(after, order).is_le()),
            None => 0,
        };
        ranked.drain(..start);
        Ok(MatchState::Sorted(ranked.into_iter()))
    }
}

/// What the counters say of a search's matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counted {
    total: usize,
    /// `false`: `total` is a lower bound.
    exact: bool,
}

/// The number of matches when the counters know it: a search of every customer, of some
/// statuses, of a country and/or a city (the location counters), and nothing else. With
/// statuses and a place, the place's count less the customers of the other statuses is a
/// lower bound, which is all a search beyond the counting cap needs.
async fn counted_total(store: &Store, request: &SearchRequest) -> Result<Option<Counted>, StoreError> {
    let counted_only = SearchRequest {
        statuses: request.statuses.clone(),
        country: request.country.clone(),
        city: request.city.clone(),
        ..paging_of(request)
    };
    if *request != counted_only {
        return Ok(None);
    }
    let counters = store.global_counters().await?;
    let of_status = |s: &CustomerStatus| counters.get(&format!("status_{}", s.as_str())).copied().unwrap_or(0);
    let statuses = request.statuses.clone().unwrap_or_else(|| CustomerStatus::ALL.to_vec());
    let Some(in_place) = place_count(store, request).await? else {
        let total: i64 = statuses.iter().map(of_status).sum();
        return Ok(Some(Counted { total: total.max(0) as usize, exact: true }));
    };
    let others: i64 = CustomerStatus::ALL.iter().filter(|s| !statuses.contains(s)).map(of_status).sum();
    Ok(Some(Counted { total: (in_place - others).max(0) as usize, exact: others == 0 }))
}

/// `request`'s order and paging with no criterion: what a request that asks only for some
/// criteria is compared with, once those are set on it.
fn paging_of(request: &SearchRequest) -> SearchRequest {
    SearchRequest {
        sort_by: request.sort_by,
        sort_order: request.sort_order,
        limit: request.limit,
        cursor: request.cursor.clone(),
        ..SearchRequest::default()
    }
}

/// How many customers a search of only a one-character `query` finds, from the initials
/// counters (`domain::stats::initial_counter`); `None` for any other search. Reported as a lower
/// bound (`total_exact: false`): customers written before the counters existed are not in them
/// until `reindex` recounts.
async fn one_character_total(store: &Store, request: &SearchRequest) -> Result<Option<usize>, StoreError> {
    let initial = match request.words.as_slice() {
        [word] if word.chars().count() == 1 => word.chars().next(),
        _ => None,
    };
    let query_only = SearchRequest { words: request.words.clone(), ..paging_of(request) };
    let Some(initial) = initial.filter(|_| *request == query_only) else { return Ok(None) };
    let counters = store.global_counters().await?;
    let counted = counters.get(&crate::domain::stats::initial_counter(initial)).copied().unwrap_or(0);
    Ok(Some(counted.max(0) as usize))
}

/// The customers of the request's place (a country, a city, or a city in a country), from the
/// location counters; `None` when it names no place.
async fn place_count(store: &Store, request: &SearchRequest) -> Result<Option<i64>, StoreError> {
    use crate::domain::stats::{FACET_SEPARATOR, Facet};
    let count = |counts: Vec<crate::domain::stats::FacetCount>, wanted: &dyn Fn(&str) -> bool| {
        counts.iter().filter(|c| wanted(&c.key)).map(|c| c.count).sum::<i64>()
    };
    Ok(match (&request.country, &request.city) {
        (None, None) => None,
        (Some(country), None) => {
            Some(count(store.facet_counts(Facet::Country, Some(country)).await?, &|key| key == country))
        }
        (country, Some(city)) => {
            let within = country.as_ref().map(|c| format!("{c}{FACET_SEPARATOR}"));
            let counts = store.facet_counts(Facet::City, within.as_deref()).await?;
            Some(count(counts, &|key| key.rsplit_once(FACET_SEPARATOR).is_some_and(|(_, c)| c == city)))
        }
    })
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
        Entry::Phone(digits) => docs(store.entries_in(&keys::search_phone_pk(digits), &prefix(digits), budget).await?),
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
    /// How many entries its next read asks for: a share of the page at first, doubling with
    /// each read (up to `MAX_LANE_READ`), so a walk over many partitions reads about what the
    /// page needs rather than a page's worth from every partition.
    next_read: usize,
}

const MAX_LANE_READ: usize = 200;

/// The page after `after`, walking the index kept in the requested order: the creation-time
/// partitions of the statuses asked for, or the name partitions. The partitions are merged by
/// sort key (each read a share of the page at first, more as the walk goes on: `Lane`) and
/// filtered `chunk` entries at a time; the walk stops after the counting cap entries, and a
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
            let pks = match &request.city {
                // A city's customers in name order are one partition of their own.
                Some(city) => vec![keys::search_city_name_pk(field, city)],
                None => keys::search_name_partitions(field),
            };
            let start = after.map(|p| match &p.value {
                crate::domain::search::SortValue::Text(names) => format!("{names}{}{}", keys::SEARCH_SEPARATOR, p.id),
                _ => String::new(),
            });
            (pks, start)
        }
    };
    let chunk = (request.limit * 2).clamp(25, MAX_LANE_READ);
    let first_read = (chunk / pks.len().max(1) + 8).min(MAX_LANE_READ);
    let mut lanes: Vec<Lane> = pks
        .into_iter()
        .map(|pk| Lane { pk, buffer: VecDeque::new(), resume: Some(start_sk.clone()), next_read: first_read })
        .collect();
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
        refill(store, &mut lanes, ascending).await?;
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
async fn refill(store: &Store, lanes: &mut [Lane], ascending: bool) -> Result<(), StoreError> {
    let reads = lanes.iter().enumerate().filter(|(_, lane)| lane.buffer.is_empty()).filter_map(|(i, lane)| {
        let resume = lane.resume.clone()?;
        let (pk, count) = (lane.pk.clone(), lane.next_read);
        Some(async move { store.entries_after(&pk, ascending, resume.as_deref(), count).await.map(|page| (i, page)) })
    });
    for (i, page) in futures::future::try_join_all(reads).await? {
        let lane = &mut lanes[i];
        lane.resume = page.more_after.map(Some);
        lane.buffer.extend(page.entries);
        lane.next_read = (lane.next_read * 2).min(MAX_LANE_READ);
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
    customers_by_id(store, request, &ids).await
}

/// Candidates left to check on the customers themselves, at most (one consistent
/// `BatchGetItem` per 100).
pub const RESIDUAL_MAX: usize = 1_000;
/// Entries (unique words, phone fragments) one criterion reads, at most: past this many the
/// search is walked instead.
const ENTRY_BUDGET: usize = 20_000;
/// Login days a login window reads, at most (one list each); a longer window is checked on
/// the candidates of the other criteria.
const MAX_LOGIN_LIST_DAYS: i64 = 62;

/// A customer found in the posting lists: what its member said, and what the customer said
/// when it had to be read.
#[derive(Debug, Clone)]
struct Hit {
    id: String,
    member: Member,
    /// Known from a last-login list, or from the customer when read.
    last_login: Option<Option<i64>>,
    /// Read when a criterion or the sort needed it.
    doc: Option<SearchDoc>,
}

impl Hit {
    /// The hit's place in the order, when what the order needs is known.
    fn position(&self, field: SortField) -> Option<Position> {
        let value = match field {
            SortField::CreatedAt => SortValue::Int(self.member.created),
            SortField::LastLoginAt => self.last_login?.map_or(SortValue::Missing, SortValue::Int),
            SortField::FirstName | SortField::LastName => return Some(Position::of(self.doc.as_ref()?, None, field)),
        };
        Some(Position { value, id: self.id.clone() })
    }
}

/// What the posting lists answered: every match, or `None` when the search is too broad for
/// them (the planner then walks).
type Exact = Option<Vec<Hit>>;

/// One criterion's customers in key order, each once: a union of lists (and entries).
#[derive(Debug, Default)]
struct Source(Vec<(MemberKey, Member)>);

impl Source {
    /// The union of parts each in key order: a customer in several keeps its first member.
    fn union(parts: impl IntoIterator<Item = Vec<(MemberKey, Member)>>) -> Self {
        let mut parts: Vec<Vec<(MemberKey, Member)>> = parts.into_iter().collect();
        if parts.len() <= 1 {
            return Self(parts.pop().unwrap_or_default());
        }
        Self::of_members(parts.into_iter().flatten().collect())
    }

    fn of_docs(docs: &[SearchDoc]) -> Self {
        Self::of_members(docs.iter().filter_map(doc_member).collect())
    }

    /// Members in any order, a customer given twice keeping its first.
    fn of_members(mut members: Vec<(MemberKey, Member)>) -> Self {
        members.sort_by_key(|(key, _)| *key);
        members.dedup_by_key(|(key, _)| *key);
        Self(members)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, key: MemberKey) -> Option<&Member> {
        self.0.binary_search_by_key(&key, |(k, _)| *k).ok().map(|i| &self.0[i].1)
    }
}

/// A source's entry for a customer known by its document.
fn doc_member(doc: &SearchDoc) -> Option<(MemberKey, Member)> {
    Some((MemberKey::parse(&doc.id)?, Member::of(doc)))
}

/// A name filter answered by word lists: the word its value is, and the flags that say a word
/// starts the name (and starts it as written).
fn name_filter(value: &Option<String>, start: u8, literal: u8) -> Option<(String, u8, u8)> {
    let value = value.as_ref()?;
    let words = words_of(value);
    (words.len() == 1 && words[0] == *value).then(|| (words[0].clone(), start, literal))
}

/// The criteria of `request` that no list or member decides: the customers must be read.
fn needs_customers(request: &SearchRequest, login_listed: bool) -> bool {
    let name_listed = |v: &Option<String>| v.is_none() || name_filter(v, 0, 0).is_some();
    request.company_name.is_some()
        || request.email.is_some()
        || request.phone.as_ref().is_some_and(|d| d.len() < MIN_PHONE_FRAGMENT)
        || !request.custom.is_empty()
        || request.group.is_some()
        || !name_listed(&request.first_name)
        || !name_listed(&request.last_name)
        || (!login_listed && (request.last_login_after.is_some() || request.last_login_before.is_some()))
}

/// The days whose last-login lists answer the request's login window, when it has one short
/// enough.
fn login_days(request: &SearchRequest, now: i64) -> Option<std::ops::RangeInclusive<i64>> {
    let after = request.last_login_after?;
    let before = request.last_login_before.unwrap_or(now + 1).min(now + 86_400);
    let (first, last) = (after.div_euclid(86_400), (before - 1).div_euclid(86_400));
    (last - first < MAX_LOGIN_LIST_DAYS).then_some(first..=last.max(first))
}

/// The lists of every name word starting with `prefix`, read in parallel; `None` when it starts
/// more words than are read list by list.
async fn word_lists(store: &Store, prefix: &str) -> Result<Option<Vec<store::postings::ListMembers>>, StoreError> {
    let Some(words) = store.words_starting(prefix).await? else { return Ok(None) };
    let lists = words.into_iter().map(|w| store.posting_list(ListId::new(ListKind::Word, w)));
    Ok(Some(futures::future::try_join_all(lists).await?))
}

/// Every customer a query word (or an email filter) may match, or `None` when it starts too many
/// words to read list by list.
async fn word_source(store: &Store, word: &str) -> Result<Option<Source>, StoreError> {
    let lists = async { word_lists(store, word).await };
    let unique = unique_partitions_for(word)
        .into_iter()
        .map(|p| keys::search_unique_pk(&p))
        .map(|pk| async move { store.entries_in(&pk, &SortKeyRange::Prefix(word.to_string()), ENTRY_BUDGET).await });
    let phones = async {
        if word.len() >= MIN_PHONE_FRAGMENT && word.bytes().all(|b| b.is_ascii_digit()) {
            store.entries_in(&keys::search_phone_pk(word), &SortKeyRange::Prefix(word.to_string()), ENTRY_BUDGET).await
        } else {
            Ok((Vec::new(), true))
        }
    };
    let (lists, unique, phones) = futures::try_join!(lists, futures::future::try_join_all(unique), phones)?;
    let Some(mut parts) = lists else { return Ok(None) };
    for (docs, complete) in unique.into_iter().chain([phones]) {
        if !complete {
            return Ok(None);
        }
        parts.push(Source::of_docs(&docs).0);
    }
    Ok(Some(Source::union(parts)))
}

/// The customers whose name (first or last) starts with `word`, from the word lists, and
/// whether some member's name does not start with its word as written (those must be checked
/// on the customers).
async fn name_source(
    store: &Store,
    (word, start, literal): (String, u8, u8),
) -> Result<Option<(Source, bool)>, StoreError> {
    let Some(lists) = word_lists(store, &word).await? else { return Ok(None) };
    let mut unsure = false;
    let parts = lists.into_iter().map(|list| {
        let starting: Vec<(MemberKey, Member)> = list.into_iter().filter(|(_, m)| m.flags & start != 0).collect();
        unsure |= starting.iter().any(|(_, m)| m.flags & literal == 0);
        starting
    });
    let source = Source::union(parts.collect::<Vec<_>>());
    Ok(Some((source, unsure)))
}

/// The union of lists, each read as `read_list` does.
async fn lists_source(store: &Store, request: &SearchRequest, lists: Vec<ListId>) -> Result<Source, StoreError> {
    let read = lists.into_iter().map(|list| read_list(store, request, list));
    Ok(Source::union(futures::future::try_join_all(read).await?))
}

/// A list's members: all of them, but for a last-login list when a country is asked for only
/// the buckets that country's customers are in (`login_buckets_of_country`).
async fn read_list(
    store: &Store,
    request: &SearchRequest,
    list: ListId,
) -> Result<store::postings::ListMembers, StoreError> {
    match (list.kind, &request.country) {
        (ListKind::LastLogin, Some(country)) => {
            store.posting_list_buckets(list, login_buckets_of_country(country)).await
        }
        _ => store.posting_list(list).await,
    }
}

/// Whether a member satisfies what members carry of `request`.
fn member_matches(request: &SearchRequest, member: &Member, login_listed: bool) -> bool {
    let place = |wanted: &Option<String>, carried: Option<u32>| {
        wanted.as_deref().is_none_or(|w| carried == Some(place_hash(w)))
    };
    request.statuses.as_ref().is_none_or(|statuses| statuses.contains(&member.status))
        && request.verified.is_none_or(|v| v == member.verified)
        && request.created_after.is_none_or(|at| member.created >= at * 1000)
        && request.created_before.is_none_or(|at| member.created < at * 1000)
        && place(&request.country, member.country)
        && place(&request.city, member.city)
        && (!login_listed || request.matches_last_login(member.login))
}

/// The statuses a status list must be read for: those asked, unless they are the ones nearly
/// every customer has.
fn narrow_statuses(request: &SearchRequest) -> Option<Vec<CustomerStatus>> {
    let statuses = request.statuses.as_ref()?;
    (!statuses.contains(&CustomerStatus::Active)).then(|| statuses.clone())
}

/// Every match of `request` from the posting lists (see the module's step 1).
async fn exact_matches(store: &Store, request: &SearchRequest, now: Timestamp) -> Result<Exact, StoreError> {
    let login = login_days(request, now.unix());
    let mut unsure = false;
    // A criterion too broad to read (a prefix of more than 200 words, more entries than the
    // budget) is checked on the customers instead, when the others leave few enough.
    let mut too_broad = false;
    let mut sources: Vec<Source> = Vec::new();
    let words = request.words.iter().map(|w| word_source(store, w));
    for source in futures::future::try_join_all(words).await? {
        match source {
            Some(source) => sources.push(source),
            None => too_broad = true,
        }
    }
    for filter in [
        name_filter(&request.first_name, FIRST_NAME_START, FIRST_NAME_LITERAL),
        name_filter(&request.last_name, LAST_NAME_START, LAST_NAME_LITERAL),
    ]
    .into_iter()
    .flatten()
    {
        match name_source(store, filter).await? {
            Some((source, not_literal)) => {
                sources.push(source);
                unsure |= not_literal;
            }
            None => too_broad = true,
        }
    }
    let mut lists: Vec<Vec<ListId>> =
        request.tags.iter().map(|t| vec![ListId::new(ListKind::Tag, t.clone())]).collect();
    lists.extend(request.state.iter().map(|s| vec![ListId::new(ListKind::State, s.clone())]));
    if let Some(days) = login.clone() {
        lists.push(days.map(ListId::last_login_day).collect());
    }
    if let Some(digits) = request.phone.as_ref().filter(|d| d.len() >= MIN_PHONE_FRAGMENT) {
        let pk = keys::search_phone_pk(digits);
        let (docs, complete) = store.entries_in(&pk, &SortKeyRange::Prefix(digits.clone()), ENTRY_BUDGET).await?;
        if complete {
            sources.push(Source::of_docs(&docs));
        } else {
            too_broad = true;
        }
    }
    if let (Some(email), true) = (&request.email, sources.is_empty() && lists.is_empty())
        && let Some(source) = word_source(store, email).await?
    {
        sources.push(source);
    }
    if sources.is_empty() && lists.is_empty() {
        let broad = if let Some(statuses) = narrow_statuses(request) {
            Some(statuses.iter().map(|s| ListId::new(ListKind::Status, s.as_str())).collect())
        } else {
            [(ListKind::City, &request.city), (ListKind::Country, &request.country)]
                .into_iter()
                .find_map(|(kind, value)| value.as_ref().map(|v| vec![ListId::new(kind, v.clone())]))
        };
        match broad {
            Some(list) => lists.push(list),
            None => return Ok(None),
        }
    }
    let read = lists.into_iter().map(|list| lists_source(store, request, list));
    sources.extend(futures::future::try_join_all(read).await?);
    sources.sort_by_key(Source::len);
    let mut sources = sources.into_iter();
    let Some(smallest) = sources.next() else { return Ok(None) };
    let rest: Vec<Source> = sources.collect();
    let login_listed = login.is_some();
    let mut hits: Vec<Hit> = smallest
        .0
        .into_iter()
        .filter_map(|(key, member)| {
            // The login time is on the last-login list's member only.
            let mut login = member.login;
            for source in &rest {
                let other = source.get(key)?;
                login = login.or(other.login);
            }
            Some((key, Member { login, ..member }))
        })
        .filter(|(_, member)| member_matches(request, member, login_listed))
        .map(|(key, member)| Hit {
            last_login: login_listed.then_some(member.login),
            id: key.customer_id(),
            member,
            doc: None,
        })
        .collect();
    let by_name = matches!(request.sort_by, SortField::FirstName | SortField::LastName);
    let unknown_login = request.sort_by == SortField::LastLoginAt && !login_listed;
    let residual = needs_customers(request, login_listed) || too_broad || unsure;
    if residual || by_name {
        if hits.len() > RESIDUAL_MAX {
            return Ok(if by_name && !residual {
                Some(hits) // exact; the page comes from the name walk
            } else {
                None
            });
        }
        hits = checked_on_customers(store, request, hits).await?;
    } else if unknown_login && hits.len() > RESIDUAL_MAX {
        return Ok(None);
    }
    // With a sort by last login and no login list read, the hits' logins are still unknown:
    // the caller finds them (`logins_for_page`, or `checked_on_customers`).
    Ok(Some(hits))
}

/// Whether the order is by last login and some hit's is still unknown (no login list read).
fn logins_unknown(request: &SearchRequest, hits: &[Hit]) -> bool {
    request.sort_by == SortField::LastLoginAt && hits.iter().any(logins_unknown_for)
}

fn logins_unknown_for(hit: &Hit) -> bool {
    hit.last_login.is_none()
}

/// Days of last-login lists read at once, newest first, when a page sorted by last login is
/// looked for in them; and how many days back at most.
const LOGIN_DAYS_PER_READ: i64 = 7;
const LOGIN_DAYS_MAX: i64 = 63;

/// Finds the last logins a page sorted by last login, newest first, needs in the last-login
/// lists, a week at a time from today back, until the page after `after` and whether more
/// follow are decided (a hit not met in the days read logged in before them, or never). `false`
/// (the caller reads the customers) for an oldest-first order, or when `LOGIN_DAYS_MAX` days did
/// not decide the page.
async fn logins_for_page(
    store: &Store,
    request: &SearchRequest,
    hits: &mut [Hit],
    after: Option<&Position>,
    now: i64,
) -> Result<bool, StoreError> {
    if request.sort_order != SortOrder::Desc {
        return Ok(false);
    }
    let index: HashMap<MemberKey, usize> =
        hits.iter().enumerate().filter_map(|(i, hit)| Some((MemberKey::parse(&hit.id)?, i))).collect();
    let today = now.div_euclid(86_400);
    let mut newest = today;
    while today - newest < LOGIN_DAYS_MAX {
        let oldest = newest - LOGIN_DAYS_PER_READ + 1;
        let read = (oldest..=newest).map(|day| read_list(store, request, ListId::last_login_day(day)));
        for (key, member) in futures::future::try_join_all(read).await?.into_iter().flatten() {
            if let Some(&i) = index.get(&key) {
                hits[i].last_login = Some(member.login);
            }
        }
        if page_decided(request, hits, after) {
            return Ok(true);
        }
        newest = oldest - 1;
    }
    Ok(false)
}

/// Whether the logins met decide a page sorted by last login, newest first: every login is
/// known, or the page after `after` and one match more are among the logins met (every hit
/// still unknown logged in before them, so it comes later).
fn page_decided(request: &SearchRequest, hits: &[Hit], after: Option<&Position>) -> bool {
    if !logins_unknown(request, hits) {
        return true;
    }
    let order = request.sort_order;
    let met_after = hits
        .iter()
        .filter(|hit| matches!(hit.last_login, Some(Some(_))))
        .filter_map(|hit| hit.position(SortField::LastLoginAt))
        .filter(|position| after.is_none_or(|cursor| position.compare(cursor, order).is_gt()))
        .count();
    met_after > request.limit
}

/// The hits that match every criterion, checked on their customers (read consistently), with
/// what the customers say filled in.
async fn checked_on_customers(store: &Store, request: &SearchRequest, hits: Vec<Hit>) -> Result<Vec<Hit>, StoreError> {
    let ids: Vec<CustomerId> = hits.iter().filter_map(|h| CustomerId::parse(&h.id)).collect();
    let customers = store.batch_get_customers(&ids, true).await?;
    let members = match &request.group {
        Some(group) => Some(store.members_among(group, &ids).await?),
        None => None,
    };
    Ok(customers
        .iter()
        .filter(|c| members.as_ref().is_none_or(|m| m.contains(c.customer_id.as_str())))
        .filter_map(|c| {
            let doc = SearchDoc::of(c);
            let last_login = c.last_login_at.map(|t| t.unix());
            (doc.matches(request) && request.matches_last_login(last_login)).then(|| Hit {
                id: doc.id.clone(),
                member: Member { login: last_login, ..Member::of(&doc) },
                last_login: Some(last_login),
                doc: Some(doc),
            })
        })
        .collect())
}

/// The hits in the requested order after `after`, the page and where the next one starts;
/// `None` when the order needs what the hits do not know (names of too many hits).
fn page_of_hits(
    request: &SearchRequest,
    hits: &[Hit],
    after: Option<&Position>,
) -> Option<(Vec<CustomerId>, Option<Position>)> {
    let order = request.sort_order;
    let mut ranked: Vec<(Position, &Hit)> =
        hits.iter().map(|h| h.position(request.sort_by).map(|p| (p, h))).collect::<Option<_>>()?;
    ranked.sort_by(|a, b| a.0.compare(&b.0, order));
    let start = after.map_or(0, |cursor| ranked.partition_point(|(p, _)| p.compare(cursor, order).is_le()));
    let mut page: Vec<(Position, &Hit)> = ranked.into_iter().skip(start).take(request.limit + 1).collect();
    let more = page.len() > request.limit;
    page.truncate(request.limit);
    let next = if more { page.last().map(|(p, _)| p.clone()) } else { None };
    Some((page.iter().filter_map(|(_, h)| CustomerId::parse(&h.id)).collect(), next))
}

/// The page's customers by id, checked once more.
async fn customers_by_id(
    store: &Store,
    request: &SearchRequest,
    ids: &[CustomerId],
) -> Result<Vec<Customer>, StoreError> {
    let customers = store.batch_get_customers(ids, true).await?;
    Ok(customers
        .into_iter()
        .filter(|c| SearchDoc::of(c).matches(request) && request.matches_last_login(c.last_login_at.map(|t| t.unix())))
        .collect())
}
