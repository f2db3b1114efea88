//! Failed-password history per login email, in its own item keyed by a hash of the email. The
//! same item guards emails with and without an account, so a lockout looks the same for both
//! and never reveals which emails exist; keeping it off the staff item means an admin's edit of
//! the account and a failed login never overwrite each other.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{self, entity};
use super::{Store, StoreError};
use crate::domain::ids::hex;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginGuard {
    /// Failed password times within the lockout window, oldest first.
    #[serde(default)]
    pub failed_logins: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
    /// 0 for a guard not stored yet; conditions on it keep concurrent failures apart.
    #[serde(default)]
    pub version: u64,
}

/// The guard's key for whatever the client typed as an email: trimmed, lower-cased, hashed (so
/// the key is short and holds no address).
pub fn guard_subject(email_text: &str) -> String {
    hex(&Sha256::digest(email_text.trim().to_lowercase().as_bytes()))
}

impl Store {
    pub async fn get_login_guard(&self, subject: &str) -> Result<LoginGuard, StoreError> {
        Ok(self.get_typed(keys::login_guard_pk(subject), keys::GUARD_SK).await?.unwrap_or_default())
    }

    /// Saves `next` if the stored guard is still at `previous.version`; `false` when a
    /// concurrent login changed it first. The item expires once nothing in it matters.
    pub async fn save_login_guard(
        &self,
        subject: &str,
        previous: &LoginGuard,
        next: &LoginGuard,
        ttl: i64,
    ) -> Result<bool, StoreError> {
        let previous_version = (previous.version > 0).then_some(previous.version);
        let key = (keys::login_guard_pk(subject), keys::GUARD_SK, entity::LOGIN_GUARD);
        self.put_versioned(next, key, previous_version, ttl).await
    }
}
