//! Opaque, tamper-proof pagination cursors: the DynamoDB `LastEvaluatedKey` (string attributes)
//! and the query it belongs to, signed. An edited cursor, or one from another query, is a 400.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::ApiError;

pub struct CursorSigner {
    key: Vec<u8>,
}

impl CursorSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"customer-platform/cursor/v1");
        Self { key: mac.finalize().into_bytes().to_vec() }
    }

    /// `scope` names the query (route and filters), so a cursor cannot be replayed elsewhere.
    pub fn encode(&self, scope: &str, last_key: &HashMap<String, AttributeValue>) -> String {
        let key: BTreeMap<&str, &str> = last_key
            .iter()
            .filter_map(|(name, value)| value.as_s().ok().map(|v| (name.as_str(), v.as_str())))
            .collect();
        let payload = serde_json::to_vec(&key).unwrap_or_default();
        let tag = self.tag(scope, &payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    pub fn decode(&self, scope: &str, cursor: &str) -> Result<HashMap<String, AttributeValue>, ApiError> {
        let invalid = || ApiError::BadRequest("the cursor is not valid for this query".into());
        let (payload, tag) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        if !bool::from(self.tag(scope, &payload).ct_eq(&tag)) {
            return Err(invalid());
        }
        let key: BTreeMap<String, String> = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        Ok(key.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect())
    }

    fn tag(&self, scope: &str, payload: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(scope.as_bytes());
        mac.update(b"\n");
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }
}

/// `limit` query parameter: 1–100, default 20.
pub fn page_limit(raw: Option<&str>) -> Result<i32, ApiError> {
    match raw {
        None => Ok(20),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n as i32),
            Ok(_) => Err(ApiError::validation("limit", "must be from 1 to 100")),
            Err(_) => Err(ApiError::BadRequest("limit must be a whole number".into())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("PK".to_string(), AttributeValue::S("STAFF#1".into())),
            ("GSI4PK".to_string(), AttributeValue::S("STAFF".into())),
        ])
    }

    #[test]
    fn cursors_round_trip_only_in_their_scope() {
        let signer = CursorSigner::new(b"0123456789abcdef0123456789abcdef");
        let cursor = signer.encode("staff", &key());
        assert_eq!(signer.decode("staff", &cursor).expect("valid"), key());
        assert!(signer.decode("customers", &cursor).is_err(), "foreign scope");
        let mut edited = cursor.clone();
        edited.replace_range(0..1, if cursor.starts_with('A') { "B" } else { "A" });
        assert!(signer.decode("staff", &edited).is_err(), "edited payload");
        assert!(signer.decode("staff", "garbage").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(page_limit(None).expect("default"), 20);
        assert_eq!(page_limit(Some("100")).expect("max"), 100);
        let status = |raw| page_limit(Some(raw)).expect_err("invalid").status().as_u16();
        assert_eq!(status("0"), 422);
        assert_eq!(status("101"), 422);
        assert_eq!(status("ten"), 400, "malformed query syntax");
    }
}
