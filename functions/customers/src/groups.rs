//! Customer groups and membership.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::App;
use shared::domain::customer::Audience;
use shared::domain::group::{Group, GroupInput};
use shared::domain::{CustomerId, GroupId};
use shared::http::cursor::page_limit;
use shared::http::{ApiError, json, no_content, parse_json_lenient};
use shared::store::groups::MembershipOutcome;
use shared::time::Timestamp;

use crate::common::{no_such_customer, query_param, with_shape_errors};

fn no_such_group() -> ApiError {
    ApiError::NotFound("no such group".into())
}

fn parse_group_id(raw: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(raw).ok_or_else(no_such_group)
}

pub async fn create(app: &App, req: &Request, actor: &str) -> Result<Response<Body>, ApiError> {
    let (input, shape) = parse_json_lenient::<GroupInput>(req)?;
    let group = with_shape_errors(&shape, input.into_group(actor, Timestamp::now()))?;
    app.store.create_group(&group).await.map_err(|err| match err {
        shared::store::StoreError::Taken(_) => {
            ApiError::Conflict { detail: "another group has this name".into(), field: Some("name") }
        }
        other => other.into(),
    })?;
    let mut response = json(StatusCode::CREATED, &group.to_json())?;
    if let Ok(location) = format!("/v1/groups/{}", group.group_id).parse() {
        response.headers_mut().insert(http::header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get(app: &App, raw_group: &str) -> Result<Response<Body>, ApiError> {
    let group = app.store.get_group(&parse_group_id(raw_group)?).await?.ok_or_else(no_such_group)?;
    json(StatusCode::OK, &group.to_json())
}

/// Groups by name.
pub async fn list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let limit = page_limit(query_param(req, "limit").as_deref())?;
    let scope = "GET /v1/groups";
    let start = query_param(req, "cursor").map(|c| app.cursor_signer.decode(scope, &c)).transpose()?;
    let page = app.store.list_groups(limit, start).await?;
    let next_cursor = page.last_key.map(|key| app.cursor_signer.encode(scope, &key));
    let items: Vec<_> = page.items.iter().map(Group::to_json).collect();
    json(StatusCode::OK, &json!({ "items": items, "next_cursor": next_cursor }))
}

/// The group's customers, by customer id.
pub async fn members(app: &App, req: &Request, raw_group: &str) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    app.store.get_group(&group).await?.ok_or_else(no_such_group)?;
    let limit = page_limit(query_param(req, "limit").as_deref())?;
    let scope = format!("GET /v1/groups/{group}/customers");
    let start = query_param(req, "cursor").map(|c| app.cursor_signer.decode(&scope, &c)).transpose()?;
    let page = app.store.list_members(&group, limit, start).await?;
    let next_cursor = page.last_key.map(|key| app.cursor_signer.encode(&scope, &key));
    let items: Vec<_> = page.items.iter().map(|c| c.to_json(Audience::Staff)).collect();
    json(StatusCode::OK, &json!({ "items": items, "next_cursor": next_cursor }))
}

/// Adds the customer to the group; adding a member again changes nothing. 204 either way.
pub async fn add(app: &App, raw_group: &str, raw_customer: &str) -> Result<Response<Body>, ApiError> {
    let group = parse_group_id(raw_group)?;
    let customer = CustomerId::parse(raw_customer).ok_or_else(no_such_customer)?;
    match app.store.add_member(&group, &customer, Timestamp::now()).await? {
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
