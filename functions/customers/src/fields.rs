//! Custom field definitions (`/v1/fields`). Deleting retires a definition: values stay
//! readable on customers, new writes to the field are refused, and `PUT` brings it back.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::App;
use shared::domain::fields::{FieldDefinition, FieldDefinitionInput, parse_key};
use shared::http::response::with_location;
use shared::http::{ApiError, json, no_content, parse_json_lenient};
use shared::services::fields::{self, FieldError};

use crate::common::query_param;

/// A malformed key names no definition: 404, like an unknown one.
fn parse_field_key(raw_key: &str) -> Result<String, ApiError> {
    Ok(parse_key(raw_key).map_err(|_| FieldError::NotFound)?)
}

async fn load(app: &App, raw_key: &str) -> Result<FieldDefinition, ApiError> {
    Ok(fields::get(app, &parse_field_key(raw_key)?).await?)
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
    let items: Vec<_> = fields::definitions(app)
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
    fields::create(app, &definition).await?;
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
    let next = fields::replace(app, &current, next).await?;
    definition_response(StatusCode::OK, &next)
}

pub async fn retire(app: &App, raw_key: &str) -> Result<Response<Body>, ApiError> {
    fields::retire(app, &parse_field_key(raw_key)?).await?;
    no_content()
}
