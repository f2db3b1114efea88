//! Staff account security (issue #23): the member's two-factor item (sealed TOTP seed, the last
//! time step used, hashed recovery codes), the short-lived challenge between a password and its
//! second factor (`mfa_token`, stored hashed), and the member's security trail. The two-factor
//! item sits beside the profile, not in it, so an admin's edit and a login never overwrite
//! each other.

use aws_sdk_dynamodb::types::ReturnValue;
use serde::{Deserialize, Serialize};

use super::keys::{self, entity};
use super::otp::WrongCode;
use super::{Item, Page, PageToken, Store, StoreError, n, s};
use crate::domain::SessionId;
use crate::domain::staff::StaffId;
use crate::domain::staff_security::SecurityEvent;
use crate::time::Timestamp;

/// How long a security trail entry is kept.
const TRAIL_TTL_SECONDS: i64 = 400 * 86_400;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMfa {
    /// The confirmed TOTP seed, sealed (`auth::totp::SeedSealer`): two factors are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_seed: Option<String>,
    /// A seed enrolled but not confirmed yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_seed: Option<String>,
    /// The last time step whose code was accepted: a code works once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_step: Option<i64>,
    /// SHA-256 of each unused recovery code.
    #[serde(default)]
    pub recovery_hashes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_at: Option<Timestamp>,
    /// 0 for an item not stored yet.
    #[serde(default)]
    pub version: u64,
}

impl StaffMfa {
    pub fn is_on(&self) -> bool {
        self.sealed_seed.is_some()
    }
}

/// What an `mfa_token` lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPurpose {
    /// Finish a login with a TOTP or recovery code.
    Login,
    /// Enrol an authenticator (a member whose role requires two factors and has none).
    Enrol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaChallenge {
    pub staff_id: StaffId,
    pub purpose: MfaPurpose,
    #[serde(default)]
    pub attempts: u32,
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

impl Store {
    pub async fn get_staff_mfa(&self, id: &StaffId) -> Result<StaffMfa, StoreError> {
        Ok(self.get_typed(keys::staff_pk(id), keys::STAFF_MFA_SK).await?.unwrap_or_default())
    }

    /// Writes `next` if the stored item is still at `previous.version` (absent for 0); `false`
    /// when a concurrent request changed it first (e.g. used the same code).
    pub async fn save_staff_mfa(&self, id: &StaffId, previous: &StaffMfa, next: &StaffMfa) -> Result<bool, StoreError> {
        let mut record = next.clone();
        record.version = previous.version + 1;
        let mut item: Item = serde_dynamo::to_item(&record)?;
        item.insert(keys::PK.into(), s(keys::staff_pk(id)));
        item.insert(keys::SK.into(), s(keys::STAFF_MFA_SK));
        item.insert(keys::ENTITY.into(), s(entity::STAFF_MFA));
        let request = self.client().put_item().set_item(Some(item));
        let request = if previous.version == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request.condition_expression("version = :v").expression_attribute_values(":v", n(previous.version))
        };
        Ok(self.call_if(request).await?.is_some())
    }

    pub async fn delete_staff_mfa(&self, id: &StaffId) -> Result<(), StoreError> {
        self.delete_raw(keys::staff_pk(id), keys::STAFF_MFA_SK).await
    }

    pub async fn put_mfa_challenge(&self, token_hash: &str, challenge: &MfaChallenge) -> Result<(), StoreError> {
        let key = (keys::mfa_challenge_pk(token_hash), keys::MFA_CHALLENGE_SK, entity::MFA_CHALLENGE);
        if self.put_versioned(challenge, key, None, challenge.expires_at).await? {
            Ok(())
        } else {
            Err(StoreError::VersionConflict)
        }
    }

    /// The challenge, unless it is gone or expired (TTL deletion lags).
    pub async fn get_mfa_challenge(&self, token_hash: &str, now: i64) -> Result<Option<MfaChallenge>, StoreError> {
        let challenge: Option<MfaChallenge> =
            self.get_typed(keys::mfa_challenge_pk(token_hash), keys::MFA_CHALLENGE_SK).await?;
        Ok(challenge.filter(|c| c.expires_at > now))
    }

    /// Counts a wrong code against the challenge; the last allowed one ends it.
    pub async fn record_wrong_mfa_code(&self, token_hash: &str, max_attempts: u32) -> Result<WrongCode, StoreError> {
        let result = self
            .call_if(
                self.client()
                    .update_item()
                    .key(keys::PK, s(keys::mfa_challenge_pk(token_hash)))
                    .key(keys::SK, s(keys::MFA_CHALLENGE_SK))
                    .update_expression("ADD attempts :one")
                    .condition_expression(
                        "attribute_exists(PK) AND (attribute_not_exists(attempts) OR attempts < :max)",
                    )
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":max", n(max_attempts))
                    .return_values(ReturnValue::UpdatedNew),
            )
            .await;
        let Some(out) = result? else {
            return Ok(WrongCode::Exhausted);
        };
        let used = out.attributes.as_ref().and_then(|a| super::number_attr(a, "attempts")).unwrap_or(i64::MAX);
        let used = u32::try_from(used).unwrap_or(max_attempts);
        if used < max_attempts {
            return Ok(WrongCode::TriesLeft(max_attempts - used));
        }
        self.delete_mfa_challenge(token_hash).await?;
        Ok(WrongCode::Exhausted)
    }

    pub async fn delete_mfa_challenge(&self, token_hash: &str) -> Result<(), StoreError> {
        self.delete_raw(keys::mfa_challenge_pk(token_hash), keys::MFA_CHALLENGE_SK).await
    }

    /// Appends an entry to the member's security trail.
    pub async fn put_security_event(&self, event: &SecurityEvent) -> Result<(), StoreError> {
        let id = StaffId::parse(&event.staff_id).ok_or_else(|| StoreError::Malformed("not a staff id".into()))?;
        let unique = crate::domain::ids::hex(&rand::random::<[u8; 4]>());
        let mut item: Item = serde_dynamo::to_item(event)?;
        item.insert(keys::PK.into(), s(keys::staff_pk(&id)));
        item.insert(keys::SK.into(), s(keys::security_event_sk(event.at_ms, &unique)));
        item.insert(keys::ENTITY.into(), s(entity::STAFF_SECURITY_EVENT));
        item.insert(keys::TTL.into(), n(event.at.unix() + TRAIL_TTL_SECONDS));
        self.call(self.client().put_item().set_item(Some(item))).await?;
        Ok(())
    }

    /// The member's trail, newest first, `limit` at a time.
    pub async fn list_security_events(
        &self,
        id: &StaffId,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page<SecurityEvent>, StoreError> {
        let query = self
            .client()
            .query()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::staff_pk(id)))
            .expression_attribute_values(":prefix", s(keys::SECURITY_EVENT_PREFIX))
            .consistent_read(true)
            .scan_index_forward(false);
        self.query_page(query, limit, start, &[keys::PK, keys::SK]).await?.typed()
    }

    /// Revokes every session of the owner but `keep` (a password change keeps the caller's).
    pub async fn delete_other_sessions(&self, owner_id: &str, keep: &SessionId) -> Result<(), StoreError> {
        let sessions = self.list_sessions(owner_id, Timestamp::from_unix(0)).await?;
        for session in sessions.iter().filter(|s| &s.session_id != keep) {
            self.delete_session(owner_id, &session.session_id).await?;
        }
        Ok(())
    }
}
