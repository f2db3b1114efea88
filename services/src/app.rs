//! Everything a handler needs, built once per Lambda instance at init and passed by reference.

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::domain::media::{MediaType, Rejection, RenderedAvatar};

use platform::clock::Clock;
use platform::config::{Config, ConfigError, EmailDelivery, OtpDelivery};
use platform::email::EmailSender;
use platform::secrets::{KeyLoader, KeyRing};
use platform::sms::CodeSender;
use store::Store;

/// Decodes an avatar and writes it again (which drops EXIF and location data) with a thumbnail
/// (see `media`).
pub type AvatarRenderer = fn(&[u8], MediaType) -> Result<RenderedAvatar, Rejection>;

pub struct App {
    pub config: Config,
    pub clock: Clock,
    pub store: Store,
    sdk: SdkConfig,
    s3: OnceLock<aws_sdk_s3::Client>,
    code_sender: OnceLock<CodeSender>,
    email_sender: OnceLock<EmailSender>,
    /// The signing keys (access and refresh tokens, code hashes, cursors): see `keys()`.
    key_ring: KeyRing,
    /// The avatar re-encoder, where an image library is linked (the media processor, the local
    /// stack, the tests); `None` in the API's functions (see `services::media`).
    pub avatar_renderer: Option<AvatarRenderer>,
}

/// The SDK configuration of a function: region and credentials from the environment, where
/// Lambda puts them. Built directly rather than through `aws_config::load`, whose provider
/// chains (profile files, SSO, web identity, IMDS) a function never needs: skipping them keeps
/// their code out of the binary and their construction out of init (see docs/benchmarks.md).
/// Tools that run on an engineer's machine (`create-admin`) use the full chains instead.
fn lambda_sdk_config(config: &Config) -> Result<SdkConfig, ConfigError> {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_sdk_dynamodb::config::{Region, SharedAsyncSleep, SharedCredentialsProvider};
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .map_err(|_| ConfigError::Missing("AWS_REGION"))?;
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .sleep_impl(SharedAsyncSleep::new(aws_smithy_async::rt::sleep::TokioSleep::new()));
    let roots = if config.aws_roots_only { TrustRoots::AmazonOnly } else { TrustRoots::System };
    sdk = sdk.http_client(https_client(roots)?);
    Ok(sdk.build())
}

/// Amazon Trust Services roots, which every AWS service endpoint in the commercial partition
/// chains to. Trusting just these (instead of the platform store) keeps init from reading and
/// parsing a few hundred certificate files before the first request: see docs/benchmarks.md.
const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// Which certificate authorities the HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustRoots {
    /// The compiled-in Amazon Trust Services roots (the functions' default).
    AmazonOnly,
    /// The platform's store (`TLS_TRUST_STORE=system`, and tools run on an engineer's machine).
    System,
}

/// The one HTTPS client every SDK client uses: rustls with *ring* crypto. The SDK's default
/// client would link aws-lc as well, and *ring* is linked anyway (for JWTs), so one crypto
/// library serves both and the binaries stay smaller (see docs/benchmarks.md).
pub fn https_client(roots: TrustRoots) -> Result<SharedHttpClient, ConfigError> {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = match roots {
        TrustRoots::AmazonOnly => TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_ROOTS),
        TrustRoots::System => TrustStore::default(),
    };
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| ConfigError::Invalid { name: "TLS_TRUST_STORE", reason: e.to_string() })?;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();
    Ok(SharedHttpClient::new(ConnectorOnFirstRequest(client)))
}

/// The SDK's HTTPS client, less the connector it builds and throws away when a client is built.
///
/// `HyperClient::validate_base_client_config` builds a whole HTTPS connector (PEM decoding of
/// the trust roots, a rustls configuration) when each SDK client is created, only so that the
/// platform's certificates are loaded at init, and drops it: the connector a request uses is
/// built, and cached, on the first request either way. With the roots compiled in there is
/// nothing to load early, so that build was a quarter of a function's start-up instructions
/// spent for nothing (`callgrind`, docs/benchmarks.md). Requests are unchanged: they get the
/// wrapped client's connector.
#[derive(Debug)]
struct ConnectorOnFirstRequest(SharedHttpClient);

impl HttpClient for ConnectorOnFirstRequest {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

impl App {
    /// Reads the environment and builds the clients. The one network call of init is the
    /// secrets', when they are in Secrets Manager; the clients' credentials resolve lazily
    /// on the first request, which keeps init close to a hello-world binary.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_config(Config::from_env()?).await
    }

    /// As `from_env`, with a configuration the caller has read (the local stack completes it).
    pub async fn from_config(config: Config) -> Result<Self, ConfigError> {
        let sdk = lambda_sdk_config(&config)?;
        Self::load(config, &sdk).await
    }

    /// The `iss` of access tokens for a request: `JWT_ISSUER`, or `https://` and the domain
    /// name API Gateway received the request on.
    pub fn issuer(&self, req: &lambda_http::Request) -> String {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;
        if let Some(issuer) = &self.config.jwt_issuer {
            return issuer.clone();
        }
        let domain = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.domain_name.clone(),
            _ => None,
        };
        format!("https://{}", domain.as_deref().unwrap_or("localhost"))
    }

    /// Reads the signing secrets (from Secrets Manager when the configuration says so), then
    /// builds the clients. DynamoDB, which every route uses, is built here; S3 and SNS on first
    /// use, so a function that never calls them neither builds nor links them (see
    /// docs/benchmarks.md).
    pub async fn load(config: Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let clock = Clock::default();
        let key_ring = Self::key_ring(&config, sdk, &clock).await?;
        Ok(Self {
            store: Store::connect(sdk, config.dynamodb_endpoint.as_deref(), config.table_name.clone()),
            key_ring,
            clock,
            sdk: sdk.clone(),
            s3: OnceLock::new(),
            code_sender: OnceLock::new(),
            email_sender: OnceLock::new(),
            avatar_renderer: None,
            config,
        })
    }

    /// Reads the secrets this function holds (from Secrets Manager where the configuration says
    /// so, all at once) and derives the keys.
    async fn key_ring(config: &Config, sdk: &SdkConfig, clock: &Clock) -> Result<KeyRing, ConfigError> {
        let client = config.keys.uses_secrets_manager().then(|| {
            let mut client = aws_sdk_secretsmanager::config::Builder::from(sdk);
            if let Some(endpoint) = &config.keys.endpoint {
                client = client.endpoint_url(endpoint);
            }
            aws_sdk_secretsmanager::Client::from_conf(client.build())
        });
        let loader = KeyLoader {
            sources: config.keys.clone(),
            client,
            audience: config.jwt_audience.clone(),
            access_token_ttl: config.access_token_ttl,
        };
        KeyRing::load(loader, clock)
            .await
            .map_err(|err| ConfigError::Invalid { name: err.variable(), reason: err.to_string() })
    }

    /// The keys for this request: the access-token keys, the refresh-token signer, the
    /// one-time-code hasher and the cursor signer, each where this function holds its secret.
    pub fn keys(&self) -> Arc<auth_core::keys::Keys> {
        self.key_ring.current()
    }

    /// Reads the secrets again if they are due (deployed functions, every
    /// `JWT_KEY_REFRESH_SECONDS`); nothing otherwise. The function skeleton calls it before
    /// each request.
    pub async fn refresh_keys_if_due(&self) {
        self.key_ring.refresh_if_due(&self.clock).await;
    }

    /// The SDK configuration the clients were built from (for a tool that adds its own client).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3.get_or_init(|| {
            let mut s3 = aws_sdk_s3::config::Builder::from(&self.sdk);
            if let Some(endpoint) = &self.config.s3_endpoint {
                // Local S3 servers answer on one host, so buckets go in the path.
                s3 = s3.endpoint_url(endpoint).force_path_style(true);
            }
            aws_sdk_s3::Client::from_conf(s3.build())
        })
    }

    /// Codes by email (customers' sign-in and verification, staff password resets).
    pub fn email_sender(&self) -> &EmailSender {
        self.email_sender.get_or_init(|| match &self.config.email_delivery {
            EmailDelivery::Ses(settings) => {
                let mut ses = aws_sdk_sesv2::config::Builder::from(&self.sdk);
                if let Some(endpoint) = &self.config.ses_endpoint {
                    ses = ses.endpoint_url(endpoint);
                }
                EmailSender::Ses(aws_sdk_sesv2::Client::from_conf(ses.build()), settings.clone())
            }
            EmailDelivery::Log => EmailSender::Log,
        })
    }

    pub fn code_sender(&self) -> &CodeSender {
        self.code_sender.get_or_init(|| match self.config.otp_delivery {
            OtpDelivery::Sns => {
                let mut sns = aws_sdk_sns::config::Builder::from(&self.sdk);
                if let Some(endpoint) = &self.config.sns_endpoint {
                    sns = sns.endpoint_url(endpoint);
                }
                CodeSender::Sns(aws_sdk_sns::Client::from_conf(sns.build()))
            }
            OtpDelivery::Log => CodeSender::Log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_aws_roots_make_a_client() {
        assert_eq!(String::from_utf8_lossy(AWS_ROOTS).matches("BEGIN CERTIFICATE").count(), 5);
        assert!(https_client(TrustRoots::AmazonOnly).is_ok());
        assert!(https_client(TrustRoots::System).is_ok());
    }
}
