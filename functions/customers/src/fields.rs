//! Custom field definitions (`/v1/fields`). Deleting retires a definition: values stay
//! readable on customers, new writes to the field are refused, and `PUT` brings it back.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::App;
use shared::domain::fields::{FieldDefinition, FieldDefinitionInput, parse_key};
use shared::http::response::with_location;
use shared::http::{ApiError, json, no_content, parse_json_lenient};

use crate::common::query_param;

/// More definitions than this make every customer write read a large partition.
pub const MAX_DEFINITIONS: usize = shared::domain::fields::MAX_CUSTOM_FIELD_KEYS;

fn no_such_field() -> ApiError {
    ApiError::NotFound("no such custom field".into())
}

async fn load(app: &App, raw_key: &str) -> Result<FieldDefinition, ApiError> {
    let key = parse_key(raw_key).map_err(|_| no_such_field())?;
    app.store.get_field(&key).await?.ok_or_else(no_such_field)
}

fn definition_response(status: StatusCode, definition: &FieldDefinition) -> Result<Response<Body>, ApiError> {
    json(status, &definition.to_json())
}

/// Live definitions by key; `include_retired=true` adds the retired ones.
pub async fn list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let include_retired = match query_param(req, "include_retired").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::validation("include_retired", "must be true or false")),
    };
    let items: Vec<_> = app
        .store
        .list_fields()
        .await?
        .iter()
        .filter(|d| include_retired || !d.retired)
        .map(FieldDefinition::to_json)
        .collect();
    json(StatusCode::OK, &json!({ "items": items, "next_cursor": null }))
}

pub async fn create(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (input, shape) = parse_json_lenient::<FieldDefinitionInput>(req)?;
    let definition = shape.combined_with(input.into_definition(None, app.clock.now()))?;
    if app.store.list_fields().await?.len() >= MAX_DEFINITIONS {
        return Err(ApiError::Conflict { detail: format!("at most {MAX_DEFINITIONS} custom fields"), field: None });
    }
    if !app.store.create_field(&definition).await? {
        return Err(ApiError::Conflict {
            detail: format!("a custom field {} exists (retired ones keep their key)", definition.key),
            field: Some("key"),
        });
    }
    with_location(definition_response(StatusCode::CREATED, &definition)?, &format!("/v1/fields/{}", definition.key))
}

pub async fn get(app: &App, raw_key: &str) -> Result<Response<Body>, ApiError> {
    definition_response(StatusCode::OK, &load(app, raw_key).await?)
}

/// Replaces the definition (its type cannot change: stored values would stop fitting).
pub async fn replace(app: &App, req: &Request, raw_key: &str) -> Result<Response<Body>, ApiError> {
    let (input, shape) = parse_json_lenient::<FieldDefinitionInput>(req)?;
    let current = load(app, raw_key).await?;
    let next = shape.combined_with(input.into_definition(Some(&current.key), app.clock.now()))?;
    if next.kind != current.kind {
        return Err(ApiError::Conflict { detail: "the type of a custom field cannot change".into(), field: None });
    }
    let next = FieldDefinition { created_at: current.created_at, version: current.version + 1, ..next };
    app.store.replace_field(&next, current.version).await?;
    definition_response(StatusCode::OK, &next)
}

pub async fn retire(app: &App, raw_key: &str) -> Result<Response<Body>, ApiError> {
    let current = load(app, raw_key).await?;
    if !current.retired {
        let next = FieldDefinition {
            retired: true,
            updated_at: app.clock.now(),
            version: current.version + 1,
            ..current.clone()
        };
        app.store.replace_field(&next, current.version).await?;
    }
    no_content()
}
