//! The `auth` function: one-time codes, signup-or-login, sessions, staff accounts, health, and
//! the published access-token keys.

mod health;
mod login;
mod oidc;
mod otp;
mod sessions;
mod staff;
mod staff_mfa;
mod staff_password;
mod staff_trail;
mod tokens;
mod well_known;

use lambda_http::{Body, Response};
use shared::auth::roles::Access;
use shared::http::{ApiError, ApiFunction, Call, Route};

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
    ChangeStaffPassword,
    RequestStaffPasswordReset,
    ConfirmStaffPasswordReset,
    EnrolTotp,
    ConfirmTotp,
    DisableMfa,
    StaffLoginMfa,
    ResetStaffMfa,
    ResetStaffPassword,
    StaffAudit,
    Health,
    Jwks,
    OpenIdConfiguration,
}

use Handler as H;

impl ApiFunction for Auth {
    type Handler = Handler;

    const NAME: &'static str = "auth";

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
        // Staff account security (issue #23). The enrolment routes check their caller in the
        // handler: a staff access token, or the enrolment-only `mfa_token` of a member who must
        // enrol before anything else (`staff_mfa::enrolling_member`).
        Route::new("POST", "/v1/auth/staff/password", Access::Staff, H::ChangeStaffPassword),
        Route::new("POST", "/v1/auth/staff/password-reset", Access::Anyone, H::RequestStaffPasswordReset),
        Route::new("POST", "/v1/auth/staff/password-reset/confirm", Access::Anyone, H::ConfirmStaffPasswordReset),
        Route::new("POST", "/v1/auth/staff/mfa/totp", Access::Anyone, H::EnrolTotp),
        Route::new("POST", "/v1/auth/staff/mfa/totp/confirm", Access::Anyone, H::ConfirmTotp),
        Route::new("DELETE", "/v1/auth/staff/mfa", Access::Staff, H::DisableMfa),
        Route::new("POST", "/v1/auth/staff/login/mfa", Access::Anyone, H::StaffLoginMfa),
        Route::new("DELETE", "/v1/staff/{staff_id}/mfa", Access::Admin, H::ResetStaffMfa),
        Route::new("POST", "/v1/staff/{staff_id}/password-reset", Access::Admin, H::ResetStaffPassword),
        Route::new("GET", "/v1/staff/{staff_id}/audit", Access::Admin, H::StaffAudit),
        Route::new("GET", "/v1/health", Access::Anyone, H::Health),
        Route::new("GET", "/.well-known/jwks.json", Access::Anyone, H::Jwks),
        Route::new("GET", "/.well-known/openid-configuration", Access::Anyone, H::OpenIdConfiguration),
    ];

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
            H::ListStaff => staff::list(app, req, call.scope()).await,
            H::UpdateStaff => staff::update(app, req, call.signed_in()?, call.param("staff_id")).await,
            H::ChangeStaffPassword => staff_password::change(app, req, call.signed_in()?).await,
            H::RequestStaffPasswordReset => staff_password::request_reset(app, req).await,
            H::ConfirmStaffPasswordReset => staff_password::confirm_reset(app, req).await,
            H::EnrolTotp => staff_mfa::enrol(app, req).await,
            H::ConfirmTotp => staff_mfa::confirm(app, req).await,
            H::DisableMfa => staff_mfa::disable(app, req, call.signed_in()?).await,
            H::StaffLoginMfa => staff_mfa::login(app, req).await,
            H::ResetStaffMfa => staff_mfa::admin_reset(app, call.signed_in()?, call.param("staff_id")).await,
            H::ResetStaffPassword => staff_password::admin_reset(app, call.signed_in()?, call.param("staff_id")).await,
            H::StaffAudit => staff_trail::list(app, req, call.param("staff_id"), call.scope()).await,
            H::Health => health::health(app).await,
            H::Jwks => well_known::jwks(app),
            H::OpenIdConfiguration => well_known::openid_configuration(app, req),
        }
    }
}
