//! Staff passwords: Argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes, 1 lane, the
//! OWASP minimum), PHC strings with a random salt.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 128;

/// A PHC string for an unknown account, so a login for an email that does not exist costs the
/// same as one with a wrong password and timing does not reveal which emails exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$F9yRgExJDbK3TBI35Et0fPpLAtF8DDhG0nHJkGMjD4A";

pub fn check_strength(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Err(format!("must be at least {MIN_PASSWORD} characters"));
    }
    if length > MAX_PASSWORD {
        return Err(format!("must be at most {MAX_PASSWORD} characters"));
    }
    Ok(())
}

/// The 10,000 most common passwords, one per line (source: domain/data/README.md).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// The rules of a password a member chooses (change, reset, a new account): the length limits,
/// not the account's email (nor its part before the `@`), and not one of the 10,000 most common
/// passwords (compared case-insensitively). The error names the rule that failed.
pub fn check_new_password(password: &str, email: &crate::EmailAddress) -> Result<(), String> {
    check_strength(password)?;
    let folded = password.trim().to_lowercase();
    let local_part = email.as_str().split('@').next().unwrap_or_default();
    if folded == email.as_str() || folded == local_part {
        return Err("must not be your email address".into());
    }
    if is_common(&folded) {
        return Err("is one of the 10,000 most common passwords; choose another".into());
    }
    Ok(())
}

fn is_common(folded: &str) -> bool {
    COMMON_PASSWORDS.lines().any(|common| common == folded)
}

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification and always fails.
pub fn verify_against_nothing(password: &str) -> bool {
    let _ = verify(password, DUMMY_HASH);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let first = hash("correct horse battery").expect("hash");
        let second = hash("correct horse battery").expect("hash");
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second, "random salt");
        assert!(verify("correct horse battery", &first));
        assert!(!verify("correct horse battery!", &first));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn dummy_hash_is_well_formed_and_never_matches() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_against_nothing("whatever"));
    }

    #[test]
    fn a_new_password_is_not_the_email_nor_a_common_one() {
        let email = crate::EmailAddress::parse("Ops.Lead@example.com").expect("email");
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
        assert!(check_new_password("short", &email).expect_err("short").contains("12 characters"));
        assert!(check_new_password("ops.lead@example.com", &email).expect_err("email").contains("email"));
        assert!(check_new_password("OPS.LEAD@EXAMPLE.COM", &email).is_err());
        let common = check_new_password("Unbelievable", &email).expect_err("common");
        assert!(common.contains("most common"), "{common}");
        assert!(check_new_password("a long and rare passphrase", &email).is_ok());
    }

    #[test]
    fn short_and_long_passwords_are_rejected() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&"x".repeat(129)).is_err());
        assert!(check_strength("twelve chars").is_ok());
    }
}
