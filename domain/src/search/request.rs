//! A search request, read from a JSON body or from query parameters of the same names, with
//! every bad field named at once.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::custom_value_text;
use super::{digits_of, fold, query_words};
use crate::customer::CustomerStatus;
use crate::ids::GroupId;
use crate::time::Timestamp;
use crate::{PhoneE164, ValidationErrors};

/// Every field a search body accepts (`custom_fields.<key>` too, in query parameters).
pub const SEARCH_FIELDS: &[&str] = &[
    "query",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "state",
    "country",
    "status",
    "is_active",
    "is_verified",
    "company_name",
    "tags",
    "group_id",
    "created_after",
    "created_before",
    "last_login_after",
    "last_login_before",
    "custom_fields",
    "sort_by",
    "sort_order",
    "limit",
    "cursor",
];

const MAX_QUERY: usize = 200;
const MAX_QUERY_WORDS: usize = 10;
const MAX_FILTER_TEXT: usize = 200;
const MAX_TAGS: usize = 50;
const MAX_CUSTOM_FILTERS: usize = 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    #[default]
    CreatedAt,
    LastName,
    FirstName,
    LastLoginAt,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// A validated search: folded values, ready to match against `SearchDoc`s.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SearchRequest {
    pub words: Vec<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// Digits that must appear in the phone.
    pub phone: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub company_name: Option<String>,
    /// `None`: any status. From `status` (one or a comma-separated list) and `is_active`.
    pub statuses: Option<Vec<CustomerStatus>>,
    pub verified: Option<bool>,
    pub tags: Vec<String>,
    pub group: Option<GroupId>,
    /// Unix seconds; `*_after` is inclusive, `*_before` exclusive.
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub last_login_after: Option<i64>,
    pub last_login_before: Option<i64>,
    pub custom: BTreeMap<String, String>,
    pub sort_by: SortField,
    pub sort_order: SortOrder,
    #[serde(skip)]
    pub limit: usize,
    #[serde(skip)]
    pub cursor: Option<String>,
}

impl SearchRequest {
    /// What the request asks for, without paging: the scope its cursors are bound to.
    pub fn scope(&self) -> String {
        format!("search:{}", serde_json::to_string(self).unwrap_or_default())
    }

    /// Whether a criterion needs a customer's last login, which index entries do not carry.
    pub fn needs_last_login(&self) -> bool {
        self.last_login_after.is_some() || self.last_login_before.is_some() || self.sort_by == SortField::LastLoginAt
    }

    /// Whether `last_login` (unix seconds) satisfies the last-login criteria.
    pub fn matches_last_login(&self, last_login: Option<i64>) -> bool {
        match (self.last_login_after, self.last_login_before) {
            (None, None) => true,
            (after, before) => {
                last_login.is_some_and(|at| after.is_none_or(|a| at >= a) && before.is_none_or(|b| at < b))
            }
        }
    }
}

/// Reads a search from `object`: a JSON body, or query parameters turned into string values
/// (`tags=a,b`, `custom_fields.tier=gold`). Keys in `also_allowed` are left for the caller
/// (an export's `format` and `columns`); any other unknown key is an error.
pub fn parse_search_request(
    object: &Map<String, Value>,
    phone_region: phonenumber::country::Id,
    accepted: &[&str],
) -> Result<SearchRequest, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut custom = BTreeMap::new();
    for (key, value) in object {
        if let Some(field) = key.strip_prefix("custom_fields.") {
            custom_filter(&mut errors, &mut custom, key, field, value);
        } else if !accepted.contains(&key.as_str()) {
            errors.add(key.clone(), "is not a known field");
        }
    }
    let text = |errors: &mut ValidationErrors, name: &str| -> Option<String> {
        let value = object.get(name).filter(|v| !v.is_null())?;
        match value.as_str() {
            Some(t) if t.chars().count() > MAX_FILTER_TEXT => {
                errors.add(name, format!("must be at most {MAX_FILTER_TEXT} characters"));
                None
            }
            Some(t) => Some(fold(t)).filter(|t| !t.is_empty()),
            None => {
                errors.add(name, "must be a string");
                None
            }
        }
    };
    let words = match text(&mut errors, "query") {
        Some(q) if q.chars().count() > MAX_QUERY => {
            errors.add("query", format!("must be at most {MAX_QUERY} characters"));
            Vec::new()
        }
        Some(q) => {
            let words = query_words(&q);
            if words.len() > MAX_QUERY_WORDS {
                errors.add("query", format!("must have at most {MAX_QUERY_WORDS} words"));
            }
            words
        }
        None => Vec::new(),
    };
    let request = SearchRequest {
        words,
        first_name: text(&mut errors, "first_name"),
        last_name: text(&mut errors, "last_name"),
        email: text(&mut errors, "email"),
        phone: object.get("phone").filter(|v| !v.is_null()).and_then(|v| phone_filter(&mut errors, v, phone_region)),
        city: text(&mut errors, "city"),
        state: text(&mut errors, "state"),
        country: text(&mut errors, "country"),
        company_name: text(&mut errors, "company_name"),
        statuses: statuses(&mut errors, object),
        verified: flag(&mut errors, object, "is_verified"),
        tags: tags(&mut errors, object.get("tags")),
        group: object.get("group_id").filter(|v| !v.is_null()).and_then(|v| {
            match v.as_str().and_then(GroupId::parse) {
                Some(id) => Some(id),
                None => {
                    errors.add("group_id", "is not a group id");
                    None
                }
            }
        }),
        created_after: instant(&mut errors, object, "created_after"),
        created_before: instant(&mut errors, object, "created_before"),
        last_login_after: instant(&mut errors, object, "last_login_after"),
        last_login_before: instant(&mut errors, object, "last_login_before"),
        custom: custom_fields(&mut errors, object.get("custom_fields"), custom),
        sort_by: sort_by(&mut errors, object.get("sort_by")),
        sort_order: sort_order(&mut errors, object.get("sort_order")),
        limit: limit(&mut errors, object.get("limit")),
        cursor: object.get("cursor").filter(|v| !v.is_null()).and_then(|v| match v.as_str() {
            Some(c) => Some(c.to_string()),
            None => {
                errors.add("cursor", "must be a string");
                None
            }
        }),
    };
    errors.into_result().map(|()| request)
}

fn phone_filter(errors: &mut ValidationErrors, value: &Value, region: phonenumber::country::Id) -> Option<String> {
    let Some(text) = value.as_str() else {
        errors.add("phone", "must be a string");
        return None;
    };
    let digits = match PhoneE164::parse(text, region) {
        Ok(phone) => digits_of(phone.as_str()),
        Err(_) => digits_of(text),
    };
    if digits.len() < super::MIN_PHONE_FRAGMENT {
        errors.add("phone", format!("must have at least {} digits", super::MIN_PHONE_FRAGMENT));
        return None;
    }
    Some(digits)
}

/// `true`/`false`, as JSON booleans or as the strings of a query parameter.
fn flag(errors: &mut ValidationErrors, object: &Map<String, Value>, name: &str) -> Option<bool> {
    match object.get(name)? {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => {
            errors.add(name, "must be true or false");
            None
        }
    }
}

fn statuses(errors: &mut ValidationErrors, object: &Map<String, Value>) -> Option<Vec<CustomerStatus>> {
    let mut chosen: Option<Vec<CustomerStatus>> = None;
    if let Some(value) = object.get("status").filter(|v| !v.is_null()) {
        let parsed: Option<Vec<CustomerStatus>> = value
            .as_str()
            .map(|s| s.split(',').map(|part| CustomerStatus::parse(part.trim())).collect::<Option<Vec<_>>>())
            .unwrap_or(None);
        match parsed {
            Some(list) if !list.is_empty() => chosen = Some(list),
            _ => errors.add("status", "must be active, suspended, banned, deactivated or archived"),
        }
    }
    if let Some(active) = flag(errors, object, "is_active") {
        let allowed: Vec<CustomerStatus> =
            CustomerStatus::ALL.into_iter().filter(|s| (*s == CustomerStatus::Active) == active).collect();
        chosen = Some(match chosen {
            Some(list) => list.into_iter().filter(|s| allowed.contains(s)).collect(),
            None => allowed,
        });
    }
    chosen
}

fn tags(errors: &mut ValidationErrors, value: Option<&Value>) -> Vec<String> {
    let raw: Vec<String> = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::String(text)) => text.split(',').map(str::to_string).collect(),
        Some(Value::Array(items)) if items.len() <= MAX_TAGS => {
            match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                Some(list) => list.into_iter().map(str::to_string).collect(),
                None => {
                    errors.add("tags", "must be strings");
                    return Vec::new();
                }
            }
        }
        Some(Value::Array(_)) => {
            errors.add("tags", format!("must have at most {MAX_TAGS} tags"));
            return Vec::new();
        }
        Some(_) => {
            errors.add("tags", "must be an array of strings or a comma-separated string");
            return Vec::new();
        }
    };
    if raw.len() > MAX_TAGS {
        errors.add("tags", format!("must have at most {MAX_TAGS} tags"));
        return Vec::new();
    }
    let mut tags = Vec::new();
    for tag in raw.iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// An RFC 3339 instant, or a date (its midnight, UTC).
fn instant(errors: &mut ValidationErrors, object: &Map<String, Value>, name: &str) -> Option<i64> {
    let value = object.get(name).filter(|v| !v.is_null())?;
    let parsed = value.as_str().and_then(|text| {
        Timestamp::parse(text).map(|t| t.unix()).or_else(|| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(text, &format).ok().map(|d| d.midnight().assume_utc().unix_timestamp())
        })
    });
    if parsed.is_none() {
        errors.add(name, "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp");
    }
    parsed
}

fn custom_filter(
    errors: &mut ValidationErrors,
    custom: &mut BTreeMap<String, String>,
    key: &str,
    field: &str,
    value: &Value,
) {
    if field.is_empty() || field.len() > 64 {
        errors.add(key, "is not a custom field key");
    } else if custom.len() >= MAX_CUSTOM_FILTERS {
        errors.add("custom_fields", format!("must have at most {MAX_CUSTOM_FILTERS} entries"));
    } else {
        match custom_value_text(value) {
            Some(text) => {
                custom.insert(field.to_string(), text);
            }
            None => errors.add(key, "must be a string, a number or a boolean"),
        }
    }
}

fn custom_fields(
    errors: &mut ValidationErrors,
    value: Option<&Value>,
    mut custom: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                custom_filter(errors, &mut custom, &format!("custom_fields.{key}"), key, value);
            }
        }
        Some(_) => errors.add("custom_fields", "must be an object of field keys and values"),
    }
    custom
}

fn sort_by(errors: &mut ValidationErrors, value: Option<&Value>) -> SortField {
    match value.and_then(|v| if v.is_null() { None } else { Some(v.as_str()) }) {
        None => SortField::CreatedAt,
        Some(Some("created_at")) => SortField::CreatedAt,
        Some(Some("last_name")) => SortField::LastName,
        Some(Some("first_name")) => SortField::FirstName,
        Some(Some("last_login_at")) => SortField::LastLoginAt,
        Some(_) => {
            errors.add("sort_by", "must be created_at, last_name, first_name or last_login_at");
            SortField::CreatedAt
        }
    }
}

fn sort_order(errors: &mut ValidationErrors, value: Option<&Value>) -> SortOrder {
    match value.and_then(|v| if v.is_null() { None } else { Some(v.as_str()) }) {
        None | Some(Some("desc")) => SortOrder::Desc,
        Some(Some("asc")) => SortOrder::Asc,
        Some(_) => {
            errors.add("sort_order", "must be asc or desc");
            SortOrder::Desc
        }
    }
}

/// 1–100, default 20; a number, or the digits of a query parameter.
fn limit(errors: &mut ValidationErrors, value: Option<&Value>) -> usize {
    let parsed = match value {
        None | Some(Value::Null) => return 20,
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(n @ 1..=100) => n as usize,
        _ => {
            errors.add("limit", "must be a whole number from 1 to 100");
            20
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: Value) -> Result<SearchRequest, ValidationErrors> {
        let Value::Object(object) = body else { panic!("an object") };
        parse_search_request(&object, phonenumber::country::Id::ZM, SEARCH_FIELDS)
    }

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.fields().iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn reads_every_filter_folded() {
        let request = parse(json!({
            "query": "Jöhn  Dœ", "city": " LUSAKA ", "tags": "VIP, premium ,vip", "is_active": true,
            "status": "active,suspended", "phone": "0971 234", "created_after": "2026-01-01",
            "custom_fields": {"tier": "Gold", "score": 7}, "sort_by": "last_name", "sort_order": "asc", "limit": 5
        }))
        .expect("valid");
        assert_eq!(request.words, ["john", "doe"]);
        assert_eq!(request.city.as_deref(), Some("lusaka"));
        assert_eq!(request.tags, ["vip", "premium"]);
        assert_eq!(request.statuses, Some(vec![CustomerStatus::Active]));
        assert_eq!(request.phone.as_deref(), Some("0971234"));
        assert_eq!(request.created_after, Some(1_767_225_600));
        assert_eq!(request.custom.get("tier").map(String::as_str), Some("gold"));
        assert_eq!(request.custom.get("score").map(String::as_str), Some("7"));
        assert_eq!((request.sort_by, request.sort_order, request.limit), (SortField::LastName, SortOrder::Asc, 5));
    }

    #[test]
    fn query_parameters_arrive_as_strings() {
        let request =
            parse(json!({"is_verified": "false", "limit": "7", "custom_fields.tier": "gold"})).expect("valid");
        assert_eq!(request.verified, Some(false));
        assert_eq!(request.limit, 7);
        assert_eq!(request.custom.get("tier").map(String::as_str), Some("gold"));
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = parse(json!({
            "nope": 1, "status": "sleeping", "created_before": "yesterday", "sort_by": "age",
            "sort_order": "up", "limit": 0, "tags": 5, "phone": "12", "group_id": "x", "is_active": "yes"
        }))
        .expect_err("invalid");
        let mut named = fields(errors);
        named.sort();
        assert_eq!(
            named,
            [
                "created_before",
                "group_id",
                "is_active",
                "limit",
                "nope",
                "phone",
                "sort_by",
                "sort_order",
                "status",
                "tags"
            ]
        );
    }

    #[test]
    fn the_scope_ignores_paging_but_not_filters() {
        let a = parse(json!({"query": "ann", "limit": 5})).expect("valid");
        let b = parse(json!({"query": "ann", "limit": 50, "cursor": "x"})).expect("valid");
        let c = parse(json!({"query": "anne"})).expect("valid");
        assert_eq!(a.scope(), b.scope());
        assert_ne!(a.scope(), c.scope());
    }
}
