//! One-time codes: six digits from the CSPRNG, stored only as a keyed hash, compared in
//! constant time.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::PhoneE164;

/// A freshly generated code. Its `Debug` hides the digits so it never reaches a log.
pub struct OtpCode(String);

impl OtpCode {
    pub fn generate() -> Self {
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

/// Six ASCII digits, as the client must send them.
pub fn is_well_formed(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Keyed hash of (phone, code): a leaked table does not reveal codes, and a hash for one phone
/// is useless for another.
pub struct OtpHasher {
    key: Vec<u8>,
}

impl OtpHasher {
    /// Derives its own key from the service secret so the two uses never share a key.
    pub fn new(service_secret: &[u8]) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(service_secret).unwrap_or_else(|_| unreachable_key());
        mac.update(b"customer-platform/otp/v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    pub fn hash(&self, phone: &PhoneE164, code: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_key());
        mac.update(phone.as_str().as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    pub fn matches(&self, phone: &PhoneE164, code: &str, stored_hash: &str) -> bool {
        self.hash(phone, code)
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into()
    }
}

fn unreachable_key() -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    unreachable!("HMAC-SHA256 takes keys of any length")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> PhoneE164 {
        PhoneE164::parse(text, phonenumber::country::Id::ZM).expect("valid")
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            assert!(is_well_formed(OtpCode::generate().digits()));
        }
        assert!(!is_well_formed("12345"));
        assert!(!is_well_formed("12345a"));
        assert!(!is_well_formed("１２３４５６"));
    }

    #[test]
    fn hashes_bind_code_to_phone_and_secret() {
        let hasher = OtpHasher::new(b"0123456789abcdef0123456789abcdef");
        let a = phone("+260971234567");
        let b = phone("+260971234568");
        let stored = hasher.hash(&a, "123456");
        assert!(hasher.matches(&a, "123456", &stored));
        assert!(!hasher.matches(&a, "123457", &stored));
        assert!(!hasher.matches(&b, "123456", &stored));
        let other = OtpHasher::new(b"another-secret-another-secret-xx");
        assert!(!other.matches(&a, "123456", &stored));
        assert!(!stored.contains("123456"));
    }

    #[test]
    fn debug_hides_the_digits() {
        assert_eq!(format!("{:?}", OtpCode::generate()), "OtpCode(******)");
    }
}
