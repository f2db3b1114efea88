//! Refresh tokens: opaque to clients, `rt1.<owner>.<session>.<secret>`. Only the SHA-256 of the
//! secret is stored; the secret has 256 bits of entropy, so a plain hash is enough.

use sha2::{Digest, Sha256};

use super::otp::hex;
use crate::domain::SessionId;
use crate::domain::ids::random_token;

const PREFIX: &str = "rt1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub owner_id: String,
    pub session_id: SessionId,
    secret: String,
}

impl RefreshToken {
    pub fn generate(owner_id: &str, session_id: &SessionId) -> Self {
        Self {
            owner_id: owner_id.to_string(),
            session_id: session_id.clone(),
            secret: random_token(32),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let (prefix, owner, sid, secret) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if prefix != PREFIX
            || parts.next().is_some()
            || owner.is_empty()
            || owner.len() > 64
            || secret.len() != 43
        {
            return None;
        }
        Some(Self {
            owner_id: owner.to_string(),
            session_id: SessionId::parse(sid)?,
            secret: secret.to_string(),
        })
    }

    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.secret.as_bytes()))
    }

    pub fn to_token_string(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            self.owner_id,
            self.session_id.as_str(),
            self.secret
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let token = RefreshToken::generate("CUST_0000ABCD", &SessionId::generate());
        let parsed = RefreshToken::parse(&token.to_token_string()).expect("parses");
        assert_eq!(parsed, token);
        assert_eq!(parsed.hash(), token.hash());
        assert!(RefreshToken::parse("garbage").is_none());
        assert!(RefreshToken::parse(&format!("{}.x", token.to_token_string())).is_none());
    }
}
