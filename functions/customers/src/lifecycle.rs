//! The lifecycle: status changes (with reasons and the open-loan rule), soft delete,
//! verification of contacts, activity counters, and the audit trail.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::App;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::{ActivityKind, ActivityRefusal, ContactKind, NoContactOnFile, TransitionError};
use shared::domain::validation::{ValidationErrors, bounded_text};
use shared::domain::{Customer, CustomerStatus};
use shared::http::paging::PageRequest;
use shared::http::{ApiError, JsonBody, Scope, parse_json};
use shared::services::customers::update_customer;
use shared::time::Timestamp;

use crate::common::{customer_response, load_customer, no_such_customer, parse_customer_id};

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

fn transition_conflict(err: TransitionError) -> ApiError {
    ApiError::Conflict { detail: err.to_string(), field: None }
}

/// Moves the customer to `next` if the lifecycle allows it from the status it has *when the
/// write happens* (the check runs inside the optimistic update loop, so a concurrent
/// `loan_opened` or status change is never missed).
fn move_to(current: &Customer, next: CustomerStatus) -> Result<Customer, ApiError> {
    current.check_transition(next).map_err(transition_conflict)?;
    let mut moved = current.clone();
    moved.status = next;
    Ok(moved)
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
    let updated = update_customer(&app.store, &app.clock, &id, None, &note, |current, _| move_to(current, status))
        .await
        .map_err(|e| ApiError::from_update(e, no_such_customer))?;
    customer_response(StatusCode::OK, &updated)
}

/// Soft delete: the customer becomes `deactivated` (through the lifecycle rules, so open loans
/// block it). Deleting an already deactivated customer changes nothing.
pub async fn soft_delete(app: &App, actor: &str, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let note = AuditNote::new(actor, AuditAction::StatusChange).with_reason("deleted by staff (soft delete)");
    let change = |current: &Customer, _: Timestamp| {
        if current.status == CustomerStatus::Deactivated {
            Ok(current.clone())
        } else {
            move_to(current, CustomerStatus::Deactivated)
        }
    };
    let updated = update_customer(&app.store, &app.clock, &id, None, &note, change)
        .await
        .map_err(|e| ApiError::from_update(e, no_such_customer))?;
    customer_response(StatusCode::OK, &updated)
}

/// Marks the contact verified; 409 when the customer has no such contact on file. Verifying
/// a verified contact changes nothing.
pub async fn verify(app: &App, actor: &str, raw_id: &str, contact: ContactKind) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let action = match contact {
        ContactKind::Email => AuditAction::VerifyEmail,
        ContactKind::Phone => AuditAction::VerifyPhone,
    };
    let note = AuditNote::new(actor, action);
    let change = |current: &Customer, _: Timestamp| {
        current.with_contact_verified(contact).map_err(|NoContactOnFile(kind)| ApiError::Conflict {
            detail: format!("the customer has no {} on file", kind.as_str()),
            field: None,
        })
    };
    let updated = update_customer(&app.store, &app.clock, &id, None, &note, change)
        .await
        .map_err(|e| ApiError::from_update(e, no_such_customer))?;
    customer_response(StatusCode::OK, &updated)
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
    // A refused update is re-read to say why; if the customer became active meanwhile, the
    // activity is simply tried again.
    for _ in 0..3 {
        if let Some(customer) = app.store.record_activity(&id, kind, app.clock.now()).await? {
            return customer_response(StatusCode::OK, &customer);
        }
        let customer = load_customer(app, &id).await?;
        match kind.refusal_for(&customer) {
            Some(ActivityRefusal::NotActive(status)) => {
                return Err(ApiError::Forbidden(format!("the customer is {}", status.as_str())));
            }
            Some(ActivityRefusal::NoOpenLoan) => {
                return Err(ApiError::Conflict {
                    detail: "the customer has no open loan to close".into(),
                    field: None,
                });
            }
            None => {}
        }
    }
    Err(ApiError::Conflict { detail: "the customer is being changed elsewhere; try again".into(), field: None })
}

/// The audit trail, newest first. Every customer has at least its creation entry, so only an
/// empty page costs the read that tells "no such customer" apart.
pub async fn audit(app: &App, req: &Request, raw_id: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let id = parse_customer_id(raw_id)?;
    let request = PageRequest::from_request(app, req, scope)?;
    let page = app.store.list_audit(&id, request.limit, request.start.clone()).await?;
    if page.items.is_empty() {
        load_customer(app, &id).await?;
    }
    request.respond(app, page, |entry| entry.to_json())
}
