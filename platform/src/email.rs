//! Delivery of codes by email: Amazon SES v2 in AWS, a log line (the address masked, the digits
//! withheld) for the local stack, where `OTP_DEV_ECHO=1` returns the code in the response. One
//! sender for every code that goes by email: customers' sign-in and verification codes and
//! staff password resets. Like SMS, the provider's words stay in the log; callers answer 503
//! with a generic message.

use std::time::Duration;

use auth_core::otp::OtpCode;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use thiserror::Error;

use crate::domain::EmailAddress;
use crate::logging::mask_email;

#[derive(Debug, Error)]
#[error("could not deliver the email: {0}")]
pub struct EmailError(String);

/// What a code sent by email is for: it picks the subject and the sentence around the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    /// A customer signing in (or up) with a code sent to their address.
    SignIn,
    /// A signed-in customer confirming that the address on file is theirs.
    VerifyEmail,
    /// A staff member who forgot their password.
    PasswordReset,
}

impl EmailPurpose {
    fn subject(self) -> &'static str {
        match self {
            EmailPurpose::SignIn => "Your sign-in code",
            EmailPurpose::VerifyEmail => "Confirm your email address",
            EmailPurpose::PasswordReset => "Your password reset code",
        }
    }

    fn text(self, code: &str, minutes: u64) -> String {
        let what = match self {
            EmailPurpose::SignIn => "Your sign-in code is",
            EmailPurpose::VerifyEmail => "To confirm this email address, enter the code",
            EmailPurpose::PasswordReset => "Your password reset code is",
        };
        format!(
            "{what} {code}. It expires in {minutes} minutes.\n\nIf you did not ask for it, ignore this email: \
             nothing changes without the code."
        )
    }

    fn name(self) -> &'static str {
        match self {
            EmailPurpose::SignIn => "sign_in",
            EmailPurpose::VerifyEmail => "verify_email",
            EmailPurpose::PasswordReset => "password_reset",
        }
    }
}

/// Where SES sends from (`EMAIL_FROM`, a verified identity) and, optionally, the configuration
/// set that records deliveries, bounces and complaints (`SES_CONFIGURATION_SET`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SesSettings {
    /// `None` in a function that sends no email (the template sets it where one does).
    pub from: Option<String>,
    pub configuration_set: Option<String>,
}

pub enum EmailSender {
    Ses(aws_sdk_sesv2::Client, SesSettings),
    Log,
}

impl EmailSender {
    pub async fn send_code(
        &self,
        to: &EmailAddress,
        purpose: EmailPurpose,
        code: &OtpCode,
        valid_for: Duration,
    ) -> Result<(), EmailError> {
        match self {
            EmailSender::Ses(client, settings) => send_ses(client, settings, to, purpose, code, valid_for).await,
            EmailSender::Log => {
                tracing::info!(
                    email = %mask_email(to.as_str()),
                    purpose = purpose.name(),
                    "code issued by email (log delivery; not sent)"
                );
                Ok(())
            }
        }
    }
}

async fn send_ses(
    client: &aws_sdk_sesv2::Client,
    settings: &SesSettings,
    to: &EmailAddress,
    purpose: EmailPurpose,
    code: &OtpCode,
    valid_for: Duration,
) -> Result<(), EmailError> {
    let from = settings.from.as_deref().ok_or_else(|| EmailError("EMAIL_FROM is not set".into()))?;
    let text = |data: String| Content::builder().data(data).charset("UTF-8").build();
    let subject = text(purpose.subject().to_string()).map_err(|e| EmailError(e.to_string()))?;
    let body =
        text(purpose.text(code.digits(), valid_for.as_secs().div_ceil(60))).map_err(|e| EmailError(e.to_string()))?;
    let message = Message::builder().subject(subject).body(Body::builder().text(body).build()).build();
    client
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(to.as_str()).build())
        .content(EmailContent::builder().simple(message).build())
        .set_configuration_set_name(settings.configuration_set.clone())
        .send()
        .await
        .map_err(|e| EmailError(aws_sdk_sesv2::error::DisplayErrorContext(e).to_string()))?;
    tracing::info!(email = %mask_email(to.as_str()), purpose = purpose.name(), "code sent by email");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_names_the_code_and_its_lifetime() {
        for purpose in [EmailPurpose::SignIn, EmailPurpose::VerifyEmail, EmailPurpose::PasswordReset] {
            let text = purpose.text("123456", 5);
            assert!(text.contains("123456") && text.contains("5 minutes"), "{text}");
            assert!(!purpose.subject().contains("123456"), "the code is never in the subject (previews, logs)");
        }
    }
}
