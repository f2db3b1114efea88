//! How a customer proved who they are when they signed up or signed in: a one-time code by SMS
//! or by email, or an identity provider's ID token. Metrics, logs, the audit trail and change
//! events name it alike: `sms`, `email`, `oidc:<provider>`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CodeRecipient;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum SignInChannel {
    Sms,
    Email,
    /// An identity provider, by its configured name (`google`, `dev`).
    Oidc(String),
}

impl SignInChannel {
    /// The channel of a code sent to `to`.
    pub fn of_code(to: &CodeRecipient) -> Self {
        match to {
            CodeRecipient::Phone(_) => SignInChannel::Sms,
            CodeRecipient::Email(_) | CodeRecipient::StaffReset(_) => SignInChannel::Email,
        }
    }
}

impl fmt::Display for SignInChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInChannel::Sms => f.write_str("sms"),
            SignInChannel::Email => f.write_str("email"),
            SignInChannel::Oidc(provider) => write!(f, "oidc:{provider}"),
        }
    }
}

impl From<SignInChannel> for String {
    fn from(channel: SignInChannel) -> String {
        channel.to_string()
    }
}

/// Reads what [`fmt::Display`] wrote; anything else (a stored value this version does not
/// know) is kept as a provider's name rather than failing the read of the customer.
impl From<String> for SignInChannel {
    fn from(text: String) -> Self {
        match text.as_str() {
            "sms" => SignInChannel::Sms,
            "email" => SignInChannel::Email,
            _ => SignInChannel::Oidc(text.strip_prefix("oidc:").unwrap_or(&text).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_reads_back_as_written() {
        for channel in [SignInChannel::Sms, SignInChannel::Email, SignInChannel::Oidc("google".into())] {
            assert_eq!(SignInChannel::from(channel.to_string()), channel);
        }
        assert_eq!(SignInChannel::Oidc("dev".into()).to_string(), "oidc:dev");
    }
}
