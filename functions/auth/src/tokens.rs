//! The token fields of every response that opens or refreshes a session.

use serde_json::{Value, json};
use shared::services::sessions::SessionTokens;

/// The access and refresh tokens, and the other fields of a response that opens or refreshes a
/// session.
pub fn token_fields(tokens: &SessionTokens) -> Value {
    json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
    })
}
