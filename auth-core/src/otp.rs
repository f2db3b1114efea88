//! One-time codes: six digits from the CSPRNG, stored only as a keyed hash, compared in
//! constant time.

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::signing::SigningSecrets;
use crate::domain::CodeRecipient;
use crate::domain::ids::hex;

pub const HOUR: i64 = 3600;

/// How often codes may be sent and tried (read by `Config` from the `OTP_*` variables).
#[derive(Clone)]
pub struct OtpLimits {
    pub code_ttl: Duration,
    pub max_attempts: u32,
    pub per_phone_per_hour: u32,
    pub min_interval: Duration,
    pub per_ip_per_hour: u32,
    /// Codes sent per hour by the whole deployment (`OTP_GLOBAL_PER_HOUR`): the SMS spend cap.
    pub global_per_hour: u32,
    /// Countries codes may go to (`OTP_ALLOWED_COUNTRIES`, ISO 3166 codes, comma-separated);
    /// empty or absent: the country of `PHONE_DEFAULT_REGION`, never every country (SMS
    /// pumping to premium numbers abroad would spend the global budget).
    pub allowed_countries: Vec<phonenumber::country::Id>,
}

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

/// Keyed hash of (recipient, code): a leaked table does not reveal codes, and a hash for one
/// phone or address is useless for another.
pub struct OtpHasher {
    /// One key per service secret, the signing secret's first: a code sent just before a
    /// rotation still matches after it.
    keys: Vec<Vec<u8>>,
}

impl OtpHasher {
    /// Derives its own keys from the service secrets so the two uses never share a key.
    pub fn new(secrets: &SigningSecrets) -> Self {
        Self { keys: secrets.derived_keys(b"customer-platform/otp/v1") }
    }

    pub fn hash(&self, to: &CodeRecipient, code: &str) -> String {
        hash_with(&self.keys[0], to, code)
    }

    pub fn matches(&self, to: &CodeRecipient, code: &str, stored_hash: &str) -> bool {
        self.keys.iter().any(|key| bool::from(hash_with(key, to, code).as_bytes().ct_eq(stored_hash.as_bytes())))
    }
}

fn hash_with(key: &[u8], to: &CodeRecipient, code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable_key());
    mac.update(to.as_str().as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Why another code may not be sent yet, and for how many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWait {
    pub seconds: u64,
    pub reason: WaitReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    HourlyLimit,
    TooSoon,
}

impl WaitReason {
    /// The sentence for a recipient named by `noun` (`phone`, `address`).
    pub fn message(self, noun: &str) -> String {
        match self {
            WaitReason::HourlyLimit => format!("too many codes requested for this {noun}"),
            WaitReason::TooSoon => format!("a code was just sent to this {noun}"),
        }
    }
}

/// Send times within the last hour, oldest first.
pub fn recent_sends(sent_at: &[i64], now: i64) -> Vec<i64> {
    let mut sends: Vec<i64> = sent_at.iter().copied().filter(|&at| at > now - HOUR).collect();
    sends.sort_unstable();
    sends
}

/// The per-recipient limits: one code per `min_interval`, at most `per_phone_per_hour` in any
/// sliding hour. `recent` comes from [`recent_sends`].
pub fn send_wait(limits: &OtpLimits, recent: &[i64], now: i64) -> Option<SendWait> {
    let per_hour = limits.per_phone_per_hour as usize;
    if per_hour == 0 || recent.len() >= per_hour {
        // The hour frees up when the oldest of the last `per_hour` sends is an hour old.
        let oldest = recent.len().checked_sub(per_hour).and_then(|i| recent.get(i)).copied().unwrap_or(now);
        let seconds = (oldest + HOUR - now).max(1) as u64;
        return Some(SendWait { seconds, reason: WaitReason::HourlyLimit });
    }
    let last = *recent.last()?;
    let next_allowed = last + limits.min_interval.as_secs() as i64;
    (next_allowed > now).then(|| SendWait { seconds: (next_allowed - now) as u64, reason: WaitReason::TooSoon })
}

fn unreachable_key() -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    unreachable!("HMAC-SHA256 takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> CodeRecipient {
        CodeRecipient::Phone(crate::domain::PhoneE164::parse(text, phonenumber::country::Id::ZM).expect("valid"))
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
        let hasher = OtpHasher::new(&SigningSecrets::single("k", b"0123456789abcdef0123456789abcdef"));
        let a = phone("+260971234567");
        let b = phone("+260971234568");
        let stored = hasher.hash(&a, "123456");
        assert!(hasher.matches(&a, "123456", &stored));
        assert!(!hasher.matches(&a, "123457", &stored));
        assert!(!hasher.matches(&b, "123456", &stored));
        let other = super::super::signing::NamedSecret {
            kid: "k2".into(),
            secret: b"another-secret-another-secret-xx".to_vec(),
        };
        assert!(!OtpHasher::new(&SigningSecrets::new(other.clone(), [])).matches(&a, "123456", &stored));
        let old = super::super::signing::NamedSecret {
            kid: "k".into(),
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
        };
        let rotated = OtpHasher::new(&SigningSecrets::new(other, [old]));
        assert!(rotated.matches(&a, "123456", &stored), "a code sent before a rotation still works");
        assert_ne!(rotated.hash(&a, "123456"), stored, "new codes are hashed with the new secret");
        assert!(!stored.contains("123456"));
    }

    fn limits() -> OtpLimits {
        OtpLimits {
            code_ttl: std::time::Duration::from_secs(300),
            max_attempts: 5,
            per_phone_per_hour: 5,
            min_interval: std::time::Duration::from_secs(30),
            per_ip_per_hour: 300,
            global_per_hour: 2_000,
            allowed_countries: Vec::new(),
        }
    }

    #[test]
    fn send_limits_are_a_sliding_hour_and_a_minimum_gap() {
        let now = 10_000;
        assert_eq!(send_wait(&limits(), &[], now), None);
        assert_eq!(send_wait(&limits(), &[now - 10], now).map(|w| w.seconds), Some(20));
        assert_eq!(send_wait(&limits(), &[now - 40], now), None);
        let five = recent_sends(&[now - 3000, now - 2000, now - 1000, now - 500, now - 100, now - 4000], now);
        assert_eq!(five.len(), 5, "sends older than an hour are forgotten");
        assert_eq!(send_wait(&limits(), &five, now).map(|w| w.seconds), Some(600));
    }

    #[test]
    fn debug_hides_the_digits() {
        assert_eq!(format!("{:?}", OtpCode::generate()), "OtpCode(******)");
    }
}
