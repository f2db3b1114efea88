//! Customer groups: a name (unique, case-insensitively), a description, and members.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::GroupId;
use super::validation::{ValidationErrors, bounded_text};
use crate::time::Timestamp;

pub const MAX_GROUP_NAME: usize = 100;
pub const MAX_DESCRIPTION: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub group_id: GroupId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub created_by: String,
}

impl Group {
    /// The key that makes names unique: `VIP` and `vip` are the same group.
    pub fn name_key(&self) -> String {
        self.name.to_lowercase()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "group_id": self.group_id,
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at,
            "created_by": self.created_by,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct GroupInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl crate::JsonBody for GroupInput {
    const FIELDS: &'static [&'static str] = &["name", "description"];
}

impl GroupInput {
    pub fn into_group(self, created_by: &str, now: Timestamp) -> Result<Group, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name.as_deref() {
            Some(name) => errors.check("name", bounded_text(name, MAX_GROUP_NAME)),
            None => {
                errors.add("name", "is required");
                None
            }
        };
        let description = match self.description.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => errors.check("description", bounded_text(text, MAX_DESCRIPTION)),
        };
        errors.into_result()?;
        Ok(Group {
            group_id: GroupId::generate(),
            name: name.unwrap_or_default(),
            description,
            created_at: now,
            created_by: created_by.to_string(),
        })
    }
}
