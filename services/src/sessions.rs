//! Sessions as use cases: opening one at a login, refreshing it (rotation, the grace of a racing
//! twin, revocation on reuse), and what its owner sees and ends (`/v1/auth/sessions`,
//! `logout`, `verify`).
//!
//! Revocation deletes the session item, so its refresh tokens stop at once. Access tokens are
//! checked by signature only (no read per request), so one of a revoked session keeps working
//! until it expires: at most `ACCESS_TOKEN_TTL_SECONDS` (15 minutes by default). The use cases
//! here that read the session anyway (`verify`, the session list) refuse it immediately.

use auth_core::refresh::{PresentedRefresh, token_hash};
use auth_core::{AuthError, Principal, Role};
use store::StoreError;

use crate::App;
use crate::domain::session::SessionRecord;
use crate::domain::staff::{StaffId, StaffMember};
use crate::domain::{Customer, CustomerId, SessionId};
use crate::time::Timestamp;

/// Retries of a refresh that lost a rotation race and found the session moved on again.
const REFRESH_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The refresh token is not one of ours, or its session is gone, expired or revoked.
    #[error("the refresh token is invalid, expired or revoked; sign in again")]
    InvalidRefresh,
    /// The access token's session id does not parse.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The access token's session has been revoked (or its account disabled or deleted).
    #[error("this session has been revoked")]
    Revoked,
    /// A customer who may no longer log in (the words name the status).
    #[error("{0}")]
    MayNotLogIn(String),
    #[error("no such session")]
    NoSuchSession,
    #[error("the session is being refreshed elsewhere; try again")]
    Contended,
    #[error(transparent)]
    Keys(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tokens that open or refresh a session.
#[derive(Debug)]
pub struct SessionTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// The access token's lifetime, in seconds.
    pub expires_in: u64,
}

/// Creates a session for `owner_id` and issues its tokens (the access token for `issuer`, the
/// deployment's URL).
pub async fn open_session(
    app: &App,
    issuer: &str,
    owner_id: &str,
    role: Role,
    device_name: Option<String>,
    now: Timestamp,
) -> Result<SessionTokens, SessionError> {
    let session_id = SessionId::generate();
    let refresh_token = app.keys().refresh_signer()?.issue(owner_id, &session_id, 1);
    let session = SessionRecord {
        session_id,
        owner_id: owner_id.to_string(),
        role,
        device_name,
        created_at: now,
        last_used_at: now,
        expires_at: now.plus_seconds(app.config.refresh_token_ttl.as_secs() as i64),
        refresh_hash: token_hash(&refresh_token),
        generation: 1,
        rotated_at: None,
    };
    app.store.put_session(&session).await?;
    Ok(tokens(app, issuer, &session, role, refresh_token, now)?)
}

/// The access token of `session` for `role`, with `refresh_token` beside it.
fn tokens(
    app: &App,
    issuer: &str,
    session: &SessionRecord,
    role: Role,
    refresh_token: String,
    now: Timestamp,
) -> Result<SessionTokens, AuthError> {
    let keys = app.keys();
    let access_token = keys.jwt().issue(issuer, &session.owner_id, role, session.session_id.as_str(), now)?;
    Ok(SessionTokens { access_token, refresh_token, expires_in: keys.jwt().lifetime().as_secs() })
}

/// Exchanges a refresh token for new tokens. The current token rotates the session; the racing
/// twin of a refresh that just rotated gets the same new token; a superseded token is a replay
/// and revokes the whole session.
pub async fn refresh(app: &App, issuer: &str, refresh_token: &str) -> Result<SessionTokens, SessionError> {
    let presented = app.keys().refresh_signer()?.parse(refresh_token).ok_or(SessionError::InvalidRefresh)?;
    let now = app.clock.now();
    for _ in 0..REFRESH_ATTEMPTS {
        let session = app
            .store
            .get_session(&presented.owner_id, &presented.session_id, now)
            .await?
            .ok_or(SessionError::InvalidRefresh)?;
        let role = current_role(app, &session).await?;
        let current = presented.generation == session.generation && presented.hash == session.refresh_hash;
        if current {
            let next = session.generation + 1;
            let token = app.keys().refresh_signer()?.issue(&session.owner_id, &session.session_id, next);
            if app.store.rotate_session(&session, next, &token_hash(&token), now).await? {
                return Ok(tokens(app, issuer, &session, role, token, now)?);
            }
            continue; // A concurrent refresh rotated first: we are now the racing one.
        }
        if within_grace(app, &presented, &session, now) {
            // The racing twin of a refresh that just rotated: hand out the same new token.
            let keys = app.keys();
            let signer = keys.refresh_signer()?;
            let token =
                signer.reissue(&session.owner_id, &session.session_id, session.generation, &session.refresh_hash);
            return Ok(tokens(app, issuer, &session, role, token, now)?);
        }
        // A genuine but superseded token: someone replayed it. Revoke the whole session.
        tracing::warn!(session = %session.session_id.as_str(), "refresh token reuse detected; session revoked");
        app.store.delete_session(&session.owner_id, &session.session_id).await?;
        return Err(SessionError::InvalidRefresh);
    }
    Err(SessionError::Contended)
}

fn within_grace(app: &App, presented: &PresentedRefresh, session: &SessionRecord, now: Timestamp) -> bool {
    let grace = app.config.refresh_grace.as_secs() as i64;
    presented.generation + 1 == session.generation
        && session.rotated_at.is_some_and(|at| now.unix() - at.unix() <= grace)
}

/// The role a refreshed access token carries: re-read, so a demotion or a disabled account
/// takes effect at the next refresh, and a customer who may no longer log in cannot refresh.
async fn current_role(app: &App, session: &SessionRecord) -> Result<Role, SessionError> {
    if let Some(id) = StaffId::parse(&session.owner_id) {
        return match app.store.get_staff(&id).await? {
            Some(staff) if !staff.disabled => Ok(staff.role),
            _ => Err(SessionError::InvalidRefresh),
        };
    }
    let id = CustomerId::parse(&session.owner_id).ok_or(SessionError::InvalidRefresh)?;
    match app.store.get_customer(&id).await? {
        Some(customer) => ensure_active(customer).map(|_| Role::Customer),
        None => Err(SessionError::InvalidRefresh),
    }
}

/// Only an active customer keeps using a session.
fn ensure_active(customer: Customer) -> Result<Customer, SessionError> {
    if customer.is_active() {
        Ok(customer)
    } else {
        Err(SessionError::MayNotLogIn(format!("this account is {}", customer.status.as_str())))
    }
}

fn session_id(principal: &Principal) -> Result<SessionId, SessionError> {
    SessionId::parse(&principal.session_id).ok_or(SessionError::InvalidToken)
}

/// Ends the caller's own session.
pub async fn logout(app: &App, principal: &Principal) -> Result<(), SessionError> {
    app.store.delete_session(&principal.subject, &session_id(principal)?).await?;
    Ok(())
}

/// The caller's live sessions, and which of them is the caller's (refused when it is revoked).
pub async fn list_sessions(app: &App, principal: &Principal) -> Result<(Vec<SessionRecord>, SessionId), SessionError> {
    let now = app.clock.now();
    let sessions = app.store.list_sessions(&principal.subject, now).await?;
    let current = session_id(principal)?;
    if !sessions.iter().any(|s| s.session_id == current) {
        return Err(SessionError::Revoked);
    }
    Ok((sessions, current))
}

/// Ends one of the caller's sessions. The key includes the caller's own partition, so another
/// user's session id is [`SessionError::NoSuchSession`].
pub async fn revoke_session(app: &App, principal: &Principal, raw_id: &str) -> Result<(), SessionError> {
    let id = SessionId::parse(raw_id).ok_or(SessionError::NoSuchSession)?;
    if app.store.delete_session(&principal.subject, &id).await? { Ok(()) } else { Err(SessionError::NoSuchSession) }
}

/// Ends every session of the caller.
pub async fn revoke_all(app: &App, principal: &Principal) -> Result<(), SessionError> {
    app.store.delete_all_sessions(&principal.subject).await?;
    Ok(())
}

/// Whom a live session speaks for, as stored now.
#[derive(Debug)]
pub enum SessionOwner {
    Staff(StaffMember),
    Customer(Box<Customer>),
}

/// Checks that the caller's session is live and its account may still use it.
pub async fn verify(app: &App, principal: &Principal) -> Result<SessionOwner, SessionError> {
    let now = app.clock.now();
    let session = app.store.get_session(&principal.subject, &session_id(principal)?, now).await?;
    session.ok_or(SessionError::Revoked)?;
    if let Some(id) = StaffId::parse(&principal.subject) {
        let staff = app.store.get_staff(&id).await?.filter(|s| !s.disabled).ok_or(SessionError::Revoked)?;
        return Ok(SessionOwner::Staff(staff));
    }
    let id = CustomerId::parse(&principal.subject).ok_or(SessionError::Revoked)?;
    let customer = app.store.get_customer(&id).await?.ok_or(SessionError::Revoked)?;
    Ok(SessionOwner::Customer(Box::new(ensure_active(customer)?)))
}
