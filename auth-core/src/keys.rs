//! The service's secrets and every key derived from them. Each secret has versions: the current
//! one signs; the others (the retiring one, and one staged for the next rotation) still verify,
//! so a rotation logs nobody out: access tokens, refresh tokens, one-time-code hashes and list
//! cursors all accept any of them. There are four secrets, each readable only by the functions
//! that use it: the access-token private keys, their published public keys, the session secret
//! (one-time codes and refresh tokens) and the cursor secret.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cursor::CursorSigner;
use super::es256::{AccessKey, PublicJwk};
use super::otp::OtpHasher;
use super::refresh::RefreshSigner;
use super::{AuthError, JwtKeys};

/// A secret and the key id (`kid`) its tokens carry.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedSecret {
    pub kid: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for NamedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedSecret").field("kid", &self.kid).field("secret", &"…").finish()
    }
}

/// The secret that signs, then the ones that only verify (no duplicates of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecrets {
    current: NamedSecret,
    verify_only: Vec<NamedSecret>,
}

impl SigningSecrets {
    pub fn new(current: NamedSecret, verify_only: impl IntoIterator<Item = NamedSecret>) -> Self {
        let mut others: Vec<NamedSecret> = Vec::new();
        for secret in verify_only {
            if secret.kid != current.kid && !others.iter().any(|o| o.kid == secret.kid) {
                others.push(secret);
            }
        }
        Self { current, verify_only: others }
    }

    /// One secret and nothing else (a test, or a deployment between rotations).
    pub fn single(kid: &str, secret: &[u8]) -> Self {
        Self::new(NamedSecret { kid: kid.into(), secret: secret.to_vec() }, [])
    }

    pub fn current(&self) -> &NamedSecret {
        &self.current
    }

    /// Every secret, the signing one first.
    pub fn all(&self) -> impl Iterator<Item = &NamedSecret> {
        std::iter::once(&self.current).chain(&self.verify_only)
    }

    /// Every secret's bytes, the signing one first.
    fn all_bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.all().map(|s| s.secret.as_slice())
    }

    /// One key per secret for one use (`purpose`, e.g. `customer-platform/otp/v1`), the signing
    /// secret's first: HMAC-SHA256 of the purpose under the secret, so no two uses share a key.
    pub fn derived_keys(&self, purpose: &[u8]) -> Vec<Vec<u8>> {
        self.all_bytes()
            .map(|secret| {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
                mac.update(purpose);
                mac.finalize().into_bytes().to_vec()
            })
            .collect()
    }
}

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
    pub jwt: JwtKeys,
    otp_hasher: Option<OtpHasher>,
    refresh_signer: Option<RefreshSigner>,
    cursor_signer: Option<CursorSigner>,
}

impl Keys {
    /// The public keys accepted are the private keys' halves where this instance has them (so
    /// `auth` never depends on what it published), the published set otherwise.
    pub fn derive(material: KeyMaterial, audience: &str, access_token_ttl: Duration) -> Self {
        let signing = material.access_signing.as_ref().map(|s| AccessKey::from_secret(&s.current().secret));
        let published = material.signing_public_keys().or_else(|| material.access_public.clone()).unwrap_or_default();
        Self {
            jwt: JwtKeys::new(signing, published, audience, access_token_ttl),
            otp_hasher: material.session.as_ref().map(OtpHasher::new),
            refresh_signer: material.session.as_ref().map(RefreshSigner::new),
            cursor_signer: material.cursor.as_ref().map(CursorSigner::new),
            material,
        }
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
