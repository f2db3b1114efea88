//! Checks a provider's ID token: signed (RS256 or ES256 only, never `none` or a shared secret)
//! by a key the provider publishes, issued by it, for one of our client ids, unexpired (a
//! minute of leeway for clocks), and carrying the client's `nonce` when the client sent one.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;
use shared::domain::EmailAddress;
use shared::oidc::OidcProvider;
use shared::services::signin::ProviderAccount;

use super::keys::{self, KeyError};

/// Clock difference tolerated on `exp`.
const LEEWAY_SECONDS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the ID token is not valid: {0}")]
    Invalid(String),
    #[error("the provider's keys could not be read: {0}")]
    Unreachable(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    /// A boolean, or (Apple) the string `"true"`.
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

pub async fn verify(
    provider: &OidcProvider,
    token: &str,
    nonce: Option<&str>,
    refetch_after: Duration,
) -> Result<ProviderAccount, TokenError> {
    let invalid = |why: &str| TokenError::Invalid(why.to_string());
    let header = decode_header(token).map_err(|_| invalid("malformed"))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(invalid("only RS256 and ES256 signatures are accepted"));
    }
    let kid = header.kid.ok_or_else(|| invalid("no kid in its header"))?;
    let key = keys::key(&provider.jwks_uri, &kid, refetch_after).await.map_err(|err| match err {
        KeyError::UnknownKey => invalid("signed by a key this provider does not publish"),
        KeyError::Unreachable(why) => TokenError::Unreachable(why),
    })?;
    if key.algorithm != header.alg {
        return Err(invalid("its algorithm does not match its key"));
    }
    let mut validation = Validation::new(key.algorithm);
    validation.set_issuer(&[&provider.issuer]);
    validation.set_audience(&provider.client_ids);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    let claims =
        decode::<Claims>(token, &key.key, &validation).map_err(|err| TokenError::Invalid(reason(err.kind())))?.claims;
    if let Some(expected) = nonce
        && claims.nonce.as_deref() != Some(expected)
    {
        return Err(invalid("its nonce is not the one sent"));
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(invalid("its subject is empty or too long"));
    }
    let email_verified = match &claims.email_verified {
        Some(serde_json::Value::Bool(verified)) => *verified,
        Some(serde_json::Value::String(text)) => text == "true",
        _ => false,
    };
    Ok(ProviderAccount {
        provider: provider.name.clone(),
        subject: claims.sub,
        email: claims.email.as_deref().and_then(|e| EmailAddress::parse(e).ok()),
        email_verified,
        name: claims.name.filter(|n| !n.trim().is_empty()),
    })
}

fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::InvalidIssuer => "it was issued by another issuer",
        ErrorKind::InvalidAudience => "it was issued for another client",
        ErrorKind::InvalidSignature => "its signature does not verify",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::ImmatureSignature => "it is not valid yet",
        _ => "it could not be read",
    }
    .to_string()
}
