//! The planner's rules: which index a search starts from, and the order of its results.
//!
//! A search reads the entries of one index (its entry point) and filters them on what every
//! entry carries. The entry point is the most selective criterion by a fixed ranking: a query
//! word of three letters or more (the longest), the phone or email filter, a tag, the group, a
//! name filter, a two-letter word, a last-login window of at most 31 days, the city, the state,
//! the country, a one-letter word; failing all of those, the creation-time index of the
//! statuses asked for (with the creation window, if any).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::doc::SearchDoc;
use super::request::{SearchRequest, SortField, SortOrder};
use super::words_of;
use crate::customer::CustomerStatus;
use crate::ids::GroupId;

/// Longest last-login window read through the daily login index.
pub const MAX_LOGIN_WINDOW_DAYS: i64 = 31;
const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Words starting with this (and, for three digits or more, phones containing it).
    Word(String),
    /// Phones containing these digits.
    Phone(String),
    Tag(String),
    Group(GroupId),
    /// Customers who logged in on these UTC days (unix day numbers, inclusive).
    LastLogin {
        first_day: i64,
        last_day: i64,
    },
    City(String),
    State(String),
    Country(String),
    /// Customers of these statuses created in the window (unix seconds, `before` exclusive).
    Created {
        statuses: Vec<CustomerStatus>,
        after: Option<i64>,
        before: Option<i64>,
    },
}

/// The entry point of `request`; `now` (unix seconds) bounds an open last-login window.
pub fn choose_entry(request: &SearchRequest, now: i64) -> Entry {
    let longest_word = request.words.iter().max_by_key(|w| w.len()).cloned();
    let word_of_len = |min: usize| longest_word.clone().filter(|w| w.len() >= min);
    let first_word = |text: &Option<String>| text.as_deref().and_then(|t| words_of(t).into_iter().next());
    if let Some(word) = word_of_len(3) {
        return Entry::Word(word);
    }
    if let Some(digits) = &request.phone {
        return Entry::Phone(digits.clone());
    }
    if let Some(email) = request.email.as_ref().filter(|e| e.len() >= 3) {
        return Entry::Word(email.clone());
    }
    if let Some(tag) = request.tags.iter().max_by_key(|t| t.len()) {
        return Entry::Tag(tag.clone());
    }
    if let Some(group) = &request.group {
        return Entry::Group(group.clone());
    }
    if let Some(word) = first_word(&request.last_name).or_else(|| first_word(&request.first_name)) {
        return Entry::Word(word);
    }
    if let Some(word) = word_of_len(2) {
        return Entry::Word(word);
    }
    if let Some(after) = request.last_login_after {
        let before = request.last_login_before.unwrap_or(now + 1);
        let (first_day, last_day) = (after.div_euclid(DAY), (before - 1).div_euclid(DAY));
        if last_day - first_day < MAX_LOGIN_WINDOW_DAYS {
            return Entry::LastLogin { first_day, last_day: last_day.max(first_day) };
        }
    }
    if let Some(city) = &request.city {
        return Entry::City(city.clone());
    }
    if let Some(state) = &request.state {
        return Entry::State(state.clone());
    }
    if let Some(country) = &request.country {
        return Entry::Country(country.clone());
    }
    if let Some(word) = longest_word {
        return Entry::Word(word);
    }
    Entry::Created {
        statuses: request.statuses.clone().unwrap_or_else(|| CustomerStatus::ALL.to_vec()),
        after: request.created_after,
        before: request.created_before,
    }
}

/// A value results are ordered by. A customer without one (never logged in) sorts first in
/// ascending order and last in descending order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Missing,
    Int(i64),
    Text(String),
}

/// Where a page ended: the last result's sort value and customer id (the tie-breaker), which
/// a cursor carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub value: SortValue,
    pub id: String,
}

impl Position {
    pub fn of(doc: &SearchDoc, last_login: Option<i64>, field: SortField) -> Self {
        Self { value: sort_key_of(doc, last_login, field), id: doc.id.clone() }
    }

    /// The order of results: by the sort value, then by customer id, both in `order`.
    pub fn compare(&self, other: &Position, order: SortOrder) -> Ordering {
        let ascending = self.value.cmp(&other.value).then_with(|| self.id.cmp(&other.id));
        match order {
            SortOrder::Asc => ascending,
            SortOrder::Desc => ascending.reverse(),
        }
    }
}

pub fn sort_key_of(doc: &SearchDoc, last_login: Option<i64>, field: SortField) -> SortValue {
    match field {
        SortField::CreatedAt => SortValue::Int(doc.created),
        SortField::LastName => SortValue::Text(format!("{}\u{1}{}", doc.last, doc.first)),
        SortField::FirstName => SortValue::Text(format!("{}\u{1}{}", doc.first, doc.last)),
        SortField::LastLoginAt => last_login.map_or(SortValue::Missing, SortValue::Int),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::search::{SEARCH_FIELDS, parse_search_request};

    fn request(body: serde_json::Value) -> SearchRequest {
        let serde_json::Value::Object(object) = body else { panic!("object") };
        parse_search_request(&object, phonenumber::country::Id::ZM, SEARCH_FIELDS).expect("valid")
    }

    #[test]
    fn the_most_selective_criterion_is_the_entry() {
        let now = 1_767_225_600;
        let entry = |body| choose_entry(&request(body), now);
        assert_eq!(entry(json!({"query": "jo mwansa", "city": "lusaka"})), Entry::Word("mwansa".into()));
        assert_eq!(entry(json!({"query": "j", "phone": "0977"})), Entry::Phone("0977".into()));
        assert_eq!(entry(json!({"query": "j", "tags": ["vip"]})), Entry::Tag("vip".into()));
        assert_eq!(entry(json!({"query": "j", "city": "ndola"})), Entry::City("ndola".into()));
        assert_eq!(entry(json!({"query": "j"})), Entry::Word("j".into()));
        assert_eq!(entry(json!({"last_name": "O'Brien"})), Entry::Word("obrien".into()));
        assert_eq!(
            entry(json!({"last_login_after": "2025-12-25", "city": "ndola"})),
            Entry::LastLogin { first_day: 20_447, last_day: 20_454 }
        );
        assert_eq!(entry(json!({"last_login_after": "2025-01-01", "city": "ndola"})), Entry::City("ndola".into()));
        assert_eq!(
            entry(json!({"status": "banned", "created_after": "2026-01-01"})),
            Entry::Created { statuses: vec![CustomerStatus::Banned], after: Some(now), before: None }
        );
    }

    #[test]
    fn positions_order_by_value_then_id_in_either_direction() {
        let a = Position { value: SortValue::Int(1), id: "CUST_B".into() };
        let b = Position { value: SortValue::Int(1), id: "CUST_C".into() };
        let c = Position { value: SortValue::Int(2), id: "CUST_A".into() };
        let never = Position { value: SortValue::Missing, id: "CUST_Z".into() };
        assert_eq!(a.compare(&b, SortOrder::Asc), Ordering::Less);
        assert_eq!(b.compare(&c, SortOrder::Asc), Ordering::Less);
        assert_eq!(c.compare(&a, SortOrder::Desc), Ordering::Less);
        assert_eq!(never.compare(&a, SortOrder::Asc), Ordering::Less, "never logged in comes first going up");
        assert_eq!(never.compare(&a, SortOrder::Desc), Ordering::Greater, "and last going down");
        let cursor = serde_json::to_value(&never).expect("json");
        assert_eq!(cursor, json!({"value": null, "id": "CUST_Z"}));
        assert_eq!(serde_json::from_value::<Position>(cursor).expect("back"), never);
    }
}
