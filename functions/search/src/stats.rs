//! `GET /v1/stats/customers` and its daily series, from the counters: exact, and read at a cost
//! that depends on the number of shards, places and days, never on the number of customers.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value, json};
use shared::App;
use shared::domain::customer::{CustomerStatus, GENDERS};
use shared::domain::stats::{FacetCount, average_age, date_text, day_number};
use shared::http::{ApiError, json};
use shared::services::stats;
use time::{Date, Duration};

/// The longest daily series one request may ask for.
const MAX_DAYS: i64 = 366;
const DEFAULT_DAYS: i64 = 30;

pub async fn customers(app: &App) -> Result<Response<Body>, ApiError> {
    let today = app.clock.now().date();
    let week_start = today - Duration::days(i64::from(today.weekday().number_days_from_monday()));
    let month_start = today.replace_day(1).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (totals, countries, cities, days) = stats::counters(app, week_start.min(month_start), today).await?;
    let count = |name: &str| totals.get(name).copied().unwrap_or(0);
    let signups_since = |first: Date| {
        days.iter().filter(|(day, _)| day.as_str() >= date_text(first).as_str()).map(|(_, c)| c.signups).sum::<i64>()
    };
    let by_status: Map<String, Value> = CustomerStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), json!(count(&format!("status_{}", s.as_str())))))
        .collect();
    let genders: Map<String, Value> = GENDERS
        .iter()
        .chain(["unspecified"].iter())
        .map(|g| (g.to_string(), json!(count(&format!("gender_{g}")))))
        .collect();
    let today_number = day_number(&date_text(today)).unwrap_or_default();
    json(
        StatusCode::OK,
        &json!({
            "total_customers": count("total"),
            "active_customers": count("status_active"),
            "verified_customers": count("verified"),
            "new_customers_today": signups_since(today),
            "new_customers_this_week": signups_since(week_start),
            "new_customers_this_month": signups_since(month_start),
            "customers_by_status": by_status,
            "customers_by_country": places(countries),
            "customers_by_city": places(cities),
            "gender_distribution": genders,
            "average_customer_age": average_age(count("dob_count"), count("dob_sum"), today_number),
        }),
    )
}

/// `{"Lusaka": 12, …}`: places by name, the same name in two countries counted together.
fn places(counts: Vec<FacetCount>) -> Map<String, Value> {
    let mut merged: BTreeMap<String, i64> = BTreeMap::new();
    for count in counts {
        *merged.entry(count.display).or_insert(0) += count.count;
    }
    merged.into_iter().map(|(name, count)| (name, json!(count))).collect()
}

/// Signups and logins per UTC day, oldest first; `from`/`to` (dates, inclusive) default to the
/// last 30 days.
pub async fn daily(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let today = app.clock.now().date();
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name)).map(str::to_string);
    let mut errors = shared::domain::ValidationErrors::new();
    let mut date = |name: &str| {
        let text = param(name)?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        match Date::parse(text.trim(), &format) {
            Ok(date) => Some(date),
            Err(_) => {
                errors.add(name, "must be a date (YYYY-MM-DD)");
                None
            }
        }
    };
    let (from_given, to_given) = (date("from"), date("to"));
    errors.into_result()?;
    let to = to_given.unwrap_or(today);
    let from = from_given.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if from > to {
        return Err(ApiError::validation("from", "must not be after to"));
    }
    if (to - from).whole_days() + 1 > MAX_DAYS {
        return Err(ApiError::validation("from", format!("a series covers at most {MAX_DAYS} days")));
    }
    let counts = stats::daily_counts(app, from, to).await?;
    let mut items = Vec::new();
    let mut day = from;
    while day <= to {
        let key = date_text(day);
        let c = counts.get(&key).copied().unwrap_or_default();
        items.push(json!({ "date": key, "signups": c.signups, "logins": c.logins }));
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
    }
    json(StatusCode::OK, &json!({ "items": items }))
}
