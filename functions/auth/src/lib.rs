//! The `auth` function: one-time codes, signup-or-login, health.

mod health;
mod login;
mod otp;
mod tokens;

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::auth::roles::{Access, authorize};
use shared::http::{ApiError, Route, router};

/// Every route of this function and who may call it. `template.yaml` declares the same set
/// (a test checks both directions).
pub const ROUTES: &[Route] = &[
    Route::new("POST", "/v1/auth/otp", Access::Anyone),
    Route::new("POST", "/v1/auth/login", Access::Anyone),
    Route::new("GET", "/v1/health", Access::Anyone),
];

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    dispatch(app, &req)
        .await
        .unwrap_or_else(ApiError::into_response)
}

async fn dispatch(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let matched = router::find(ROUTES, req.method().as_str(), req.uri().path())?;
    authorize(req.headers(), matched.route.access, &app.jwt)?;
    match (matched.route.method, matched.route.path) {
        ("POST", "/v1/auth/otp") => otp::request_code(app, req).await,
        ("POST", "/v1/auth/login") => login::login(app, req).await,
        ("GET", "/v1/health") => health::health(app).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}
