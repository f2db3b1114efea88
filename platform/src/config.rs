//! Configuration, read once from the environment at init. Every knob has a documented default
//! except the ones a deployment must choose (table, bucket, signing secret).

use std::env;
use std::time::Duration;

use thiserror::Error;

/// Defined beside the rules that read them (`auth_core::otp`).
pub use auth_core::otp::OtpLimits;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpDelivery {
    /// Amazon SNS SMS, for AWS.
    Sns,
    /// Writes a masked line to the log instead of sending anything, for the local stack.
    Log,
}

/// How codes sent by email go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailDelivery {
    /// Amazon SES v2, from a verified identity (`EMAIL_FROM`), for AWS.
    Ses(crate::email::SesSettings),
    /// Writes a masked line to the log instead of sending anything, for the local stack.
    Log,
}

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub media_bucket: String,
    pub dynamodb_endpoint: Option<String>,
    pub s3_endpoint: Option<String>,
    /// Another SNS endpoint (`SNS_ENDPOINT`): tests point it at a closed port.
    pub sns_endpoint: Option<String>,
    /// Where the secrets come from: Secrets Manager in AWS, the environment locally.
    pub keys: KeySources,
    /// The `iss` of access tokens (`JWT_ISSUER`, a URL); unset: `https://` and the domain name
    /// the request came to (API Gateway's), so a stack works before it knows its own URL.
    pub jwt_issuer: Option<String>,
    /// The `aud` of access tokens (`JWT_AUDIENCE`, default `customer-platform`).
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub phone_default_region: phonenumber::country::Id,
    pub otp_delivery: OtpDelivery,
    /// `EMAIL_DELIVERY`: `ses` or `log`; by default `log` where SMS is logged (`OTP_DELIVERY=log`,
    /// the local stack) and `ses` otherwise.
    pub email_delivery: EmailDelivery,
    /// Another SES endpoint (`SES_ENDPOINT`): tests point it at a closed port.
    pub ses_endpoint: Option<String>,
    pub otp_dev_echo: bool,
    pub otp: OtpLimits,
    /// How long the previous refresh token of a session still works after a rotation, so two
    /// refreshes racing from one device do not log it out.
    pub refresh_grace: Duration,
    pub staff_lockout: StaffLockout,
    /// Guest carts one IP address may open per hour.
    pub guest_carts_per_ip_per_hour: u32,
    /// Where search stops counting (`SEARCH_COUNT_CAP`, default 10,000 as the contract says;
    /// tests lower it to exercise what happens beyond it).
    pub search_count_cap: usize,
    /// What uploads may be and how long their URLs live.
    pub media: MediaSettings,
    /// Trust only the compiled-in Amazon roots for TLS to AWS (`TLS_TRUST_STORE=aws`, the
    /// default) or the platform's store (`system`, e.g. for a partition with other roots).
    pub aws_roots_only: bool,
    /// Customer exports (issue #12).
    pub exports: ExportSettings,
    /// Who must sign in with two factors (`STAFF_MFA_REQUIRED`: `none`, `admins` (the
    /// default) or `all`; the local stack and the tests use `none`).
    pub staff_mfa: crate::domain::staff_security::StaffMfaPolicy,
    /// Identity providers trusted for `POST /v1/auth/oidc` (`OIDC_PROVIDERS`).
    pub oidc_providers: Vec<crate::oidc::OidcProvider>,
    /// The least time between two fetches of a provider's keys for an unknown `kid`
    /// (`OIDC_KEYS_REFETCH_SECONDS`, default 60), so forged `kid`s cannot make us hammer it.
    pub oidc_keys_refetch: Duration,
}

/// Where one secret's versions come from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// From the environment: the local stack and the tests.
    Environment(auth_core::keys::SigningSecrets),
    /// A Secrets Manager secret (its ARN): `AWSCURRENT` signs, `AWSPREVIOUS` and `AWSPENDING`
    /// verify; the deployed functions.
    SecretsManager(String),
}

/// Every secret a function may hold, each only where it is used (see docs/architecture.md).
#[derive(Debug, Clone)]
pub struct KeySources {
    /// Access-token private keys: `ACCESS_TOKEN_KEY_ARN`, or `ACCESS_TOKEN_KEY` (and a retiring
    /// `ACCESS_TOKEN_PREVIOUS_KEY`). Only `auth`.
    pub access_signing: Option<SecretSource>,
    /// The published public keys (`ACCESS_TOKEN_PUBLIC_KEYS_ARN`): the functions that verify
    /// read them; `auth` writes them when its private keys change.
    pub access_public: Option<String>,
    /// One-time codes and refresh tokens: `JWT_SECRET_ARN`, or `JWT_SECRET` (`JWT_KID`, and a
    /// retiring `JWT_PREVIOUS_KID` / `JWT_PREVIOUS_SECRET`). Only `auth`.
    pub session: Option<SecretSource>,
    /// List cursors: `CURSOR_SECRET_ARN`, or `CURSOR_SECRET`; in the environment, `JWT_SECRET`
    /// when that is unset (the local stack). The functions that page.
    pub cursor: Option<SecretSource>,
    /// Another Secrets Manager endpoint (`SECRETS_MANAGER_ENDPOINT`): tests use moto's.
    pub endpoint: Option<String>,
    /// How long a warm instance keeps what it read (`JWT_KEY_REFRESH_SECONDS`, default 300).
    pub refresh: Duration,
}

impl KeySources {
    pub fn uses_secrets_manager(&self) -> bool {
        self.access_public.is_some()
            || [&self.access_signing, &self.session, &self.cursor]
                .into_iter()
                .any(|source| matches!(source, Some(SecretSource::SecretsManager(_))))
    }
}

/// Where an export job runs once the export is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRunner {
    /// A background task of the process that recorded it (`EXPORT_RUNNER=inline`, the default:
    /// the local stack and the tests).
    Inline,
    /// The export-job function, started by the record's INSERT on the table's stream
    /// (`EXPORT_RUNNER=stream`, set in template.yaml).
    Stream,
}

#[derive(Debug, Clone, Copy)]
pub struct ExportSettings {
    pub runner: ExportRunner,
    /// A job not heard of for longer than this is taken for dead (`EXPORT_STALE_SECONDS`, 120).
    pub stale_after: Duration,
    /// Lifetime of a download link (`EXPORT_LINK_SECONDS`, default and maximum 900).
    pub link_ttl: Duration,
    /// An export waiting for its job (pending, or paused between slices) for longer than this
    /// is taken for dead (`EXPORT_WAIT_SECONDS`, 86400: the table stream's retention, after
    /// which nothing can start it).
    pub wait_limit: Duration,
    /// How long one slice of a job writes before it stops itself at a checkpoint, to carry on
    /// in the next invocation (`EXPORT_SLICE_SECONDS`, 720: the export-job function's 15-minute
    /// timeout less room for the last page and the checkpoint). 0: one page per slice (tests).
    pub slice: Duration,
    /// Customers per page of a job, and so between two heartbeats or possible pauses
    /// (`EXPORT_PAGE_ROWS`, 1 to 1000, default 1000).
    pub page_rows: usize,
}

impl ExportSettings {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let runner = match get("EXPORT_RUNNER").as_deref().unwrap_or("inline") {
            "inline" => ExportRunner::Inline,
            "stream" => ExportRunner::Stream,
            other => return Err(invalid("EXPORT_RUNNER", format!("{other:?} is not inline or stream"))),
        };
        let stale_after = number("EXPORT_STALE_SECONDS", get("EXPORT_STALE_SECONDS"), 120)?;
        let link_ttl = match number("EXPORT_LINK_SECONDS", get("EXPORT_LINK_SECONDS"), 900)? {
            seconds @ 1..=900 => seconds,
            _ => return Err(invalid("EXPORT_LINK_SECONDS", "must be between 1 and 900")),
        };
        let wait_limit = number("EXPORT_WAIT_SECONDS", get("EXPORT_WAIT_SECONDS"), 86_400)?;
        let slice = number("EXPORT_SLICE_SECONDS", get("EXPORT_SLICE_SECONDS"), 720)?;
        let page_rows = match number("EXPORT_PAGE_ROWS", get("EXPORT_PAGE_ROWS"), 1_000)? {
            rows @ 1..=1_000 => rows as usize,
            _ => return Err(invalid("EXPORT_PAGE_ROWS", "must be between 1 and 1000")),
        };
        Ok(Self {
            runner,
            stale_after: Duration::from_secs(stale_after.max(1)),
            link_ttl: Duration::from_secs(link_ttl),
            wait_limit: Duration::from_secs(wait_limit.max(1)),
            slice: Duration::from_secs(slice),
            page_rows,
        })
    }

    /// When an export is taken for dead.
    pub fn liveness(&self) -> crate::domain::export::Liveness {
        crate::domain::export::Liveness {
            stale_after: self.stale_after.as_secs() as i64,
            wait_limit: self.wait_limit.as_secs() as i64,
        }
    }
}

/// Uploads: the allow-list (`MEDIA_ALLOWED_TYPES`, e.g. `jpeg,png,pdf`), the size limits
/// (`MEDIA_MAX_BYTES`, `MEDIA_AVATAR_MAX_BYTES`) and the lifetimes of the presigned URLs
/// (`MEDIA_UPLOAD_URL_SECONDS`, default 15 minutes; `MEDIA_DOWNLOAD_URL_SECONDS`, default 5).
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub policy: crate::domain::media::MediaPolicy,
    pub upload_url_ttl: Duration,
    pub download_url_ttl: Duration,
}

/// A staff account locks for `window` after `threshold` failed passwords within `window`.
#[derive(Debug, Clone, Copy)]
pub struct StaffLockout {
    pub threshold: u32,
    pub window: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("media_bucket", &self.media_bucket)
            .field("keys", &self.keys)
            .field("otp_delivery", &self.otp_delivery)
            .finish_non_exhaustive()
    }
}

pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can build one without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            number(name, get(name), default).map(Duration::from_secs)
        };
        let count = |name: &'static str, default: u64| -> Result<u32, ConfigError> {
            number(name, get(name), default).and_then(|n| u32::try_from(n).map_err(|_| invalid(name, "too large")))
        };

        let keys = key_sources(&get, seconds("JWT_KEY_REFRESH_SECONDS", 300)?)?;
        let region = get("PHONE_DEFAULT_REGION").unwrap_or_else(|| "US".into());
        let phone_default_region = region
            .trim()
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| invalid("PHONE_DEFAULT_REGION", "not an ISO 3166 country code"))?;
        // The code echo is for the local stack: a Lambda that would hand out codes refuses to start.
        let otp_dev_echo = get("OTP_DEV_ECHO").as_deref() == Some("1");
        if otp_dev_echo && get("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            return Err(invalid("OTP_DEV_ECHO", "returns codes in responses; it is refused in Lambda"));
        }
        let otp_delivery = match get("OTP_DELIVERY").as_deref().unwrap_or("sns") {
            "sns" => OtpDelivery::Sns,
            "log" => OtpDelivery::Log,
            other => {
                return Err(invalid("OTP_DELIVERY", format!("{other:?} is not sns or log")));
            }
        };

        Ok(Self {
            table_name: required("TABLE_NAME")?,
            media_bucket: required("MEDIA_BUCKET")?,
            dynamodb_endpoint: get("DYNAMODB_ENDPOINT"),
            s3_endpoint: get("S3_ENDPOINT"),
            sns_endpoint: get("SNS_ENDPOINT"),
            ses_endpoint: get("SES_ENDPOINT"),
            email_delivery: email_delivery(&get, otp_delivery)?,
            keys,
            jwt_issuer: get("JWT_ISSUER").map(|issuer| issuer.trim_end_matches('/').to_string()),
            jwt_audience: get("JWT_AUDIENCE").unwrap_or_else(|| "customer-platform".into()),
            access_token_ttl: seconds("ACCESS_TOKEN_TTL_SECONDS", 900)?,
            refresh_token_ttl: Duration::from_secs(
                number("REFRESH_TOKEN_TTL_DAYS", get("REFRESH_TOKEN_TTL_DAYS"), 30)? * 86_400,
            ),
            phone_default_region,
            otp_delivery,
            otp_dev_echo,
            otp: OtpLimits {
                code_ttl: seconds("OTP_TTL_SECONDS", 300)?,
                max_attempts: count("OTP_MAX_ATTEMPTS", 5)?,
                per_phone_per_hour: count("OTP_PER_PHONE_PER_HOUR", 5)?,
                min_interval: seconds("OTP_MIN_INTERVAL_SECONDS", 30)?,
                per_ip_per_hour: count("OTP_PER_IP_PER_HOUR", 300)?,
                global_per_hour: count("OTP_GLOBAL_PER_HOUR", 2_000)?,
                allowed_countries: countries(get("OTP_ALLOWED_COUNTRIES"), phone_default_region)?,
            },
            guest_carts_per_ip_per_hour: count("GUEST_CARTS_PER_IP_PER_HOUR", 60)?,
            refresh_grace: seconds("REFRESH_GRACE_SECONDS", 10)?,
            aws_roots_only: match get("TLS_TRUST_STORE").as_deref().unwrap_or("aws") {
                "aws" => true,
                "system" => false,
                other => return Err(invalid("TLS_TRUST_STORE", format!("{other:?} is not aws or system"))),
            },
            oidc_providers: crate::oidc::parse_providers(&get("OIDC_PROVIDERS").unwrap_or_default())
                .map_err(|reason| invalid("OIDC_PROVIDERS", reason))?,
            oidc_keys_refetch: seconds("OIDC_KEYS_REFETCH_SECONDS", 60)?,
            search_count_cap: match count("SEARCH_COUNT_CAP", crate::domain::search::COUNT_CAP as u64)? {
                0 => return Err(invalid("SEARCH_COUNT_CAP", "must be at least 1")),
                n => n as usize,
            },
            media: MediaSettings {
                policy: crate::domain::media::MediaPolicy {
                    allowed: media_types(get("MEDIA_ALLOWED_TYPES"))?,
                    max_bytes: number(
                        "MEDIA_MAX_BYTES",
                        get("MEDIA_MAX_BYTES"),
                        crate::domain::media::DEFAULT_MAX_BYTES,
                    )?,
                    avatar_max_bytes: number(
                        "MEDIA_AVATAR_MAX_BYTES",
                        get("MEDIA_AVATAR_MAX_BYTES"),
                        crate::domain::media::DEFAULT_AVATAR_MAX_BYTES,
                    )?,
                },
                upload_url_ttl: bounded_seconds("MEDIA_UPLOAD_URL_SECONDS", seconds("MEDIA_UPLOAD_URL_SECONDS", 900)?)?,
                download_url_ttl: bounded_seconds(
                    "MEDIA_DOWNLOAD_URL_SECONDS",
                    seconds("MEDIA_DOWNLOAD_URL_SECONDS", 300)?,
                )?,
            },
            exports: ExportSettings::from_lookup(get)?,
            staff_mfa: crate::domain::staff_security::StaffMfaPolicy::parse(
                get("STAFF_MFA_REQUIRED").as_deref().unwrap_or("admins"),
            )
            .map_err(|reason| invalid("STAFF_MFA_REQUIRED", reason))?,
            staff_lockout: StaffLockout {
                threshold: match count("STAFF_LOCKOUT_THRESHOLD", 10)? {
                    0 => return Err(invalid("STAFF_LOCKOUT_THRESHOLD", "must be at least 1")),
                    n => n,
                },
                window: seconds("STAFF_LOCKOUT_SECONDS", 900)?,
            },
        })
    }
}

/// Each secret from Secrets Manager (`…_ARN`) or the environment, never both; any may be absent.
fn key_sources(get: &impl Fn(&str) -> Option<String>, refresh: Duration) -> Result<KeySources, ConfigError> {
    let session = session_source(get)?;
    let cursor = match secret_source(get, "CURSOR_SECRET_ARN", "CURSOR_SECRET", None)? {
        None => match &session {
            Some(SecretSource::Environment(secrets)) => Some(SecretSource::Environment(secrets.clone())),
            _ => None,
        },
        cursor => cursor,
    };
    let sources = KeySources {
        access_signing: secret_source(
            get,
            "ACCESS_TOKEN_KEY_ARN",
            "ACCESS_TOKEN_KEY",
            Some("ACCESS_TOKEN_PREVIOUS_KEY"),
        )?,
        access_public: get("ACCESS_TOKEN_PUBLIC_KEYS_ARN"),
        session,
        cursor,
        endpoint: get("SECRETS_MANAGER_ENDPOINT"),
        refresh,
    };
    if sources.uses_secrets_manager() && refresh.is_zero() {
        return Err(invalid("JWT_KEY_REFRESH_SECONDS", "must be at least 1"));
    }
    Ok(sources)
}

/// A secret whose versions in the environment are `value` and an optional retiring `previous`.
fn secret_source(
    get: &impl Fn(&str) -> Option<String>,
    arn: &'static str,
    value: &'static str,
    previous: Option<&'static str>,
) -> Result<Option<SecretSource>, ConfigError> {
    use auth_core::keys::{NamedSecret, SigningSecrets};
    if let Some(secret_id) = get(arn) {
        if let Some(name) = [Some(value), previous].into_iter().flatten().find(|name| get(name).is_some()) {
            return Err(invalid(arn, format!("the key comes from Secrets Manager; unset {name}")));
        }
        return Ok(Some(SecretSource::SecretsManager(secret_id)));
    }
    let Some(current) = get(value) else {
        return match previous.filter(|name| get(name).is_some()) {
            Some(name) => Err(invalid(name, format!("needs {value}"))),
            None => Ok(None),
        };
    };
    let current = NamedSecret { kid: "current".into(), secret: secret(value, current)? };
    let previous = match previous.and_then(|name| Some((name, get(name)?))) {
        Some((name, text)) => Some(NamedSecret { kid: "previous".into(), secret: secret(name, text)? }),
        None => None,
    };
    Ok(Some(SecretSource::Environment(SigningSecrets::new(current, previous))))
}

/// The session secret: `JWT_SECRET_ARN`, or `JWT_SECRET` with its `JWT_KID` and a retiring
/// `JWT_PREVIOUS_KID` / `JWT_PREVIOUS_SECRET` (the names are older than the ES256 tokens).
fn session_source(get: &impl Fn(&str) -> Option<String>) -> Result<Option<SecretSource>, ConfigError> {
    use auth_core::keys::{NamedSecret, SigningSecrets};
    if let Some(secret_id) = get("JWT_SECRET_ARN") {
        if let Some(name) = ["JWT_SECRET", "JWT_KID", "JWT_PREVIOUS_KID", "JWT_PREVIOUS_SECRET"]
            .into_iter()
            .find(|name| get(name).is_some())
        {
            return Err(invalid("JWT_SECRET_ARN", format!("the key comes from Secrets Manager; unset {name}")));
        }
        return Ok(Some(SecretSource::SecretsManager(secret_id)));
    }
    let Some(value) = get("JWT_SECRET") else { return Ok(None) };
    let current =
        NamedSecret { kid: get("JWT_KID").unwrap_or_else(|| "k1".into()), secret: secret("JWT_SECRET", value)? };
    let previous = match (get("JWT_PREVIOUS_KID"), get("JWT_PREVIOUS_SECRET")) {
        (Some(kid), Some(s)) => Some(NamedSecret { kid, secret: secret("JWT_PREVIOUS_SECRET", s)? }),
        (None, None) => None,
        _ => {
            return Err(invalid("JWT_PREVIOUS_KID", "JWT_PREVIOUS_KID and JWT_PREVIOUS_SECRET go together"));
        }
    };
    Ok(Some(SecretSource::Environment(SigningSecrets::new(current, previous))))
}

fn email_delivery(get: &impl Fn(&str) -> Option<String>, sms: OtpDelivery) -> Result<EmailDelivery, ConfigError> {
    let default = if sms == OtpDelivery::Log { "log" } else { "ses" };
    match get("EMAIL_DELIVERY").as_deref().unwrap_or(default) {
        "log" => Ok(EmailDelivery::Log),
        "ses" => {
            // Only the functions that send email get it; the others never reach for it.
            let from = get("EMAIL_FROM");
            let configuration_set = get("SES_CONFIGURATION_SET").filter(|set| !set.trim().is_empty());
            Ok(EmailDelivery::Ses(crate::email::SesSettings { from, configuration_set }))
        }
        other => Err(invalid("EMAIL_DELIVERY", format!("{other:?} is not ses or log"))),
    }
}

/// `ZM, MW` as country ids; empty or absent: the default region's country alone.
fn countries(
    list: Option<String>,
    default_region: phonenumber::country::Id,
) -> Result<Vec<phonenumber::country::Id>, ConfigError> {
    let listed = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(|code| {
            code.to_ascii_uppercase()
                .parse()
                .map_err(|_| invalid("OTP_ALLOWED_COUNTRIES", format!("{code:?} is not an ISO 3166 country code")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if listed.is_empty() { vec![default_region] } else { listed })
}

/// `jpeg,png` as media types; absent: the contract's default list.
fn media_types(list: Option<String>) -> Result<Vec<crate::domain::media::MediaType>, ConfigError> {
    use crate::domain::media::MediaType;
    let Some(list) = list else { return Ok(MediaType::ALL.to_vec()) };
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            MediaType::from_name(name).ok_or_else(|| {
                invalid("MEDIA_ALLOWED_TYPES", format!("{name:?} is not one of jpeg, png, webp, gif, pdf"))
            })
        })
        .collect()
}

/// A presigned URL lives 1 second to 7 days (SigV4's limit).
fn bounded_seconds(name: &'static str, value: Duration) -> Result<Duration, ConfigError> {
    match value.as_secs() {
        1..=604_800 => Ok(value),
        _ => Err(invalid(name, "must be between 1 and 604800 seconds")),
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name, reason: reason.into() }
}

fn number(name: &'static str, value: Option<String>, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| invalid(name, "not a whole number")),
    }
}

pub(crate) fn secret(name: &'static str, value: String) -> Result<Vec<u8>, ConfigError> {
    let bytes = value.into_bytes();
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(invalid(name, format!("must be at least {MIN_SECRET_BYTES} bytes")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 3] =
        [("TABLE_NAME", "t"), ("MEDIA_BUCKET", "b"), ("JWT_SECRET", "0123456789abcdef0123456789abcdef")];

    #[test]
    fn defaults_follow_the_contract() {
        let c = config(&BASE).expect("valid");
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.otp.max_attempts, 5);
        assert_eq!(c.otp.per_ip_per_hour, 300);
        assert_eq!(c.otp_delivery, OtpDelivery::Sns);
        assert!(!c.otp_dev_echo);
        assert_eq!(c.staff_mfa, crate::domain::staff_security::StaffMfaPolicy::Admins);
    }

    #[test]
    fn codes_go_to_the_default_regions_country_unless_others_are_listed() {
        let us: phonenumber::country::Id = "US".parse().expect("US");
        assert_eq!(config(&BASE).expect("valid").otp.allowed_countries, [us]);
        let mut zambia = BASE.to_vec();
        zambia.extend([("PHONE_DEFAULT_REGION", "zm"), ("OTP_ALLOWED_COUNTRIES", " ")]);
        let zm: phonenumber::country::Id = "ZM".parse().expect("ZM");
        assert_eq!(config(&zambia).expect("valid").otp.allowed_countries, [zm], "blank is the default");
        let mut listed = BASE.to_vec();
        listed.push(("OTP_ALLOWED_COUNTRIES", "zm, MW"));
        let mw: phonenumber::country::Id = "MW".parse().expect("MW");
        assert_eq!(config(&listed).expect("valid").otp.allowed_countries, [zm, mw]);
    }

    #[test]
    fn rejects_short_secrets_and_missing_table() {
        let mut pairs = BASE.to_vec();
        pairs[2] = ("JWT_SECRET", "short");
        assert!(matches!(config(&pairs), Err(ConfigError::Invalid { name: "JWT_SECRET", .. })));
        assert!(matches!(config(&BASE[1..]), Err(ConfigError::Missing("TABLE_NAME"))));
    }

    #[test]
    fn the_key_comes_from_secrets_manager_or_the_environment_never_both() {
        let arn = ("JWT_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf");
        let from_aws = config(&[BASE[0], BASE[1], arn]).expect("the ARN alone is enough");
        assert!(matches!(from_aws.keys.session, Some(SecretSource::SecretsManager(_))));
        assert_eq!(from_aws.keys.refresh, Duration::from_secs(300));
        assert!(from_aws.keys.cursor.is_none(), "cursors have their own secret in AWS");
        let both = config(&[BASE[0], BASE[1], BASE[2], arn]);
        assert!(matches!(both, Err(ConfigError::Invalid { name: "JWT_SECRET_ARN", .. })));
        let no_refresh = config(&[BASE[0], BASE[1], arn, ("JWT_KEY_REFRESH_SECONDS", "0")]);
        assert!(matches!(no_refresh, Err(ConfigError::Invalid { name: "JWT_KEY_REFRESH_SECONDS", .. })));
        let none = config(&BASE[..2]).expect("a function may hold no secret (the media processor)");
        assert!(none.keys.session.is_none() && none.keys.access_signing.is_none());
        let local = config(&BASE).expect("valid");
        assert!(matches!(local.keys.cursor, Some(SecretSource::Environment(_))), "locally, from JWT_SECRET");
    }

    #[test]
    fn the_access_token_key_comes_from_one_place_and_a_previous_key_needs_a_current_one() {
        let key = ("ACCESS_TOKEN_KEY", "0123456789abcdef0123456789abcdef-access");
        let arn = ("ACCESS_TOKEN_KEY_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:atk-AbCdEf");
        let with_key = config(&[BASE[0], BASE[1], key]).expect("valid");
        assert!(matches!(with_key.keys.access_signing, Some(SecretSource::Environment(_))));
        let both = config(&[BASE[0], BASE[1], key, arn]);
        assert!(matches!(both, Err(ConfigError::Invalid { name: "ACCESS_TOKEN_KEY_ARN", .. })));
        let orphan = config(&[BASE[0], BASE[1], ("ACCESS_TOKEN_PREVIOUS_KEY", key.1)]);
        assert!(matches!(orphan, Err(ConfigError::Invalid { name: "ACCESS_TOKEN_PREVIOUS_KEY", .. })));
        let short = config(&[BASE[0], BASE[1], ("ACCESS_TOKEN_KEY", "short")]);
        assert!(matches!(short, Err(ConfigError::Invalid { name: "ACCESS_TOKEN_KEY", .. })));
    }

    #[test]
    fn rejects_unknown_region_and_delivery() {
        let mut pairs = BASE.to_vec();
        pairs.push(("PHONE_DEFAULT_REGION", "XX"));
        assert!(config(&pairs).is_err());
        let mut pairs = BASE.to_vec();
        pairs.push(("OTP_DELIVERY", "carrier-pigeon"));
        assert!(config(&pairs).is_err());
    }
}
