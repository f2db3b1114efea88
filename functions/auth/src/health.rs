//! `GET /v1/health`: whether DynamoDB and S3 answer.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use shared::App;
use shared::http::{ApiError, json};

pub async fn health(app: &App) -> Result<Response<Body>, ApiError> {
    let s3_check = app.s3().head_bucket().bucket(&app.config.media_bucket).send();
    let (dynamodb, s3) = tokio::join!(app.store.ping(), s3_check);
    let verdict = |ok: bool| if ok { "ok" } else { "unavailable" };
    if let Err(err) = &dynamodb {
        tracing::warn!(error = %err, "health: DynamoDB did not answer");
    }
    if let Err(err) = &s3 {
        tracing::warn!(error = %aws_smithy_error(err), "health: S3 did not answer");
    }
    let healthy = dynamodb.is_ok() && s3.is_ok();
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(
        status,
        &json!({
            "status": if healthy { "ok" } else { "degraded" },
            "dynamodb": verdict(dynamodb.is_ok()),
            "s3": verdict(s3.is_ok()),
        }),
    )
}

fn aws_smithy_error<E: std::error::Error + 'static, R: std::fmt::Debug>(err: &shared::store::SdkError<E, R>) -> String {
    shared::store::DisplayErrorContext(err).to_string()
}
