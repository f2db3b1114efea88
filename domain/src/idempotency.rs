//! An `Idempotency-Key`'s record: the request it was first used with and, once that request
//! answered, the response repeats get back.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Whether the key's first request is still running or has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdempotencyState {
    /// Claimed: the work runs (or died; then the claim's lease runs out).
    Pending,
    /// The response is stored.
    Done,
}

/// A key's record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of the request (method, path, canonical body), so a reused key with another
    /// body is recognised.
    pub request_hash: String,
    pub state: IdempotencyState,
    pub created_at: Timestamp,
    pub locked_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

/// A response as it is stored for repeats.
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}
