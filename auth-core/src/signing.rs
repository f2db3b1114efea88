//! A secret's versions: the one that signs and the ones that only verify, and the keys derived
//! from them per use. Every keyed helper (code hashes, refresh tokens, TOTP seeds, list cursors)
//! takes these; `keys` bundles the helpers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

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
