//! Customer records: create, list, look-ups, updates, hard delete.

use std::collections::HashMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::App;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::Audience;
use shared::domain::input::{StaffCreateInput, StaffUpdateInput};
use shared::domain::{Customer, CustomerStatus, EmailAddress, Patch, PhoneE164, Username};
use shared::http::cursor::page_limit;
use shared::http::customer_update::update_customer;
use shared::http::{ApiError, if_match, json, parse_json_lenient};
use shared::store::{AttributeValue, StoreError};
use shared::time::Timestamp;

use crate::common::{
    customer_response, definitions_if, load_customer, no_such_customer, parse_customer_id, query_param, staff_context,
    with_shape_errors,
};
use crate::idempotency::idempotent;

pub async fn create(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    idempotent(app, req, actor, "POST /v1/customers", || create_once(app, req, actor)).await
}

async fn create_once(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let (input, shape_errors) = parse_json_lenient::<StaffCreateInput>(req)?;
    let definitions = definitions_if(app, true).await?;
    let now = Timestamp::now();
    let customer = input.0.create(&staff_context(app, &definitions, now), now, shape_errors)?;
    let username_chosen = matches!(input.0.username, Patch::Value(_));
    let note = AuditNote::new(actor, AuditAction::Create);
    let created = app.store.create_customer(customer, &note, username_chosen).await?;
    let mut response = customer_response(StatusCode::CREATED, &created)?;
    let location = format!("/v1/customers/{}", created.customer_id);
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    Ok(response)
}

/// Newest first. `status` (or `is_active`) narrows the list to one or more statuses.
pub async fn list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let statuses = status_filter(query_param(req, "status"), query_param(req, "is_active"))?;
    let limit = page_limit(query_param(req, "limit").as_deref())? as usize;
    let scope =
        format!("GET /v1/customers?{}", statuses.iter().map(CustomerStatus::as_str).collect::<Vec<_>>().join(","));
    let before = match query_param(req, "cursor") {
        Some(cursor) => {
            let key = app.cursor_signer.decode(&scope, &cursor)?;
            let position = key.get("GSI4SK").and_then(|v| v.as_s().ok()).cloned();
            Some(position.ok_or_else(|| ApiError::BadRequest("the cursor is not valid for this query".into()))?)
        }
        None => None,
    };
    let page = app.store.list_customers(&statuses, limit, before.as_deref()).await?;
    let next_cursor = page.next_position.map(|position| {
        app.cursor_signer.encode(&scope, &HashMap::from([("GSI4SK".to_string(), AttributeValue::S(position))]))
    });
    let items: Vec<_> = page.items.iter().map(|c| c.to_json(Audience::Staff)).collect();
    json(StatusCode::OK, &json!({ "items": items, "next_cursor": next_cursor }))
}

/// `status=active`, `is_active=true` (= `status=active`), `is_active=false` (every other
/// status), or nothing (every status).
fn status_filter(status: Option<String>, is_active: Option<String>) -> Result<Vec<CustomerStatus>, ApiError> {
    let by_status = match status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(CustomerStatus::parse(text).ok_or_else(|| {
            ApiError::validation("status", "must be one of active, suspended, banned, deactivated, archived")
        })?),
    };
    let by_activity = match is_active.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::validation("is_active", "must be true or false")),
    };
    let all = CustomerStatus::ALL;
    Ok(match (by_status, by_activity) {
        (Some(status), Some(active)) if (status == CustomerStatus::Active) != active => {
            return Err(ApiError::validation("is_active", "contradicts status"));
        }
        (Some(status), _) => vec![status],
        (None, Some(true)) => vec![CustomerStatus::Active],
        (None, Some(false)) => all.into_iter().filter(|s| *s != CustomerStatus::Active).collect(),
        (None, None) => all.to_vec(),
    })
}

pub async fn get(app: &App, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let customer = load_customer(app, &parse_customer_id(raw_id)?).await?;
    customer_response(StatusCode::OK, &customer)
}

pub async fn by_phone(app: &App, raw: &str) -> Result<Response<Body>, ApiError> {
    let phone = PhoneE164::parse(raw, app.config.phone_default_region).map_err(|m| ApiError::validation("phone", m))?;
    found(app.store.find_customer_by_phone(&phone).await?)
}

pub async fn by_email(app: &App, raw: &str) -> Result<Response<Body>, ApiError> {
    let email = EmailAddress::parse(raw).map_err(|m| ApiError::validation("email", m))?;
    found(app.store.find_customer_by_email(&email).await?)
}

pub async fn by_username(app: &App, raw: &str) -> Result<Response<Body>, ApiError> {
    let username = Username::parse(raw).ok_or_else(|| ApiError::validation("username", Username::RULE))?;
    found(app.store.find_customer_by_username(&username).await?)
}

fn found(customer: Option<Customer>) -> Result<Response<Body>, ApiError> {
    customer_response(StatusCode::OK, &customer.ok_or_else(no_such_customer)?)
}

/// `PATCH` and `PUT`: a partial update, `If-Match` honoured.
pub async fn update(app: &App, req: &Request, actor: &str, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let (input, shape_errors) = parse_json_lenient::<StaffUpdateInput>(req)?;
    let expected = if_match(req)?;
    let definitions = definitions_if(app, matches!(input.0.custom_fields, Patch::Value(_))).await?;
    let note = AuditNote::new(actor, AuditAction::Update);
    let change = |current: &Customer, now: Timestamp| {
        with_shape_errors(&shape_errors, input.0.apply(current, &staff_context(app, &definitions, now)))
    };
    let updated = update_customer(app, &id, expected.as_deref(), &note, no_such_customer, change).await?;
    customer_response(StatusCode::OK, &updated.customer)
}

/// The permanent erase: the customer and everything that is theirs.
pub async fn hard_delete(app: &App, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    match app.store.erase_customer(&id).await {
        Ok(()) => shared::http::no_content(),
        Err(StoreError::NotFound) => Err(no_such_customer()),
        Err(err) => Err(err.into()),
    }
}
