//! One list request and its answer, for every paged route: `limit` (1–100, default 20) and a
//! signed `cursor` in, `{"items": [...], "next_cursor": ...}` out.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use services::App;
use store::{Page, PageToken};

use super::cursor::page_limit;
use super::router::Scope;
use super::{ApiError, response};

/// A list request: how many items, and where the previous page ended. `scope` names the query
/// (route and filters), so a cursor is only accepted by the query that issued it.
pub struct PageRequest {
    pub limit: i32,
    pub start: Option<PageToken>,
    scope: Scope,
}

impl PageRequest {
    pub fn from_request(app: &App, req: &Request, scope: Scope) -> Result<Self, ApiError> {
        let query = req.query_string_parameters_ref();
        let param = |name: &str| query.and_then(|q| q.first(name));
        let limit = page_limit(param("limit"))?;
        let start = match param("cursor") {
            Some(cursor) => Some(app.keys().cursor_signer()?.decode(scope.as_str(), cursor)?),
            None => None,
        };
        Ok(Self { limit, start, scope })
    }

    /// 200 with the page's items rendered by `render`, and the cursor to the next page.
    pub fn respond<T>(
        &self,
        app: &App,
        page: Page<T>,
        render: impl Fn(&T) -> Value,
    ) -> Result<Response<Body>, ApiError> {
        let next_cursor = match page.next {
            Some(token) => Some(app.keys().cursor_signer()?.encode(self.scope.as_str(), &token)),
            None => None,
        };
        let items: Vec<Value> = page.items.iter().map(render).collect();
        response::json(StatusCode::OK, &json!({ "items": items, "next_cursor": next_cursor }))
    }
}
