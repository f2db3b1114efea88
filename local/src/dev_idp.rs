//! The development identity provider `local` (API.md, "Local stack"): it mints ID tokens for
//! any subject, signed ES256 with a key pair made at start, and publishes the public key, so
//! apps and tests can try `POST /v1/auth/oidc` without a real provider. The API verifies its
//! tokens like any provider's: it fetches `/_local/oidc/jwks.json` over HTTP. It exists only in
//! the local stack (and the tests), never in template.yaml or a Lambda.
//!
//! `POST /_local/oidc/id-token` `{sub, email?, email_verified?, name?, nonce?, aud?}` →
//! `{"id_token"}`; `GET /_local/oidc/jwks.json` → the key set.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Deserialize;
use serde_json::{Value, json};

/// The provider's name in `OIDC_PROVIDERS` and the audience it uses unless asked for another.
pub const PROVIDER: &str = "local";
pub const AUDIENCE: &str = "local-app";
pub const PATH_PREFIX: &str = "/_local/oidc";
/// How long its tokens live.
const TOKEN_SECONDS: i64 = 600;

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// The uncompressed public point: 0x04, x (32 bytes), y (32 bytes).
    public: Vec<u8>,
}

impl SigningKey {
    fn generate() -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|e| e.to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| e.to_string())?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = format!("local-{}", &shared::domain::ids::hex(&public[1..9]));
        Ok(Self { kid, encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), public })
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&self.public[33..65]),
        })
    }
}

/// What a client asks the provider to say.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub aud: Option<String>,
}

pub struct DevIdp {
    issuer: String,
    key: RwLock<Arc<SigningKey>>,
}

impl DevIdp {
    /// A provider whose issuer is `base_url` + `/_local/oidc` (e.g. `http://127.0.0.1:3000`).
    pub fn new(base_url: &str) -> Result<Self, String> {
        let issuer = format!("{}{PATH_PREFIX}", base_url.trim_end_matches('/'));
        Ok(Self { issuer, key: RwLock::new(Arc::new(SigningKey::generate()?)) })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks.json", self.issuer)
    }

    /// Its entry for `OIDC_PROVIDERS`.
    pub fn provider_entry(&self) -> Value {
        json!({"name": PROVIDER, "issuer": self.issuer, "jwks_uri": self.jwks_uri(), "client_ids": [AUDIENCE]})
    }

    fn current(&self) -> Arc<SigningKey> {
        match self.key.read() {
            Ok(key) => Arc::clone(&key),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// A new key pair replaces the old one (a provider's key rotation).
    pub fn rotate(&self) -> Result<(), String> {
        let key = Arc::new(SigningKey::generate()?);
        match self.key.write() {
            Ok(mut current) => *current = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
        Ok(())
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": [self.current().jwk()]})
    }

    /// An ID token for `request`, valid for ten minutes.
    pub fn mint(&self, request: &TokenRequest) -> Result<String, String> {
        if request.sub.is_empty() {
            return Err("sub must not be empty".into());
        }
        let now = shared::time::Timestamp::now().unix();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": request.sub,
            "aud": request.aud.as_deref().unwrap_or(AUDIENCE),
            "iat": now,
            "exp": now + TOKEN_SECONDS,
        });
        for (name, value) in [("email", &request.email), ("name", &request.name), ("nonce", &request.nonce)] {
            if let Some(value) = value {
                claims[name] = json!(value);
            }
        }
        if let Some(verified) = request.email_verified {
            claims["email_verified"] = json!(verified);
        }
        self.sign(&claims)
    }

    /// Signs any claims with the current key (tests use it for expired or foreign tokens).
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let key = self.current();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| e.to_string())
    }

    /// Answers a request under `/_local/oidc/`; `None` for any other path.
    pub fn handle(&self, method: &str, path: &str, body: &[u8]) -> Option<(StatusCode, Vec<u8>)> {
        let answer = |status: StatusCode, value: Value| Some((status, value.to_string().into_bytes()));
        match (method, path.strip_prefix(PATH_PREFIX)?) {
            ("GET", "/jwks.json") => answer(StatusCode::OK, self.jwks()),
            ("POST", "/id-token") => match serde_json::from_slice::<TokenRequest>(body) {
                Ok(request) => match self.mint(&request) {
                    Ok(token) => answer(StatusCode::OK, json!({"id_token": token})),
                    Err(why) => answer(StatusCode::UNPROCESSABLE_ENTITY, json!({"status": 422, "detail": why})),
                },
                Err(why) => answer(StatusCode::UNPROCESSABLE_ENTITY, json!({"status": 422, "detail": why.to_string()})),
            },
            _ => answer(
                StatusCode::NOT_FOUND,
                json!({"status": 404, "detail": "not a route of the development provider"}),
            ),
        }
    }
}

/// Serves only the development provider on `listener` (the tests: the API under test runs
/// in-process, but fetches the provider's keys over HTTP like any provider's).
pub async fn serve(idp: Arc<DevIdp>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    loop {
        let (stream, _) = listener.accept().await?;
        let idp = Arc::clone(&idp);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let idp = Arc::clone(&idp);
                async move {
                    let (parts, body) = req.into_parts();
                    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let (status, out) = idp
                        .handle(parts.method.as_str(), parts.uri.path(), &bytes)
                        .unwrap_or((StatusCode::NOT_FOUND, Vec::new()));
                    let mut response = hyper::Response::new(Full::new(Bytes::from(out)));
                    *response.status_mut() = status;
                    response.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}
