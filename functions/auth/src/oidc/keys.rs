//! Providers' published keys (JWKS): fetched over HTTPS on first use, kept for the life of the
//! warm instance, fetched again when a token names a `kid` we do not have (a provider rotated),
//! at most once per `OIDC_KEYS_REFETCH_SECONDS` so forged `kid`s cannot make us hammer it.
//!
//! The HTTP client (hyper + rustls with *ring*, the platform's roots, which Google's and Apple's
//! certificates chain to) lives in this function only: the other functions never link it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// How long a key fetch may take before the provider counts as unreachable.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A key set larger than this is not one.
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The token names a key the provider does not publish (401).
    #[error("the token was not signed by a key of this provider")]
    UnknownKey,
    /// The provider's keys could not be read (503).
    #[error("the provider's keys could not be read: {0}")]
    Unreachable(String),
}

/// A verification key with the one algorithm it may be used with.
#[derive(Clone)]
pub struct VerificationKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

struct KeySet {
    keys: HashMap<String, VerificationKey>,
    fetched_at: Instant,
}

static CACHE: LazyLock<Mutex<HashMap<String, KeySet>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

static CLIENT: LazyLock<Result<HttpsClient, String>> = LazyLock::new(|| {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
});

/// The key `kid` of the key set at `jwks_uri`.
pub async fn key(jwks_uri: &str, kid: &str, refetch_after: Duration) -> Result<VerificationKey, KeyError> {
    if let Some(found) = cached(jwks_uri, kid, refetch_after)? {
        return Ok(found);
    }
    let keys = fetch(jwks_uri).await?;
    let found = keys.get(kid).cloned();
    if let Ok(mut cache) = CACHE.lock() {
        cache.insert(jwks_uri.to_string(), KeySet { keys, fetched_at: Instant::now() });
    }
    found.ok_or(KeyError::UnknownKey)
}

/// `Some` when cached; `None` when a fetch is due (nothing cached, or an unknown `kid` and the
/// last fetch long enough ago); `UnknownKey` when unknown and fetched too recently.
fn cached(jwks_uri: &str, kid: &str, refetch_after: Duration) -> Result<Option<VerificationKey>, KeyError> {
    let cache = CACHE.lock().map_err(|_| KeyError::Unreachable("key cache poisoned".into()))?;
    match cache.get(jwks_uri) {
        None => Ok(None),
        Some(set) => match set.keys.get(kid) {
            Some(key) => Ok(Some(key.clone())),
            None if set.fetched_at.elapsed() >= refetch_after => Ok(None),
            None => Err(KeyError::UnknownKey),
        },
    }
}

async fn fetch(jwks_uri: &str) -> Result<HashMap<String, VerificationKey>, KeyError> {
    let unreachable = |e: &dyn std::fmt::Display| KeyError::Unreachable(e.to_string());
    let client = CLIENT.as_ref().map_err(|e| unreachable(e))?;
    let uri: hyper::Uri = jwks_uri.parse().map_err(|e| unreachable(&e))?;
    let body = tokio::time::timeout(FETCH_TIMEOUT, async {
        let response = client.get(uri).await.map_err(|e| unreachable(&e))?;
        if !response.status().is_success() {
            return Err(KeyError::Unreachable(format!("status {}", response.status())));
        }
        let collected =
            Limited::new(response.into_body(), MAX_JWKS_BYTES).collect().await.map_err(|e| unreachable(&e))?;
        Ok(collected.to_bytes())
    })
    .await
    .map_err(|_| KeyError::Unreachable("timed out".into()))??;
    let set: JwkSet = serde_json::from_slice(&body).map_err(|e| unreachable(&e))?;
    Ok(set.keys.into_iter().filter_map(Jwk::into_key).collect())
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// The members of a JWK we read; keys of other types or algorithms are skipped.
#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl Jwk {
    /// Only RS256 and ES256 signing keys: never a symmetric or unsigned one.
    fn into_key(self) -> Option<(String, VerificationKey)> {
        if self.usage.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let (algorithm, key) = match (self.kty.as_str(), self.alg.as_deref()) {
            ("RSA", None | Some("RS256")) => {
                (Algorithm::RS256, DecodingKey::from_rsa_components(self.n.as_deref()?, self.e.as_deref()?).ok()?)
            }
            ("EC", None | Some("ES256")) if self.crv.as_deref() == Some("P-256") => {
                (Algorithm::ES256, DecodingKey::from_ec_components(self.x.as_deref()?, self.y.as_deref()?).ok()?)
            }
            _ => return None,
        };
        Some((self.kid?, VerificationKey { algorithm, key }))
    }
}
