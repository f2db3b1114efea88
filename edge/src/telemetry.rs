//! What ties one request's log lines together and to the rest of its trail, as AWS Lambda
//! Powertools does: every line a handler writes carries
//! - `service` (`POWERTOOLS_SERVICE_NAME`, default `customer-platform`) and `function` (the
//!   deployed Lambda function's name);
//! - `request_id`, Lambda's request id (the `REPORT` line and the Lambda console use it);
//! - `apigw_request_id`, API Gateway's `$context.requestId`: the access log's `requestId` and the
//!   `apigw-requestid` response header a client sees, so a complaint with that header, or an
//!   access-log line, leads to the function's lines;
//! - `xray_trace_id`, the trace (with tracing `Active`, the X-Ray console opens it);
//! - `cold_start`: `true` on the first invocation of an instance, which also counts the
//!   `ColdStart` metric.

use std::sync::atomic::{AtomicBool, Ordering};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

pub use platform::metrics::service;
use platform::metrics::{self, Metric};

static COLD: AtomicBool = AtomicBool::new(true);

/// `true` once per process: the instance's first invocation.
fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

/// The span of one API request of the function named `name` (`ApiFunction::NAME`), for `route`
/// (its pattern).
pub fn request_span(name: &'static str, req: &Request, route: &str) -> tracing::Span {
    let lambda = req.lambda_context_ref();
    let request_id = lambda.map(|c| c.request_id.as_str()).unwrap_or_default();
    let function = lambda.map(|c| c.env_config.function_name.as_str()).filter(|n| !n.is_empty()).unwrap_or(name);
    let xray_trace_id = lambda
        .and_then(|c| c.xray_trace_id.clone())
        .or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok())
        .unwrap_or_default();
    let apigw_request_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    };
    let cold_start = take_cold_start();
    if cold_start {
        metrics::count(name, Metric::ColdStart);
    }
    tracing::info_span!(
        "request",
        service = service(),
        function = %function,
        route = %route,
        request_id = %request_id,
        apigw_request_id = %apigw_request_id,
        xray_trace_id = %xray_trace_id,
        cold_start,
    )
}
