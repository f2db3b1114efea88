//! Identifiers: generated customer ids and usernames, and opaque session ids.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// An id made of a prefix and 8 upper-case hex characters from the CSPRNG.
macro_rules! prefixed_hex_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{:08X}", Self::PREFIX, rand::random::<u32>()))
            }

            pub fn parse(input: &str) -> Option<Self> {
                let hex = input.strip_prefix(Self::PREFIX)?;
                let valid = hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
                valid.then(|| Self(input.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use prefixed_hex_id;

prefixed_hex_id!(
    /// `CUST_` followed by 8 upper-case hex characters.
    CustomerId,
    "CUST_"
);

prefixed_hex_id!(
    /// `GRP_` followed by 8 upper-case hex characters.
    GroupId,
    "GRP_"
);

/// 128 random bits, URL-safe base64 without padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(random_token(16))
    }

    pub fn parse(input: &str) -> Option<Self> {
        let valid = input.len() == 22 && input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `bytes` bytes from the thread's CSPRNG, URL-safe base64 without padding.
/// Lower-case hex of `bytes` (digests in keys and tokens).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill(buffer.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

/// Lower-case ASCII letters and digits, unique across customers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub const MAX_BASE: usize = 20;
    pub const RULE: &'static str = "must be 1 to 28 lower-case letters and digits";

    /// The collision-free first choice: `John Doe` → `johndoe`, accents folded
    /// (`Zoë Núñez` → `zoenunez`), `customer` when the names have no usable letters.
    pub fn base(first_name: &str, last_name: &str) -> Self {
        let folded = deunicode::deunicode(&format!("{first_name}{last_name}"));
        let base: String = folded
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .take(Self::MAX_BASE)
            .collect();
        if base.is_empty() { Self("customer".into()) } else { Self(base) }
    }

    /// The base with four random digits, for when the base is taken: `johndoe4821`.
    pub fn with_suffix(&self) -> Self {
        let suffix: u16 = rand::rng().random_range(1000..10000);
        Self(format!("{}{suffix}", self.0))
    }

    /// Look-ups accept any case; usernames are stored lower-case.
    pub fn parse(input: &str) -> Option<Self> {
        let value = input.trim().to_ascii_lowercase();
        let valid =
            !value.is_empty() && value.len() <= Self::MAX_BASE + 8 && value.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then_some(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_have_the_contract_shape() {
        let id = CustomerId::generate();
        assert!(CustomerId::parse(id.as_str()).is_some(), "{id}");
        assert_eq!(id.as_str().len(), 13);
        assert!(CustomerId::parse("CUST_1a2b3c4d").is_none());
        assert!(CustomerId::parse("CUST_1A2B3C4").is_none());
        assert!(CustomerId::parse("USER_1A2B3C4D").is_none());
    }

    #[test]
    fn username_base_folds_accents_and_caps_length() {
        assert_eq!(Username::base("John", "Doe").as_str(), "johndoe");
        assert_eq!(Username::base("Zoë", "Núñez-O'Brien").as_str(), "zoenunezobrien");
        assert_eq!(Username::base("Maximilian-Alexander", "Featherstonehaugh").as_str().len(), 20);
        assert_eq!(Username::base("李", "").as_str(), "li");
        assert_eq!(Username::base("!!", "??").as_str(), "customer");
    }

    #[test]
    fn suffixed_usernames_add_four_digits() {
        let name = Username::base("John", "Doe").with_suffix();
        assert!(name.as_str().starts_with("johndoe"));
        assert_eq!(name.as_str().len(), "johndoe".len() + 4);
    }

    #[test]
    fn session_ids_round_trip() {
        let sid = SessionId::generate();
        assert_eq!(SessionId::parse(sid.as_str()), Some(sid));
        assert!(SessionId::parse("short").is_none());
    }
}
