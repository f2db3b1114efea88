//! ES256 access-token keys. A key pair is derived from a secret's text (so Secrets Manager's
//! own random strings, and the same rotation as every other secret, make key pairs); its public
//! half is published as a JWK whose `kid` is the JWK's RFC 7638 thumbprint, so every function
//! that knows a public key names it alike, whichever secret version it came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the private scalar is derived under: another purpose never gives the same key.
const DERIVATION_PURPOSE: &[u8] = b"customer-platform/access-token-key/es256/v1";

/// A private key that signs access tokens, and its public half.
pub struct AccessKey {
    pub public: PublicJwk,
    signing: EncodingKey,
}

impl AccessKey {
    /// The key pair of a secret's text: the scalar is SHA-256 over the purpose, a counter and
    /// the text, the first such value that is a valid P-256 scalar (the first, but for odds of
    /// about 2^-32).
    pub fn from_secret(secret: &[u8]) -> Self {
        let scalar = (0u8..=u8::MAX)
            .find_map(|counter| {
                let digest =
                    Sha256::new().chain_update(DERIVATION_PURPOSE).chain_update([counter]).chain_update(secret);
                p256::SecretKey::from_slice(&digest.finalize()).ok()
            })
            .expect("256 candidates cannot all fall outside the P-256 scalar range");
        let point = scalar.public_key().as_affine().to_sec1_point(false);
        let (x, y) = (point.x().expect("an uncompressed point has x"), point.y().expect("and y"));
        let public = PublicJwk::new(x, y);
        let pkcs8 = pkcs8_der(&scalar.to_bytes(), point.as_bytes());
        Self { public, signing: EncodingKey::from_ec_der(&pkcs8) }
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.signing
    }
}

/// A P-256 public key as a JSON Web Key (RFC 7517), as `/.well-known/jwks.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

impl PublicJwk {
    fn new(x: &[u8], y: &[u8]) -> Self {
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        Self {
            kid: thumbprint(&x, &y),
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            alg: "ES256".into(),
            key_use: "sig".into(),
        }
    }

    /// A key read from a published set: only a P-256 signing key with 32-byte coordinates,
    /// named by its own thumbprint whatever `kid` it came with. (Whether the point is on the
    /// curve, ring checks when it verifies.)
    pub fn checked(self) -> Option<Self> {
        let coordinate = |c: &str| URL_SAFE_NO_PAD.decode(c).ok().filter(|bytes| bytes.len() == 32);
        let ok = self.kty == "EC" && self.crv == "P-256" && self.key_use != "enc";
        let (x, y) = (coordinate(&self.x)?, coordinate(&self.y)?);
        ok.then(|| Self::new(&x, &y))
    }

    pub fn decoding_key(&self) -> Option<DecodingKey> {
        DecodingKey::from_ec_components(&self.x, &self.y).ok()
    }
}

/// The RFC 7638 thumbprint of a P-256 JWK: SHA-256 of its required members in lexical order.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The PKCS#8 v1 document ring reads a P-256 key from (the form ring itself generates): the
/// fixed ASN.1 around the 32-byte scalar and the 65-byte uncompressed public point.
fn pkcs8_der(scalar: &[u8], public_point: &[u8]) -> Vec<u8> {
    const PREFIX: [u8; 36] = [
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
        0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
    ];
    const MIDDLE: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];
    [&PREFIX[..], scalar, &MIDDLE[..], public_point].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_always_makes_the_same_key_and_another_secret_another() {
        let a = AccessKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let again = AccessKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let b = AccessKey::from_secret(b"another-secret-another-secret-xx");
        assert_eq!(a.public, again.public);
        assert_ne!(a.public.kid, b.public.kid);
        assert_eq!(a.public.kid.len(), 43, "a base64url SHA-256");
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 has no P-256 example; this is the thumbprint of RFC 7517's appendix A.1 key.
        let x = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
        let y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
        assert_eq!(thumbprint(x, y), "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
    }

    #[test]
    fn a_published_key_is_renamed_by_its_thumbprint_and_foreign_ones_refused() {
        let key = AccessKey::from_secret(b"0123456789abcdef0123456789abcdef").public;
        let renamed = PublicJwk { kid: "chosen-by-someone".into(), ..key.clone() };
        assert_eq!(renamed.checked(), Some(key.clone()));
        assert_eq!(PublicJwk { crv: "P-384".into(), ..key.clone() }.checked(), None);
        assert_eq!(PublicJwk { x: "AAAA".into(), ..key }.checked(), None);
    }
}
