//! Refresh, logout, the session list, revocation, and `verify`.
//!
//! Revocation deletes the session item, so its refresh tokens stop at once. Access tokens are
//! checked by signature only (no read per request), so one of a revoked session keeps working
//! until it expires: at most `ACCESS_TOKEN_TTL_SECONDS` (15 minutes by default). The routes here
//! that read the session anyway (`verify`, the session list) refuse it immediately.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::refresh::{PresentedRefresh, token_hash};
use shared::auth::{Principal, Role};
use shared::domain::customer::Audience;
use shared::domain::staff::StaffId;
use shared::domain::{CustomerId, SessionId};
use shared::http::{ApiError, JsonBody, json, no_content, parse_json};
use shared::store::sessions::SessionRecord;
use shared::time::Timestamp;

use crate::tokens::token_fields;

/// Retries of a refresh that lost a rotation race and found the session moved on again.
const REFRESH_ATTEMPTS: usize = 3;

#[derive(Debug, Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

impl JsonBody for RefreshRequest {
    const FIELDS: &'static [&'static str] = &["refresh_token"];
}

fn invalid_refresh() -> ApiError {
    ApiError::Unauthorized("the refresh token is invalid, expired or revoked; sign in again".into())
}

pub async fn refresh(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: RefreshRequest = parse_json(req)?;
    let presented = app.keys().refresh_signer()?.parse(&body.refresh_token).ok_or_else(invalid_refresh)?;
    let now = app.clock.now();
    for _ in 0..REFRESH_ATTEMPTS {
        let session = app
            .store
            .get_session(&presented.owner_id, &presented.session_id, now)
            .await?
            .ok_or_else(invalid_refresh)?;
        let role = current_role(app, &session).await?;
        let current = presented.generation == session.generation && presented.hash == session.refresh_hash;
        if current {
            let next = session.generation + 1;
            let token = app.keys().refresh_signer()?.issue(&session.owner_id, &session.session_id, next);
            if app.store.rotate_session(&session, next, &token_hash(&token), now).await? {
                return json(StatusCode::OK, &token_fields(app, &app.issuer(req), &session, role, token, now)?);
            }
            continue; // A concurrent refresh rotated first: we are now the racing one.
        }
        if within_grace(app, &presented, &session, now) {
            // The racing twin of a refresh that just rotated: hand out the same new token.
            let keys = app.keys();
            let signer = keys.refresh_signer()?;
            let token =
                signer.reissue(&session.owner_id, &session.session_id, session.generation, &session.refresh_hash);
            return json(StatusCode::OK, &token_fields(app, &app.issuer(req), &session, role, token, now)?);
        }
        // A genuine but superseded token: someone replayed it. Revoke the whole session.
        tracing::warn!(session = %session.session_id.as_str(), "refresh token reuse detected; session revoked");
        app.store.delete_session(&session.owner_id, &session.session_id).await?;
        return Err(invalid_refresh());
    }
    Err(ApiError::Conflict { detail: "the session is being refreshed elsewhere; try again".into(), field: None })
}

fn within_grace(app: &App, presented: &PresentedRefresh, session: &SessionRecord, now: Timestamp) -> bool {
    let grace = app.config.refresh_grace.as_secs() as i64;
    presented.generation + 1 == session.generation
        && session.rotated_at.is_some_and(|at| now.unix() - at.unix() <= grace)
}

/// The role a refreshed access token carries: re-read, so a demotion or a disabled account
/// takes effect at the next refresh, and a customer who may no longer log in cannot refresh.
async fn current_role(app: &App, session: &SessionRecord) -> Result<Role, ApiError> {
    if let Some(id) = StaffId::parse(&session.owner_id) {
        return match app.store.get_staff(&id).await? {
            Some(staff) if !staff.disabled => Ok(staff.role),
            _ => Err(invalid_refresh()),
        };
    }
    let id = CustomerId::parse(&session.owner_id).ok_or_else(invalid_refresh)?;
    match app.store.get_customer(&id).await? {
        Some(customer) if customer.is_active() => Ok(Role::Customer),
        Some(customer) => Err(ApiError::Forbidden(format!("this account is {}", customer.status.as_str()))),
        None => Err(invalid_refresh()),
    }
}

fn session_id(principal: &Principal) -> Result<SessionId, ApiError> {
    SessionId::parse(&principal.session_id).ok_or_else(|| ApiError::Unauthorized("invalid or expired token".into()))
}

pub async fn logout(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    app.store.delete_session(&principal.subject, &session_id(principal)?).await?;
    no_content()
}

pub async fn list_sessions(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let now = app.clock.now();
    let sessions = app.store.list_sessions(&principal.subject, now).await?;
    let current = session_id(principal)?;
    if !sessions.iter().any(|s| s.session_id == current) {
        return Err(ApiError::Unauthorized("this session has been revoked".into()));
    }
    let items: Vec<_> = sessions
        .iter()
        .map(|s| {
            let mut item = s.to_json();
            item["current"] = json!(s.session_id == current);
            item
        })
        .collect();
    json(StatusCode::OK, &json!({ "items": items, "next_cursor": null }))
}

pub async fn revoke_session(app: &App, principal: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::NotFound("no such session".into());
    let id = SessionId::parse(raw_id).ok_or_else(not_found)?;
    // The key includes the caller's own partition, so another user's session id is a 404.
    if app.store.delete_session(&principal.subject, &id).await? { no_content() } else { Err(not_found()) }
}

pub async fn revoke_all(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    app.store.delete_all_sessions(&principal.subject).await?;
    no_content()
}

pub async fn verify(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let now = app.clock.now();
    let revoked = || ApiError::Unauthorized("this session has been revoked".into());
    app.store.get_session(&principal.subject, &session_id(principal)?, now).await?.ok_or_else(revoked)?;
    let mut body = json!({ "claims": principal.claims });
    if let Some(id) = StaffId::parse(&principal.subject) {
        let staff = app.store.get_staff(&id).await?.filter(|s| !s.disabled).ok_or_else(revoked)?;
        body["staff"] = staff.to_json();
    } else {
        let id = CustomerId::parse(&principal.subject).ok_or_else(revoked)?;
        let customer = app.store.get_customer(&id).await?.ok_or_else(revoked)?;
        if !customer.is_active() {
            return Err(ApiError::Forbidden(format!("this account is {}", customer.status.as_str())));
        }
        body["customer"] = customer.to_json(Audience::Owner);
    }
    json(StatusCode::OK, &body)
}
