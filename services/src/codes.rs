//! One-time codes as a use case, whatever they are for (signing in by SMS or email, confirming
//! an address, a staff password reset): issuing one within the limits and delivering it, then
//! checking and using it up. Every code of the platform goes through here.
//! The limits are per recipient (5 an hour, 1 per 30 s, 5 wrong tries a code) plus the per-IP
//! cap; SMS codes also meet the deployment's hourly budget. Delivery failures keep the
//! provider's words in the log.

use auth_core::otp::{HOUR, OtpCode, recent_sends, send_wait};
use platform::email::EmailPurpose;
use platform::metrics::{self, Metric};
use store::StoreError;
use store::otp::{OtpRecord, WrongCode};
use store::rate_limit::RateDecision;

use crate::App;
use crate::domain::CodeRecipient;

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// A limit refused the request (429 with `Retry-After`).
    #[error("{detail}; retry in {retry_after} s")]
    Limited { detail: String, retry_after: u64 },
    /// The SMS or email provider failed; the cause is logged, never shown.
    #[error("the code could not be sent; try again shortly")]
    Undeliverable,
    /// No current code, an expired one, a used one, or a wrong one (with the tries left).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This function has no key to hash codes with (a deployment without the session secret).
    #[error(transparent)]
    Keys(#[from] auth_core::AuthError),
}

/// Issues a code to `to` and delivers it, within the limits. `ip` is the caller's address for
/// the per-IP cap; `function` names the caller in metrics.
pub async fn issue(
    app: &App,
    to: &CodeRecipient,
    ip: Option<&str>,
    purpose: EmailPurpose,
    function: &str,
) -> Result<OtpCode, CodeError> {
    let code = create(app, to, ip, function).await?;
    deliver(app, to, &code, purpose, function).await?;
    Ok(code)
}

/// Creates and stores a new code for `to` within the limits, without sending it: [`issue`]
/// sends it at once; a staff password reset sends it only where an account exists, doing the
/// same work otherwise.
pub async fn create(app: &App, to: &CodeRecipient, ip: Option<&str>, function: &str) -> Result<OtpCode, CodeError> {
    let now = app.clock.now().unix();
    let limited = |detail: &str, retry_after: u64| {
        metrics::count(function, Metric::OtpRateLimited);
        CodeError::Limited { detail: detail.to_string(), retry_after }
    };
    let previous = app.store.get_otp(to).await?;
    let recent = recent_sends(previous.as_ref().map(|p| p.sent_at.as_slice()).unwrap_or_default(), now);
    if let Some(wait) = send_wait(&app.config.otp, &recent, now) {
        return Err(limited(&wait.reason.message(to.noun()), wait.seconds));
    }
    if let Some(ip) = ip {
        let decision = app.store.hit_rate_window("otp-ip", ip, app.config.otp.per_ip_per_hour, HOUR, now).await?;
        if let RateDecision::Limited { retry_after } = decision {
            return Err(limited("too many codes requested from this network", retry_after));
        }
    }
    // The deployment's hourly SMS budget, last: only a request that would send counts. An
    // email costs next to nothing; the per-address and per-IP limits bound those.
    if matches!(to, CodeRecipient::Phone(_)) {
        let budget = app.store.hit_rate_window("otp-global", "all", app.config.otp.global_per_hour, HOUR, now).await?;
        if let RateDecision::Limited { retry_after } = budget {
            return Err(limited("the service is sending too many codes right now", retry_after));
        }
    }

    let code = OtpCode::generate();
    let ttl = app.config.otp.code_ttl.as_secs() as i64;
    let mut sent_at = recent;
    sent_at.push(now);
    let record = OtpRecord {
        code_hash: Some(app.keys().otp_hasher()?.hash(to, code.digits())),
        expires_at: now + ttl,
        attempts: 0,
        sent_at,
        version: previous.as_ref().map_or(1, |p| p.version + 1),
    };
    // The send history must outlive the code, or the hourly limit would forget it.
    let item_ttl = now + HOUR.max(ttl) + 60;
    if !app.store.save_otp(to, &record, previous.map(|p| p.version), item_ttl).await? {
        let retry_after = app.config.otp.min_interval.as_secs().max(1);
        return Err(CodeError::Limited { detail: format!("a code was just sent to this {}", to.noun()), retry_after });
    }
    Ok(code)
}

/// Sends a created code; a provider's failure is logged with its words, counted (`OtpFailed`)
/// and answered [`CodeError::Undeliverable`].
pub async fn deliver(
    app: &App,
    to: &CodeRecipient,
    code: &OtpCode,
    purpose: EmailPurpose,
    function: &str,
) -> Result<(), CodeError> {
    let ttl = app.config.otp.code_ttl;
    let sent = match to {
        CodeRecipient::Phone(phone) => app.code_sender().send(phone, code, ttl).await.map_err(|e| e.to_string()),
        CodeRecipient::Email(email) | CodeRecipient::StaffReset(email) => {
            app.email_sender().send_code(email, purpose, code, ttl).await.map_err(|e| e.to_string())
        }
    };
    if let Err(cause) = sent {
        tracing::error!(%cause, channel = to.channel(), "a one-time code could not be delivered");
        metrics::count(function, Metric::OtpFailed);
        return Err(CodeError::Undeliverable);
    }
    metrics::count(function, Metric::OtpSent);
    Ok(())
}

/// Checks `code` against the recipient's current code; a wrong code counts against its tries.
/// Returns the stored hash to use the code up with ([`consume`]) once the request can succeed.
pub async fn check(app: &App, to: &CodeRecipient, code: &str) -> Result<String, CodeError> {
    let invalid = || CodeError::Invalid("the code is invalid or has expired; request a new one".into());
    let record = app.store.get_otp(to).await?.ok_or_else(invalid)?;
    let now = app.clock.now().unix();
    let max = app.config.otp.max_attempts;
    if record.attempts >= max {
        return Err(too_many_tries(app, &record, now));
    }
    let code_hash = match record.code_hash.clone() {
        Some(hash) if record.expires_at > now => hash,
        _ => return Err(invalid()),
    };
    if app.keys().otp_hasher()?.matches(to, code, &code_hash) {
        return Ok(code_hash);
    }
    match app.store.record_wrong_otp(to, &code_hash, max).await? {
        WrongCode::TriesLeft(left) => Err(CodeError::Invalid(format!("wrong code; {left} tries left"))),
        WrongCode::Exhausted => Err(too_many_tries(app, &record, now)),
    }
}

/// Uses the checked code up; exactly one of several concurrent requests with it succeeds.
pub async fn consume(app: &App, to: &CodeRecipient, code_hash: &str) -> Result<(), CodeError> {
    let now = app.clock.now().unix();
    if app.store.consume_otp(to, code_hash, app.config.otp.max_attempts, now).await? {
        Ok(())
    } else {
        Err(CodeError::Invalid("the code has expired or was already used; request a new one".into()))
    }
}

/// The wrong-try limit is a limit like the others: 429, retry once a new code may be requested.
fn too_many_tries(app: &App, record: &OtpRecord, now: i64) -> CodeError {
    let recent = recent_sends(&record.sent_at, now);
    let retry_after = send_wait(&app.config.otp, &recent, now).map_or(1, |wait| wait.seconds);
    CodeError::Limited { detail: "too many wrong codes; request a new code".into(), retry_after }
}
