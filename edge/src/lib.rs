//! The HTTP edge: problem+json errors, JSON bodies, routing, the function skeleton and
//! responses, and what happens per request before a handler runs (the caller's token and role,
//! the re-read of a staff account, the request's log span).
//!
//! Layer: the top one, `services` ← `edge` ← `functions/*` (through `shared`, as `shared::http`).

pub mod body;
pub mod current;
pub mod cursor;
pub mod error;
pub mod function;
pub mod paging;
pub mod precondition;
pub mod response;
pub mod router;
pub mod telemetry;

pub use body::{JsonBody, parse_json, parse_json_lenient};
pub use error::ApiError;
pub use function::{ApiFunction, Call};
pub use precondition::if_match;
pub use response::{json, no_content};
pub use router::{Route, RouteMatch, Router, Scope};

// The domain as `crate::domain`, the path this code had when it was part of `shared`.
use ::domain;

/// The caller's IP as API Gateway saw it (the local stack fills in the same field).
pub fn source_ip(req: &lambda_http::Request) -> Option<String> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        _ => None,
    }
}
