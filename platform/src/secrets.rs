//! The secrets, and the keys derived from them, for the life of a warm instance.
//!
//! Deployed, each secret lives in AWS Secrets Manager (its ARN in the function's environment),
//! never in the function's configuration, and each function may read only the ones it uses
//! (see docs/architecture.md). Init reads, for each signing secret, its `AWSCURRENT` version
//! (which signs) and its `AWSPREVIOUS` and `AWSPENDING` versions (which only verify), all at
//! once; a warm instance reads them again once `JWT_KEY_REFRESH_SECONDS` have passed, before the
//! request that finds them due. So a rotation logs nobody out:
//!
//! 1. stage the new value as `AWSPENDING`: within the refresh interval every instance accepts
//!    what it signs, while all still sign with the current one;
//! 2. after the interval, move `AWSCURRENT` to it: instances start signing with it as they
//!    refresh, and the old version, now `AWSPREVIOUS`, still verifies what it signed.
//!
//! The access-token private keys are the `auth` function's alone. It publishes their public
//! halves (current, previous, next) in a second secret, the public keys, which the other
//! functions read (its `AWSCURRENT` version only), so they verify without any private key.
//! `auth` writes that secret whenever what it read of its private keys differs from it.
//!
//! The commands are in docs/operations.md ("Rotating a secret").

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use auth_core::es256::PublicJwk;
use auth_core::keys::{KeyMaterial, Keys, NamedSecret, SigningSecrets};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::clock::Clock;
use crate::config::{KeySources, MIN_SECRET_BYTES, SecretSource};
use crate::domain::ids::hex;

/// The staging labels read: the first signs, the others verify.
const SIGNING_STAGE: &str = "AWSCURRENT";
const VERIFY_ONLY_STAGES: [&str; 2] = ["AWSPREVIOUS", "AWSPENDING"];

/// After a failed refresh, how long a warm instance keeps the keys it has before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum SecretsError {
    #[error("reading the secret's {stage} version: {reason}")]
    Read { variable: &'static str, stage: &'static str, reason: String },
    #[error("the secret has no {SIGNING_STAGE} version")]
    NoCurrentVersion { variable: &'static str },
    #[error("the secret's {stage} version {reason}")]
    Unusable { variable: &'static str, stage: &'static str, reason: String },
}

impl SecretsError {
    /// The environment variable naming the secret at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Read { variable, .. } | Self::NoCurrentVersion { variable } | Self::Unusable { variable, .. } => {
                variable
            }
        }
    }
}

/// The keys of this instance: fixed (from the environment) or refreshed from Secrets Manager.
pub struct KeyRing {
    keys: RwLock<Arc<Keys>>,
    source: Option<Refresher>,
}

/// Where the keys come from, and what they are derived with.
pub struct KeyLoader {
    pub sources: KeySources,
    /// `None` when nothing comes from Secrets Manager.
    pub client: Option<aws_sdk_secretsmanager::Client>,
    pub audience: String,
    pub access_token_ttl: Duration,
}

struct Refresher {
    loader: KeyLoader,
    /// When the keys in use are due to be read again, in unix milliseconds of the function's
    /// [`Clock`] (so a test moves it forward instead of sleeping).
    due: Mutex<i64>,
}

impl KeyRing {
    pub fn fixed(keys: Keys) -> Self {
        Self { keys: RwLock::new(Arc::new(keys)), source: None }
    }

    /// Reads every secret (one round of calls, at once), publishes the public keys if they
    /// changed (`auth`), and derives the keys. Refreshed later if anything is in Secrets Manager.
    pub async fn load(loader: KeyLoader, clock: &Clock) -> Result<Self, SecretsError> {
        let material = loader.read().await?;
        let keys = Keys::derive(material, &loader.audience, loader.access_token_ttl);
        let source = loader
            .client
            .is_some()
            .then(|| Refresher { due: Mutex::new(after(clock, loader.sources.refresh)), loader });
        Ok(Self { keys: RwLock::new(Arc::new(keys)), source })
    }

    /// The keys to use for this request.
    pub fn current(&self) -> Arc<Keys> {
        Arc::clone(&self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Reads the secrets again if the interval has passed. A failure keeps the keys in use (a
    /// Secrets Manager outage must not take the API down) and is retried 30 s later.
    pub async fn refresh_if_due(&self, clock: &Clock) {
        let Some(source) = &self.source else { return };
        {
            let mut due = source.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if clock.now_ms() < *due {
                return;
            }
            // Claimed: concurrent requests of this instance keep the current keys meanwhile.
            *due = after(clock, RETRY_AFTER_FAILURE);
        }
        match source.loader.read().await {
            Ok(material) => {
                if material != self.current().material {
                    let keys = Keys::derive(material, &source.loader.audience, source.loader.access_token_ttl);
                    tracing::info!(kids = ?kids(keys.jwt().published()), "keys changed");
                    *self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
                }
                *source.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
                    after(clock, source.loader.sources.refresh);
            }
            Err(err) => tracing::warn!(
                secret = err.variable(), error = %err, "could not refresh the keys; keeping the ones in use"
            ),
        }
    }
}

/// `wait` from now on `clock`, in unix milliseconds.
fn after(clock: &Clock, wait: Duration) -> i64 {
    clock.now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
}

fn kids(keys: &[PublicJwk]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

impl KeyLoader {
    /// Every secret this function holds, read at once.
    async fn read(&self) -> Result<KeyMaterial, SecretsError> {
        let sources = &self.sources;
        // Boxed: four reads of three calls each would otherwise nest deep in every caller's future.
        let (access_signing, access_public, session, cursor) = tokio::join!(
            Box::pin(self.ring("ACCESS_TOKEN_KEY_ARN", &sources.access_signing)),
            Box::pin(self.public_keys()),
            Box::pin(self.ring("JWT_SECRET_ARN", &sources.session)),
            Box::pin(self.ring("CURSOR_SECRET_ARN", &sources.cursor)),
        );
        let mut material = KeyMaterial {
            access_signing: access_signing?,
            access_public: access_public?,
            session: session?,
            cursor: cursor?,
        };
        self.publish_if_changed(&mut material).await;
        Ok(material)
    }

    async fn ring(
        &self,
        variable: &'static str,
        source: &Option<SecretSource>,
    ) -> Result<Option<SigningSecrets>, SecretsError> {
        match (source, &self.client) {
            (None, _) => Ok(None),
            (Some(SecretSource::Environment(secrets)), _) => Ok(Some(secrets.clone())),
            (Some(SecretSource::SecretsManager(id)), Some(client)) => {
                read_signing_secrets(client, variable, id).await.map(Some)
            }
            (Some(SecretSource::SecretsManager(_)), None) => {
                Err(SecretsError::Read { variable, stage: SIGNING_STAGE, reason: "no Secrets Manager client".into() })
            }
        }
    }

    /// The published public keys (`AWSCURRENT` of the public-keys secret: `{"keys": [JWK…]}`).
    async fn public_keys(&self) -> Result<Option<Vec<PublicJwk>>, SecretsError> {
        const VARIABLE: &str = "ACCESS_TOKEN_PUBLIC_KEYS_ARN";
        let (Some(id), Some(client)) = (&self.sources.access_public, &self.client) else { return Ok(None) };
        let Some(version) = read_stage(client, VARIABLE, id, SIGNING_STAGE).await? else {
            return Err(SecretsError::NoCurrentVersion { variable: VARIABLE });
        };
        let unusable = |reason: &str| SecretsError::Unusable {
            variable: VARIABLE,
            stage: SIGNING_STAGE,
            reason: reason.to_string(),
        };
        let text = String::from_utf8(version.secret).map_err(|_| unusable("is not UTF-8"))?;
        parse_key_set(&text).map(Some).map_err(unusable)
    }

    /// `auth`: when the public halves of its private keys are not what the public-keys secret
    /// holds, writes them there as its new `AWSCURRENT` (idempotent: the version id is a hash of
    /// the content, so instances that find the same change write one version). A failure is
    /// logged and retried at the next refresh; `auth` itself verifies with its own keys.
    async fn publish_if_changed(&self, material: &mut KeyMaterial) {
        // Only where there is somewhere to publish: deriving the public halves is a P-256
        // multiplication per key, which no other start should pay.
        let (Some(id), Some(client)) = (&self.sources.access_public, &self.client) else { return };
        let Some(derived) = material.signing_public_keys() else { return };
        if material.access_public.as_ref() == Some(&derived) {
            return;
        }
        let document = key_set_document(&derived);
        let version = hex(&Sha256::digest(document.as_bytes()));
        match client
            .put_secret_value()
            .secret_id(id)
            .secret_string(&document)
            .client_request_token(version)
            .send()
            .await
        {
            Ok(_) => {
                tracing::info!(kids = ?kids(&derived), "published the access-token public keys");
                material.access_public = Some(derived);
            }
            Err(err) => tracing::error!(
                error = %DisplayErrorContext(err),
                "could not publish the access-token public keys; the other functions do not know them yet"
            ),
        }
    }
}

/// The JWKS document: `{"keys": [...]}`, as the public-keys secret and `/.well-known/jwks.json`
/// hold it.
pub fn key_set_document(keys: &[PublicJwk]) -> String {
    serde_json::json!({ "keys": keys }).to_string()
}

/// The keys of a JWKS document, each renamed by its thumbprint; foreign keys are left out.
fn parse_key_set(text: &str) -> Result<Vec<PublicJwk>, &'static str> {
    #[derive(serde::Deserialize)]
    struct KeySet {
        #[serde(default)]
        keys: Vec<serde_json::Value>,
    }
    let set: KeySet = serde_json::from_str(text).map_err(|_| "is not a JSON key set")?;
    Ok(set.keys.into_iter().filter_map(|key| serde_json::from_value::<PublicJwk>(key).ok()?.checked()).collect())
}

/// `AWSCURRENT` signs; `AWSPREVIOUS` and `AWSPENDING`, where they exist, verify.
pub async fn read_signing_secrets(
    client: &aws_sdk_secretsmanager::Client,
    variable: &'static str,
    secret_id: &str,
) -> Result<SigningSecrets, SecretsError> {
    let [previous, pending] = VERIFY_ONLY_STAGES;
    let (current, previous, pending) = tokio::join!(
        read_stage(client, variable, secret_id, SIGNING_STAGE),
        read_stage(client, variable, secret_id, previous),
        read_stage(client, variable, secret_id, pending),
    );
    let current = current?.ok_or(SecretsError::NoCurrentVersion { variable })?;
    let usable = |secret: NamedSecret, stage: &'static str| -> Result<NamedSecret, SecretsError> {
        let text = String::from_utf8(secret.secret).map_err(|_| SecretsError::Unusable {
            variable,
            stage,
            reason: "is not UTF-8".into(),
        })?;
        let key =
            secret_value(&text).map_err(|reason| SecretsError::Unusable { variable, stage, reason: reason.into() })?;
        Ok(NamedSecret { kid: secret.kid, secret: key })
    };
    let current = usable(current, SIGNING_STAGE)?;
    let others = [(previous?, VERIFY_ONLY_STAGES[0]), (pending?, VERIFY_ONLY_STAGES[1])]
        .into_iter()
        .filter_map(|(secret, stage)| secret.map(|s| usable(s, stage)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SigningSecrets::new(current, others))
}

/// One version's text by its staging label, named by its version id; `None` if no version has
/// that label.
async fn read_stage(
    client: &aws_sdk_secretsmanager::Client,
    variable: &'static str,
    secret_id: &str,
    stage: &'static str,
) -> Result<Option<NamedSecret>, SecretsError> {
    let answer = match client.get_secret_value().secret_id(secret_id).version_stage(stage).send().await {
        Ok(answer) => answer,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => return Ok(None),
        Err(err) => {
            return Err(SecretsError::Read { variable, stage, reason: DisplayErrorContext(err).to_string() });
        }
    };
    let unusable = |reason: &str| SecretsError::Unusable { variable, stage, reason: reason.to_string() };
    let kid = answer.version_id().ok_or_else(|| unusable("has no version id"))?.to_string();
    let text = answer.secret_string().ok_or_else(|| unusable("is not a string"))?;
    Ok(Some(NamedSecret { kid, secret: text.as_bytes().to_vec() }))
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
    fn a_key_set_keeps_p256_keys_under_their_thumbprints() {
        let key = auth_core::es256::AccessKey::from_secret(&[7u8; 32]).public;
        let document = key_set_document(std::slice::from_ref(&key));
        assert_eq!(parse_key_set(&document), Ok(vec![key.clone()]));
        let foreign = serde_json::json!({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}, key]}).to_string();
        assert_eq!(parse_key_set(&foreign).map(|keys| keys.len()), Ok(1));
        assert_eq!(parse_key_set("{}"), Ok(vec![]), "the template's placeholder: nothing published yet");
        assert!(parse_key_set("not json").is_err());
    }

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
