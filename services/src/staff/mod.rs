//! Staff accounts as use cases: the password login and its lock-out (`guard`), the admin's
//! management of accounts (`accounts`), two-factor authentication (`mfa`), passwords and their
//! resets (`password`), and the security trail every one of them writes (`trail`).
//!
//! Each use case answers a [`StaffError`], which the edge maps to a status once; its words are
//! the problem's `detail`.

pub mod accounts;
pub mod guard;
pub mod mfa;
pub mod password;
pub mod trail;

use auth_core::{AuthError, Principal, Role};
use store::StoreError;

use crate::App;
use crate::codes::CodeError;
use crate::domain::staff::{StaffId, StaffMember};
use crate::sessions::SessionError;

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// An unknown email, a wrong password or a disabled account, told apart by nothing.
    #[error("wrong email or password")]
    BadCredentials,
    /// The email's login is locked for `retry_after` seconds.
    #[error("too many failed passwords; this login is locked for {retry_after} s")]
    Locked { retry_after: u64 },
    /// The lock-out's record kept changing under concurrent logins.
    #[error("too many simultaneous logins for this email; try again")]
    GuardContended,
    #[error("no such staff member")]
    NotFound,
    /// The caller's token is not a staff member's.
    #[error("this route is for staff")]
    NotStaff,
    /// The caller's account is disabled (or gone).
    #[error("this account is disabled")]
    Disabled,
    /// A member's own password, asked again, is wrong.
    #[error("the password is wrong")]
    WrongPassword,
    /// A new password breaks the rules (the words say which).
    #[error("{0}")]
    WeakPassword(String),
    #[error("a staff account with this email exists")]
    EmailTaken,
    #[error("you cannot disable or demote your own account")]
    WeakensSelf,
    #[error("the account is being changed elsewhere; try again")]
    Contended,
    /// An admin's reset of a disabled member.
    #[error("the account is disabled; enable it first")]
    ResetOfDisabled,
    /// A login's `mfa_token` is unknown, used up or expired.
    #[error("the mfa_token is invalid, used up or expired; sign in again")]
    MfaTokenEnded,
    /// An enrolment's bearer is neither a staff access token nor an enrolment `mfa_token`.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A wrong second-factor code, and the tries the `mfa_token` has left.
    #[error("wrong code; {left} tries left")]
    WrongMfaCode { left: u32 },
    #[error("wrong code; this mfa_token has ended, sign in again")]
    MfaCodesExhausted,
    #[error("two-factor authentication is on already; turn it off first")]
    MfaAlreadyOn,
    #[error("two-factor settings changed meanwhile; try again")]
    MfaRaced,
    #[error("nothing to confirm; enrol first with POST /v1/auth/staff/mfa/totp")]
    NothingToConfirm,
    /// A confirmation code that does not match the pending secret.
    #[error("the code does not match; enter the current code of the app")]
    EnrolmentCodeMismatch,
    /// Two factors cannot be turned off where the deployment requires them for the role.
    #[error("this deployment requires two-factor authentication for the {} role", .0.as_str())]
    MfaRequired(Role),
    /// A password reset's code was refused (wrong, expired, used, out of tries or limited).
    #[error("{0}")]
    ResetCodeRefused(String),
    #[error(transparent)]
    Code(CodeError),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Something of ours is missing or broken (a TOTP seed that does not open, no key).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The member a staff token speaks for, as stored now.
pub async fn current_member(app: &App, principal: &Principal) -> Result<StaffMember, StaffError> {
    let id = StaffId::parse(&principal.subject).ok_or(StaffError::NotStaff)?;
    app.store.get_staff(&id).await?.filter(|s| !s.disabled).ok_or(StaffError::Disabled)
}

/// The member an admin names in a path (disabled or not).
pub async fn member(app: &App, id: &StaffId) -> Result<StaffMember, StaffError> {
    app.store.get_staff(id).await?.ok_or(StaffError::NotFound)
}
