//! `GET /v1/health`: whether DynamoDB and S3 answer (`services::health`).

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::App;
use shared::http::{ApiError, json};
use shared::services::health;

pub async fn health(app: &App) -> Result<Response<Body>, ApiError> {
    let health = health::check(app).await;
    let verdict = |ok: bool| if ok { "ok" } else { "unavailable" };
    let status = if health.healthy() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(
        status,
        &json!({
            "status": if health.healthy() { "ok" } else { "degraded" },
            "dynamodb": verdict(health.dynamodb),
            "s3": verdict(health.s3),
        }),
    )
}
