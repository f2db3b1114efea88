//! The service's secrets and every key derived from them. Each secret has versions: the current
//! one signs; the others (the retiring one, and one staged for the next rotation) still verify,
//! so a rotation logs nobody out: access tokens, refresh tokens, one-time-code hashes and list
//! cursors all accept any of them. There are four secrets, each readable only by the functions
//! that use it: the access-token private keys, their published public keys, the session secret
//! (one-time codes and refresh tokens) and the cursor secret.

use std::sync::OnceLock;
use std::time::Duration;

use super::cursor::CursorSigner;
use super::es256::{AccessKey, PublicJwk};
use super::otp::OtpHasher;
use super::refresh::RefreshSigner;
pub use super::signing::{NamedSecret, SigningSecrets};
use super::{AuthError, JwtKeys};

/// The secrets an instance holds, as read. Each is optional: a function gets only the ones it
/// uses (docs/architecture.md lists them per function).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMaterial {
    /// Access-token private keys (only `auth`): the current one signs, every one is published.
    pub access_signing: Option<SigningSecrets>,
    /// The published access-token public keys, as the public-keys secret holds them (the
    /// functions that only verify).
    pub access_public: Option<Vec<PublicJwk>>,
    /// The root of the one-time-code and refresh-token keys (only `auth`).
    pub session: Option<SigningSecrets>,
    /// The root of the list-cursor keys (the functions that page).
    pub cursor: Option<SigningSecrets>,
}

impl KeyMaterial {
    /// The public halves of the private keys, current first, where this instance signs.
    pub fn signing_public_keys(&self) -> Option<Vec<PublicJwk>> {
        let secrets = self.access_signing.as_ref()?;
        Some(secrets.all().map(|s| AccessKey::from_secret(&s.secret).public).collect())
    }
}

/// Everything keyed by an instance's secrets, derived once per set of secrets.
pub struct Keys {
    pub material: KeyMaterial,
    audience: String,
    access_token_ttl: Duration,
    /// The access-token keys, derived on first use: see [`Keys::jwt`].
    jwt: OnceLock<JwtKeys>,
    otp_hasher: Option<OtpHasher>,
    refresh_signer: Option<RefreshSigner>,
    cursor_signer: Option<CursorSigner>,
}

impl Keys {
    pub fn derive(material: KeyMaterial, audience: &str, access_token_ttl: Duration) -> Self {
        Self {
            otp_hasher: material.session.as_ref().map(OtpHasher::new),
            refresh_signer: material.session.as_ref().map(RefreshSigner::new),
            cursor_signer: material.cursor.as_ref().map(CursorSigner::new),
            audience: audience.to_string(),
            access_token_ttl,
            jwt: OnceLock::new(),
            material,
        }
    }

    /// The access-token keys: the public keys accepted are the private keys' halves where this
    /// instance has them (so `auth` never depends on what it published), the published set
    /// otherwise. Derived on first use, not at init: a private key's pair is a P-256 base-point
    /// multiplication (about 0.7 ms, the bulk of an instance's set-up), which a request that
    /// neither signs nor verifies a token (a code request, a health check) never pays, and which
    /// kept every cold start ~1 ms above `hello`'s (docs/benchmarks.md).
    pub fn jwt(&self) -> &JwtKeys {
        self.jwt.get_or_init(|| access_keys(&self.material, &self.audience, self.access_token_ttl))
    }

    pub fn otp_hasher(&self) -> Result<&OtpHasher, AuthError> {
        self.otp_hasher.as_ref().ok_or(AuthError::NoKey("one-time code"))
    }

    pub fn refresh_signer(&self) -> Result<&RefreshSigner, AuthError> {
        self.refresh_signer.as_ref().ok_or(AuthError::NoKey("refresh token"))
    }

    pub fn cursor_signer(&self) -> Result<&CursorSigner, AuthError> {
        self.cursor_signer.as_ref().ok_or(AuthError::NoKey("list cursor"))
    }
}

/// Each private key's pair derived once: the signing key's public half is reused for the
/// published set, not derived again.
fn access_keys(material: &KeyMaterial, audience: &str, access_token_ttl: Duration) -> JwtKeys {
    let signing = material.access_signing.as_ref().map(|s| AccessKey::from_secret(&s.current().secret));
    let published = match (&signing, &material.access_signing) {
        (Some(key), Some(secrets)) => std::iter::once(key.public.clone())
            .chain(secrets.all().skip(1).map(|s| AccessKey::from_secret(&s.secret).public))
            .collect(),
        _ => material.access_public.clone().unwrap_or_default(),
    };
    JwtKeys::new(signing, published, audience, access_token_ttl)
}
