//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`: the public keys
//! that verify access tokens (current, previous and next during a rotation) and the issuer, so
//! API Gateway's JWT authorizer or another service verifies tokens without any secret.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::App;
use shared::auth::jwt::ALGORITHM;
use shared::http::{ApiError, json};

/// How long clients may cache either document. A rotation stages the next key for longer than
/// this before it signs with it (docs/operations.md), so a cached key set always has it.
pub const CACHE_CONTROL: &str = "public, max-age=300";

pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub fn jwks(app: &App) -> Result<Response<Body>, ApiError> {
    let keys = app.keys();
    cacheable(json(StatusCode::OK, &json!({ "keys": keys.jwt().published() }))?)
}

pub fn openid_configuration(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let issuer = app.issuer(req);
    cacheable(json(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint": format!("{issuer}/v1/auth/refresh"),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["iss", "aud", "sub", "role", "sid", "iat", "exp"],
        }),
    )?)
}

fn cacheable(mut response: Response<Body>) -> Result<Response<Body>, ApiError> {
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static(CACHE_CONTROL));
    Ok(response)
}
