//! Opening a session and the token response shared by every login flavour.

use serde_json::{Value, json};
use shared::App;
use shared::auth::Role;
use shared::auth::refresh::RefreshToken;
use shared::domain::SessionId;
use shared::http::ApiError;
use shared::store::sessions::SessionRecord;
use shared::time::Timestamp;

/// Creates a session for `owner_id` and returns the token fields of a login response.
pub async fn open_session(
    app: &App,
    owner_id: &str,
    role: Role,
    device_name: Option<String>,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let session_id = SessionId::generate();
    let refresh = RefreshToken::generate(owner_id, &session_id);
    let session = SessionRecord {
        session_id: session_id.clone(),
        owner_id: owner_id.to_string(),
        role,
        device_name,
        created_at: now,
        last_used_at: now,
        expires_at: now.plus_seconds(app.config.refresh_token_ttl.as_secs() as i64),
        refresh_hash: refresh.hash(),
        previous_refresh_hash: None,
        rotated_at: None,
        generation: 1,
        revoked: false,
    };
    app.store.put_session(&session).await?;
    let access_token = app.jwt.issue(owner_id, role, session_id.as_str(), now)?;
    Ok(json!({
        "access_token": access_token,
        "refresh_token": refresh.to_token_string(),
        "token_type": "Bearer",
        "expires_in": app.jwt.lifetime().as_secs(),
    }))
}
