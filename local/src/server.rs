//! The HTTP server: routes each request to the function that declares it in the template,
//! feeds it through that function's handler as an API Gateway event, and writes the answer back.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use shared::App;
use shared::auth::roles::Access;
use shared::http::{ApiError, Route, Router};

use crate::event::{HttpInput, api_gateway_event, body_bytes, to_request};
use crate::functions::Function;
use crate::template::TemplateRoute;

/// API Gateway refuses payloads over 10 MB before Lambda sees them; so do we.
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;

pub struct LocalApi {
    app: App,
    /// The template's access-log line, written for every request (see `access_log`).
    access_log_format: Option<String>,
    /// Every route of the template, answered by the function it names (the API explorer,
    /// `/docs` and `/openapi.yaml`, included: the `docs` function serves it, as in AWS).
    router: Router<Function>,
    /// The development identity provider, answered before any route (`/_local/oidc/...`).
    dev_idp: Option<std::sync::Arc<crate::dev_idp::DevIdp>>,
}

impl LocalApi {
    /// Fails when the template names a function the local stack cannot run.
    pub fn new(app: App, template_routes: &[TemplateRoute]) -> Result<Self, String> {
        let routes = template_routes
            .iter()
            .map(|route| {
                Function::from_logical_id(&route.function)
                    .map(|f| Route::new(leak(&route.method), leak(&route.path), Access::Anyone, f))
                    .ok_or_else(|| {
                        format!("template.yaml declares {} but the local stack has no such function", route.function)
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let router = Router::new(routes).map_err(|e| format!("template.yaml: {e}"))?;
        Ok(Self { app, router, access_log_format: None, dev_idp: None })
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Writes an access-log line in the template's format for every request, as the deployed
    /// API's stage does (`AccessLogSettings.Format`).
    pub fn with_access_log(mut self, format: Option<String>) -> Self {
        self.access_log_format = format;
        self
    }

    /// Serves the development identity provider under `/_local/oidc/` too.
    pub fn with_dev_idp(mut self, idp: std::sync::Arc<crate::dev_idp::DevIdp>) -> Self {
        self.dev_idp = Some(idp);
        self
    }

    /// The function serving `method path`, and the template's route key for it; 404 for an
    /// unknown path, 405 naming the allowed methods for a known one.
    fn route_for(&self, method: &str, path: &str) -> Result<(Function, String), ApiError> {
        let matched = self.router.find(method, path)?;
        Ok((matched.route.handler, matched.route.key()))
    }

    /// Handles one request end to end: the same path a Lambda invocation takes. Like API
    /// Gateway, it gives the request an id (`requestContext.requestId`), answers it in the
    /// `apigw-requestid` header, and writes the access-log line.
    pub async fn call(&self, input: HttpInput<'_>) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
        let started = std::time::Instant::now();
        let request_id = crate::access_log::new_request_id();
        let mut entry = crate::access_log::Entry::new(&request_id, &input);
        let (status, mut headers, body) = self.invoke(input, &request_id, &mut entry).await;
        headers.push(("apigw-requestid".to_string(), request_id));
        if let Some(format) = &self.access_log_format {
            entry.finish(status.as_u16(), body.len(), started.elapsed());
            shared::logging::write_line(&entry.render(format));
        }
        (status, headers, body)
    }

    async fn invoke(
        &self,
        input: HttpInput<'_>,
        request_id: &str,
        entry: &mut crate::access_log::Entry,
    ) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
        let path = input.path_and_query.split('?').next().unwrap_or_default();
        if let Some((status, body)) = self.dev_idp.as_ref().and_then(|idp| idp.handle(input.method, path, input.body)) {
            return (status, vec![("content-type".into(), "application/json".into())], body);
        }
        let (function, route_key) = match self.route_for(input.method, path) {
            Ok(found) => found,
            Err(err) => return error_parts(err),
        };
        entry.route_key = route_key.clone();
        let mut event = api_gateway_event(&HttpInput { route_key: &route_key, ..input });
        event["requestContext"]["requestId"] = serde_json::Value::String(request_id.to_string());
        let request = match to_request(&event) {
            Ok(request) => request,
            Err(err) => {
                return error_parts(ApiError::BadRequest(format!("unreadable request: {err}")));
            }
        };
        let integration = std::time::Instant::now();
        let response = function.handle(&self.app, request).await;
        entry.integration_latency = Some(integration.elapsed());
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.to_string(), v.to_string())))
            .collect();
        (status, headers, body_bytes(response.body()))
    }
}

/// Route patterns come from the template once at start-up; leaking them gives the `'static`
/// strings the shared router works with, for the life of the process.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

fn error_parts(error: ApiError) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let response = error.into_response();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.to_string(), v.to_string())))
        .collect();
    (response.status(), headers, body_bytes(response.body()))
}

pub async fn serve(api: Arc<LocalApi>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(respond(&api, req, peer).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(err) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                tracing::debug!(error = %err, "connection closed");
            }
        });
    }
}

async fn respond(api: &LocalApi, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, GATEWAY_BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return to_hyper(error_parts(ApiError::PayloadTooLarge(GATEWAY_BODY_LIMIT))),
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.to_string(), v.to_string())))
        .collect();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let source_ip = peer.ip().to_string();
    let input = HttpInput {
        method: parts.method.as_str(),
        path_and_query,
        headers,
        body: &bytes,
        source_ip: &source_ip,
        route_key: "",
    };
    let started = std::time::Instant::now();
    let answer = api.call(input).await;
    tracing::info!(method = %parts.method, path = %parts.uri.path(), status = answer.0.as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    to_hyper(answer)
}

fn to_hyper((status, headers, body): (StatusCode, Vec<(String, String)>, Vec<u8>)) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(Bytes::from(body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
