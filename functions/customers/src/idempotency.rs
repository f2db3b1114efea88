//! `Idempotency-Key` for the routes that create or change many things at once: a repeat with
//! the same key and body within 24 hours gets the first response back (with
//! `Idempotent-Replayed: true`) and changes nothing; the same key with another body is 422.

use std::future::Future;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::App;
use shared::domain::idempotency::{IdempotencyRecord, IdempotencyState, StoredResponse};
use shared::domain::ids::hex;
use shared::http::{ApiError, Scope};
use shared::services::idempotency::{self, KeyClaim};

const HEADER: &str = "idempotency-key";
const MAX_KEY: usize = 255;
/// Response headers worth replaying.
const KEPT_HEADERS: &[&str] = &["content-type", "location", "etag"];

pub async fn idempotent<F, Fut>(
    app: &App,
    req: &Request,
    actor: &str,
    route: &Scope,
    run: F,
) -> Result<Response<Body>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let Some(key) = idempotency_key(req)? else {
        return run().await;
    };
    let scope = hex(&Sha256::digest(format!("{actor}\n{}\n{key}", route.as_str())));
    let request_hash = request_hash(req);
    match idempotency::claim(app, &scope, &request_hash).await? {
        KeyClaim::Existing(record) => replay(record, &request_hash),
        KeyClaim::Run(key) => {
            let response = run().await.unwrap_or_else(ApiError::into_response);
            // The work is done: a failure to record it must not turn its answer into a 500.
            // The claim then stays pending until its lease runs out (see `CLAIM_LEASE_SECONDS`).
            let outcome = (!response.status().is_server_error()).then(|| {
                let (status, body, headers) = snapshot(&response);
                let owner = customer_in(&body);
                (StoredResponse { status, body, headers }, owner)
            });
            if let Err(err) = idempotency::record(app, key, outcome).await {
                tracing::error!(error = %err, "could not record the outcome of an idempotent request");
            }
            Ok(response)
        }
    }
}

fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!("Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters")));
    }
    Ok(Some(key.to_string()))
}

/// The request as the key is bound to it: method, path and the body (as canonical JSON when it
/// parses, so key order and spacing do not count as a different body).
fn request_hash(req: &Request) -> String {
    let bytes: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let body = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => canonical(value).to_string().into_bytes(),
        Err(_) => bytes.to_vec(),
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b"\n");
    hasher.update(req.uri().path());
    hasher.update(b"\n");
    hasher.update(&body);
    hex(&hasher.finalize())
}

fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The customer a stored response holds (a create's answer), so its erase can delete it.
fn customer_in(body: &str) -> Option<shared::domain::CustomerId> {
    let value: Value = serde_json::from_str(body).ok()?;
    value["customer_id"].as_str().and_then(shared::domain::CustomerId::parse)
}

fn snapshot(response: &Response<Body>) -> (u16, String, Vec<(String, String)>) {
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    (response.status().as_u16(), body, headers)
}

fn replay(record: IdempotencyRecord, request_hash: &str) -> Result<Response<Body>, ApiError> {
    if record.request_hash != request_hash {
        return Err(ApiError::validation("Idempotency-Key", "was already used with a different request"));
    }
    if record.state == IdempotencyState::Pending {
        return Err(ApiError::Conflict {
            detail: "a request with this Idempotency-Key is still being processed; retry shortly".into(),
            field: None,
        });
    }
    let mut builder = Response::builder().status(record.status.unwrap_or(200)).header("idempotent-replayed", "true");
    for (name, value) in &record.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::Text(record.body.unwrap_or_default()))
        .map_err(|e| ApiError::Internal(format!("could not rebuild a stored response: {e}")))
}
