//! The `customers` function: the back office's customer records, their lifecycle and audit
//! trail, custom field definitions and groups.

mod bulk;
mod common;
mod fields;
mod groups;
mod idempotency;
mod lifecycle;
mod records;

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::current::ensure_current_admin;
use shared::auth::roles::{Access, authorize};
use shared::http::{ApiError, Route, router};

/// Every route of this function and who may call it. `template.yaml` declares the same set
/// (a test checks both directions). Literal paths come before the `{customer_id}` ones.
pub const ROUTES: &[Route] = &[
    Route::new("POST", "/v1/customers", Access::Staff),
    Route::new("GET", "/v1/customers", Access::Staff),
    Route::new("POST", "/v1/customers/bulk-update", Access::Staff),
    Route::new("GET", "/v1/customers/by-phone/{phone}", Access::Staff),
    Route::new("GET", "/v1/customers/by-email/{email}", Access::Staff),
    Route::new("GET", "/v1/customers/by-username/{username}", Access::Staff),
    Route::new("GET", "/v1/customers/{customer_id}", Access::Staff),
    Route::new("PATCH", "/v1/customers/{customer_id}", Access::Staff),
    Route::new("PUT", "/v1/customers/{customer_id}", Access::Staff),
    Route::new("DELETE", "/v1/customers/{customer_id}", Access::Staff),
    Route::new("DELETE", "/v1/customers/{customer_id}/hard", Access::Admin),
    Route::new("POST", "/v1/customers/{customer_id}/status", Access::Admin),
    Route::new("GET", "/v1/customers/{customer_id}/audit", Access::Admin),
    Route::new("POST", "/v1/customers/{customer_id}/verify-email", Access::Staff),
    Route::new("POST", "/v1/customers/{customer_id}/verify-phone", Access::Staff),
    Route::new("POST", "/v1/customers/{customer_id}/activity", Access::Staff),
    Route::new("GET", "/v1/fields", Access::Staff),
    Route::new("POST", "/v1/fields", Access::Admin),
    Route::new("GET", "/v1/fields/{key}", Access::Staff),
    Route::new("PUT", "/v1/fields/{key}", Access::Admin),
    Route::new("DELETE", "/v1/fields/{key}", Access::Admin),
    Route::new("POST", "/v1/groups", Access::Staff),
    Route::new("GET", "/v1/groups", Access::Staff),
    Route::new("GET", "/v1/groups/{group_id}", Access::Staff),
    Route::new("GET", "/v1/groups/{group_id}/customers", Access::Staff),
    Route::new("PUT", "/v1/groups/{group_id}/customers/{customer_id}", Access::Staff),
    Route::new("DELETE", "/v1/groups/{group_id}/customers/{customer_id}", Access::Staff),
];

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    dispatch(app, &req).await.unwrap_or_else(ApiError::into_response)
}

async fn dispatch(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let matched = router::find(ROUTES, req.method().as_str(), req.uri().path())?;
    let principal = authorize(req.headers(), matched.route.access, &app.jwt)?
        .ok_or_else(|| ApiError::Unauthorized("sign in first".into()))?;
    if matched.route.access == Access::Admin {
        ensure_current_admin(app, &principal).await?;
    }
    let actor = principal.subject.as_str();
    let id = || matched.param("customer_id");
    match (matched.route.method, matched.route.path) {
        ("POST", "/v1/customers") => records::create(app, req, actor).await,
        ("GET", "/v1/customers") => records::list(app, req).await,
        ("POST", "/v1/customers/bulk-update") => bulk::bulk_update(app, req, actor).await,
        ("GET", "/v1/customers/by-phone/{phone}") => records::by_phone(app, matched.param("phone")).await,
        ("GET", "/v1/customers/by-email/{email}") => records::by_email(app, matched.param("email")).await,
        ("GET", "/v1/customers/by-username/{username}") => records::by_username(app, matched.param("username")).await,
        ("GET", "/v1/customers/{customer_id}") => records::get(app, id()).await,
        ("PATCH" | "PUT", "/v1/customers/{customer_id}") => records::update(app, req, actor, id()).await,
        ("DELETE", "/v1/customers/{customer_id}") => lifecycle::soft_delete(app, actor, id()).await,
        ("DELETE", "/v1/customers/{customer_id}/hard") => records::hard_delete(app, id()).await,
        ("POST", "/v1/customers/{customer_id}/status") => lifecycle::change_status(app, req, actor, id()).await,
        ("GET", "/v1/customers/{customer_id}/audit") => lifecycle::audit(app, req, id()).await,
        ("POST", "/v1/customers/{customer_id}/verify-email") => {
            lifecycle::verify(app, actor, id(), lifecycle::Contact::Email).await
        }
        ("POST", "/v1/customers/{customer_id}/verify-phone") => {
            lifecycle::verify(app, actor, id(), lifecycle::Contact::Phone).await
        }
        ("POST", "/v1/customers/{customer_id}/activity") => lifecycle::activity(app, req, id()).await,
        ("GET", "/v1/fields") => fields::list(app, req).await,
        ("POST", "/v1/fields") => fields::create(app, req).await,
        ("GET", "/v1/fields/{key}") => fields::get(app, matched.param("key")).await,
        ("PUT", "/v1/fields/{key}") => fields::replace(app, req, matched.param("key")).await,
        ("DELETE", "/v1/fields/{key}") => fields::retire(app, matched.param("key")).await,
        ("POST", "/v1/groups") => groups::create(app, req, actor).await,
        ("GET", "/v1/groups") => groups::list(app, req).await,
        ("GET", "/v1/groups/{group_id}") => groups::get(app, matched.param("group_id")).await,
        ("GET", "/v1/groups/{group_id}/customers") => groups::members(app, req, matched.param("group_id")).await,
        ("PUT", "/v1/groups/{group_id}/customers/{customer_id}") => {
            groups::add(app, matched.param("group_id"), id()).await
        }
        ("DELETE", "/v1/groups/{group_id}/customers/{customer_id}") => {
            groups::remove(app, matched.param("group_id"), id()).await
        }
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}
