//! The signing secrets, and the keys derived from them, for the life of a warm instance.
//!
//! Deployed, the secret lives in AWS Secrets Manager (`JWT_SECRET_ARN`), never in the
//! function's configuration. Init reads its `AWSCURRENT` version (which signs) and its
//! `AWSPREVIOUS` and `AWSPENDING` versions (which only verify), three calls at once; a warm
//! instance reads them again once `JWT_KEY_REFRESH_SECONDS` have passed, before the request that
//! finds them due. Each version's id is its `kid`. So a rotation logs nobody out:
//!
//! 1. stage the new value as `AWSPENDING`: within the refresh interval every instance accepts
//!    tokens signed with it, while all still sign with the current one;
//! 2. after the interval, move `AWSCURRENT` to it: instances start signing with it as they
//!    refresh, and the old version, now `AWSPREVIOUS`, still verifies what it signed.
//!
//! The commands are in the README (operations, "Rotating the signing key").

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use thiserror::Error;

use crate::auth::keys::{Keys, NamedSecret, SigningSecrets};
use crate::config::MIN_SECRET_BYTES;

/// The staging labels read: the first signs, the others verify.
const SIGNING_STAGE: &str = "AWSCURRENT";
const VERIFY_ONLY_STAGES: [&str; 2] = ["AWSPREVIOUS", "AWSPENDING"];

/// After a failed refresh, how long a warm instance keeps the keys it has before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum SecretsError {
    #[error("reading the secret's {stage} version: {reason}")]
    Read { stage: &'static str, reason: String },
    #[error("the secret has no {SIGNING_STAGE} version")]
    NoCurrentVersion,
    #[error("the secret's {stage} version {reason}")]
    Unusable { stage: &'static str, reason: String },
}

/// The keys of this instance: fixed (from the environment) or refreshed from Secrets Manager.
pub struct KeyRing {
    keys: RwLock<Arc<Keys>>,
    source: Option<Refresher>,
}

struct Refresher {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    every: Duration,
    issuer: String,
    access_token_ttl: Duration,
    /// When the keys in use are due to be read again.
    due: Mutex<Instant>,
}

impl KeyRing {
    pub fn fixed(keys: Keys) -> Self {
        Self { keys: RwLock::new(Arc::new(keys)), source: None }
    }

    /// Reads the secret (one round of three calls) and derives the keys.
    pub async fn from_secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
        every: Duration,
        issuer: &str,
        access_token_ttl: Duration,
    ) -> Result<Self, SecretsError> {
        let secrets = read_signing_secrets(&client, &secret_id).await?;
        let keys = Keys::derive(secrets, issuer, access_token_ttl);
        let source = Refresher {
            client,
            secret_id,
            every,
            issuer: issuer.to_string(),
            access_token_ttl,
            due: Mutex::new(Instant::now() + every),
        };
        Ok(Self { keys: RwLock::new(Arc::new(keys)), source: Some(source) })
    }

    /// The keys to use for this request.
    pub fn current(&self) -> Arc<Keys> {
        Arc::clone(&self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Reads the secret again if the interval has passed. A failure keeps the keys in use (a
    /// Secrets Manager outage must not take the API down) and is retried 30 s later.
    pub async fn refresh_if_due(&self) {
        let Some(source) = &self.source else { return };
        {
            let mut due = source.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if Instant::now() < *due {
                return;
            }
            // Claimed: concurrent requests of this instance keep the current keys meanwhile.
            *due = Instant::now() + RETRY_AFTER_FAILURE;
        }
        match read_signing_secrets(&source.client, &source.secret_id).await {
            Ok(secrets) => {
                if secrets != self.current().secrets {
                    let keys = Keys::derive(secrets, &source.issuer, source.access_token_ttl);
                    tracing::info!(kid = %keys.secrets.current().kid, "signing keys changed");
                    *self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
                }
                *source.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now() + source.every;
            }
            Err(err) => tracing::warn!(error = %err, "could not refresh the signing keys; keeping the ones in use"),
        }
    }
}

/// `AWSCURRENT` signs; `AWSPREVIOUS` and `AWSPENDING`, where they exist, verify.
pub async fn read_signing_secrets(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SigningSecrets, SecretsError> {
    let [previous, pending] = VERIFY_ONLY_STAGES;
    let (current, previous, pending) = tokio::join!(
        read_stage(client, secret_id, SIGNING_STAGE),
        read_stage(client, secret_id, previous),
        read_stage(client, secret_id, pending),
    );
    let current = current?.ok_or(SecretsError::NoCurrentVersion)?;
    Ok(SigningSecrets::new(current, [previous?, pending?].into_iter().flatten()))
}

/// One version by its staging label; `None` if no version has that label.
async fn read_stage(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    stage: &'static str,
) -> Result<Option<NamedSecret>, SecretsError> {
    let answer = match client.get_secret_value().secret_id(secret_id).version_stage(stage).send().await {
        Ok(answer) => answer,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => return Ok(None),
        Err(err) => return Err(SecretsError::Read { stage, reason: DisplayErrorContext(err).to_string() }),
    };
    let unusable = |reason: &str| SecretsError::Unusable { stage, reason: reason.to_string() };
    let kid = answer.version_id().ok_or_else(|| unusable("has no version id"))?.to_string();
    let text = answer.secret_string().ok_or_else(|| unusable("is not a string"))?;
    Ok(Some(NamedSecret { kid, secret: secret_value(text).map_err(unusable)? }))
}

/// The key in a secret's text: `{"key": "…"}` (what the template generates) or the text itself.
/// At least 32 bytes either way.
fn secret_value(text: &str) -> Result<Vec<u8>, &'static str> {
    let key = if text.trim_start().starts_with('{') {
        let object: serde_json::Value = serde_json::from_str(text).map_err(|_| "is not valid JSON")?;
        object.get("key").and_then(|k| k.as_str()).ok_or("has no string field \"key\"")?.to_string()
    } else {
        text.to_string()
    };
    if key.len() < MIN_SECRET_BYTES {
        return Err("is shorter than 32 bytes");
    }
    Ok(key.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_json_field_or_the_whole_text_and_long_enough() {
        let long = "k".repeat(40);
        assert_eq!(secret_value(&format!(r#"{{"key":"{long}"}}"#)), Ok(long.clone().into_bytes()));
        assert_eq!(secret_value(&long), Ok(long.into_bytes()));
        assert_eq!(secret_value(r#"{"key":"short"}"#), Err("is shorter than 32 bytes"));
        assert_eq!(secret_value(r#"{"other":"x"}"#), Err("has no string field \"key\""));
        assert_eq!(secret_value("{not json"), Err("is not valid JSON"));
    }
}
