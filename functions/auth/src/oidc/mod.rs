//! `POST /v1/auth/oidc`: sign in with an identity provider's ID token.
//!
//! The token is checked here (the HTTP client that fetches providers' keys lives in this
//! function only); finding, linking or creating the customer is
//! `services::signin::sign_in_with_provider`, which states the linking rules.

mod keys;
mod verify;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::App;
use shared::domain::ValidationErrors;
use shared::domain::customer::parse_full_name;
use shared::http::{ApiError, JsonBody, parse_json_lenient};
use shared::oidc::OidcProvider;
use shared::services::signin;

use crate::login::token_response;
use verify::TokenError;

/// An ID token longer than this is not one.
const MAX_ID_TOKEN: usize = 16 * 1024;
const MAX_NONCE: usize = 512;

#[derive(Debug, Deserialize)]
struct OidcRequest {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

impl JsonBody for OidcRequest {
    const FIELDS: &'static [&'static str] = &["provider", "id_token", "nonce", "name", "device_name"];
}

struct ValidRequest<'a> {
    provider: &'a OidcProvider,
    id_token: String,
    nonce: Option<String>,
    names: Option<(String, String)>,
    device_name: Option<String>,
}

fn validate(app: &App, body: OidcRequest, mut errors: ValidationErrors) -> Result<ValidRequest<'_>, ApiError> {
    let provider = match body.provider.as_deref() {
        None => {
            errors.add("provider", "is required");
            None
        }
        Some(name) => {
            let found = app.config.oidc_providers.iter().find(|p| p.name == name);
            if found.is_none() {
                errors.add("provider", "is not a provider this service trusts");
            }
            found
        }
    };
    let id_token = body.id_token.unwrap_or_default();
    if id_token.is_empty() || id_token.len() > MAX_ID_TOKEN {
        errors.add("id_token", "is required: the ID token the provider issued");
    }
    if body.nonce.as_ref().is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE) {
        errors.add("nonce", format!("must be 1 to {MAX_NONCE} characters"));
    }
    let names = body.name.as_deref().and_then(|name| errors.check("name", parse_full_name(name)));
    let device_name = crate::login::device_name(body.device_name.as_deref(), &mut errors);
    errors.into_result()?;
    let provider = provider.ok_or_else(|| ApiError::validation("provider", "is required"))?;
    Ok(ValidRequest { provider, id_token, nonce: body.nonce, names, device_name })
}

pub async fn sign_in(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let (body, shape_errors) = parse_json_lenient::<OidcRequest>(req)?;
    let request = validate(app, body, shape_errors)?;
    let account = verify::verify(
        request.provider,
        &request.id_token,
        request.nonce.as_deref(),
        app.config.oidc_keys_refetch,
    )
    .await
    .map_err(|err| match err {
        TokenError::Invalid(_) => ApiError::Unauthorized(err.to_string()),
        TokenError::Unreachable(why) => {
            tracing::error!(provider = %request.provider.name, cause = %why, "identity provider keys unavailable");
            ApiError::Unavailable("the identity provider cannot be reached; try again shortly".into())
        }
    })?;
    let now = app.clock.now();
    let signed_in = signin::sign_in_with_provider(app, &account, request.names, now).await?;
    token_response(app, &app.issuer(req), signed_in, request.device_name, now).await
}
