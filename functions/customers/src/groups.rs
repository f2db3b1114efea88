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
use shared::store::groups::MembershipOutcome;

use crate::common::no_such_customer;

fn no_such_group() -> ApiError {
    ApiError::NotFound("no such group".into())
}

fn parse_group_id(raw: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(raw).ok_or_else(no_such_group)
}

pub async fn create(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let (input, shape) = parse_json_lenient::<GroupInput>(req)?;
    let group = shape.combined_with(input.into_group(actor, app.clock.now()))?;
    app.store.create_group(&group).await.map_err(|err| match err {
        shared::store::StoreError::Taken(_) => {
            ApiError::Conflict { detail: "another group has this name".into(), field: Some("name") }
        }
        other => other.into(),
    })?;
    with_location(json(StatusCode::CREATED, &group.to_json())?, &format!("/v1/groups/{}", group.group_id))
}

pub async fn get(app: &App, raw_group: &str) -> Result<Response<Body>, ApiError> {
    let group = app.store.get_group(&parse_group_id(raw_group)?).await?.ok_or_else(no_such_group)?;
    json(StatusCode::OK, &group.to_json())
}

/// Groups by name.
pub async fn list(app: &App, req: &Request, scope: Scope) -> Result<Response<Body>, ApiError> {
    let request = PageRequest::from_request(app, req, scope)?;
    let page = app.store.list_groups(request.limit, request.start.clone()).await?;
    request.respond(app, page, Group::to_json)
}

/// The group's customers, by customer id. Only an empty page reads the group, to tell an
/// empty group from an unknown one.
pub async fn members(app: &App, req: &Request, raw_group: &str, scope: Scope) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    let request = PageRequest::from_request(app, req, scope)?;
    let page = app.store.list_members(&group, request.limit, request.start.clone()).await?;
    if page.items.is_empty() {
        app.store.get_group(&group).await?.ok_or_else(no_such_group)?;
    }
    request.respond(app, page, |c| c.to_json(Audience::Staff))
}

/// Adds the customer to the group; adding a member again changes nothing. 204 either way.
pub async fn add(app: &App, raw_group: &str, raw_customer: &str) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    let customer = CustomerId::parse(raw_customer).ok_or_else(no_such_customer)?;
    match app.store.add_member(&group, &customer, app.clock.now()).await? {
        MembershipOutcome::Added | MembershipOutcome::AlreadyMember => no_content(),
        MembershipOutcome::NoGroup => Err(no_such_group()),
        MembershipOutcome::NoCustomer => Err(no_such_customer()),
    }
}

/// Removes the customer from the group; 404 when they were not a member.
pub async fn remove(app: &App, raw_group: &str, raw_customer: &str) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    let customer = CustomerId::parse(raw_customer).ok_or_else(no_such_customer)?;
    if app.store.remove_member(&group, &customer).await? {
        no_content()
    } else {
        Err(ApiError::NotFound("the customer is not in this group".into()))
    }
}
