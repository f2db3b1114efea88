//! Customer records: create, list, look-ups, updates, hard delete.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::{Audience, EraseRule};
use shared::domain::input::{StaffCreateInput, StaffUpdateInput};
use shared::domain::{Customer, CustomerStatus, EmailAddress, Patch, PhoneE164, Username};
use shared::http::paging::PageRequest;
use shared::http::response::with_location;
use shared::http::{ApiError, Scope, if_match, parse_json_lenient};
use shared::services::customers::{self, Lookup};
use shared::time::Timestamp;

use crate::common::{
    customer_response, definitions_if, load_customer, no_such_customer, parse_customer_id, query_param, staff_context,
};
use crate::idempotency::idempotent;

pub async fn create(app: &App, req: &Request, actor: &str, scope: &Scope) -> Result<Response<Body>, ApiError> {
    idempotent(app, req, actor, scope, || create_once(app, req, actor)).await
}

async fn create_once(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let (input, shape_errors) = parse_json_lenient::<StaffCreateInput>(req)?;
    let definitions = definitions_if(app, true).await?;
    let (now, now_ms) = app.clock.now_with_ms();
    let mut customer = input.0.create(&staff_context(app, &definitions, now), now, shape_errors)?;
    customer.created_ms = Some(now_ms);
    let username_chosen = matches!(input.0.username, Patch::Value(_));
    let note = AuditNote::new(actor, AuditAction::Create);
    let created = customers::create(app, customer, &note, username_chosen).await?;
    with_location(customer_response(StatusCode::CREATED, &created)?, &format!("/v1/customers/{}", created.customer_id))
}

/// Newest first. `status` (or `is_active`) narrows the list to one or more statuses.
pub async fn list(app: &App, req: &Request, scope: Scope) -> Result<Response<Body>, ApiError> {
    let statuses = status_filter(query_param(req, "status"), query_param(req, "is_active"))?;
    let scope = scope.filtered(statuses.iter().map(CustomerStatus::as_str).collect::<Vec<_>>().join(","));
    let request = PageRequest::from_request(app, req, scope)?;
    let page = customers::list(app, &statuses, request.limit as usize, request.start.clone()).await?;
    request.respond(app, page, |c| c.to_json(Audience::Staff))
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
    found(app, Lookup::Phone(phone)).await
}

pub async fn by_email(app: &App, raw: &str) -> Result<Response<Body>, ApiError> {
    let email = EmailAddress::parse(raw).map_err(|m| ApiError::validation("email", m))?;
    found(app, Lookup::Email(email)).await
}

pub async fn by_username(app: &App, raw: &str) -> Result<Response<Body>, ApiError> {
    let username = Username::parse(raw).ok_or_else(|| ApiError::validation("username", Username::RULE))?;
    found(app, Lookup::Username(username)).await
}

async fn found(app: &App, by: Lookup) -> Result<Response<Body>, ApiError> {
    let customer = customers::find(app, &by).await?;
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
        Ok(shape_errors.combined_with(input.0.apply(current, &staff_context(app, &definitions, now)))?)
    };
    let updated = customers::update_customer(app, &id, expected.as_deref(), &note, change)
        .await
        .map_err(|e| ApiError::from_update(e, no_such_customer))?;
    customer_response(StatusCode::OK, &updated)
}

/// The permanent erase: the customer and everything that is theirs.
pub async fn hard_delete(app: &App, actor: &str, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    shared::services::erase::erase_customer(app, &id, actor, EraseRule::Staff)
        .await
        .map_err(|e| ApiError::from_erase(e, no_such_customer))?;
    shared::http::no_content()
}
