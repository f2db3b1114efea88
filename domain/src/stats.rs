//! Customer statistics as counters: what each customer contributes, how a change moves the
//! counters, and how the summed counters become the figures of `/v1/stats/customers`.
//!
//! The average age is exact on any day without touching a customer: the counters keep the
//! number of known birth dates and the sum of those dates (in days since 1970), so the mean age
//! on day `t` is `t − sum / count` days.

use std::collections::{BTreeMap, BTreeSet};

use crate::customer::{Customer, CustomerStatus, GENDERS};
use crate::search::{SearchDoc, fold};

/// A facet value: the key it is counted under (folded, so `Lusaka` and `lusaka ` count
/// together) and how it is shown (the spelling first seen).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FacetValue {
    pub key: String,
    pub display: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Facet {
    Country,
    State,
    City,
}

impl Facet {
    pub fn name(&self) -> &'static str {
        match self {
            Facet::Country => "country",
            Facet::State => "state",
            Facet::City => "city",
        }
    }
}

/// The separator between a country and a state or city in a facet key.
pub const FACET_SEPARATOR: char = '\u{1}';

/// One facet value's count, summed over its shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    pub key: String,
    pub display: String,
    pub count: i64,
}

/// Signups and logins of one UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub signups: i64,
    pub logins: i64,
}

/// What one customer adds to the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    pub status: CustomerStatus,
    pub verified: bool,
    pub gender: &'static str,
    /// Days since 1970-01-01.
    pub birth_day: Option<i64>,
    pub facets: Vec<(Facet, FacetValue)>,
    /// The first characters of the words a search query may prefix-match (names, email,
    /// username, id), each once: the customers counted under `c` are exactly those a
    /// one-character query `c` finds.
    pub initials: BTreeSet<char>,
}

/// The global counter of the customers with a searchable word starting with `initial`.
pub fn initial_counter(initial: char) -> String {
    format!("i_{initial}")
}

/// A facet value of `text`, its key prefixed by `within` (a country key and the separator).
fn facet(within: &str, text: Option<&String>) -> Option<FacetValue> {
    let display = text.map(|t| t.trim()).filter(|t| !t.is_empty())?;
    Some(FacetValue { key: format!("{within}{}", fold(display)), display: display.to_string() })
}

impl Contribution {
    pub fn of(customer: &Customer) -> Self {
        let country = facet("", customer.country.as_ref());
        // States and cities are counted within their country ("" when none is known).
        let within = format!("{}{FACET_SEPARATOR}", country.as_ref().map(|c| c.key.as_str()).unwrap_or_default());
        let mut facets = Vec::new();
        facets.extend(country.map(|f| (Facet::Country, f)));
        facets.extend(facet(&within, customer.state.as_ref()).map(|f| (Facet::State, f)));
        facets.extend(facet(&within, customer.city.as_ref()).map(|f| (Facet::City, f)));
        Self {
            status: customer.status,
            verified: customer.is_verified(),
            gender: customer
                .gender
                .as_deref()
                .and_then(|g| GENDERS.iter().find(|known| **known == g).copied())
                .unwrap_or("unspecified"),
            birth_day: customer.date_of_birth.as_deref().and_then(day_number),
            facets,
            initials: SearchDoc::of(customer).words().iter().filter_map(|word| word.chars().next()).collect(),
        }
    }

    /// The global counters this contribution holds, each with `sign` (+1 to add, −1 to take
    /// away).
    fn global(&self, sign: i64, into: &mut BTreeMap<String, i64>) {
        let mut add = |name: String, value: i64| *into.entry(name).or_insert(0) += sign * value;
        add("total".into(), 1);
        add(format!("status_{}", self.status.as_str()), 1);
        if self.verified {
            add("verified".into(), 1);
        }
        add(format!("gender_{}", self.gender), 1);
        if let Some(day) = self.birth_day {
            add("dob_count".into(), 1);
            add("dob_sum".into(), day);
        }
        for initial in &self.initials {
            add(initial_counter(*initial), 1);
        }
    }
}

/// `2026-01-07`: a day as the daily counters and the statistics name it.
pub fn date_text(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn day_number(date: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(date, &format).ok()?;
    Some(i64::from(
        date.to_julian_day() - time::Date::from_calendar_date(1970, time::Month::January, 1).ok()?.to_julian_day(),
    ))
}

/// How the counters move when a customer goes from `before` to `after` (`None`: not there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterChange {
    /// Global counter name → delta (zero deltas left out).
    pub global: BTreeMap<String, i64>,
    /// Facet counters that move, with their delta.
    pub facets: Vec<(Facet, FacetValue, i64)>,
}

impl CounterChange {
    pub fn between(before: Option<&Customer>, after: Option<&Customer>) -> Self {
        let before = before.map(Contribution::of);
        let after = after.map(Contribution::of);
        let mut global = BTreeMap::new();
        if let Some(b) = &before {
            b.global(-1, &mut global);
        }
        if let Some(a) = &after {
            a.global(1, &mut global);
        }
        global.retain(|_, delta| *delta != 0);
        let mut facets = Vec::new();
        let old: Vec<&(Facet, FacetValue)> = before.iter().flat_map(|b| &b.facets).collect();
        let new: Vec<&(Facet, FacetValue)> = after.iter().flat_map(|a| &a.facets).collect();
        for (facet, value) in &old {
            if !new.iter().any(|(f, v)| f == facet && v.key == value.key) {
                facets.push((*facet, value.clone(), -1));
            }
        }
        for (facet, value) in &new {
            if !old.iter().any(|(f, v)| f == facet && v.key == value.key) {
                facets.push((*facet, value.clone(), 1));
            }
        }
        Self { global, facets }
    }

    pub fn is_empty(&self) -> bool {
        self.global.is_empty() && self.facets.is_empty()
    }
}

/// Mean age in years (one decimal) on day `today` of customers whose birth dates sum to
/// `sum` days over `count` customers; `None` when no birth date is known.
pub fn average_age(count: i64, sum: i64, today: i64) -> Option<f64> {
    if count <= 0 {
        return None;
    }
    let mean_days = today as f64 - sum as f64 / count as f64;
    Some((mean_days / 365.2425 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, Username};
    use crate::time::Timestamp;

    fn customer(city: &str, dob: Option<&str>) -> Customer {
        let mut c = Customer::new(
            CustomerId::generate(),
            Username::base("a", "b"),
            ("A".into(), "B".into()),
            Timestamp::from_unix(0),
        );
        c.country = Some("Zambia".into());
        c.city = Some(city.into());
        c.date_of_birth = dob.map(str::to_string);
        c.gender = Some("female".into());
        c
    }

    #[test]
    fn a_new_customer_adds_one_everywhere() {
        let change = CounterChange::between(None, Some(&customer("Lusaka", Some("1970-01-11"))));
        assert_eq!(change.global.get("total"), Some(&1));
        assert_eq!(change.global.get("status_active"), Some(&1));
        assert_eq!(change.global.get("gender_female"), Some(&1));
        assert_eq!(change.global.get("dob_sum"), Some(&10));
        let keys: Vec<_> = change.facets.iter().map(|(f, v, d)| (f.name(), v.key.as_str(), *d)).collect();
        assert_eq!(keys, [("country", "zambia", 1), ("city", "zambia\u{1}lusaka", 1)]);
    }

    #[test]
    fn initials_count_each_customer_once_per_first_character_a_query_can_match() {
        let mut mary = customer("Lusaka", None);
        mary.first_name = "Mary Ann".into();
        mary.last_name = "Mulenga".into();
        let change = CounterChange::between(None, Some(&mary));
        // `mary`, `mulenga` and the username `ab…` or so: `m` once; the id `cust_…` gives `c`.
        assert_eq!(change.global.get("i_m"), Some(&1));
        assert_eq!(change.global.get("i_a"), Some(&1));
        assert_eq!(change.global.get("i_c"), Some(&1));
        let mut renamed = mary.clone();
        renamed.first_name = "Zoe".into();
        let moved = CounterChange::between(Some(&mary), Some(&renamed));
        assert_eq!((moved.global.get("i_z"), moved.global.get("i_m")), (Some(&1), None), "still `mulenga`");
        renamed.last_name = "Zulu".into();
        let moved = CounterChange::between(Some(&mary), Some(&renamed));
        assert_eq!((moved.global.get("i_z"), moved.global.get("i_m")), (Some(&1), Some(&-1)));
    }

    #[test]
    fn a_city_change_moves_only_the_city() {
        let before = customer("Lusaka", None);
        let mut after = before.clone();
        after.city = Some(" lusaka ".into());
        assert!(CounterChange::between(Some(&before), Some(&after)).is_empty(), "same city, other spelling");
        after.city = Some("Ndola".into());
        let change = CounterChange::between(Some(&before), Some(&after));
        assert!(change.global.is_empty());
        let moved: Vec<_> = change.facets.iter().map(|(_, v, d)| (v.display.as_str(), *d)).collect();
        assert_eq!(moved, [("Lusaka", -1), ("Ndola", 1)]);
    }

    #[test]
    fn the_average_age_follows_the_calendar() {
        let born = day_number("2000-01-01").expect("date");
        let today = day_number("2026-01-01").expect("date");
        assert_eq!(average_age(2, 2 * born, today), Some(26.0));
        assert_eq!(average_age(0, 0, today), None);
    }
}
