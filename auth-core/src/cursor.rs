//! Opaque, tamper-proof pagination cursors: where a page ended (the store's `PageToken`, or a
//! search position) and the query it belongs to, signed. An edited cursor, or one from another
//! query, is `InvalidCursor` (a 400 at the edge).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::signing::SigningSecrets;

/// A cursor that was edited, or signed for another query.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the cursor is not valid for this query")]
pub struct InvalidCursor;

pub struct CursorSigner {
    /// One key per service secret, the signing secret's first: a cursor handed out just before
    /// a rotation still pages on after it.
    keys: Vec<Vec<u8>>,
}

impl CursorSigner {
    pub fn new(secrets: &SigningSecrets) -> Self {
        Self { keys: secrets.derived_keys(b"customer-platform/cursor/v1") }
    }

    /// `scope` names the query (route and filters), so a cursor cannot be replayed elsewhere.
    pub fn encode<T: Serialize>(&self, scope: &str, position: &T) -> String {
        let payload = serde_json::to_vec(position).unwrap_or_default();
        let tag = tag(&self.keys[0], scope, &payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    pub fn decode<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, InvalidCursor> {
        let invalid = || InvalidCursor;
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        if !self.keys.iter().any(|key| bool::from(self::tag(key, scope, &payload).ct_eq(&tag))) {
            return Err(invalid());
        }
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

fn tag(key: &[u8], scope: &str, payload: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(scope.as_bytes());
    mac.update(b"\n");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> std::collections::BTreeMap<String, String> {
        [("PK", "STAFF#1"), ("GSI4PK", "STAFF")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn cursors_round_trip_only_in_their_scope() {
        let signer = CursorSigner::new(&SigningSecrets::single("k", b"0123456789abcdef0123456789abcdef"));
        let cursor = signer.encode("staff", &key());
        assert_eq!(
            signer.decode::<std::collections::BTreeMap<String, String>>("staff", &cursor).expect("valid"),
            key()
        );
        assert!(signer.decode::<serde_json::Value>("customers", &cursor).is_err(), "foreign scope");
        let mut edited = cursor.clone();
        edited.replace_range(0..1, if cursor.starts_with('A') { "B" } else { "A" });
        assert!(signer.decode::<serde_json::Value>("staff", &edited).is_err(), "edited payload");
        assert!(signer.decode::<serde_json::Value>("staff", "garbage").is_err());
    }
}
