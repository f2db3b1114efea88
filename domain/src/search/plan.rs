//! The planner's rules for a search the posting lists do not answer (a query word too short
//! to read list by list, too many candidates left to check): which index it walks from (its
//! entry point), and the order of results. The entry point is the phone filter, the group, a
//! last-login window of at most 31 days, or failing those the creation-time index of the
//! statuses asked for (with the creation window, if any).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::doc::SearchDoc;
use super::request::{SearchRequest, SortField, SortOrder};
use crate::customer::CustomerStatus;
use crate::ids::GroupId;

/// Longest last-login window read through the daily login index.
pub const MAX_LOGIN_WINDOW_DAYS: i64 = 31;
const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Phones containing these digits.
    Phone(String),
    Group(GroupId),
    /// Customers who logged in on these UTC days (unix day numbers, inclusive).
    LastLogin {
        first_day: i64,
        last_day: i64,
    },
    /// Customers of these statuses created in the window (unix seconds, `before` exclusive).
    Created {
        statuses: Vec<CustomerStatus>,
        after: Option<i64>,
        before: Option<i64>,
    },
}

/// The entry point of `request`; `now` (unix seconds) bounds an open last-login window.
pub fn choose_entry(request: &SearchRequest, now: i64) -> Entry {
    if let Some(digits) = &request.phone {
        return Entry::Phone(digits.clone());
    }
    if let Some(group) = &request.group {
        return Entry::Group(group.clone());
    }
    if let Some(after) = request.last_login_after {
        let before = request.last_login_before.unwrap_or(now + 1);
        let (first_day, last_day) = (after.div_euclid(DAY), (before - 1).div_euclid(DAY));
        if last_day - first_day < MAX_LOGIN_WINDOW_DAYS {
            return Entry::LastLogin { first_day, last_day: last_day.max(first_day) };
        }
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
    fn the_entry_point_is_the_narrowest_index_kept_in_a_walkable_order() {
        let now = 1_767_225_600;
        let entry = |body| choose_entry(&request(body), now);
        assert_eq!(entry(json!({"query": "j", "phone": "0977"})), Entry::Phone("0977".into()));
        assert_eq!(
            entry(json!({"last_login_after": "2025-12-25", "city": "ndola"})),
            Entry::LastLogin { first_day: 20_447, last_day: 20_454 }
        );
        assert_eq!(
            entry(json!({"last_login_after": "2025-01-01", "city": "ndola"})),
            Entry::Created { statuses: CustomerStatus::ALL.to_vec(), after: None, before: None }
        );
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
