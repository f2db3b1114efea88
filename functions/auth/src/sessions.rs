//! Refresh, logout, the session list, revocation, and `verify`: the requests are read here, the
//! use cases are `services::sessions`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::Principal;
use shared::domain::customer::Audience;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json};
use shared::services::sessions::{self, SessionOwner};

use crate::tokens::token_fields;

#[derive(Debug, Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

impl JsonBody for RefreshRequest {
    const FIELDS: &'static [&'static str] = &["refresh_token"];
}

pub async fn refresh(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: RefreshRequest = parse_json(req)?;
    let tokens = sessions::refresh(app, &app.issuer(req), &body.refresh_token).await?;
    json(StatusCode::OK, &token_fields(&tokens))
}

pub async fn logout(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    sessions::logout(app, principal).await?;
    no_content()
}

pub async fn list_sessions(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let (sessions, current) = sessions::list_sessions(app, principal).await?;
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
    sessions::revoke_session(app, principal, raw_id).await?;
    no_content()
}

pub async fn revoke_all(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    sessions::revoke_all(app, principal).await?;
    no_content()
}

pub async fn verify(app: &App, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let mut body = json!({ "claims": principal.claims });
    match sessions::verify(app, principal).await? {
        SessionOwner::Staff(staff) => body["staff"] = staff.to_json(),
        SessionOwner::Customer(customer) => body["customer"] = customer.to_json(Audience::Owner),
    }
    json(StatusCode::OK, &body)
}
