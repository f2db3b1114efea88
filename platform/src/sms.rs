//! Delivery of one-time codes. One interface, two implementations chosen by configuration:
//! Amazon SNS SMS in AWS, and a log line (with the digits withheld) for the local stack, where
//! `OTP_DEV_ECHO=1` returns the code in the response instead.

use std::time::Duration;

use auth_core::otp::OtpCode;
use aws_sdk_sns::types::MessageAttributeValue;
use thiserror::Error;

use crate::domain::PhoneE164;
use crate::logging::mask_phone;

#[derive(Debug, Error)]
#[error("could not deliver the code: {0}")]
pub struct DeliveryError(String);

pub enum CodeSender {
    Sns(aws_sdk_sns::Client),
    Log,
}

impl CodeSender {
    pub async fn send(&self, phone: &PhoneE164, code: &OtpCode, valid_for: Duration) -> Result<(), DeliveryError> {
        match self {
            CodeSender::Sns(client) => send_sms(client, phone, code, valid_for).await,
            CodeSender::Log => {
                tracing::info!(phone = %mask_phone(phone.as_str()), "one-time code issued (log delivery; not sent)");
                Ok(())
            }
        }
    }
}

async fn send_sms(
    client: &aws_sdk_sns::Client,
    phone: &PhoneE164,
    code: &OtpCode,
    valid_for: Duration,
) -> Result<(), DeliveryError> {
    let transactional = MessageAttributeValue::builder()
        .data_type("String")
        .string_value("Transactional")
        .build()
        .map_err(|e| DeliveryError(e.to_string()))?;
    client
        .publish()
        .phone_number(phone.as_str())
        .message(format!(
            "Your verification code is {}. It expires in {} minutes.",
            code.digits(),
            valid_for.as_secs().div_ceil(60)
        ))
        .message_attributes("AWS.SNS.SMS.SMSType", transactional)
        .send()
        .await
        .map_err(|e| DeliveryError(aws_sdk_sns::error::DisplayErrorContext(e).to_string()))?;
    tracing::info!(phone = %mask_phone(phone.as_str()), "one-time code sent by SMS");
    Ok(())
}
