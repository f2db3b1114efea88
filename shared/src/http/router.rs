//! Route tables: each function lists its routes (method, path pattern, who may call it) in one
//! constant, and `find` matches a request against it.

use std::collections::HashMap;

use crate::auth::roles::Access;

use super::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// `/v1/customers/{customer_id}`: `{name}` matches one path segment.
    pub path: &'static str,
    pub access: Access,
}

impl Route {
    pub const fn new(method: &'static str, path: &'static str, access: Access) -> Self {
        Self { method, path, access }
    }
}

#[derive(Debug)]
pub struct RouteMatch {
    pub route: Route,
    pub params: HashMap<&'static str, String>,
}

impl RouteMatch {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or_default()
    }
}

/// 404 when no route has the path, 405 (with the allowed methods) when only the method is wrong.
pub fn find(routes: &[Route], method: &str, path: &str) -> Result<RouteMatch, ApiError> {
    let path = path.trim_end_matches('/');
    let mut allowed = Vec::new();
    for route in routes {
        if let Some(params) = match_path(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Ok(RouteMatch { route: *route, params });
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::NotFound(format!("no route for {path}")))
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

fn match_path(pattern: &'static str, path: &str) -> Option<HashMap<&'static str, String>> {
    let mut params = HashMap::new();
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(expected), Some(actual)) => {
                if let Some(name) = expected.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    if actual.is_empty() {
                        return None;
                    }
                    params.insert(name, percent_decode(actual));
                } else if expected != actual {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Path segments arrive percent-encoded (`%2B260…` for a `+`).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[Route] = &[
        Route::new("GET", "/v1/me", Access::Customer),
        Route::new("PATCH", "/v1/me", Access::Customer),
        Route::new("GET", "/v1/customers/by-phone/{phone}", Access::Staff),
    ];

    #[test]
    fn matches_methods_params_and_trailing_slashes() {
        assert_eq!(find(ROUTES, "patch", "/v1/me/").expect("route").route.method, "PATCH");
        let m = find(ROUTES, "GET", "/v1/customers/by-phone/%2B260971234567").expect("route");
        assert_eq!(m.param("phone"), "+260971234567");
    }

    #[test]
    fn unknown_paths_404_and_wrong_methods_405() {
        assert_eq!(find(ROUTES, "GET", "/v1/nope").expect_err("none").status().as_u16(), 404);
        let err = find(ROUTES, "DELETE", "/v1/me").expect_err("none");
        assert_eq!(err.status().as_u16(), 405);
        assert_eq!(find(ROUTES, "GET", "/v1/customers/by-phone/").expect_err("none").status().as_u16(), 404);
    }
}
