//! The `auth` function: one-time codes, signup-or-login, sessions, staff accounts, health.

mod health;
mod login;
mod otp;
mod sessions;
mod staff;
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
    Route::new("POST", "/v1/auth/refresh", Access::Anyone),
    Route::new("POST", "/v1/auth/logout", Access::SignedIn),
    Route::new("GET", "/v1/auth/sessions", Access::SignedIn),
    Route::new("DELETE", "/v1/auth/sessions", Access::SignedIn),
    Route::new("DELETE", "/v1/auth/sessions/{session_id}", Access::SignedIn),
    Route::new("GET", "/v1/auth/verify", Access::SignedIn),
    Route::new("POST", "/v1/auth/staff/login", Access::Anyone),
    Route::new("POST", "/v1/staff", Access::Admin),
    Route::new("GET", "/v1/staff", Access::Admin),
    Route::new("PATCH", "/v1/staff/{staff_id}", Access::Admin),
    Route::new("GET", "/v1/health", Access::Anyone),
];

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    dispatch(app, &req).await.unwrap_or_else(ApiError::into_response)
}

async fn dispatch(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let matched = router::find(ROUTES, req.method().as_str(), req.uri().path())?;
    let principal = authorize(req.headers(), matched.route.access, &app.jwt)?;
    let signed_in = || principal.as_ref().ok_or_else(|| ApiError::Unauthorized("sign in first".into()));
    if matched.route.access == Access::Admin {
        shared::auth::current::ensure_current_admin(app, signed_in()?).await?;
    }
    match (matched.route.method, matched.route.path) {
        ("POST", "/v1/auth/otp") => otp::request_code(app, req).await,
        ("POST", "/v1/auth/login") => login::login(app, req).await,
        ("POST", "/v1/auth/refresh") => sessions::refresh(app, req).await,
        ("POST", "/v1/auth/logout") => sessions::logout(app, signed_in()?).await,
        ("GET", "/v1/auth/sessions") => sessions::list_sessions(app, signed_in()?).await,
        ("DELETE", "/v1/auth/sessions") => sessions::revoke_all(app, signed_in()?).await,
        ("DELETE", "/v1/auth/sessions/{session_id}") => {
            sessions::revoke_session(app, signed_in()?, matched.param("session_id")).await
        }
        ("GET", "/v1/auth/verify") => sessions::verify(app, signed_in()?).await,
        ("POST", "/v1/auth/staff/login") => staff::login(app, req).await,
        ("POST", "/v1/staff") => staff::create(app, req).await,
        ("GET", "/v1/staff") => staff::list(app, req).await,
        ("PATCH", "/v1/staff/{staff_id}") => staff::update(app, req, signed_in()?, matched.param("staff_id")).await,
        ("GET", "/v1/health") => health::health(app).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}
