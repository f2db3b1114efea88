//! The search function's rows, on the small table the customers rows leave (25 staff-created
//! customers, 10 of them tagged `spring-sale`, and the signed-up ones). Their cost follows the
//! matches, the places and the days asked for, not the table: `scripts/bench-search` measures
//! the same routes at 1,000 and 100,000 customers.

use integration_tests::TestApp;
use serde_json::json;

use super::{Row, measure};

pub(super) async fn search_rows(t: &TestApp, admin: &str, rows: &mut Vec<Row>) {
    let token = Some(admin);
    let body = json!({ "query": "list" });
    let (found, used) = measure(t, "POST", "/v1/customers/search", token, Some(body), 200).await;
    rows.push(Row {
        route: "POST /v1/customers/search",
        case: leak(format!("one word, `list` ({} matches)", found.json()["total"])),
        used,
        note: "Query of the word entries beginning `list` (each carries the customer's search \
               document, so no customer item is read); filtered, sorted and paged in memory"
            .into(),
        ..Row::default()
    });
    let (found, used) = measure(t, "GET", "/v1/customers/search?query=banda&city=Ndola", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/customers/search",
        case: leak(format!("one word + city, query parameters ({} match)", found.json()["total"])),
        used,
        note: "the planner reads the more selective entry point (the word or the city \
               entries) and filters on the documents the entries carry"
            .into(),
        ..Row::default()
    });
    let body = json!({ "tags": ["spring-sale"] });
    let (found, used) = measure(t, "POST", "/v1/customers/search", token, Some(body), 200).await;
    rows.push(Row {
        route: "POST /v1/customers/search",
        case: leak(format!("tag filter only ({} matches)", found.json()["total"])),
        used,
        note: "Query of the tag's partition `ST#spring-sale`; newest first in memory".into(),
        ..Row::default()
    });
    location_rows(t, token, rows).await;
    stats_rows(t, token, rows).await;
}

/// Row cases are `&'static str`; the few built from a response live for the whole run.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

async fn location_rows(t: &TestApp, token: Option<&str>, rows: &mut Vec<Row>) {
    for (path, case) in [
        ("/v1/locations/countries", "every country"),
        ("/v1/locations/cities?country=Zambia", "cities of Zambia"),
        ("/v1/locations/states?country=Zambia", "states of Zambia"),
    ] {
        let (_, used) = measure(t, "GET", path, token, None, 200).await;
        let route = path.split('?').next().unwrap_or(path);
        rows.push(Row {
            route: leak(format!("GET {route}")),
            case,
            used,
            note: "Query of the facet's counter items (consistent; one item per place and shard, \
                   summed in memory): the cost follows the places, not the customers"
                .into(),
            ..Row::default()
        });
    }
}

async fn stats_rows(t: &TestApp, token: Option<&str>, rows: &mut Vec<Row>) {
    let (_, used) = measure(t, "GET", "/v1/stats/customers", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/stats/customers",
        case: "admin",
        used,
        note: "Queries of the global counter shards `STATS#GLOBAL`, the country and city \
               counters and this month's day counters (all consistent), summed in memory"
            .into(),
        ..Row::default()
    });
    let today = time::OffsetDateTime::now_utc().date();
    let from = shared::store::stats::date_text(today - time::Duration::days(30));
    let to = shared::store::stats::date_text(today);
    let path = format!("/v1/stats/customers/daily?from={from}&to={to}");
    let (_, used) = measure(t, "GET", &path, token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/stats/customers/daily",
        case: "31 days",
        used,
        note: "one Query of `STATS#DAYS` between the two months (a month item per shard holds \
               the signups and logins of each of its days)"
            .into(),
        ..Row::default()
    });
}
