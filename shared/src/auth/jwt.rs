//! Access tokens: HS256 JWTs with a `kid`, short-lived. The current key signs; a retiring key
//! may still verify during a rotation. Only HS256 is accepted, so `alg: none` and algorithm
//! confusion fail verification.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{NamedSecret, SigningSecrets};
use super::{AuthError, Role};
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub role: Role,
    /// The session this token belongs to.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

struct VerifyingKey {
    kid: String,
    key: DecodingKey,
}

pub struct JwtKeys {
    kid: String,
    signing: EncodingKey,
    verifying: Vec<VerifyingKey>,
    issuer: String,
    lifetime: Duration,
}

impl JwtKeys {
    pub fn new(secrets: &SigningSecrets, issuer: &str, lifetime: Duration) -> Self {
        let verifying = secrets
            .all()
            .map(|s| VerifyingKey { kid: s.kid.clone(), key: DecodingKey::from_secret(&s.secret) })
            .collect();
        let NamedSecret { kid, secret } = secrets.current();
        Self {
            kid: kid.clone(),
            signing: EncodingKey::from_secret(secret),
            verifying,
            issuer: issuer.to_string(),
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn issue(&self, subject: &str, role: Role, session_id: &str, now: Timestamp) -> Result<String, AuthError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.to_string(),
            role,
            sid: session_id.to_string(),
            iat: now.unix(),
            exp: now.unix() + self.lifetime.as_secs() as i64,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).map_err(|_| AuthError::Signing)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.ok_or(AuthError::InvalidToken)?;
        let key = self.verifying.iter().find(|k| k.kid == kid).ok_or(AuthError::InvalidToken)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|_| AuthError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn named(kid: &str, secret: &[u8]) -> NamedSecret {
        NamedSecret { kid: kid.into(), secret: secret.to_vec() }
    }

    fn keys_of(current: NamedSecret, verify_only: Vec<NamedSecret>) -> JwtKeys {
        JwtKeys::new(&SigningSecrets::new(current, verify_only), "test", Duration::from_secs(900))
    }

    fn keys() -> JwtKeys {
        keys_of(named("k1", SECRET), vec![])
    }

    #[test]
    fn issued_tokens_verify_and_carry_kid() {
        let token = keys().issue("CUST_00000001", Role::Customer, "sid", Timestamp::now()).expect("sign");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some("k1"));
        let claims = keys().verify(&token).expect("valid");
        assert_eq!(claims.sub, "CUST_00000001");
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn expired_tokens_fail() {
        let long_ago = Timestamp::now().plus_seconds(-1000);
        let token = keys().issue("CUST_00000001", Role::Customer, "sid", long_ago).expect("sign");
        assert_eq!(keys().verify(&token), Err(AuthError::InvalidToken));
    }

    #[test]
    fn tampered_payload_fails() {
        let token = keys().issue("CUST_00000001", Role::Customer, "sid", Timestamp::now()).expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("utf8");
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("customer", "admin"));
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(keys().verify(&tampered), Err(AuthError::InvalidToken));
    }

    #[test]
    fn alg_none_and_wrong_key_fail() {
        let token = keys().issue("CUST_00000001", Role::Customer, "sid", Timestamp::now()).expect("sign");
        let payload = token.split('.').nth(1).expect("payload");
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
        assert_eq!(keys().verify(&format!("{none_header}.{payload}.")), Err(AuthError::InvalidToken));
        let other = keys_of(named("k1", b"another-secret-another-secret-xx"), vec![]);
        assert_eq!(other.verify(&token), Err(AuthError::InvalidToken));
    }

    #[test]
    fn retiring_key_still_verifies_during_rotation() {
        let old_secret = named("k0", b"old-secret-old-secret-old-secret");
        let old = keys_of(old_secret.clone(), vec![]);
        let token = old.issue("CUST_00000001", Role::Customer, "sid", Timestamp::now()).expect("sign");
        let rotated = keys_of(named("k1", SECRET), vec![old_secret]);
        assert!(rotated.verify(&token).is_ok());
        let rotated_token = rotated.issue("CUST_00000001", Role::Customer, "sid", Timestamp::now()).expect("sign");
        assert_eq!(jsonwebtoken::decode_header(&rotated_token).expect("header").kid.as_deref(), Some("k1"));
        assert_eq!(keys().verify(&token), Err(AuthError::InvalidToken), "unknown kid");
    }
}
