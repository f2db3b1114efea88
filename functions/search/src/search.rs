//! `POST /v1/customers/search` (a JSON body) and `GET /v1/customers/search` (query parameters
//! of the same names): one request type, one planner.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value, json};
use shared::App;
use shared::domain::customer::Audience;
use shared::domain::search::{Position, SEARCH_FIELDS, SearchRequest, parse_search_request};
use shared::http::body::json_object_of;
use shared::http::{ApiError, json};
use shared::services::search::{SearchError, search};

pub async fn by_body(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let accepts = |key: &str| SEARCH_FIELDS.contains(&key) || key.starts_with("custom_fields.");
    let (object, unknown) = json_object_of(req, &accepts, "is not a known field")?;
    if !unknown.is_empty() {
        // Named together with whatever else is wrong with the fields it does know.
        let parsed = parse_search_request(&object, app.config.phone_default_region, SEARCH_FIELDS);
        return Err(unknown.combined_with(parsed).err().unwrap_or(unknown).into());
    }
    run(app, &object).await
}

pub async fn by_query(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    run(app, &query_object(req)?).await
}

/// The query parameters as the JSON object a body would be: repeated names joined with
/// commas (`tags=a&tags=b` is `tags=a,b`).
fn query_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(query) = req.query_string_parameters_ref() {
        for (name, value) in query.iter() {
            values.entry(name.to_string()).or_default().push(value.to_string());
        }
    }
    if let Some(limit) = values.get("limit").and_then(|v| v.first())
        && !limit.trim().chars().all(|c| c.is_ascii_digit())
    {
        return Err(ApiError::BadRequest("limit must be a whole number".into()));
    }
    Ok(values.into_iter().map(|(name, list)| (name, Value::String(list.join(",")))).collect())
}

async fn run(app: &App, object: &Map<String, Value>) -> Result<Response<Body>, ApiError> {
    let request: SearchRequest = parse_search_request(object, app.config.phone_default_region, SEARCH_FIELDS)?;
    let scope = request.scope();
    let after: Option<Position> = match request.cursor.as_deref() {
        Some(cursor) => Some(app.keys().cursor_signer()?.decode(&scope, cursor)?),
        None => None,
    };
    let started = std::time::Instant::now();
    let result = search(app, &request, after.as_ref()).await;
    shared::metrics::record("search", shared::metrics::Metric::SearchLatency, started.elapsed().as_secs_f64() * 1000.0);
    let page = result.map_err(|err| match err {
        SearchError::TooBroadToSort(_) => ApiError::validation("sort_by", err.to_string()),
        SearchError::Store(err) => err.into(),
    })?;
    let items: Vec<Value> = page.customers.iter().map(|c| c.to_json(Audience::Staff)).collect();
    let next_cursor = match page.next {
        Some(position) => Some(app.keys().cursor_signer()?.encode(&scope, &position)),
        None => None,
    };
    json(
        StatusCode::OK,
        &json!({ "items": items, "total": page.total, "total_exact": page.total_exact, "next_cursor": next_cursor }),
    )
}
