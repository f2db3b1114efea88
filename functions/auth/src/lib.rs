//! The `auth` function: one-time codes, signup-or-login, sessions, staff accounts, health.

mod health;
mod login;
mod oidc;
mod otp;
mod sessions;
mod staff;
mod tokens;

use lambda_http::{Body, Response};
use shared::auth::roles::Access;
use shared::http::function::build_router;
use shared::http::{ApiError, ApiFunction, Call, Route, Router};

/// The `auth` function.
pub struct Auth;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    RequestCode,
    Login,
    OidcSignIn,
    Refresh,
    Logout,
    ListSessions,
    RevokeAll,
    RevokeSession,
    Verify,
    StaffLogin,
    CreateStaff,
    ListStaff,
    UpdateStaff,
    Health,
}

use Handler as H;

impl ApiFunction for Auth {
    type Handler = Handler;

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("POST", "/v1/auth/otp", Access::Anyone, H::RequestCode),
        Route::new("POST", "/v1/auth/login", Access::Anyone, H::Login),
        Route::new("POST", "/v1/auth/oidc", Access::Anyone, H::OidcSignIn),
        Route::new("POST", "/v1/auth/refresh", Access::Anyone, H::Refresh),
        Route::new("POST", "/v1/auth/logout", Access::SignedIn, H::Logout),
        Route::new("GET", "/v1/auth/sessions", Access::SignedIn, H::ListSessions),
        Route::new("DELETE", "/v1/auth/sessions", Access::SignedIn, H::RevokeAll),
        Route::new("DELETE", "/v1/auth/sessions/{session_id}", Access::SignedIn, H::RevokeSession),
        Route::new("GET", "/v1/auth/verify", Access::SignedIn, H::Verify),
        Route::new("POST", "/v1/auth/staff/login", Access::Anyone, H::StaffLogin),
        Route::new("POST", "/v1/staff", Access::Admin, H::CreateStaff),
        Route::new("GET", "/v1/staff", Access::Admin, H::ListStaff),
        Route::new("PATCH", "/v1/staff/{staff_id}", Access::Admin, H::UpdateStaff),
        Route::new("GET", "/v1/health", Access::Anyone, H::Health),
    ];

    fn router() -> &'static Router<Handler> {
        static ROUTER: std::sync::LazyLock<Router<Handler>> = std::sync::LazyLock::new(|| build_router(Auth::ROUTES));
        &ROUTER
    }

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        let (app, req) = (call.app, call.req);
        match call.matched.route.handler {
            H::RequestCode => otp::request_code(app, req).await,
            H::Login => login::login(app, req).await,
            H::OidcSignIn => oidc::sign_in(app, req).await,
            H::Refresh => sessions::refresh(app, req).await,
            H::Logout => sessions::logout(app, call.signed_in()?).await,
            H::ListSessions => sessions::list_sessions(app, call.signed_in()?).await,
            H::RevokeAll => sessions::revoke_all(app, call.signed_in()?).await,
            H::RevokeSession => sessions::revoke_session(app, call.signed_in()?, call.param("session_id")).await,
            H::Verify => sessions::verify(app, call.signed_in()?).await,
            H::StaffLogin => staff::login(app, req).await,
            H::CreateStaff => staff::create(app, req).await,
            H::ListStaff => staff::list(app, req).await,
            H::UpdateStaff => staff::update(app, req, call.signed_in()?, call.param("staff_id")).await,
            H::Health => health::health(app).await,
        }
    }
}
