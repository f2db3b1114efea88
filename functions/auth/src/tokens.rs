//! Opening a session and the token fields shared by every login flavour and by refresh.

use serde_json::{Value, json};
use shared::App;
use shared::auth::Role;
use shared::auth::refresh::token_hash;
use shared::domain::SessionId;
use shared::http::ApiError;
use shared::store::sessions::SessionRecord;
use shared::time::Timestamp;

/// Creates a session for `owner_id` and returns the token fields of a login response.
pub async fn open_session(
    app: &App,
    issuer: &str,
    owner_id: &str,
    role: Role,
    device_name: Option<String>,
    now: Timestamp,
) -> Result<Value, ApiError> {
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
    token_fields(app, issuer, &session, role, refresh_token, now)
}

/// The access token (for `issuer`, the deployment's URL), and the other fields of a response
/// that opens or refreshes a session.
pub fn token_fields(
    app: &App,
    issuer: &str,
    session: &SessionRecord,
    role: Role,
    refresh_token: String,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let access_token = app.keys().jwt().issue(issuer, &session.owner_id, role, session.session_id.as_str(), now)?;
    Ok(json!({
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": app.keys().jwt().lifetime().as_secs(),
    }))
}
