//! Two-factor authentication for staff (TOTP, issue #23): enrol, confirm, turn off, the second
//! step of a login, and the admin's reset.
//!
//! After a right password, a member with two factors on gets an `mfa_token` instead of tokens;
//! a member whose role requires two factors (`STAFF_MFA_REQUIRED`) and has none gets one that
//! only the enrolment routes accept. Either token is random, stored hashed, lives a few
//! minutes and ends after five wrong codes. Wrong codes count towards the account's lock-out
//! like wrong passwords. A TOTP code works once: the last accepted time step is stored, and
//! only a later one is accepted.

use auth_core::totp::{SeedSealer, TotpSecret, generate_recovery_codes, looks_like_totp, recovery_code_hash};
use auth_core::{AuthError, Principal};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::metrics::{self, Metric};
use rand::RngCore;
use sha2::{Digest, Sha256};
use store::otp::WrongCode;
use store::staff_security::{MfaChallenge, MfaPurpose, StaffMfa};

use super::accounts::{StaffSession, complete_login};
use super::password::check_password;
use super::{StaffError, current_member, guard, member, trail};
use crate::App;
use crate::domain::ids::hex;
use crate::domain::staff::{StaffId, StaffMember};
use crate::domain::staff_security::SecurityEventKind;
use crate::time::Timestamp;

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

/// An `mfa_token` handed out after a right password.
#[derive(Debug)]
pub struct MfaTicket {
    pub token: String,
    pub purpose: MfaPurpose,
    /// Its lifetime, in seconds.
    pub expires_in: i64,
}

impl MfaTicket {
    /// Whether the ticket finishes a login with a code (rather than enrolling).
    pub fn is_login(&self) -> bool {
        self.purpose == MfaPurpose::Login
    }
}

/// The key that seals TOTP seeds: derived from the session secret, which only `auth` reads.
fn seed_sealer(app: &App) -> Result<SeedSealer, StaffError> {
    let session = app.keys().material.session.as_ref().map(SeedSealer::new);
    session.ok_or_else(|| StaffError::Internal("no session secret to seal TOTP seeds with".into()))
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// After a right password: a ticket when the login needs a second step (two factors on:
/// `Login`; required and missing: `Enrol`), `None` when it may open a session now.
pub(super) async fn second_step(
    app: &App,
    staff: &StaffMember,
    device_name: Option<String>,
    now: Timestamp,
) -> Result<Option<MfaTicket>, StaffError> {
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
    Ok(Some(MfaTicket { token, purpose, expires_in: lifetime }))
}

/// The second step of a login: a current TOTP code or an unused recovery code with the
/// `mfa_token` of the password step. A wrong code counts against the token and the lock-out.
pub async fn login(app: &App, issuer: &str, mfa_token: &str, code: &str) -> Result<StaffSession, StaffError> {
    let now = app.clock.now();
    let hash = token_hash(mfa_token);
    let challenge = app
        .store
        .get_mfa_challenge(&hash, now.unix())
        .await?
        .filter(|c| c.purpose == MfaPurpose::Login && c.attempts < MAX_CODE_TRIES)
        .ok_or(StaffError::MfaTokenEnded)?;
    let staff =
        app.store.get_staff(&challenge.staff_id).await?.filter(|s| !s.disabled).ok_or(StaffError::MfaTokenEnded)?;
    let attempt = guard::reserve(app, staff.email.as_str(), now).await?;
    let Some(factor) = use_second_factor(app, &staff, code.trim(), now).await? else {
        metrics::count("auth", Metric::StaffMfaFailed);
        trail::failure(app, &staff.staff_id, SecurityEventKind::MfaFailed, attempt.locked_it).await;
        let outcome = app.store.record_wrong_mfa_code(&hash, MAX_CODE_TRIES).await?;
        if attempt.locked_it {
            return Err(guard::locked_for_window(app));
        }
        return Err(match outcome {
            WrongCode::TriesLeft(left) => StaffError::WrongMfaCode { left },
            WrongCode::Exhausted => StaffError::MfaCodesExhausted,
        });
    };
    guard::clear(app, &attempt).await?;
    app.store.delete_mfa_challenge(&hash).await?;
    if factor == "recovery_code" {
        trail::record_own(app, &staff.staff_id, SecurityEventKind::RecoveryCodeUsed).await;
    }
    complete_login(app, issuer, staff, challenge.device_name, now, Some(factor)).await
}

/// Accepts `code` once: a TOTP code of a step after the last one used, or an unused recovery
/// code (then gone). The item is written under a version condition, so of two requests with
/// the same code only one succeeds. `Some("totp" | "recovery_code")` when accepted.
async fn use_second_factor(
    app: &App,
    staff: &StaffMember,
    code: &str,
    now: Timestamp,
) -> Result<Option<&'static str>, StaffError> {
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

fn open_seed(app: &App, sealed: &str, id: &StaffId) -> Result<TotpSecret, StaffError> {
    seed_sealer(app)?.open(sealed, id.as_str()).ok_or_else(|| StaffError::Internal("a TOTP seed does not open".into()))
}

/// Who is enrolling: a member signed in with a staff access token, or one holding the
/// enrolment-only `mfa_token` a password login hands a member who must enrol before using the
/// API (which confirming ends).
#[derive(Debug)]
pub struct Enrolling {
    pub staff: StaffMember,
    enrolment_token_hash: Option<String>,
}

impl Enrolling {
    /// The member a staff access token speaks for.
    pub async fn by_access_token(app: &App, principal: &Principal) -> Result<Self, StaffError> {
        Ok(Self { staff: current_member(app, principal).await?, enrolment_token_hash: None })
    }

    /// The member an enrolment `mfa_token` was handed to.
    pub async fn by_enrolment_token(app: &App, token: &str) -> Result<Self, StaffError> {
        let hash = token_hash(token);
        let now = app.clock.now().unix();
        let challenge = app.store.get_mfa_challenge(&hash, now).await?.filter(|c| c.purpose == MfaPurpose::Enrol);
        let challenge = challenge.ok_or(AuthError::InvalidToken)?;
        let staff = app.store.get_staff(&challenge.staff_id).await?.filter(|s| !s.disabled);
        Ok(Self { staff: staff.ok_or(AuthError::InvalidToken)?, enrolment_token_hash: Some(hash) })
    }
}

/// A new TOTP secret, pending until a code confirms it.
#[derive(Debug)]
pub struct Enrolment {
    /// The secret in base32, to type into an app.
    pub secret: String,
    /// The `otpauth://` URI, to show as a QR code.
    pub otpauth_uri: String,
}

/// Starts an enrolment: a new secret, pending until [`confirm`].
pub async fn enrol(app: &App, enrolling: &Enrolling) -> Result<Enrolment, StaffError> {
    let staff = &enrolling.staff;
    let mfa = app.store.get_staff_mfa(&staff.staff_id).await?;
    if mfa.is_on() {
        return Err(StaffError::MfaAlreadyOn);
    }
    let secret = TotpSecret::generate();
    let sealed = seed_sealer(app)?.seal(&secret, staff.staff_id.as_str()).map_err(StaffError::Internal)?;
    let next = StaffMfa { pending_seed: Some(sealed), ..mfa.clone() };
    if !app.store.save_staff_mfa(&staff.staff_id, &mfa, &next).await? {
        return Err(StaffError::MfaRaced);
    }
    Ok(Enrolment { secret: secret.to_base32(), otpauth_uri: secret.otpauth_uri(TOTP_ISSUER, staff.email.as_str()) })
}

/// A current code of the pending secret turns two factors on. Returns the ten recovery codes,
/// which only this answer shows.
pub async fn confirm(app: &App, enrolling: &Enrolling, code: &str) -> Result<Vec<String>, StaffError> {
    let staff = &enrolling.staff;
    let now = app.clock.now();
    let mfa = app.store.get_staff_mfa(&staff.staff_id).await?;
    if mfa.is_on() {
        return Err(StaffError::MfaAlreadyOn);
    }
    let pending = mfa.pending_seed.clone().ok_or(StaffError::NothingToConfirm)?;
    let secret = open_seed(app, &pending, &staff.staff_id)?;
    let code = code.trim();
    let step = looks_like_totp(code).then(|| secret.matching_step(code, now.unix(), None)).flatten();
    let step = step.ok_or(StaffError::EnrolmentCodeMismatch)?;
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
        return Err(StaffError::MfaRaced);
    }
    if let Some(hash) = &enrolling.enrolment_token_hash {
        app.store.delete_mfa_challenge(hash).await?;
    }
    trail::record_own(app, &staff.staff_id, SecurityEventKind::MfaEnabled).await;
    Ok(codes)
}

/// The member turns two factors off: needs the password (checked like a login), and is
/// refused where the deployment requires two factors for the member's role.
pub async fn disable(app: &App, principal: &Principal, password_text: &str) -> Result<(), StaffError> {
    let staff = current_member(app, principal).await?;
    check_password(app, &staff, password_text).await?;
    if app.config.staff_mfa.requires(staff.role) {
        return Err(StaffError::MfaRequired(staff.role));
    }
    app.store.delete_staff_mfa(&staff.staff_id).await?;
    trail::record_own(app, &staff.staff_id, SecurityEventKind::MfaDisabled).await;
    Ok(())
}

/// An admin removes a member's two factors (a lost phone and lost recovery codes); the member
/// enrols again at the next login where it is required.
pub async fn admin_reset(app: &App, admin: &Principal, id: &StaffId) -> Result<(), StaffError> {
    member(app, id).await?;
    app.store.delete_staff_mfa(id).await?;
    trail::record(app, id, SecurityEventKind::MfaReset, &admin.subject, None).await;
    Ok(())
}
