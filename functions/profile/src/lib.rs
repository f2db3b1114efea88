//! The `profile` function: a customer's own profile.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::Principal;
use shared::auth::roles::{Access, authorize};
use shared::domain::customer::{Audience, SelfUpdateInput};
use shared::domain::{Customer, CustomerId};
use shared::http::response::json_with_etag;
use shared::http::{ApiError, Route, no_content, parse_json_lenient, router};
use shared::store::StoreError;
use shared::time::Timestamp;

/// Every route of this function and who may call it; `template.yaml` declares the same set.
pub const ROUTES: &[Route] = &[
    Route::new("GET", "/v1/me", Access::Customer),
    Route::new("PATCH", "/v1/me", Access::Customer),
    Route::new("DELETE", "/v1/me", Access::Customer),
];

/// Attempts of a `PATCH` without `If-Match` that lost a race with another writer.
const UPDATE_ATTEMPTS: usize = 5;

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
/// atomically to whatever version is current, retrying if another writer got in first.
async fn update_me(app: &App, me: &CustomerId, req: &Request) -> Result<Response<Body>, ApiError> {
    let (input, shape_errors) = parse_json_lenient::<SelfUpdateInput>(req)?;
    let expected = if_match(req)?;
    for _ in 0..UPDATE_ATTEMPTS {
        let current = app.store.get_customer(me).await?.ok_or_else(gone)?;
        if !current.is_active() {
            return Err(ApiError::Forbidden(format!("this account is {}", current.status.as_str())));
        }
        if expected.as_ref().is_some_and(|versions| !versions.contains(&current.version)) {
            return Err(ApiError::PreconditionFailed);
        }
        let now = Timestamp::now();
        let mut next = match input.apply(&current, now.date()) {
            Ok(next) if shape_errors.is_empty() => next,
            Ok(_) => return Err(shape_errors.into()),
            Err(errors) => {
                let mut all = shape_errors;
                all.merge(errors);
                return Err(all.into());
            }
        };
        if next == current {
            return customer_response(&current);
        }
        match app.store.replace_customer(&current, &mut next, now).await {
            Ok(()) => return customer_response(&next),
            Err(StoreError::VersionConflict) if expected.is_some() => {
                return Err(ApiError::PreconditionFailed);
            }
            Err(StoreError::VersionConflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Conflict { detail: "your profile is being changed elsewhere; try again".into(), field: None })
}

async fn delete_me(app: &App, me: &CustomerId) -> Result<Response<Body>, ApiError> {
    match app.store.erase_customer(me).await {
        Ok(()) => no_content(),
        Err(StoreError::NotFound) => Err(gone()),
        Err(err) => Err(err.into()),
    }
}

/// The versions an `If-Match` header accepts: `"3"` or a list `"3", "4"`; absent or `*` means
/// any. Weak tags never match (RFC 9110 §13.1.1 uses the strong comparison).
fn if_match(req: &Request) -> Result<Option<Vec<u64>>, ApiError> {
    let Some(value) = req.headers().get(http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::BadRequest("If-Match is not readable".into()))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let mut versions = Vec::new();
    for tag in text.split(',').map(str::trim) {
        if tag.starts_with("W/") {
            continue;
        }
        let quoted = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
        let version = quoted.and_then(|v| v.parse().ok());
        versions.push(
            version.ok_or_else(|| ApiError::BadRequest("If-Match must list ETags from previous responses".into()))?,
        );
    }
    Ok(Some(versions))
}
