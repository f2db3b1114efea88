//! The `profile` function: a customer's own profile.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::Principal;
use shared::auth::roles::{Access, authorize};
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::customer::Audience;
use shared::domain::fields::Writer;
use shared::domain::input::{ApplyContext, SelfUpdateInput};
use shared::domain::{Customer, CustomerId, Patch};
use shared::http::customer_update::update_customer;
use shared::http::response::json_with_etag;
use shared::http::{ApiError, Route, if_match, no_content, parse_json_lenient, router};
use shared::store::StoreError;
use shared::time::Timestamp;

/// Every route of this function and who may call it; `template.yaml` declares the same set.
pub const ROUTES: &[Route] = &[
    Route::new("GET", "/v1/me", Access::Customer),
    Route::new("PATCH", "/v1/me", Access::Customer),
    Route::new("DELETE", "/v1/me", Access::Customer),
];

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    dispatch(app, &req).await.unwrap_or_else(ApiError::into_response)
}

async fn dispatch(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let matched = router::find(ROUTES, req.method().as_str(), req.uri().path())?;
    let principal = authorize(req.headers(), matched.route.access, &app.jwt)?
        .ok_or_else(|| ApiError::Unauthorized("sign in first".into()))?;
    let me = customer_id(&principal)?;
    match matched.route.method {
        "GET" => get_me(app, &me).await,
        "PATCH" => update_me(app, &me, req).await,
        "DELETE" => delete_me(app, &me).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

fn customer_id(principal: &Principal) -> Result<CustomerId, ApiError> {
    CustomerId::parse(&principal.subject).ok_or_else(|| ApiError::Unauthorized("invalid or expired token".into()))
}

fn gone() -> ApiError {
    ApiError::NotFound("your account no longer exists".into())
}

fn customer_response(customer: &Customer) -> Result<Response<Body>, ApiError> {
    json_with_etag(StatusCode::OK, &customer.to_json(Audience::Owner), &customer.etag())
}

async fn get_me(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    let customer = app.store.get_customer(me).await?.ok_or_else(gone)?;
    customer_response(&customer)
}

/// Partial update. With `If-Match`, a stale version is 412; without it, the change is applied
/// atomically to whatever version is current.
async fn update_me(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let (input, shape_errors) = parse_json_lenient::<SelfUpdateInput>(req)?;
    let expected = if_match(req)?;
    let definitions = match &input.0.custom_fields {
        Patch::Value(_) => app.store.list_fields().await?,
        _ => Vec::new(),
    };
    let note = AuditNote::new(me.as_str(), AuditAction::Update);
    let change = |current: &Customer, now: Timestamp| {
        if !current.is_active() {
            return Err(ApiError::Forbidden(format!("this account is {}", current.status.as_str())));
        }
        let ctx = ApplyContext {
            today: now.date(),
            phone_region: app.config.phone_default_region,
            fields: &definitions,
            writer: Writer::Customer,
        };
        let mut errors = shape_errors.clone();
        match input.0.apply(current, &ctx) {
            Ok(next) if errors.is_empty() => Ok(next),
            Ok(_) => Err(errors.into()),
            Err(found) => {
                errors.merge(found);
                Err(errors.into())
            }
        }
    };
    let updated = update_customer(app, me, expected.as_deref(), &note, gone, change).await?;
    customer_response(&updated.customer)
}

async fn delete_me(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    match app.store.erase_customer(me).await {
        Ok(()) => no_content(),
        Err(StoreError::NotFound) => Err(gone()),
        Err(err) => Err(err.into()),
    }
}
