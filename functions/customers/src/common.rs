//! Helpers every customer route shares: ids from paths, loading, responses, write context.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use shared::App;
use shared::domain::customer::Audience;
use shared::domain::fields::{FieldDefinition, Writer};
use shared::domain::input::ApplyContext;
use shared::domain::{Customer, CustomerId};
use shared::http::ApiError;
use shared::http::response::json_with_etag;
use shared::services::{customers, fields};
use shared::time::Timestamp;

pub fn no_such_customer() -> ApiError {
    ApiError::NotFound("no such customer".into())
}

/// A malformed id names no customer: 404, like an unknown one.
pub fn parse_customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).ok_or_else(no_such_customer)
}

pub async fn load_customer(app: &App, id: &CustomerId) -> Result<Customer, ApiError> {
    customers::get(app, id).await?.ok_or_else(no_such_customer)
}

/// The staff view of a customer, with its version as the ETag.
pub fn customer_response(status: StatusCode, customer: &Customer) -> Result<Response<Body>, ApiError> {
    json_with_etag(status, &customer.to_json(Audience::Staff), &customer.etag())
}

pub fn staff_context<'a>(app: &App, fields: &'a [FieldDefinition], now: Timestamp) -> ApplyContext<'a> {
    ApplyContext { today: now.date(), phone_region: app.config.phone_default_region, fields, writer: Writer::Staff }
}

/// The field definitions, read only when the input touches `custom_fields` (or on create,
/// where defaults and required fields apply).
pub async fn definitions_if(app: &App, needed: bool) -> Result<Vec<FieldDefinition>, ApiError> {
    if needed { Ok(fields::definitions(app).await?) } else { Ok(Vec::new()) }
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_string)
}
