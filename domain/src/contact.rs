//! Normalised contact details: phones in E.164, emails trimmed and lower-cased.

use phonenumber::Mode;
use serde::{Deserialize, Serialize};

pub const MAX_EMAIL_LENGTH: usize = 254;

/// A phone number in E.164 (`+260971234567`). Only `parse` makes one, so holding a
/// `PhoneE164` means the number is valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Accepts any common spelling (spaces, dashes, brackets, `00` or `+` prefixes, national
    /// format in `default_region`) and rejects numbers that cannot exist.
    pub fn parse(input: &str, default_region: phonenumber::country::Id) -> Result<Self, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("must not be empty".into());
        }
        if input.len() > 40 {
            return Err("is too long to be a phone number".into());
        }
        match Self::parse_valid(input, default_region) {
            Ok(phone) => Ok(phone),
            // `00` is the international prefix almost everywhere except North America.
            Err(err) => match input.strip_prefix("00") {
                Some(rest) => Self::parse_valid(&format!("+{rest}"), default_region).map_err(|_| err),
                None => Err(err),
            },
        }
    }

    fn parse_valid(input: &str, default_region: phonenumber::country::Id) -> Result<Self, String> {
        let number =
            phonenumber::parse(Some(default_region), input).map_err(|_| "is not a phone number".to_string())?;
        if !phonenumber::is_valid(&number) {
            return Err("is not a valid phone number".into());
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    /// The country the number belongs to, when its metadata says.
    pub fn country(&self) -> Option<phonenumber::country::Id> {
        phonenumber::parse(None, &self.0).ok().and_then(|number| number.country().id())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, trimmed and lower-cased, checked against RFC 5321/5322 by the
/// `email_address` crate, with a dotted domain (no `user@localhost`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let normalised = input.trim().to_lowercase();
        if normalised.is_empty() {
            return Err("must not be empty".into());
        }
        if normalised.len() > MAX_EMAIL_LENGTH {
            return Err(format!("must be at most {MAX_EMAIL_LENGTH} characters"));
        }
        let parsed: email_address::EmailAddress =
            normalised.parse().map_err(|_| "is not a valid email address".to_string())?;
        let domain = parsed.domain();
        let dotted = domain.contains('.') && !domain.starts_with('[');
        if !dotted || domain.ends_with('.') || normalised.contains(' ') {
            return Err("is not a valid email address".into());
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a one-time code goes: a phone by SMS or an address by email. Codes, their limits and
/// their wrong tries are kept per recipient, whichever the channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodeRecipient {
    Phone(PhoneE164),
    Email(EmailAddress),
    /// A staff member's address, for a password reset: its codes are kept apart from a
    /// customer's sign-in codes to the same address, so one never stands in for the other.
    StaffReset(EmailAddress),
}

impl CodeRecipient {
    /// The normalised value (`+260971234567` or `ann@example.com`): never the same for a phone
    /// and an address, since only a phone starts with `+` and only an address has an `@`.
    pub fn as_str(&self) -> &str {
        match self {
            CodeRecipient::Phone(phone) => phone.as_str(),
            CodeRecipient::Email(email) | CodeRecipient::StaffReset(email) => email.as_str(),
        }
    }

    /// The request field that named it.
    pub fn field(&self) -> &'static str {
        match self {
            CodeRecipient::Phone(_) => "phone",
            CodeRecipient::Email(_) | CodeRecipient::StaffReset(_) => "email",
        }
    }

    /// The sign-in channel, as metrics and the audit trail name it.
    pub fn channel(&self) -> &'static str {
        match self {
            CodeRecipient::Phone(_) => "sms",
            CodeRecipient::Email(_) | CodeRecipient::StaffReset(_) => "email",
        }
    }

    /// How messages about limits name it ("this phone", "this address").
    pub fn noun(&self) -> &'static str {
        match self {
            CodeRecipient::Phone(_) => "phone",
            CodeRecipient::Email(_) | CodeRecipient::StaffReset(_) => "address",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country::Id;

    #[test]
    fn phone_spellings_normalise_to_one_e164() {
        for spelling in ["+260 97 123 4567", "00260971234567", "+260-971-234-567", "(+260) 971234567"] {
            assert_eq!(PhoneE164::parse(spelling, Id::US).expect(spelling).as_str(), "+260971234567");
        }
    }

    #[test]
    fn national_numbers_use_the_default_region() {
        assert_eq!(PhoneE164::parse("0971234567", Id::ZM).expect("valid").as_str(), "+260971234567");
        assert_eq!(PhoneE164::parse("(201) 555-0123", Id::US).expect("valid").as_str(), "+12015550123");
    }

    #[test]
    fn impossible_numbers_are_rejected() {
        for bad in ["", "abc", "123", "+999 123", "+1 555", "+260 97 123 4567 8888 9999"] {
            assert!(PhoneE164::parse(bad, Id::US).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(EmailAddress::parse("  John.Doe@Example.COM ").expect("valid").as_str(), "john.doe@example.com");
    }

    #[test]
    fn invalid_emails_are_rejected() {
        for bad in ["", "plain", "a@", "@b.com", "a@localhost", "a b@c.com", "a@b.com.", "a@@b.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }
}
