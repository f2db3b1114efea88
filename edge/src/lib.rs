//! The HTTP edge: problem+json errors, JSON bodies, routing, the function skeleton and
//! responses.

pub mod body;
pub mod cursor;
pub mod error;
pub mod function;
pub mod paging;
pub mod precondition;
pub mod response;
pub mod router;

pub use body::{JsonBody, parse_json, parse_json_lenient};
pub use error::ApiError;
pub use function::{ApiFunction, Call};
pub use precondition::if_match;
pub use response::{json, no_content};
pub use router::{Route, RouteMatch, Router};

/// The caller's IP as API Gateway saw it (the local stack fills in the same field).
pub fn source_ip(req: &lambda_http::Request) -> Option<String> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        _ => None,
    }
}
