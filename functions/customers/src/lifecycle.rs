//! The lifecycle: status changes (with reasons and the open-loan rule), soft delete,
//! verification of contacts, activity counters, and the audit trail.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::App;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::{ActivityKind, ContactKind};
use shared::domain::validation::{ValidationErrors, bounded_text};
use shared::domain::{Customer, CustomerStatus};
use shared::http::paging::PageRequest;
use shared::http::{ApiError, JsonBody, Scope, parse_json};
use shared::services::customers::UpdateError;
use shared::services::lifecycle::{self, LifecycleRefusal};

use crate::common::{customer_response, no_such_customer, parse_customer_id};

pub const MAX_REASON: usize = 500;

#[derive(Debug, Deserialize)]
struct StatusRequest {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl JsonBody for StatusRequest {
    const FIELDS: &'static [&'static str] = &["status", "reason"];
}

/// The staff view of a customer a lifecycle change left, or why it was refused.
fn changed(updated: Result<Customer, UpdateError<LifecycleRefusal>>) -> Result<Response<Body>, ApiError> {
    customer_response(
        StatusCode::OK,
        &updated.map_err(|e| ApiError::from_update(e.map_refused(ApiError::from), no_such_customer))?,
    )
}

pub async fn change_status(app: &App, req: &Request, actor: &str, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let body: StatusRequest = parse_json(req)?;
    let mut errors = ValidationErrors::new();
    let status = match body.status.as_deref() {
        Some(text) => errors.check(
            "status",
            CustomerStatus::parse(text.trim())
                .ok_or_else(|| "must be one of active, suspended, banned, deactivated, archived".to_string()),
        ),
        None => {
            errors.add("status", "is required");
            None
        }
    };
    let reason = match body.reason.as_deref() {
        Some(text) => errors.check("reason", bounded_text(text, MAX_REASON)),
        None => {
            errors.add("reason", "is required");
            None
        }
    };
    errors.into_result()?;
    let (Some(status), Some(reason)) = (status, reason) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let note = AuditNote::new(actor, AuditAction::StatusChange).with_reason(reason);
    changed(lifecycle::change_status(app, &id, status, &note).await)
}

/// Soft delete: the customer becomes `deactivated` (`services::lifecycle::soft_delete`).
pub async fn soft_delete(app: &App, actor: &str, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    changed(lifecycle::soft_delete(app, &id, actor).await)
}

/// Marks the contact verified; 409 when the customer has no such contact on file. Verifying
/// a verified contact changes nothing.
pub async fn verify(app: &App, actor: &str, raw_id: &str, contact: ContactKind) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    changed(lifecycle::verify_contact(app, &id, actor, contact).await)
}

#[derive(Debug, Deserialize)]
struct ActivityRequest {
    #[serde(rename = "type")]
    kind: String,
}

impl JsonBody for ActivityRequest {
    const FIELDS: &'static [&'static str] = &["type"];
}

/// Counts an activity atomically. Only active customers record activity (403), and a loan can
/// only close while one is open (409).
pub async fn activity(app: &App, req: &Request, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let body: ActivityRequest = parse_json(req)?;
    let kind = ActivityKind::parse(body.kind.trim())
        .ok_or_else(|| ApiError::validation("type", format!("must be one of {}", ActivityKind::NAMES)))?;
    customer_response(StatusCode::OK, &lifecycle::record_activity(app, &id, kind).await?)
}

/// The audit trail, newest first.
pub async fn audit(app: &App, req: &Request, raw_id: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let request = PageRequest::from_request(app, req, scope)?;
    let page = lifecycle::audit(app, &id, request.limit, request.start.clone()).await?.ok_or_else(no_such_customer)?;
    request.respond(app, page, |entry| entry.to_json())
}
