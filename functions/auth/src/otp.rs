//! `POST /v1/auth/otp`: issues a one-time code, within the per-phone and per-IP limits.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::otp::{HOUR, OtpCode, recent_sends, send_wait};
use shared::domain::{PhoneE164, ValidationErrors};
use shared::http::{ApiError, JsonBody, json, parse_json, source_ip};
use shared::metrics::{self, Metric};
use shared::store::otp::OtpRecord;
use shared::store::rate_limit::RateDecision;

#[derive(Debug, Deserialize)]
struct OtpRequest {
    phone: String,
}

impl JsonBody for OtpRequest {
    const FIELDS: &'static [&'static str] = &["phone"];
}

pub async fn request_code(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: OtpRequest = parse_json(req)?;
    let phone = PhoneE164::parse(&body.phone, app.config.phone_default_region)
        .map_err(|message| ApiError::Validation(ValidationErrors::single("phone", message)))?;
    let allowed = &app.config.otp.allowed_countries;
    if !phone.country().is_some_and(|country| allowed.contains(&country)) {
        return Err(ApiError::validation("phone", "codes are not sent to this country"));
    }
    let now = app.clock.now().unix();

    let previous = app.store.get_otp(&phone).await?;
    let recent = recent_sends(previous.as_ref().map(|p| p.sent_at.as_slice()).unwrap_or_default(), now);
    if let Some(wait) = send_wait(&app.config.otp, &recent, now) {
        return Err(rate_limited(wait.reason, wait.seconds));
    }
    if let Some(ip) = source_ip(req) {
        let decision = app.store.hit_rate_window("otp-ip", &ip, app.config.otp.per_ip_per_hour, HOUR, now).await?;
        if let RateDecision::Limited { retry_after } = decision {
            return Err(rate_limited("too many codes requested from this network", retry_after));
        }
    }

    // The deployment's hourly SMS budget, last: only a request that would send counts.
    let budget = app.store.hit_rate_window("otp-global", "all", app.config.otp.global_per_hour, HOUR, now).await?;
    if let RateDecision::Limited { retry_after } = budget {
        return Err(rate_limited("the service is sending too many codes right now", retry_after));
    }

    let code = OtpCode::generate();
    let ttl = app.config.otp.code_ttl.as_secs() as i64;
    let mut sent_at = recent;
    sent_at.push(now);
    let record = OtpRecord {
        code_hash: Some(app.keys().otp_hasher()?.hash(&phone, code.digits())),
        expires_at: now + ttl,
        attempts: 0,
        sent_at,
        version: previous.as_ref().map_or(1, |p| p.version + 1),
    };
    // The send history must outlive the code, or the hourly limit would forget it.
    let item_ttl = now + HOUR.max(ttl) + 60;
    let saved = app.store.save_otp(&phone, &record, previous.map(|p| p.version), item_ttl).await?;
    if !saved {
        let retry_after = app.config.otp.min_interval.as_secs().max(1);
        return Err(too_many("a code was just sent to this phone", retry_after));
    }
    if let Err(err) = app.code_sender().send(&phone, &code, app.config.otp.code_ttl).await {
        // The provider's words stay in the log; the caller learns only that it failed.
        tracing::error!(cause = %err, "a one-time code could not be delivered");
        metrics::count(FUNCTION, Metric::OtpFailed);
        return Err(ApiError::Unavailable("the code could not be sent; try again shortly".into()));
    }

    metrics::count(FUNCTION, Metric::OtpSent);
    let mut body = json!({ "expires_in": ttl });
    if app.config.otp_dev_echo {
        body["dev_code"] = json!(code.digits());
    }
    json(StatusCode::ACCEPTED, &body)
}

/// The function's name in metrics (the alarms in template.yaml read it).
const FUNCTION: &str = "auth";

/// A code request refused by a limit, counted.
fn rate_limited(detail: &str, retry_after: u64) -> ApiError {
    metrics::count(FUNCTION, Metric::OtpRateLimited);
    too_many(detail, retry_after)
}

pub fn too_many(detail: &str, retry_after: u64) -> ApiError {
    ApiError::TooManyRequests { detail: format!("{detail}; retry in {retry_after} s"), retry_after }
}
