//! One-time code items: one per recipient (phone or email address), holding the current code's hash, its wrong tries, and
//! the times of recent sends (for the per-recipient limits).

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::ReturnValue;
use serde::{Deserialize, Serialize};

use super::keys::{self, entity};
use super::{Store, StoreError, n, s};
use crate::domain::CodeRecipient;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpRecord {
    /// Absent once the code is used up or has had too many wrong tries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<String>,
    #[serde(default)]
    pub expires_at: i64,
    #[serde(default)]
    pub attempts: u32,
    /// Unix times of recent sends, oldest first; at most the hourly limit's worth.
    #[serde(default)]
    pub sent_at: Vec<i64>,
    #[serde(default)]
    pub version: u64,
}

/// The outcome of a wrong code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrongCode {
    /// This many tries are left for the code.
    TriesLeft(u32),
    /// That was the last try: the code is gone.
    Exhausted,
}

impl Store {
    /// An UpdateItem of `to`'s code item; the caller adds the rest and sends it with `call_if`.
    fn update_otp(&self, to: &CodeRecipient) -> UpdateItemFluentBuilder {
        self.client().update_item().key(keys::PK, s(keys::otp_pk(to))).key(keys::SK, s(keys::OTP_SK))
    }

    pub async fn get_otp(&self, to: &CodeRecipient) -> Result<Option<OtpRecord>, StoreError> {
        self.get_typed(keys::otp_pk(to), keys::OTP_SK).await
    }

    /// Saves a new code if the item is still at `previous_version` (optimistic locking), so
    /// two concurrent requests cannot both pass the send limits. `false` when someone else won.
    pub async fn save_otp(
        &self,
        to: &CodeRecipient,
        record: &OtpRecord,
        previous_version: Option<u64>,
        ttl: i64,
    ) -> Result<bool, StoreError> {
        self.put_versioned(record, (keys::otp_pk(to), keys::OTP_SK, entity::OTP), previous_version, ttl).await
    }

    /// Counts a wrong try against the code with `code_hash`; the last allowed try removes the
    /// code. Concurrent wrong tries are each counted: the condition keeps the count exact.
    pub async fn record_wrong_otp(
        &self,
        to: &CodeRecipient,
        code_hash: &str,
        max_attempts: u32,
    ) -> Result<WrongCode, StoreError> {
        let result = self
            .call_if(
                self.update_otp(to)
                    .update_expression("ADD attempts :one")
                    .condition_expression("code_hash = :hash AND attempts < :max")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":hash", s(code_hash))
                    .expression_attribute_values(":max", n(max_attempts))
                    .return_values(ReturnValue::UpdatedNew),
            )
            .await;
        let Some(out) = result? else {
            return Ok(WrongCode::Exhausted);
        };
        let attempts =
            out.attributes.as_ref().and_then(|a| super::number_attr(a, "attempts")).unwrap_or(i64::from(max_attempts));
        let used = u32::try_from(attempts).unwrap_or(max_attempts);
        if used < max_attempts {
            return Ok(WrongCode::TriesLeft(max_attempts - used));
        }
        self.remove_otp_code(to, code_hash).await?;
        Ok(WrongCode::Exhausted)
    }

    /// Uses up the code if it is still the current one, unexpired and not exhausted. Exactly one
    /// of several concurrent logins with the same code gets `true`.
    pub async fn consume_otp(
        &self,
        to: &CodeRecipient,
        code_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .call_if(
                self.update_otp(to)
                    .update_expression("REMOVE code_hash")
                    .condition_expression("code_hash = :hash AND attempts < :max AND expires_at > :now")
                    .expression_attribute_values(":hash", s(code_hash))
                    .expression_attribute_values(":max", n(max_attempts))
                    .expression_attribute_values(":now", n(now)),
            )
            .await;
        Ok(result?.is_some())
    }

    /// Ends the recipient's pending code, if any (its send history stays, so the limits hold):
    /// an address that is no longer the customer's must not verify with a code sent before.
    pub async fn cancel_otp(&self, to: &CodeRecipient) -> Result<(), StoreError> {
        let result = self
            .call_if(
                self.update_otp(to).update_expression("REMOVE code_hash").condition_expression("attribute_exists(PK)"),
            )
            .await;
        result?;
        Ok(())
    }

    async fn remove_otp_code(&self, to: &CodeRecipient, code_hash: &str) -> Result<(), StoreError> {
        let result = self
            .call_if(
                self.update_otp(to)
                    .update_expression("REMOVE code_hash")
                    .condition_expression("code_hash = :hash")
                    .expression_attribute_values(":hash", s(code_hash)),
            )
            .await;
        // A failed condition means a concurrent request replaced or removed it already.
        result?;
        Ok(())
    }
}
