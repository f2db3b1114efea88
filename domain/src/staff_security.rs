//! Back-office account security: which roles must use two factors, and the member's security
//! trail (what happened to the account, never a password or a code).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::role::Role;
use crate::time::Timestamp;

/// Who must sign in with two factors (`STAFF_MFA_REQUIRED`, template parameter
/// `StaffMfaRequired`): nobody, admins (the default), or every member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffMfaPolicy {
    None,
    Admins,
    All,
}

impl StaffMfaPolicy {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "none" => Ok(Self::None),
            "admins" => Ok(Self::Admins),
            "all" => Ok(Self::All),
            other => Err(format!("{other:?} is not none, admins or all")),
        }
    }

    /// Whether a member with `role` must have two factors on.
    pub fn requires(&self, role: Role) -> bool {
        match self {
            Self::None => false,
            Self::Admins => role == Role::Admin,
            Self::All => matches!(role, Role::Staff | Role::Admin),
        }
    }
}

/// What happened to a staff account, as its security trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityEventKind {
    /// A completed sign-in (password, and the second factor where it is on).
    Login,
    /// A wrong password (login, password change, turning two factors off).
    PasswordFailed,
    /// A wrong or replayed second-factor code.
    MfaFailed,
    /// Too many failures: the account is locked for the lockout window.
    LockedOut,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    MfaEnabled,
    MfaDisabled,
    /// An admin removed the member's two factors.
    MfaReset,
    RecoveryCodeUsed,
    RoleChanged,
    StatusChanged,
}

impl SecurityEventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::PasswordFailed => "password_failed",
            Self::MfaFailed => "mfa_failed",
            Self::LockedOut => "locked_out",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::MfaReset => "mfa_reset",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::RoleChanged => "role_changed",
            Self::StatusChanged => "status_changed",
        }
    }
}

/// One entry of a member's security trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    pub staff_id: String,
    pub event: SecurityEventKind,
    pub at: Timestamp,
    /// Milliseconds since the epoch: the trail's order within a second.
    pub at_ms: i64,
    /// Who did it: the member, an admin's staff id, or `anonymous` (a failed login).
    pub actor: String,
    /// A short, non-secret note: `from`/`to` of a role or status change, the second factor used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl SecurityEvent {
    pub fn to_json(&self) -> Value {
        json!({
            "event": self.event.as_str(),
            "at": self.at,
            "actor": self.actor,
            "detail": self.detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_who_needs_two_factors() {
        let none = StaffMfaPolicy::parse("none").expect("none");
        let admins = StaffMfaPolicy::parse("admins").expect("admins");
        let all = StaffMfaPolicy::parse(" all ").expect("all");
        assert!(!none.requires(Role::Admin) && !none.requires(Role::Staff));
        assert!(admins.requires(Role::Admin) && !admins.requires(Role::Staff));
        assert!(all.requires(Role::Admin) && all.requires(Role::Staff));
        assert!(!all.requires(Role::Customer));
        assert!(StaffMfaPolicy::parse("some").is_err());
    }

    #[test]
    fn event_names_match_their_serde_form() {
        for kind in
            [SecurityEventKind::LockedOut, SecurityEventKind::PasswordResetRequested, SecurityEventKind::MfaReset]
        {
            assert_eq!(serde_json::to_value(kind).expect("json"), json!(kind.as_str()));
        }
    }
}
