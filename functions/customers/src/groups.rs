//! Customer groups and membership.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::App;
use shared::domain::customer::Audience;
use shared::domain::group::{Group, GroupInput};
use shared::domain::{CustomerId, GroupId};
use shared::http::paging::PageRequest;
use shared::http::response::with_location;
use shared::http::{ApiError, Scope, json, no_content, parse_json_lenient};
use shared::services::groups::{self, GroupError};

/// A malformed id names no group: 404, like an unknown one.
fn parse_group_id(raw: &str) -> Result<GroupId, ApiError> {
    Ok(GroupId::parse(raw).ok_or(GroupError::NoSuchGroup)?)
}

fn parse_member_id(raw: &str) -> Result<CustomerId, ApiError> {
    Ok(CustomerId::parse(raw).ok_or(GroupError::NoSuchCustomer)?)
}

pub async fn create(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let (input, shape) = parse_json_lenient::<GroupInput>(req)?;
    let group = shape.combined_with(input.into_group(actor, app.clock.now()))?;
    groups::create(app, &group).await?;
    with_location(json(StatusCode::CREATED, &group.to_json())?, &format!("/v1/groups/{}", group.group_id))
}

pub async fn get(app: &App, raw_group: &str) -> Result<Response<Body>, ApiError> {
    let group = groups::get(app, &parse_group_id(raw_group)?).await?;
    json(StatusCode::OK, &group.to_json())
}

/// Groups by name.
pub async fn list(app: &App, req: &Request, scope: Scope) -> Result<Response<Body>, ApiError> {
    let request = PageRequest::from_request(app, req, scope)?;
    let page = groups::list(app, request.limit, request.start.clone()).await?;
    request.respond(app, page, Group::to_json)
}

/// The group's customers, by customer id.
pub async fn members(app: &App, req: &Request, raw_group: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    let request = PageRequest::from_request(app, req, scope)?;
    let page = groups::members(app, &group, request.limit, request.start.clone()).await?;
    request.respond(app, page, |c| c.to_json(Audience::Staff))
}

/// Adds the customer to the group; adding a member again changes nothing. 204 either way.
pub async fn add(app: &App, raw_group: &str, raw_customer: &str) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    groups::add(app, &group, &parse_member_id(raw_customer)?).await?;
    no_content()
}

/// Removes the customer from the group; 404 when they were not a member.
pub async fn remove(app: &App, raw_group: &str, raw_customer: &str) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    groups::remove(app, &group, &parse_member_id(raw_customer)?).await?;
    no_content()
}
