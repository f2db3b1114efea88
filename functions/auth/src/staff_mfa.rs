//! Staff two factors with an authenticator app (TOTP): enrol, confirm, turn off, the second
//! step of a login (`POST /v1/auth/staff/login/mfa`), and the admin's reset.
//!
//! After a right password, a member with two factors on gets an `mfa_token` instead of tokens;
//! a member whose role requires two factors (`STAFF_MFA_REQUIRED`) and has none gets one that
//! only the enrolment routes accept. Either token is random, stored hashed, lives a few
//! minutes and ends after five wrong codes. Wrong codes count towards the account's lock-out
//! like wrong passwords. A TOTP code works once: the last accepted time step is stored, and
//! only a later one is accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::App;
use shared::auth::roles::{Access, authorize};
use shared::auth::totp::{SeedSealer, TotpSecret, generate_recovery_codes, looks_like_totp, recovery_code_hash};
use shared::auth::{AuthError, Principal};
use shared::domain::ids::hex;
use shared::domain::staff::{StaffId, StaffMember};
use shared::domain::staff_security::SecurityEventKind;
use shared::http::response::with_location;
use shared::http::{ApiError, JsonBody, json, no_content, parse_json};
use shared::metrics::{self, Metric};
use shared::store::login_guard::guard_subject;
use shared::store::otp::WrongCode;
use shared::store::staff_security::{MfaChallenge, MfaPurpose, StaffMfa};
use shared::time::Timestamp;

use crate::staff::{clear_guard, locked, reserve_attempt};
use crate::staff_password::{check_password, current_member};
use crate::staff_trail;
use crate::tokens::open_session;

/// Lifetime of the `mfa_token` between a password and its code.
const LOGIN_CHALLENGE_SECONDS: i64 = 300;
/// Lifetime of an enrolment-only `mfa_token` (time to install an app and scan a code).
const ENROLMENT_CHALLENGE_SECONDS: i64 = 900;
/// Wrong codes that end an `mfa_token`.
const MAX_CODE_TRIES: u32 = 5;
/// The issuer an authenticator app shows next to the account.
const TOTP_ISSUER: &str = "Customer Platform";
/// Retries of a two-factor write that lost a race (the same code used twice at once).
const WRITE_ATTEMPTS: usize = 3;

/// The key that seals TOTP seeds: derived from the session secret, which only `auth` reads.
fn seed_sealer(app: &App) -> Result<SeedSealer, ApiError> {
    let session = app.keys().material.session.as_ref().map(SeedSealer::new);
    session.ok_or_else(|| ApiError::Internal("no session secret to seal TOTP seeds with".into()))
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// After a right password: `Some((body, purpose))` when the login needs a second step (two
/// factors on: `Login`; required and missing: `Enrol`), `None` when it may open a session now.
pub async fn second_step(
    app: &App,
    staff: &StaffMember,
    device_name: Option<String>,
    now: Timestamp,
) -> Result<Option<(Value, MfaPurpose)>, ApiError> {
    let mfa = app.store.get_staff_mfa(&staff.staff_id).await?;
    let (purpose, lifetime) = if mfa.is_on() {
        (MfaPurpose::Login, LOGIN_CHALLENGE_SECONDS)
    } else if app.config.staff_mfa.requires(staff.role) {
        (MfaPurpose::Enrol, ENROLMENT_CHALLENGE_SECONDS)
    } else {
        return Ok(None);
    };
    let token = new_token();
    let challenge = MfaChallenge {
        staff_id: staff.staff_id.clone(),
        purpose,
        attempts: 0,
        expires_at: now.unix() + lifetime,
        device_name,
    };
    app.store.put_mfa_challenge(&token_hash(&token), &challenge).await?;
    let mut body = json!({ "mfa_required": true, "mfa_token": token, "expires_in": lifetime });
    if purpose == MfaPurpose::Enrol {
        body["mfa_enrolment_required"] = json!(true);
    }
    Ok(Some((body, purpose)))
}

/// Opens the session of a completed login and records it; the login response's body.
pub async fn complete_login(
    app: &App,
    issuer: &str,
    staff: &StaffMember,
    device_name: Option<String>,
    now: Timestamp,
    factor: Option<&str>,
) -> Result<Value, ApiError> {
    let mut response = open_session(app, issuer, staff.staff_id.as_str(), staff.role, device_name, now).await?;
    response["staff"] = staff.to_json();
    staff_trail::record(
        app,
        &staff.staff_id,
        SecurityEventKind::Login,
        staff.staff_id.as_str(),
        factor.map(Into::into),
    )
    .await;
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct MfaLoginRequest {
    mfa_token: String,
    code: String,
}

impl JsonBody for MfaLoginRequest {
    const FIELDS: &'static [&'static str] = &["mfa_token", "code"];
}

/// `POST /v1/auth/staff/login/mfa`: a current TOTP code or an unused recovery code.
pub async fn login(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: MfaLoginRequest = parse_json(req)?;
    let now = app.clock.now();
    let ended = || ApiError::Unauthorized("the mfa_token is invalid, used up or expired; sign in again".into());
    let hash = token_hash(&body.mfa_token);
    let challenge = app
        .store
        .get_mfa_challenge(&hash, now.unix())
        .await?
        .filter(|c| c.purpose == MfaPurpose::Login && c.attempts < MAX_CODE_TRIES)
        .ok_or_else(ended)?;
    let staff = app.store.get_staff(&challenge.staff_id).await?.filter(|s| !s.disabled).ok_or_else(ended)?;
    let subject = guard_subject(staff.email.as_str());
    let locked_by_this_attempt = reserve_attempt(app, &subject, now).await?;
    let Some(factor) = use_second_factor(app, &staff, body.code.trim(), now).await? else {
        metrics::count("auth", Metric::StaffMfaFailed);
        staff_trail::failure(app, &staff.staff_id, SecurityEventKind::MfaFailed, locked_by_this_attempt).await;
        let outcome = app.store.record_wrong_mfa_code(&hash, MAX_CODE_TRIES).await?;
        if locked_by_this_attempt {
            return Err(locked(app.config.staff_lockout.window.as_secs() as i64));
        }
        return Err(match outcome {
            WrongCode::TriesLeft(left) => ApiError::Unauthorized(format!("wrong code; {left} tries left")),
            WrongCode::Exhausted => {
                ApiError::Unauthorized("wrong code; this mfa_token has ended, sign in again".into())
            }
        });
    };
    clear_guard(app, &subject, now, locked_by_this_attempt).await?;
    app.store.delete_mfa_challenge(&hash).await?;
    if factor == "recovery_code" {
        staff_trail::record(app, &staff.staff_id, SecurityEventKind::RecoveryCodeUsed, staff.staff_id.as_str(), None)
            .await;
    }
    let response = complete_login(app, &app.issuer(req), &staff, challenge.device_name, now, Some(factor)).await?;
    json(StatusCode::OK, &response)
}

/// Accepts `code` once: a TOTP code of a step after the last one used, or an unused recovery
/// code (then gone). The item is written under a version condition, so of two requests with
/// the same code only one succeeds. `Some("totp" | "recovery_code")` when accepted.
async fn use_second_factor(
    app: &App,
    staff: &StaffMember,
    code: &str,
    now: Timestamp,
) -> Result<Option<&'static str>, ApiError> {
    if code.is_empty() || code.len() > 64 {
        return Ok(None);
    }
    for _ in 0..WRITE_ATTEMPTS {
        let mfa = app.store.get_staff_mfa(&staff.staff_id).await?;
        let Some(sealed) = &mfa.sealed_seed else { return Ok(None) };
        let mut next = mfa.clone();
        let factor = if looks_like_totp(code) {
            let secret = open_seed(app, sealed, &staff.staff_id)?;
            let Some(step) = secret.matching_step(code, now.unix(), mfa.last_used_step) else { return Ok(None) };
            next.last_used_step = Some(step);
            "totp"
        } else {
            let hash = recovery_code_hash(code);
            let Some(position) = mfa.recovery_hashes.iter().position(|h| *h == hash) else { return Ok(None) };
            next.recovery_hashes.remove(position);
            "recovery_code"
        };
        if app.store.save_staff_mfa(&staff.staff_id, &mfa, &next).await? {
            return Ok(Some(factor));
        }
    }
    Ok(None)
}

fn open_seed(app: &App, sealed: &str, id: &StaffId) -> Result<TotpSecret, ApiError> {
    seed_sealer(app)?.open(sealed, id.as_str()).ok_or_else(|| ApiError::Internal("a TOTP seed does not open".into()))
}

/// Who is enrolling: a staff access token, or an enrolment-only `mfa_token` as the bearer
/// (what a password login hands a member who must enrol before using the API). `Some(hash)`
/// of that token, which confirming ends.
async fn enrolling_member(app: &App, req: &Request) -> Result<(StaffMember, Option<String>), ApiError> {
    match authorize(req.headers(), Access::Staff, app.keys().jwt(), &app.issuer(req)) {
        Ok(Some(principal)) => Ok((current_member(app, &principal).await?, None)),
        Err(AuthError::InvalidToken) => {
            let bearer = bearer(req).ok_or(AuthError::InvalidToken)?;
            let hash = token_hash(bearer);
            let now = app.clock.now().unix();
            let challenge = app.store.get_mfa_challenge(&hash, now).await?.filter(|c| c.purpose == MfaPurpose::Enrol);
            let challenge = challenge.ok_or(AuthError::InvalidToken)?;
            let staff = app.store.get_staff(&challenge.staff_id).await?.filter(|s| !s.disabled);
            Ok((staff.ok_or(AuthError::InvalidToken)?, Some(hash)))
        }
        Ok(None) => Err(AuthError::MissingToken.into()),
        Err(err) => Err(err.into()),
    }
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn already_on() -> ApiError {
    ApiError::Conflict { detail: "two-factor authentication is on already; turn it off first".into(), field: None }
}

fn raced() -> ApiError {
    ApiError::Conflict { detail: "two-factor settings changed meanwhile; try again".into(), field: None }
}

/// `POST /v1/auth/staff/mfa/totp`: a new secret, pending until a code confirms it. 201.
pub async fn enrol(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (staff, _) = enrolling_member(app, req).await?;
    let mfa = app.store.get_staff_mfa(&staff.staff_id).await?;
    if mfa.is_on() {
        return Err(already_on());
    }
    let secret = TotpSecret::generate();
    let sealed = seed_sealer(app)?.seal(&secret, staff.staff_id.as_str()).map_err(ApiError::Internal)?;
    let next = StaffMfa { pending_seed: Some(sealed), ..mfa.clone() };
    if !app.store.save_staff_mfa(&staff.staff_id, &mfa, &next).await? {
        return Err(raced());
    }
    let body = json!({
        "secret": secret.to_base32(),
        "otpauth_uri": secret.otpauth_uri(TOTP_ISSUER, staff.email.as_str()),
    });
    // The enrolment lives at the route that created it (confirmed at `.../confirm`).
    with_location(json(StatusCode::CREATED, &body)?, "/v1/auth/staff/mfa/totp")
}

#[derive(Debug, Deserialize)]
struct ConfirmRequest {
    code: String,
}

impl JsonBody for ConfirmRequest {
    const FIELDS: &'static [&'static str] = &["code"];
}

/// `POST /v1/auth/staff/mfa/totp/confirm`: a current code of the pending secret turns two
/// factors on; the ten recovery codes are in this answer only. A wrong code is 400.
pub async fn confirm(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (staff, enrolment_token) = enrolling_member(app, req).await?;
    let body: ConfirmRequest = parse_json(req)?;
    let now = app.clock.now();
    let mfa = app.store.get_staff_mfa(&staff.staff_id).await?;
    if mfa.is_on() {
        return Err(already_on());
    }
    let Some(pending) = mfa.pending_seed.clone() else {
        return Err(ApiError::Conflict {
            detail: "nothing to confirm; enrol first with POST /v1/auth/staff/mfa/totp".into(),
            field: None,
        });
    };
    let secret = open_seed(app, &pending, &staff.staff_id)?;
    let code = body.code.trim();
    let step = looks_like_totp(code).then(|| secret.matching_step(code, now.unix(), None)).flatten();
    let Some(step) = step else {
        return Err(ApiError::BadRequest("the code does not match; enter the current code of the app".into()));
    };
    let codes = generate_recovery_codes();
    let next = StaffMfa {
        sealed_seed: Some(pending),
        pending_seed: None,
        last_used_step: Some(step),
        recovery_hashes: codes.iter().map(|c| recovery_code_hash(c)).collect(),
        enabled_at: Some(now),
        version: mfa.version,
    };
    if !app.store.save_staff_mfa(&staff.staff_id, &mfa, &next).await? {
        return Err(raced());
    }
    if let Some(hash) = enrolment_token {
        app.store.delete_mfa_challenge(&hash).await?;
    }
    staff_trail::record(app, &staff.staff_id, SecurityEventKind::MfaEnabled, staff.staff_id.as_str(), None).await;
    json(StatusCode::OK, &json!({ "recovery_codes": codes }))
}

#[derive(Debug, Deserialize)]
struct DisableRequest {
    password: String,
}

impl JsonBody for DisableRequest {
    const FIELDS: &'static [&'static str] = &["password"];
}

/// `DELETE /v1/auth/staff/mfa`: needs the password (403 when wrong, counted like a failed
/// login); 409 where the deployment requires two factors for the member's role. 204.
pub async fn disable(app: &App, req: &Request, principal: &Principal) -> Result<Response<Body>, ApiError> {
    let body: DisableRequest = parse_json(req)?;
    let staff = current_member(app, principal).await?;
    check_password(app, &staff, &body.password).await?;
    if app.config.staff_mfa.requires(staff.role) {
        return Err(ApiError::Conflict {
            detail: format!("this deployment requires two-factor authentication for the {} role", staff.role.as_str()),
            field: None,
        });
    }
    app.store.delete_staff_mfa(&staff.staff_id).await?;
    staff_trail::record(app, &staff.staff_id, SecurityEventKind::MfaDisabled, staff.staff_id.as_str(), None).await;
    no_content()
}

/// `DELETE /v1/staff/{staff_id}/mfa`: an admin removes a member's two factors (a lost phone
/// and lost recovery codes); the member enrols again at the next login where it is required.
pub async fn admin_reset(app: &App, admin: &Principal, raw_id: &str) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::NotFound("no such staff member".into());
    let id = StaffId::parse(raw_id).ok_or_else(not_found)?;
    app.store.get_staff(&id).await?.ok_or_else(not_found)?;
    app.store.delete_staff_mfa(&id).await?;
    staff_trail::record(app, &id, SecurityEventKind::MfaReset, &admin.subject, None).await;
    no_content()
}
