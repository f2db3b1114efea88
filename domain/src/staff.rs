//! Staff and admin accounts of the back office.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::EmailAddress;
use super::validation::{ValidationErrors, bounded_text};
use crate::password;
use crate::role::Role;
use crate::time::Timestamp;

pub const MAX_STAFF_NAME: usize = 100;

super::ids::prefixed_hex_id!(
    /// `STAFF_` followed by 8 upper-case hex characters.
    StaffId,
    "STAFF_"
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub staff_id: StaffId,
    pub email: EmailAddress,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    #[serde(default)]
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl StaffMember {
    pub fn to_json(&self) -> Value {
        json!({
            "staff_id": self.staff_id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        })
    }
}

/// An admin's change of a member's account: a new role, disabled or enabled, a new name (each
/// already validated; `None` leaves it as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub name: Option<String>,
}

impl StaffChange {
    /// `current` with the change applied.
    pub fn apply(&self, current: &StaffMember) -> StaffMember {
        let mut next = current.clone();
        if let Some(role) = self.role {
            next.role = role;
        }
        if let Some(disabled) = self.disabled {
            next.disabled = disabled;
        }
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        next
    }
}

/// Admins cannot disable or demote themselves, so there is always an admin: whether `next`,
/// changed by the admin `actor` (a staff id), would do that.
pub fn weakens_own_account(actor: &str, next: &StaffMember) -> bool {
    actor == next.staff_id.as_str() && (next.disabled || next.role != Role::Admin)
}

/// Whether a change from `before` to `after` must end the member's sessions: disabling or
/// enabling the account, or changing its role, holds from the next request on.
pub fn ends_sessions(before: &StaffMember, after: &StaffMember) -> bool {
    after.disabled != before.disabled || after.role != before.role
}

/// Staff roles are `staff` and `admin`; `customer` is not a staff role.
pub fn parse_staff_role(text: &str) -> Result<Role, String> {
    match text.trim() {
        "staff" => Ok(Role::Staff),
        "admin" => Ok(Role::Admin),
        _ => Err("must be staff or admin".into()),
    }
}

/// A validated new account, password already hashed.
pub fn new_staff(
    email: &str,
    password_text: &str,
    name: &str,
    role: &str,
    now: Timestamp,
) -> Result<StaffMember, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let email = errors.check("email", EmailAddress::parse(email));
    let rules = match &email {
        Some(email) => password::check_new_password(password_text, email),
        None => password::check_strength(password_text),
    };
    let strong = errors.check("password", rules);
    let name = errors.check("name", bounded_text(name, MAX_STAFF_NAME));
    let role = errors.check("role", parse_staff_role(role));
    errors.clone().into_result()?;
    let (Some(email), Some(()), Some(name), Some(role)) = (email, strong, name, role) else {
        return Err(errors);
    };
    let password_hash = password::hash(password_text).map_err(|e| ValidationErrors::single("password", e))?;
    Ok(StaffMember {
        staff_id: StaffId::generate(),
        email,
        name,
        role,
        password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_ids_have_their_own_prefix() {
        let id = StaffId::generate();
        assert!(StaffId::parse(id.as_str()).is_some());
        assert!(StaffId::parse("CUST_1A2B3C4D").is_none());
    }

    #[test]
    fn new_staff_validates_every_field() {
        let errors = new_staff("nope", "short", "", "customer", Timestamp::now()).expect_err("invalid");
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "name", "role"]);
        let staff =
            new_staff("Ops@Example.com", "a long enough password", "Ops", "admin", Timestamp::now()).expect("valid");
        assert_eq!(staff.email.as_str(), "ops@example.com");
        assert_eq!(staff.role, Role::Admin);
        assert!(staff.to_json().get("password_hash").is_none(), "the hash never leaves the store");
    }
    fn admin() -> StaffMember {
        StaffMember {
            staff_id: StaffId::generate(),
            email: EmailAddress::parse("admin@example.com").expect("valid"),
            name: "Admin".into(),
            role: Role::Admin,
            password_hash: "not a hash".into(),
            disabled: false,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            version: 1,
        }
    }

    #[test]
    fn an_admin_may_rename_but_not_disable_or_demote_themselves() {
        let me = admin();
        let actor = me.staff_id.to_string();
        let renamed = StaffChange { name: Some("Boss".into()), ..StaffChange::default() }.apply(&me);
        assert_eq!(renamed.name, "Boss");
        assert!(!weakens_own_account(&actor, &renamed));
        assert!(!ends_sessions(&me, &renamed), "a new name keeps the sessions");
        let demoted = StaffChange { role: Some(Role::Staff), ..StaffChange::default() }.apply(&me);
        assert!(weakens_own_account(&actor, &demoted));
        assert!(ends_sessions(&me, &demoted));
        let disabled = StaffChange { disabled: Some(true), ..StaffChange::default() }.apply(&me);
        assert!(weakens_own_account(&actor, &disabled));
        assert!(!weakens_own_account("STAFF_00000000", &disabled), "another admin may disable them");
    }
}
