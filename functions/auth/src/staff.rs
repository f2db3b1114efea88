//! Staff login and the admin's staff management.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::App;
use shared::auth::password;
use shared::auth::{Principal, Role};
use shared::domain::EmailAddress;
use shared::domain::staff::{StaffId, StaffMember, new_staff, parse_staff_role};
use shared::domain::validation::{ValidationErrors, bounded_text};
use shared::http::paging::PageRequest;
use shared::http::response::with_location;
use shared::http::{ApiError, JsonBody, Scope, json, parse_json};
use shared::store::StoreError;
use shared::store::login_guard::{LoginGuard, guard_subject};
use shared::time::Timestamp;

use crate::{staff_mfa, staff_trail};
use shared::domain::staff_security::SecurityEventKind;
use shared::store::staff_security::MfaPurpose;

/// Attempts of a failed-login write that keeps losing races with concurrent failures.
const GUARD_ATTEMPTS: usize = 20;

#[derive(Debug, Deserialize)]
struct StaffLoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    device_name: Option<String>,
}

impl JsonBody for StaffLoginRequest {
    const FIELDS: &'static [&'static str] = &["email", "password", "device_name"];
}

/// One answer for an unknown email and a wrong password, so neither reveals which emails exist.
fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("wrong email or password".into())
}

/// Staff login. Each attempt first reserves a slot in the email's guard (a conditional write),
/// and only then runs Argon2: however many guesses arrive at once, at most the threshold number
/// are ever checked per window, and one that comes after the lock is refused unchecked. A right
/// password clears the guard; a disabled account answers like a wrong password, so a guess
/// learns nothing from it.
pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: StaffLoginRequest = parse_json(req)?;
    let device_name = match body.device_name.as_deref() {
        Some(name) => Some(bounded_text(name, 100).map_err(|m| ApiError::validation("device_name", m))?),
        None => None,
    };
    let now = app.clock.now();
    let subject = guard_subject(&body.email);
    let locked_by_this_attempt = reserve_attempt(app, &subject, now).await?;
    let staff = match EmailAddress::parse(&body.email) {
        Ok(email) => app.store.find_staff_by_email(&email).await?,
        Err(_) => None,
    };
    let known = staff.as_ref().map(|s| s.staff_id.clone());
    let verified = match staff {
        Some(staff) => password::verify(&body.password, &staff.password_hash).then_some(staff),
        // Unknown emails cost one Argon2 verification too, so timing reveals nothing.
        None => {
            password::verify_against_nothing(&body.password);
            None
        }
    };
    let Some(staff) = verified.filter(|s| !s.disabled) else {
        let window = app.config.staff_lockout.window.as_secs() as i64;
        match &known {
            Some(id) => staff_trail::failure(app, id, SecurityEventKind::PasswordFailed, locked_by_this_attempt).await,
            None if locked_by_this_attempt => shared::metrics::count("auth", shared::metrics::Metric::StaffLockout),
            None => {}
        }
        if locked_by_this_attempt {
            return Err(locked(window));
        }
        return Err(bad_credentials());
    };
    // Two factors on: a second step instead of tokens, and the attempt stays counted until a
    // code completes it, so knowing the password does not reset the count of wrong codes.
    // Two factors required and missing: the password was all there is to check.
    let second_step = staff_mfa::second_step(app, &staff, device_name.clone(), now).await?;
    if !matches!(second_step, Some((_, MfaPurpose::Login))) {
        clear_guard(app, &subject, now, locked_by_this_attempt).await?;
    }
    if let Some((body, _)) = second_step {
        return json(StatusCode::OK, &body);
    }
    let response = staff_mfa::complete_login(app, &app.issuer(req), &staff, device_name, now, None).await?;
    json(StatusCode::OK, &response)
}

pub(crate) fn locked(retry_after: i64) -> ApiError {
    let retry_after = retry_after.max(1) as u64;
    ApiError::TooManyRequests {
        detail: format!("too many failed passwords; this login is locked for {retry_after} s"),
        retry_after,
    }
}

/// Counts the attempt as a failure before its password is checked (a right one takes it back).
/// The attempt that reaches the threshold within the window locks the email for the window, so
/// no later attempt is checked until it ends. A reservation that loses a race re-reads and
/// tries again, and never clears a lock another request set.
/// `true` when this attempt set the lock.
pub(crate) async fn reserve_attempt(app: &App, subject: &str, now: Timestamp) -> Result<bool, ApiError> {
    let policy = app.config.staff_lockout;
    let window = policy.window.as_secs() as i64;
    let mut guard = app.store.get_login_guard(subject).await?;
    for _ in 0..GUARD_ATTEMPTS {
        if let Some(until) = guard.locked_until.filter(|&until| until > now.unix()) {
            return Err(locked(until - now.unix()));
        }
        let mut attempts: Vec<i64> =
            guard.failed_logins.iter().copied().filter(|&at| at > now.unix() - window).collect();
        attempts.push(now.unix());
        let lock = attempts.len() >= policy.threshold as usize;
        let next = LoginGuard {
            failed_logins: if lock { Vec::new() } else { attempts },
            locked_until: lock.then_some(now.unix() + window),
            version: guard.version + 1,
        };
        if app.store.save_login_guard(subject, &guard, &next, now.unix() + window + 60).await? {
            return Ok(lock);
        }
        guard = app.store.get_login_guard(subject).await?;
    }
    Err(ApiError::Conflict { detail: "too many simultaneous logins for this email; try again".into(), field: None })
}

/// A right password ends the email's run of failures, and a lock its own attempt set; a lock
/// that other attempts set meanwhile stays.
pub(crate) async fn clear_guard(
    app: &App,
    subject: &str,
    now: Timestamp,
    locked_by_this_attempt: bool,
) -> Result<(), ApiError> {
    for _ in 0..GUARD_ATTEMPTS {
        let guard = app.store.get_login_guard(subject).await?;
        let locked_by_others = !locked_by_this_attempt && guard.locked_until.is_some_and(|until| until > now.unix());
        if locked_by_others || (guard.failed_logins.is_empty() && guard.locked_until.is_none()) {
            return Ok(());
        }
        let cleared = LoginGuard { failed_logins: Vec::new(), locked_until: None, version: guard.version + 1 };
        if app.store.save_login_guard(subject, &guard, &cleared, now.unix() + 60).await? {
            return Ok(());
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct CreateStaffRequest {
    email: String,
    password: String,
    name: String,
    role: String,
}

impl JsonBody for CreateStaffRequest {
    const FIELDS: &'static [&'static str] = &["email", "password", "name", "role"];
}

pub async fn create(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: CreateStaffRequest = parse_json(req)?;
    let staff = new_staff(&body.email, &body.password, &body.name, &body.role, app.clock.now())?;
    app.store.create_staff(&staff).await.map_err(|err| match err {
        StoreError::Taken(_) => {
            ApiError::Conflict { detail: "a staff account with this email exists".into(), field: Some("email") }
        }
        other => other.into(),
    })?;
    with_location(json(StatusCode::CREATED, &staff.to_json())?, &format!("/v1/staff/{}", staff.staff_id))
}

pub async fn list(app: &App, req: &Request, scope: Scope) -> Result<Response<Body>, ApiError> {
    let request = PageRequest::from_request(app, req, scope)?;
    let page = app.store.list_staff(request.limit, request.start.clone()).await?;
    request.respond(app, page, StaffMember::to_json)
}

#[derive(Debug, Default, Deserialize)]
struct UpdateStaffRequest {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    name: Option<String>,
}

impl JsonBody for UpdateStaffRequest {
    const FIELDS: &'static [&'static str] = &["role", "disabled", "name"];
}

/// Role change, disable/enable, rename. Disabling or changing the role ends the member's
/// sessions, so the change holds from the next request on (access tokens aside, see
/// `sessions.rs`). Admins cannot disable or demote themselves, so there is always an admin.
pub async fn update(app: &App, req: &Request, admin: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let body: UpdateStaffRequest = parse_json(req)?;
    let not_found = || ApiError::NotFound("no such staff member".into());
    let id = StaffId::parse(raw_id).ok_or_else(not_found)?;
    let mut errors = ValidationErrors::new();
    let role = body.role.as_deref().and_then(|r| errors.check("role", parse_staff_role(r)));
    let name = body.name.as_deref().and_then(|n| errors.check("name", bounded_text(n, 100)));
    errors.into_result()?;

    let current = app.store.get_staff(&id).await?.ok_or_else(not_found)?;
    let mut next = current.clone();
    if let Some(role) = role {
        next.role = role;
    }
    if let Some(disabled) = body.disabled {
        next.disabled = disabled;
    }
    if let Some(name) = name {
        next.name = name;
    }
    let weakens_self = admin.subject == id.as_str() && (next.disabled || next.role != Role::Admin);
    if weakens_self {
        return Err(ApiError::Conflict { detail: "you cannot disable or demote your own account".into(), field: None });
    }
    if next == current {
        return json(StatusCode::OK, &current.to_json());
    }
    app.store.replace_staff(&current, &mut next, app.clock.now()).await?;
    if next.disabled != current.disabled || next.role != current.role {
        app.store.delete_all_sessions(id.as_str()).await?;
    }
    if next.role != current.role {
        let detail = format!("{} -> {}", current.role.as_str(), next.role.as_str());
        staff_trail::record(app, &id, SecurityEventKind::RoleChanged, &admin.subject, Some(detail)).await;
    }
    if next.disabled != current.disabled {
        let detail = if next.disabled { "disabled" } else { "enabled" };
        staff_trail::record(app, &id, SecurityEventKind::StatusChanged, &admin.subject, Some(detail.into())).await;
    }
    json(StatusCode::OK, &next.to_json())
}
