//! Route tables: each function declares every route once (method, path pattern, who may call it,
//! and the handler that answers), and a [`Router`] built from that table matches requests.
//! Path matching is `matchit`'s (the router under axum): a radix tree in which a literal segment
//! wins over a `{param}` at the same place, as in API Gateway.

use auth_core::roles::Access;

use super::ApiError;

/// The order in which an `Allow` header lists methods, whatever order the table has.
const METHOD_ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One route. `H` names the handler: an enum that the function's dispatch matches exhaustively,
/// so a route without a handler (or a handler without a route) does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<H> {
    pub method: &'static str,
    /// `/v1/customers/{customer_id}`: `{name}` matches one path segment.
    pub path: &'static str,
    pub access: Access,
    pub handler: H,
}

impl<H> Route<H> {
    pub const fn new(method: &'static str, path: &'static str, access: Access, handler: H) -> Self {
        Self { method, path, access, handler }
    }

    /// `GET /v1/me`: how API Gateway, the template and openapi.yaml name a route.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A matched route and its path parameters, percent-decoded.
#[derive(Debug)]
pub struct RouteMatch<H> {
    pub route: Route<H>,
    params: Vec<(String, String)>,
}

impl<H> RouteMatch<H> {
    /// The value of `{name}` in the route's path ("" for a name the path does not have).
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).unwrap_or_default()
    }

    /// What a list cursor or an idempotency key is bound to: the route's key with its parameters
    /// filled in (`GET /v1/groups/G1/customers`), derived from the declaration, never typed again.
    pub fn scope(&self) -> Scope {
        let mut path = String::with_capacity(self.route.path.len());
        for segment in self.route.path.split('/').skip(1) {
            path.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => path.push_str(self.param(name)),
                None => path.push_str(segment),
            }
        }
        Scope(format!("{} {path}", self.route.method))
    }
}

/// The query a cursor or an idempotency key belongs to. Made only from a matched route
/// ([`RouteMatch::scope`]), so a handler cannot bind a cursor to a route it does not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// The same route narrowed by the request's filters: `GET /v1/customers?active`.
    pub fn filtered(&self, filters: impl std::fmt::Display) -> Scope {
        Scope(format!("{}?{filters}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The routes of one path pattern, by method.
#[derive(Debug)]
struct PathRoutes<H> {
    routes: Vec<Route<H>>,
}

#[derive(Debug)]
pub struct Router<H> {
    paths: matchit::Router<PathRoutes<H>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteTableError {
    #[error("{0} is declared twice")]
    Duplicate(String),
    #[error("{path}: {reason}")]
    Pattern { path: &'static str, reason: String },
}

impl<H: Copy> Router<H> {
    /// Fails on a route declared twice or a pattern `matchit` cannot hold beside the others
    /// (two parameter names at one place): a programming error, which the route-table tests
    /// catch before anything ships.
    pub fn new(routes: impl IntoIterator<Item = Route<H>>) -> Result<Self, RouteTableError> {
        let mut by_path: Vec<PathRoutes<H>> = Vec::new();
        for route in routes {
            match by_path.iter_mut().find(|p| p.routes[0].path == route.path) {
                Some(existing) if existing.routes.iter().any(|r| r.method == route.method) => {
                    return Err(RouteTableError::Duplicate(route.key()));
                }
                Some(existing) => existing.routes.push(route),
                None => by_path.push(PathRoutes { routes: vec![route] }),
            }
        }
        let mut paths = matchit::Router::new();
        for entry in by_path {
            let path = entry.routes[0].path;
            paths.insert(path, entry).map_err(|e| RouteTableError::Pattern { path, reason: e.to_string() })?;
        }
        Ok(Self { paths })
    }

    /// 404 when no route has the path, 405 (with the allowed methods) when only the method is
    /// wrong. A trailing slash is ignored.
    pub fn find(&self, method: &str, path: &str) -> Result<RouteMatch<H>, ApiError> {
        let trimmed = path.trim_end_matches('/');
        let found = self.paths.at(trimmed).map_err(|_| ApiError::NotFound(format!("no route for {trimmed}")))?;
        let entry = found.value;
        let Some(route) = entry.routes.iter().find(|r| r.method.eq_ignore_ascii_case(method)) else {
            let mut allowed: Vec<&'static str> = entry.routes.iter().map(|r| r.method).collect();
            allowed.sort_by_key(|m| METHOD_ORDER.iter().position(|known| known == m).unwrap_or(METHOD_ORDER.len()));
            return Err(ApiError::MethodNotAllowed(allowed));
        };
        let params = found.params.iter().map(|(name, value)| (name.to_string(), percent_decode(value))).collect();
        Ok(RouteMatch { route: *route, params })
    }
}

/// Path segments arrive percent-encoded (`%2B260…` for a `+`).
fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        Me,
        UpdateMe,
        ByPhone,
        Customer,
        Search,
    }

    fn router() -> Router<Op> {
        Router::new([
            Route::new("GET", "/v1/me", Access::Customer, Op::Me),
            Route::new("PATCH", "/v1/me", Access::Customer, Op::UpdateMe),
            Route::new("GET", "/v1/customers/by-phone/{phone}", Access::Staff, Op::ByPhone),
            Route::new("GET", "/v1/customers/{customer_id}", Access::Staff, Op::Customer),
            Route::new("POST", "/v1/customers/search", Access::Staff, Op::Search),
        ])
        .expect("a valid table")
    }

    #[test]
    fn matches_methods_params_and_trailing_slashes() {
        let router = router();
        assert_eq!(router.find("patch", "/v1/me/").expect("route").route.handler, Op::UpdateMe);
        let m = router.find("GET", "/v1/customers/by-phone/%2B260971234567").expect("route");
        assert_eq!(m.param("phone"), "+260971234567");
        assert_eq!(router.find("GET", "/v1/customers/CUST_1").expect("route").param("customer_id"), "CUST_1");
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        assert_eq!(router().find("POST", "/v1/customers/search").expect("route").route.handler, Op::Search);
        let err = router().find("DELETE", "/v1/customers/search").expect_err("wrong method");
        assert!(matches!(err, ApiError::MethodNotAllowed(ref m) if m == &["POST"]), "{err:?}");
    }

    #[test]
    fn unknown_paths_404_and_wrong_methods_405_naming_the_allowed_ones() {
        let router = router();
        assert_eq!(router.find("GET", "/v1/nope").expect_err("none").status().as_u16(), 404);
        let err = router.find("DELETE", "/v1/me").expect_err("none");
        assert!(matches!(err, ApiError::MethodNotAllowed(ref m) if m == &["GET", "PATCH"]), "{err:?}");
        assert_eq!(router.find("GET", "/v1/customers/CUST_1/extra").expect_err("none").status().as_u16(), 404);
    }

    #[test]
    fn a_scope_is_the_route_with_its_parameters_filled_in() {
        let matched = router().find("GET", "/v1/customers/CUST_1/").expect("route");
        assert_eq!(matched.scope().as_str(), "GET /v1/customers/CUST_1");
        assert_eq!(matched.scope().filtered("a=1").as_str(), "GET /v1/customers/CUST_1?a=1");
        assert_eq!(router().find("PATCH", "/v1/me").expect("route").scope().as_str(), "PATCH /v1/me");
    }

    #[test]
    fn a_route_declared_twice_is_refused() {
        let twice = [
            Route::new("GET", "/v1/me", Access::Customer, Op::Me),
            Route::new("GET", "/v1/me", Access::Customer, Op::UpdateMe),
        ];
        assert!(matches!(Router::new(twice), Err(RouteTableError::Duplicate(key)) if key == "GET /v1/me"));
    }
}
