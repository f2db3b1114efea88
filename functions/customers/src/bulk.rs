//! `POST /v1/customers/bulk-update`: the same change applied to up to 100 customers, each
//! through the one update path, with a result per customer.

use std::collections::HashSet;

use futures::stream::{self, StreamExt};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shared::App;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::fields::FieldDefinition;
use shared::domain::input::StaffUpdateInput;
use shared::domain::{Customer, CustomerId, EmailAddress, Patch, PhoneE164, Username, ValidationErrors};
use shared::http::body::parse_object;
use shared::http::{ApiError, JsonBody, Scope, json, parse_json};
use shared::services::customers;
use shared::time::Timestamp;

use crate::common::{definitions_if, no_such_customer, staff_context};
use crate::idempotency::idempotent;

pub const MAX_IDS: usize = 100;
/// Customers updated at the same time: enough to finish 100 well within the API's timeout
/// without bursting the table.
const CONCURRENCY: usize = 10;

#[derive(Debug, Deserialize)]
struct BulkRequest {
    customer_ids: Vec<String>,
    updates: Map<String, Value>,
}

impl JsonBody for BulkRequest {
    const FIELDS: &'static [&'static str] = &["customer_ids", "updates"];
}

pub async fn bulk_update(app: &App, req: &Request, actor: &str, scope: &Scope) -> Result<Response<Body>, ApiError> {
    idempotent(app, req, actor, scope, || bulk_update_once(app, req, actor)).await
}

async fn bulk_update_once(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let body: BulkRequest = parse_json(req)?;
    let mut errors = ValidationErrors::new();
    if let Err(message) = check_ids(&body.customer_ids) {
        errors.add("customer_ids", message);
    }
    if body.updates.is_empty() {
        errors.add("updates", "must change at least one field");
    }
    let (input, shape) = parse_updates(body.updates)?;
    let definitions = definitions_if(app, matches!(input.0.custom_fields, Patch::Value(_))).await?;
    errors.merge(check_updates(app, &input, &definitions, shape));
    errors.into_result()?;
    let note = AuditNote::new(actor, AuditAction::Update);
    let mut updates = Vec::with_capacity(body.customer_ids.len());
    for raw in &body.customer_ids {
        updates.push(update_one(app, raw, &input, &definitions, &note));
    }
    let results: Vec<Value> = stream::iter(updates).buffered(CONCURRENCY).collect().await;
    json(StatusCode::OK, &json!({ "results": results }))
}

fn check_ids(ids: &[String]) -> Result<(), String> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(format!("must list 1 to {MAX_IDS} customer ids"));
    }
    let mut seen = HashSet::new();
    if let Some(repeated) = ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(format!("lists {repeated} more than once"));
    }
    Ok(())
}

/// `updates` has the same fields as `PATCH`; errors are named `updates.<field>`.
fn parse_updates(updates: Map<String, Value>) -> Result<(StaffUpdateInput, ValidationErrors), ApiError> {
    match parse_object::<StaffUpdateInput>(updates) {
        Err(ApiError::Validation(errors)) => Err(ApiError::Validation(prefixed(errors))),
        other => other,
    }
}

/// `updates` is checked once, up front, against a stand-in customer: a value that is invalid
/// for every customer (a malformed email, an unknown field) fails the whole request and changes
/// nothing. What depends on the customer (a taken email) is reported per customer.
fn check_updates(
    app: &App,
    input: &StaffUpdateInput,
    definitions: &[FieldDefinition],
    shape: ValidationErrors,
) -> ValidationErrors {
    let now = app.clock.now();
    let mut stand_in = Customer::new(CustomerId::generate(), Username::base("a", "b"), ("A".into(), "B".into()), now);
    stand_in.email = EmailAddress::parse("stand-in@example.com").ok();
    stand_in.phone = PhoneE164::parse("+260971234567", app.config.phone_default_region).ok();
    let mut errors = shape;
    if let Err(found) = input.0.apply(&stand_in, &staff_context(app, definitions, now)) {
        errors.merge(found);
    }
    prefixed(errors)
}

fn prefixed(errors: ValidationErrors) -> ValidationErrors {
    let mut out = ValidationErrors::new();
    for error in errors.fields() {
        out.add(format!("updates.{}", error.field), error.message.clone());
    }
    out
}

async fn update_one(
    app: &App,
    raw_id: &str,
    input: &StaffUpdateInput,
    definitions: &[FieldDefinition],
    note: &AuditNote,
) -> Value {
    let Some(id) = CustomerId::parse(raw_id) else {
        return result(raw_id, &Err(no_such_customer()));
    };
    let change =
        |current: &Customer, now: Timestamp| Ok(input.0.apply(current, &staff_context(app, definitions, now))?);
    let outcome = customers::update_customer(app, &id, None, note, change)
        .await
        .map_err(|e| ApiError::from_update(e, no_such_customer))
        .map(|_| ());
    result(raw_id, &outcome)
}

fn result(raw_id: &str, outcome: &Result<(), ApiError>) -> Value {
    match outcome {
        Ok(()) => json!({"customer_id": raw_id, "status": 200}),
        Err(err) => {
            let mut entry = json!({"customer_id": raw_id, "status": err.status().as_u16(), "error": err.detail()});
            if let ApiError::Validation(errors) = err {
                entry["errors"] = json!(errors.fields());
            }
            entry
        }
    }
}
