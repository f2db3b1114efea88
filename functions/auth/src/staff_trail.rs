//! `GET /v1/staff/{staff_id}/audit`: the admin's view of a member's security trail
//! (`services::staff::trail`), newest first, paged like every list.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::domain::staff_security::SecurityEvent;
use shared::http::paging::PageRequest;
use shared::http::{ApiError, Scope};
use shared::services::staff::{self, trail};

use crate::staff::staff_id;

pub async fn list(app: &App, req: &Request, raw_id: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let member = staff::member(app, &staff_id(raw_id)?).await?;
    let request = PageRequest::from_request(app, req, scope)?;
    let page = trail::list(app, &member.staff_id, request.limit, request.start.clone()).await?;
    request.respond(app, page, SecurityEvent::to_json)
}
