//! Location facets: customers per country, and per city or state (within a country, or all),
//! most customers first, from the place counters.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use shared::App;
use shared::domain::search::fold;
use shared::domain::stats::{FACET_SEPARATOR, Facet, FacetCount};
use shared::http::{ApiError, json};
use shared::services::stats;

fn items(counts: &[FacetCount]) -> Result<Response<Body>, ApiError> {
    let items: Vec<_> = counts.iter().map(|c| json!({ "value": c.display, "count": c.count })).collect();
    json(StatusCode::OK, &json!({ "items": items }))
}

pub async fn countries(app: &App) -> Result<Response<Body>, ApiError> {
    items(&stats::facet_counts(app, Facet::Country, None).await?)
}

/// Cities or states: of one country with `?country=`, otherwise of every country, the same
/// name in two countries counted together.
pub async fn within_country(app: &App, req: &Request, facet: Facet) -> Result<Response<Body>, ApiError> {
    let country =
        req.query_string_parameters_ref().and_then(|q| q.first("country")).map(fold).filter(|c| !c.is_empty());
    match country {
        Some(country) => {
            let prefix = format!("{country}{FACET_SEPARATOR}");
            items(&stats::facet_counts(app, facet, Some(&prefix)).await?)
        }
        None => items(&merge_across_countries(stats::facet_counts(app, facet, None).await?)),
    }
}

fn merge_across_countries(counts: Vec<FacetCount>) -> Vec<FacetCount> {
    let mut merged: BTreeMap<String, FacetCount> = BTreeMap::new();
    for count in counts {
        let name = count.key.rsplit(FACET_SEPARATOR).next().unwrap_or_default().to_string();
        let entry =
            merged.entry(name.clone()).or_insert(FacetCount { key: name, display: count.display.clone(), count: 0 });
        entry.count += count.count;
    }
    let mut all: Vec<FacetCount> = merged.into_values().collect();
    all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.display.cmp(&b.display)));
    all
}
