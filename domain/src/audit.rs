//! The audit trail of a customer: who changed what, when and why. Entries are written in the
//! same transaction as the change they describe, so the trail never misses or invents one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::customer::{Audience, Customer};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Update,
    StatusChange,
    VerifyEmail,
    VerifyPhone,
}

/// What the caller says about a change; the store adds the time and the field changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditNote {
    /// The id of whoever made the change: a staff id, the customer's own id, or `self-signup`.
    pub actor: String,
    pub action: AuditAction,
    pub reason: Option<String>,
}

impl AuditNote {
    pub fn new(actor: impl Into<String>, action: AuditAction) -> Self {
        Self { actor: actor.into(), action, reason: None }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub action: AuditAction,
    /// Stored without an empty map (a link to a provider changes no field): DynamoDB Local's
    /// stream cannot render one (see docs/architecture.md, Change events).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub changes: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Bookkeeping and derived values: they change with every write or follow from other fields.
const NOT_AUDITED: &[&str] =
    &["version", "updated_at", "created_at", "full_name", "full_address", "is_active", "is_verified", "last_login_at"];

impl AuditEntry {
    /// The entry for `note`, with `{field: {"from", "to"}}` for every field that differs between
    /// `before` (nothing, for a create) and `after`.
    pub fn record(note: &AuditNote, before: Option<&Customer>, after: &Customer, at: Timestamp) -> Self {
        let old = before.map(|c| c.to_json(Audience::Staff)).unwrap_or(Value::Null);
        let new = after.to_json(Audience::Staff);
        let mut changes = Map::new();
        if let Value::Object(fields) = &new {
            for (field, value) in fields {
                if NOT_AUDITED.contains(&field.as_str()) {
                    continue;
                }
                let previous = old.get(field).cloned().unwrap_or(Value::Null);
                if &previous != value && !(before.is_none() && is_empty(value)) {
                    changes.insert(field.clone(), json!({"from": previous, "to": value}));
                }
            }
        }
        Self { at, actor: note.actor.clone(), action: note.action, changes, reason: note.reason.clone() }
    }

    pub fn to_json(&self) -> Value {
        let mut out = json!({"at": self.at, "actor": self.actor, "action": self.action, "changes": self.changes});
        if let (Some(reason), Some(object)) = (&self.reason, out.as_object_mut()) {
            object.insert("reason".into(), json!(reason));
        }
        out
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        Value::String(text) => text.is_empty(),
        Value::Bool(true) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CustomerId, CustomerStatus, Username};

    #[test]
    fn records_only_what_changed() {
        let now = Timestamp::from_unix(1_768_473_000);
        let before = Customer::new(CustomerId::generate(), Username::base("A", "B"), ("A".into(), "B".into()), now);
        let mut after = before.clone();
        after.status = CustomerStatus::Suspended;
        after.version += 1;
        let note = AuditNote::new("STAFF_0A0A0A0A", AuditAction::StatusChange).with_reason("fraud check");
        let entry = AuditEntry::record(&note, Some(&before), &after, now);
        assert_eq!(entry.changes.keys().collect::<Vec<_>>(), ["status"]);
        assert_eq!(entry.changes["status"], json!({"from": "active", "to": "suspended"}));
        assert_eq!(entry.to_json()["reason"], "fraud check");
        let created = AuditEntry::record(&AuditNote::new("self-signup", AuditAction::Create), None, &before, now);
        assert!(created.changes.contains_key("first_name") && !created.changes.contains_key("tags"));
    }
}
