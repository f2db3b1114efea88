//! `POST /v1/auth/otp`: issues a one-time code, within the per-phone and per-IP limits.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use shared::App;
use shared::auth::otp::OtpCode;
use shared::domain::{PhoneE164, ValidationErrors};
use shared::http::{ApiError, JsonBody, json, parse_json, source_ip};
use shared::store::otp::OtpRecord;
use shared::store::rate_limit::RateDecision;
use shared::time::Timestamp;

const HOUR: i64 = 3600;

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
    let now = Timestamp::now().unix();

    let previous = app.store.get_otp(&phone).await?;
    let recent_sends = recent_sends(previous.as_ref(), now);
    check_phone_limits(app, &recent_sends, now)?;
    if let Some(ip) = source_ip(req) {
        let decision = app
            .store
            .hit_rate_window("otp-ip", &ip, app.config.otp.per_ip_per_hour, HOUR, now)
            .await?;
        if let RateDecision::Limited { retry_after } = decision {
            return Err(too_many(
                "too many codes requested from this network",
                retry_after,
            ));
        }
    }

    let code = OtpCode::generate();
    let ttl = app.config.otp.code_ttl.as_secs() as i64;
    let mut sent_at = recent_sends;
    sent_at.push(now);
    let record = OtpRecord {
        code_hash: Some(app.otp_hasher.hash(&phone, code.digits())),
        expires_at: now + ttl,
        attempts: 0,
        sent_at,
        version: previous.as_ref().map_or(1, |p| p.version + 1),
    };
    // The send history must outlive the code, or the hourly limit would forget it.
    let item_ttl = now + HOUR.max(ttl) + 60;
    let saved = app
        .store
        .save_otp(&phone, &record, previous.map(|p| p.version), item_ttl)
        .await?;
    if !saved {
        let retry_after = app.config.otp.min_interval.as_secs().max(1);
        return Err(too_many("a code was just sent to this phone", retry_after));
    }
    app.code_sender
        .send(&phone, &code)
        .await
        .map_err(|err| ApiError::Unavailable(format!("{err}; try again shortly")))?;

    let mut body = json!({ "expires_in": ttl });
    if app.config.otp_dev_echo {
        body["dev_code"] = json!(code.digits());
    }
    json(StatusCode::ACCEPTED, &body)
}

/// Send times within the last hour, oldest first.
fn recent_sends(previous: Option<&OtpRecord>, now: i64) -> Vec<i64> {
    let mut sends: Vec<i64> = previous.map(|p| p.sent_at.clone()).unwrap_or_default();
    sends.retain(|&at| at > now - HOUR);
    sends.sort_unstable();
    sends
}

fn check_phone_limits(app: &App, recent: &[i64], now: i64) -> Result<(), ApiError> {
    let limits = &app.config.otp;
    if let Some(&last) = recent.last() {
        let next_allowed = last + limits.min_interval.as_secs() as i64;
        if next_allowed > now {
            return Err(too_many(
                "a code was just sent to this phone",
                (next_allowed - now) as u64,
            ));
        }
    }
    let per_hour = limits.per_phone_per_hour as usize;
    if per_hour == 0 || recent.len() >= per_hour {
        // The window frees up when the oldest of the last `per_hour` sends is an hour old.
        let oldest = recent
            .len()
            .checked_sub(per_hour)
            .and_then(|i| recent.get(i))
            .copied()
            .unwrap_or(now);
        return Err(too_many(
            "too many codes requested for this phone",
            (oldest + HOUR - now).max(1) as u64,
        ));
    }
    Ok(())
}

fn too_many(detail: &str, retry_after: u64) -> ApiError {
    ApiError::TooManyRequests {
        detail: format!("{detail}; retry in {retry_after} s"),
        retry_after,
    }
}
