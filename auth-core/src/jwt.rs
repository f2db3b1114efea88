//! Access tokens: ES256 JWTs with a `kid`, short-lived. Only the `auth` function holds a private
//! key and signs; every function verifies with public keys alone (the ones
//! `/.well-known/jwks.json` publishes). Only ES256 is accepted, so `alg: none`, HS256 (the
//! old shared-secret tokens) and algorithm confusion fail verification.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::es256::{AccessKey, PublicJwk};
use super::{AuthError, Role};
use crate::time::Timestamp;

/// The one algorithm issued and accepted.
pub const ALGORITHM: &str = "ES256";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
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

/// The access-token keys of an instance: the private key where this function signs (`auth`),
/// and the public keys it accepts, the signing one first.
pub struct JwtKeys {
    signing: Option<AccessKey>,
    published: Vec<PublicJwk>,
    verifying: Vec<VerifyingKey>,
    audience: String,
    lifetime: Duration,
}

impl JwtKeys {
    /// `published`: the public keys accepted (current, previous, next), as the JWKS lists them.
    pub fn new(signing: Option<AccessKey>, published: Vec<PublicJwk>, audience: &str, lifetime: Duration) -> Self {
        let verifying = published
            .iter()
            .filter_map(|jwk| Some(VerifyingKey { kid: jwk.kid.clone(), key: jwk.decoding_key()? }))
            .collect();
        Self { signing, published, verifying, audience: audience.to_string(), lifetime }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub fn published(&self) -> &[PublicJwk] {
        &self.published
    }

    pub fn issue(
        &self,
        issuer: &str,
        subject: &str,
        role: Role,
        session_id: &str,
        now: Timestamp,
    ) -> Result<String, AuthError> {
        let key = self.signing.as_ref().ok_or(AuthError::Signing)?;
        let claims = Claims {
            iss: issuer.to_string(),
            aud: self.audience.clone(),
            sub: subject.to_string(),
            role,
            sid: session_id.to_string(),
            iat: now.unix(),
            exp: now.unix() + self.lifetime.as_secs() as i64,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.public.kid.clone());
        jsonwebtoken::encode(&header, &claims, key.encoding_key()).map_err(|_| AuthError::Signing)
    }

    /// The claims of a token signed by one of the published keys for `issuer` and this
    /// deployment's audience, not expired; anything else is `InvalidToken`.
    pub fn verify(&self, token: &str, issuer: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::ES256 {
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.ok_or(AuthError::InvalidToken)?;
        let key = self.verifying.iter().find(|k| k.kid == kid).ok_or(AuthError::InvalidToken)?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = 0;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
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
    use jsonwebtoken::EncodingKey;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const ISSUER: &str = "https://api.example.com";

    /// Signs with the key of `current`, accepts it and the keys of `others`.
    fn keys_of(current: &[u8], others: &[&[u8]]) -> JwtKeys {
        let signing = AccessKey::from_secret(current);
        let mut published = vec![signing.public.clone()];
        published.extend(others.iter().map(|s| AccessKey::from_secret(s).public));
        JwtKeys::new(Some(signing), published, "customer-platform", Duration::from_secs(900))
    }

    fn keys() -> JwtKeys {
        keys_of(SECRET, &[])
    }

    fn customer_token(keys: &JwtKeys) -> String {
        keys.issue(ISSUER, "CUST_00000001", Role::Customer, "sid", Timestamp::now()).expect("sign")
    }

    #[test]
    fn issued_tokens_verify_and_carry_kid_and_audience() {
        let token = customer_token(&keys());
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(AccessKey::from_secret(SECRET).public.kid.as_str()));
        let claims = keys().verify(&token, ISSUER).expect("valid");
        assert_eq!((claims.sub.as_str(), claims.aud.as_str()), ("CUST_00000001", "customer-platform"));
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn public_keys_alone_verify() {
        let token = customer_token(&keys());
        let verifier = JwtKeys::new(None, keys().published().to_vec(), "customer-platform", Duration::from_secs(900));
        assert!(verifier.verify(&token, ISSUER).is_ok());
        assert_eq!(
            verifier.issue(ISSUER, "CUST_00000001", Role::Admin, "sid", Timestamp::now()),
            Err(AuthError::Signing)
        );
    }

    #[test]
    fn expired_tokens_and_other_issuers_or_audiences_fail() {
        let long_ago = Timestamp::now().plus_seconds(-1000);
        let token = keys().issue(ISSUER, "CUST_00000001", Role::Customer, "sid", long_ago).expect("sign");
        assert_eq!(keys().verify(&token, ISSUER), Err(AuthError::InvalidToken));
        let token = customer_token(&keys());
        assert_eq!(keys().verify(&token, "https://elsewhere.example.com"), Err(AuthError::InvalidToken));
        let other_audience = JwtKeys::new(None, keys().published().to_vec(), "another-service", Duration::from_secs(9));
        assert_eq!(other_audience.verify(&token, ISSUER), Err(AuthError::InvalidToken));
    }

    #[test]
    fn tampered_payload_fails() {
        let token = customer_token(&keys());
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("utf8");
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("customer", "admin"));
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(keys().verify(&tampered, ISSUER), Err(AuthError::InvalidToken));
    }

    #[test]
    fn alg_none_hs256_and_unknown_keys_fail() {
        let token = customer_token(&keys());
        let kid = AccessKey::from_secret(SECRET).public.kid;
        let payload = token.split('.').nth(1).expect("payload");
        let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        assert_eq!(keys().verify(&format!("{none_header}.{payload}."), ISSUER), Err(AuthError::InvalidToken));

        let claims = keys().verify(&token, ISSUER).expect("valid");
        let mut hs256 = Header::new(Algorithm::HS256);
        hs256.kid = Some(kid);
        let shared_secret = jsonwebtoken::encode(&hs256, &claims, &EncodingKey::from_secret(SECRET)).expect("sign");
        assert_eq!(keys().verify(&shared_secret, ISSUER), Err(AuthError::InvalidToken));

        let stranger = keys_of(b"another-secret-another-secret-xx", &[]);
        assert_eq!(keys().verify(&customer_token(&stranger), ISSUER), Err(AuthError::InvalidToken), "unknown kid");
    }

    #[test]
    fn a_previous_key_still_verifies_during_a_rotation() {
        let old: &[u8] = b"old-secret-old-secret-old-secret";
        let token = customer_token(&keys_of(old, &[]));
        let rotated = keys_of(SECRET, &[old]);
        assert!(rotated.verify(&token, ISSUER).is_ok());
        assert_eq!(keys().verify(&token, ISSUER), Err(AuthError::InvalidToken), "once retired");
    }
}
