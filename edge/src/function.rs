//! What every API function shares: the request skeleton (match the route, check the token and
//! the role, call the handler, render errors as problem+json) and the Lambda `main`. A function
//! supplies only its route table and the `match` that maps each handler to its code.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use auth_core::Principal;
use auth_core::roles::{Access, authorize};
use lambda_http::{Body, Request, Response, service_fn};
use services::App;
use tracing::Instrument;

use super::ApiError;
use super::router::{Route, RouteMatch, Router};
use crate::current::{ensure_current_admin, ensure_current_staff};
use crate::domain::CustomerId;

/// One Lambda function of the API.
pub trait ApiFunction: 'static {
    /// What answers a route: an enum whose variants the function's `call` matches exhaustively.
    type Handler: Copy + Send + Sync + 'static;

    /// The function's short name (`auth`, `search`, …): the `function` dimension of its metrics.
    const NAME: &'static str;

    /// Every route of the function, declared once: `template.yaml` and `openapi.yaml` are
    /// checked against this table by tests.
    const ROUTES: &'static [Route<Self::Handler>];

    /// The router built from `ROUTES`, once per instance.
    fn router() -> &'static Router<Self::Handler>;

    /// Runs the matched route's handler; the caller has already checked the caller's role.
    fn call(call: Call<'_, Self::Handler>) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}

/// Builds a function's router from its table; a table that cannot form one is a bug that the
/// route-table tests report, so this fails loudly at the first request rather than misroute.
pub fn build_router<H: Copy>(routes: &'static [Route<H>]) -> Router<H> {
    match Router::new(routes.iter().copied()) {
        Ok(router) => router,
        Err(err) => panic!("invalid route table: {err}"),
    }
}

/// A request on its way to a handler, with what the skeleton already established.
pub struct Call<'a, H> {
    pub app: &'a App,
    pub req: &'a Request,
    pub matched: RouteMatch<H>,
    /// The verified token's principal; `None` only on routes open to anyone (and guest carts).
    pub principal: Option<Principal>,
}

impl<H> Call<'_, H> {
    pub fn param(&self, name: &str) -> &str {
        self.matched.param(name)
    }

    /// The signed-in caller (401 on a route that admits the anonymous).
    pub fn signed_in(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or_else(|| ApiError::Unauthorized("sign in first".into()))
    }

    /// Who is acting, as the audit trail records it.
    pub fn actor(&self) -> Result<&str, ApiError> {
        Ok(self.signed_in()?.subject.as_str())
    }

    /// The customer a customer token speaks for.
    pub fn customer_id(&self) -> Result<CustomerId, ApiError> {
        Ok(self.signed_in()?.customer_id()?)
    }
}

/// Answers one request through `F`: every error becomes problem+json.
pub async fn handle<F: ApiFunction>(app: &App, req: Request) -> Response<Body> {
    app.refresh_keys_if_due().await;
    dispatch::<F>(app, &req).await.unwrap_or_else(ApiError::into_response)
}

async fn dispatch<F: ApiFunction>(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let matched = F::router().find(req.method().as_str(), req.uri().path())?;
    let access = matched.route.access;
    let principal = authorize(req.headers(), access, &app.keys().jwt, &app.issuer(req))?;
    let call = Call { app, req, matched, principal };
    match access {
        Access::Admin => ensure_current_admin(app, call.signed_in()?).await?,
        Access::Staff => ensure_current_staff(app, call.signed_in()?).await?,
        _ => {}
    }
    // Every log line of the handler carries the route (its pattern: paths hold phones and
    // emails) and the ids that join it to the API's access log and the trace (see
    // `crate::telemetry`). Boxed: a handler's future can be large (search holds several reads
    // in flight), and the skeleton's callers should not carry it on their stack.
    let span = crate::telemetry::request_span(
        F::NAME,
        req,
        &format!("{} {}", call.matched.route.method, call.matched.route.path),
    );
    let started = std::time::Instant::now();
    let result = Box::pin(F::call(call)).instrument(span.clone()).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(err) => err.status(),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms, "answered"));
    result
}

/// A function's whole `main`: logging, the clients built once at init, then the Lambda loop.
pub async fn run<F: ApiFunction>() -> Result<(), lambda_http::Error> {
    platform::logging::init();
    let app = Arc::new(App::from_env().await?);
    lambda_http::run(service_fn(move |req: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(handle::<F>(&app, req).await) }
    }))
    .await
}
