//! Two factors with an authenticator app: TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps,
//! a base32 secret), recovery codes, and the sealing of TOTP seeds at rest (AES-256-GCM under a
//! key derived from the service secrets, which only `auth` holds).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::signing::SigningSecrets;
use crate::domain::ids::hex;

pub const STEP_SECONDS: i64 = 30;
/// Steps of clock drift accepted either side of now.
pub const DRIFT_STEPS: i64 = 1;
pub const RECOVERY_CODES: usize = 10;
/// 20 bytes: the size RFC 4226 recommends for HMAC-SHA1.
const SECRET_BYTES: usize = 20;

/// A TOTP seed. Its `Debug` hides the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The form authenticator apps take: RFC 4648 base32, upper case, no padding.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The code of time step `step` (unix time / 30).
    pub fn code_at(&self, step: i64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let digest = tag.as_ref();
        let offset = (digest[digest.len() - 1] & 0x0f) as usize;
        let binary = u32::from_be_bytes([digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]])
            & 0x7fff_ffff;
        format!("{:06}", binary % 1_000_000)
    }

    /// The step within ±`DRIFT_STEPS` of `now` whose code is `code`, if it is later than
    /// `last_used` (a code works once: replays and older codes are refused).
    pub fn matching_step(&self, code: &str, now_unix: i64, last_used: Option<i64>) -> Option<i64> {
        let current = step_of(now_unix);
        (current - DRIFT_STEPS..=current + DRIFT_STEPS)
            .filter(|step| last_used.is_none_or(|used| *step > used))
            .find(|step| bool::from(self.code_at(*step).as_bytes().ct_eq(code.as_bytes())))
    }

    /// `otpauth://totp/…` for a QR code or a link: the issuer and the member's email as label.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let enc =
            |text: &str| percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECONDS}",
            enc(issuer),
            enc(account),
            self.to_base32(),
            enc(issuer)
        )
    }
}

pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECONDS)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 (case, spaces and padding ignored); `None` on another character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = BASE32.iter().position(|&b| b as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// Six ASCII digits: a TOTP code rather than a recovery code.
pub fn looks_like_totp(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Ten recovery codes (`xxxxx-xxxxx`, 50 random bits each), shown once.
pub fn generate_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            rand::rng().fill_bytes(&mut bytes);
            let text = base32_encode(&bytes).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// What is stored of a recovery code: SHA-256 of its normalised form (lower case, no `-` or
/// spaces). The codes are random, so a plain hash is as good as a keyed one.
pub fn recovery_code_hash(code: &str) -> String {
    let normalised: String =
        code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
    hex(&Sha256::digest(normalised.as_bytes()))
}

/// Seals TOTP seeds for storage: AES-256-GCM with a random nonce, the member's id as associated
/// data (a sealed seed copied to another member does not open). One key per service secret, the
/// current one first, so a seed sealed before a rotation still opens after it.
pub struct SeedSealer {
    keys: Vec<Vec<u8>>,
}

impl SeedSealer {
    pub fn new(secrets: &SigningSecrets) -> Self {
        Self { keys: secrets.derived_keys(b"customer-platform/totp-seed/v1") }
    }

    pub fn seal(&self, secret: &TotpSecret, member: &str) -> Result<String, String> {
        let key = self.keys.first().ok_or("no key to seal with")?;
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| "bad key length")?);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = secret.0.clone();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(member.as_bytes()), &mut sealed)
            .map_err(|_| "sealing failed")?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str, member: &str) -> Option<TotpSecret> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (nonce, ciphertext) = bytes.split_at_checked(NONCE_LEN)?;
        self.keys.iter().find_map(|key| {
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buffer = ciphertext.to_vec();
            let plain = key.open_in_place(nonce, Aad::from(member.as_bytes()), &mut buffer).ok()?;
            Some(TotpSecret(plain.to_vec()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", last 6 of the 8 digits.
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(secret.code_at(step_of(59)), "287082");
        assert_eq!(secret.code_at(step_of(1_111_111_109)), "081804");
        assert_eq!(secret.code_at(step_of(1_234_567_890)), "005924");
        assert_eq!(secret.code_at(step_of(2_000_000_000)), "279037");
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        let secret = TotpSecret::generate();
        assert_eq!(secret.to_base32().len(), 32);
        assert_eq!(base32_decode(&secret.to_base32()).map(TotpSecret::from_bytes), Some(secret));
        assert_eq!(base32_decode("mzxw 6ytb oi======"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("1"), None);
    }

    #[test]
    fn codes_match_within_one_step_and_once() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let step = step_of(now);
        assert_eq!(secret.matching_step(&secret.code_at(step), now, None), Some(step));
        assert_eq!(secret.matching_step(&secret.code_at(step - 1), now, None), Some(step - 1));
        assert_eq!(secret.matching_step(&secret.code_at(step + 1), now, None), Some(step + 1));
        assert_eq!(secret.matching_step(&secret.code_at(step - 2), now, None), None);
        assert_eq!(secret.matching_step(&secret.code_at(step + 2), now, None), None);
        assert_eq!(secret.matching_step(&secret.code_at(step), now, Some(step)), None, "replay");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_in_any_spelling() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        assert_eq!(recovery_code_hash(&codes[0]), recovery_code_hash(&codes[0].to_uppercase().replace('-', " ")));
    }

    #[test]
    fn sealed_seeds_open_only_for_their_member_and_survive_a_rotation() {
        use super::super::signing::NamedSecret;
        let old = NamedSecret { kid: "a".into(), secret: b"0123456789abcdef0123456789abcdef".to_vec() };
        let new = NamedSecret { kid: "b".into(), secret: b"another-secret-another-secret-xx".to_vec() };
        let before = SeedSealer::new(&SigningSecrets::new(old.clone(), []));
        let secret = TotpSecret::generate();
        let sealed = before.seal(&secret, "STAFF_0000000A").expect("seal");
        assert!(!sealed.contains(&secret.to_base32()));
        assert_eq!(before.open(&sealed, "STAFF_0000000A"), Some(secret.clone()));
        assert_eq!(before.open(&sealed, "STAFF_0000000B"), None, "bound to its member");
        let after = SeedSealer::new(&SigningSecrets::new(new.clone(), [old]));
        assert_eq!(after.open(&sealed, "STAFF_0000000A"), Some(secret));
        assert_eq!(SeedSealer::new(&SigningSecrets::new(new, [])).open(&sealed, "STAFF_0000000A"), None);
    }
}
