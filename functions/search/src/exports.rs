//! Customer exports (admins): `POST /v1/exports/customers` records an export and starts its
//! job, never running it in the request; `GET /v1/exports` lists the caller's exports;
//! `GET /v1/exports/{export_id}` reads any admin's export, with a freshly signed link when ready.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::App;
use shared::config::ExportRunner;
use shared::domain::export::{ExportId, ExportRecord, ExportStatus, parse_export_request};
use shared::http::body::json_object;
use shared::http::paging::PageRequest;
use shared::http::response::with_location;
use shared::http::{ApiError, Scope, json};
use shared::services::Page;
use shared::services::exports::{
    ExportError, ExportJob, create_export, download_link, list_exports, read_export, spawn_inline,
};

fn edge(err: ExportError) -> ApiError {
    match err {
        ExportError::Store(err) => err.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

pub async fn create(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let object = json_object(req)?;
    // Every defined field may be a column, retired ones included: their values stay readable.
    let custom_keys: Vec<String> =
        shared::services::fields::definitions(app).await?.into_iter().map(|f| f.key).collect();
    let request = parse_export_request(&object, app.config.phone_default_region, &custom_keys)?;
    let record = create_export(app, &request, actor).await?;
    shared::metrics::count("search", shared::metrics::Metric::ExportRequested);
    if app.config.exports.runner == ExportRunner::Inline {
        spawn_inline(ExportJob::of(app), record.export_id.clone());
    }
    let response = json(StatusCode::ACCEPTED, &record.to_json(None))?;
    with_location(response, &format!("/v1/exports/{}", record.export_id))
}

pub async fn list(app: &App, req: &Request, actor: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let request = PageRequest::from_request(app, req, scope.filtered(format_args!("requested_by={actor}")))?;
    let page = list_exports(app, actor, request.limit, request.start.clone()).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for record in &page.items {
        views.push(view(app, record).await?);
    }
    let page = Page { items: views, next: page.next };
    request.respond(app, page, Value::clone)
}

pub async fn get(app: &App, id: &str) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::NotFound("no export with this id".into());
    let id = ExportId::parse(id).ok_or_else(not_found)?;
    let record = read_export(app, &id).await?.ok_or_else(not_found)?;
    json(StatusCode::OK, &view(app, &record).await?)
}

/// The export's JSON; a ready one carries a link signed now, valid for `EXPORT_LINK_SECONDS`.
async fn view(app: &App, record: &ExportRecord) -> Result<Value, ApiError> {
    if record.status != ExportStatus::Ready {
        return Ok(record.to_json(None));
    }
    let (url, expires_at) = download_link(app, record).await.map_err(edge)?;
    Ok(record.to_json(Some((&url, expires_at))))
}
