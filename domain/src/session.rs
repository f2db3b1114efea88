//! A session: one signed-in device of a customer or staff member, as it is stored (in the
//! owner's partition), and what its owner is shown of it.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::{Role, SessionId};

/// A session as stored: who it belongs to, and which refresh token it accepts now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: SessionId,
    pub owner_id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    /// SHA-256 of the current refresh token.
    pub refresh_hash: String,
    pub generation: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
}

impl SessionRecord {
    /// What a session shows its owner: never the refresh token's hash.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "session_id": self.session_id,
            "device_name": self.device_name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
        })
    }
}
