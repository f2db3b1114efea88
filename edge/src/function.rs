//! What every API function shares: the request skeleton (match the route, check the token and
//! the role, call the handler, render errors as problem+json) and the Lambda `main`. A function
//! supplies only its route table and the `match` that maps each handler to its code.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use auth_core::Principal;
use auth_core::roles::{Access, Role, authorize};
use lambda_http::{Body, Request, Response, service_fn};
use services::App;
use tracing::Instrument;

use super::ApiError;
use super::router::{Route, RouteMatch, Router, Scope};
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

    /// Runs the matched route's handler; the caller has already checked the caller's role.
    fn call(call: Call<'_, Self::Handler>) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}

/// The router built from `F::ROUTES`, once per instance and function. A table that cannot form
/// one is a bug that the route-table tests report, so this fails loudly at the first request
/// rather than misroute.
pub fn router<F: ApiFunction>() -> &'static Router<F::Handler> {
    type Routers = RwLock<HashMap<TypeId, &'static (dyn Any + Send + Sync)>>;
    static ROUTERS: OnceLock<Routers> = OnceLock::new();
    let routers = ROUTERS.get_or_init(Routers::default);
    let key = TypeId::of::<F>();
    let known = routers.read().unwrap_or_else(PoisonError::into_inner).get(&key).copied();
    let any = match known {
        Some(router) => router,
        None => {
            *routers.write().unwrap_or_else(PoisonError::into_inner).entry(key).or_insert_with(|| {
                match Router::new(F::ROUTES.iter().copied()) {
                    Ok(router) => Box::leak(Box::new(router)),
                    Err(err) => panic!("invalid route table of {}: {err}", F::NAME),
                }
            })
        }
    };
    match any.downcast_ref() {
        Some(router) => router,
        None => unreachable!("the routers are keyed by their function's type"),
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

    /// The route with its parameters, as list cursors and idempotency keys are bound to it.
    pub fn scope(&self) -> Scope {
        self.matched.scope()
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
    let matched = router::<F>().find(req.method().as_str(), req.uri().path())?;
    let access = matched.route.access;
    let principal = authorize(req.headers(), access, app.keys().jwt(), &app.issuer(req))?;
    let call = Call { app, req, matched, principal };
    match access {
        Access::Admin => ensure_current_admin(app, call.signed_in()?).await?,
        Access::Staff => ensure_current_staff(app, call.signed_in()?).await?,
        Access::OwnerOrStaff => {
            let caller = call.signed_in()?;
            if caller.role != Role::Customer {
                ensure_current_staff(app, caller).await?;
            }
        }
        Access::Anyone | Access::Customer | Access::SignedIn | Access::CustomerOrGuest => {}
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
