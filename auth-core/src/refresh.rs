//! Refresh tokens: `rt1.<owner>.<session>.<generation>.<mac>`, opaque to clients.
//!
//! The MAC is an HMAC of (owner, session, generation) under a key derived from the service
//! secret, so the server can tell a genuine old token (a replay: revoke the session) from a
//! forged one (just 401), and can hand the *same* current token to a second refresh that raced
//! the first within the grace window. The session stores only the SHA-256 of its current token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::signing::SigningSecrets;
use crate::domain::SessionId;
use crate::domain::ids::hex;

const PREFIX: &str = "rt1";

/// A refresh token as presented, with a MAC that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedRefresh {
    pub owner_id: String,
    pub session_id: SessionId,
    pub generation: u64,
    pub hash: String,
}

pub struct RefreshSigner {
    /// The current key first; a retiring key still verifies during a rotation.
    keys: Vec<Vec<u8>>,
}

impl RefreshSigner {
    pub fn new(secrets: &SigningSecrets) -> Self {
        Self { keys: secrets.derived_keys(b"customer-platform/refresh/v1") }
    }

    pub fn issue(&self, owner_id: &str, session_id: &SessionId, generation: u64) -> String {
        token(&self.keys[0], owner_id, session_id, generation)
    }

    /// The session's current token again, for a refresh that raced the one that issued it: made
    /// with whichever key made it (the session keeps only its hash), so a key change in between
    /// does not hand out a token the session would not know.
    pub fn reissue(&self, owner_id: &str, session_id: &SessionId, generation: u64, stored_hash: &str) -> String {
        self.keys
            .iter()
            .map(|key| token(key, owner_id, session_id, generation))
            .find(|candidate| token_hash(candidate) == stored_hash)
            .unwrap_or_else(|| self.issue(owner_id, session_id, generation))
    }

    /// `None` for anything that is not a token this service issued.
    pub fn parse(&self, token: &str) -> Option<PresentedRefresh> {
        let token = token.trim();
        let parts: Vec<&str> = token.split('.').collect();
        let [prefix, owner, sid, generation, tag] = parts.as_slice() else {
            return None;
        };
        if *prefix != PREFIX || owner.is_empty() || owner.len() > 64 {
            return None;
        }
        let session_id = SessionId::parse(sid)?;
        let generation: u64 = generation.parse().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let genuine = self.keys.iter().any(|key| bool::from(mac(key, owner, &session_id, generation).ct_eq(&tag)));
        genuine.then(|| PresentedRefresh {
            owner_id: owner.to_string(),
            session_id,
            generation,
            hash: token_hash(token),
        })
    }
}

/// What the session stores of its current token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

fn token(key: &[u8], owner_id: &str, session_id: &SessionId, generation: u64) -> String {
    let mac = mac(key, owner_id, session_id, generation);
    format!("{PREFIX}.{owner_id}.{}.{generation}.{}", session_id.as_str(), URL_SAFE_NO_PAD.encode(mac))
}

fn mac(key: &[u8], owner: &str, session_id: &SessionId, generation: u64) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{owner}|{}|{generation}", session_id.as_str()).as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"another-secret-another-secret-xx";

    fn signer(secret: &[u8]) -> RefreshSigner {
        RefreshSigner::new(&SigningSecrets::single("k", secret))
    }

    #[test]
    fn issued_tokens_parse_and_hash_stably() {
        let signer = signer(SECRET);
        let sid = SessionId::generate();
        let token = signer.issue("CUST_0000ABCD", &sid, 3);
        let parsed = signer.parse(&token).expect("genuine");
        assert_eq!((parsed.owner_id.as_str(), parsed.generation), ("CUST_0000ABCD", 3));
        assert_eq!(parsed.hash, token_hash(&token));
        assert_eq!(signer.issue("CUST_0000ABCD", &sid, 3), token, "the same generation gives the same token");
    }

    #[test]
    fn forged_and_foreign_tokens_do_not_parse() {
        let signer = signer(SECRET);
        let sid = SessionId::generate();
        let token = signer.issue("CUST_0000ABCD", &sid, 3);
        assert!(signer.parse(&token.replace(".3.", ".4.")).is_none(), "generation edited");
        assert!(signer.parse(&token.replace("CUST_0000ABCD", "CUST_0000ABCE")).is_none(), "owner edited");
        let other = self::signer(OTHER);
        assert!(other.parse(&token).is_none());
        assert!(signer.parse("garbage").is_none());
        let old = super::super::signing::NamedSecret { kid: "k0".into(), secret: SECRET.to_vec() };
        let rotated = RefreshSigner::new(&SigningSecrets::new(
            super::super::signing::NamedSecret { kid: "k1".into(), secret: OTHER.to_vec() },
            [old],
        ));
        assert!(rotated.parse(&token).is_some(), "the retiring key still verifies");
        assert_eq!(
            rotated.reissue("CUST_0000ABCD", &sid, 3, &token_hash(&token)),
            token,
            "a racing refresh gets the token the session holds, whichever key made it"
        );
    }
}
