//! Success responses.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::Value;

use super::ApiError;

pub fn json(status: StatusCode, body: &Value) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// A JSON response carrying the resource version as `ETag`.
pub fn json_with_etag(status: StatusCode, body: &Value, etag: &str) -> Result<Response<Body>, ApiError> {
    let mut response = json(status, body)?;
    let value = etag.parse().map_err(|_| ApiError::Internal("ETag is not a header value".into()))?;
    response.headers_mut().insert(http::header::ETAG, value);
    Ok(response)
}

pub fn no_content() -> Result<Response<Body>, ApiError> {
    Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Adds `Location` to a created resource's response (201).
pub fn with_location(mut response: Response<Body>, location: &str) -> Result<Response<Body>, ApiError> {
    let value = location.parse().map_err(|_| ApiError::Internal("Location is not a header value".into()))?;
    response.headers_mut().insert(http::header::LOCATION, value);
    Ok(response)
}
