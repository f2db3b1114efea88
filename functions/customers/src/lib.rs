//! The `customers` function: the back office's customer records, their lifecycle and audit
//! trail, custom field definitions and groups.

mod bulk;
mod common;
mod fields;
mod groups;
mod idempotency;
mod lifecycle;
mod records;

use lambda_http::{Body, Response};
use shared::auth::roles::Access;
use shared::http::{ApiError, ApiFunction, Call, Route};

/// The `customers` function.
pub struct Customers;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Create,
    List,
    BulkUpdate,
    ByPhone,
    ByEmail,
    ByUsername,
    Get,
    Update,
    SoftDelete,
    HardDelete,
    ChangeStatus,
    Audit,
    VerifyEmail,
    VerifyPhone,
    Activity,
    ListFields,
    CreateField,
    GetField,
    ReplaceField,
    RetireField,
    CreateGroup,
    ListGroups,
    GetGroup,
    GroupMembers,
    AddMember,
    RemoveMember,
}

use Handler as H;

impl ApiFunction for Customers {
    type Handler = Handler;

    const NAME: &'static str = "customers";

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("POST", "/v1/customers", Access::Staff, H::Create),
        Route::new("GET", "/v1/customers", Access::Staff, H::List),
        Route::new("POST", "/v1/customers/bulk-update", Access::Staff, H::BulkUpdate),
        Route::new("GET", "/v1/customers/by-phone/{phone}", Access::Staff, H::ByPhone),
        Route::new("GET", "/v1/customers/by-email/{email}", Access::Staff, H::ByEmail),
        Route::new("GET", "/v1/customers/by-username/{username}", Access::Staff, H::ByUsername),
        Route::new("GET", "/v1/customers/{customer_id}", Access::Staff, H::Get),
        Route::new("PATCH", "/v1/customers/{customer_id}", Access::Staff, H::Update),
        Route::new("PUT", "/v1/customers/{customer_id}", Access::Staff, H::Update),
        Route::new("DELETE", "/v1/customers/{customer_id}", Access::Staff, H::SoftDelete),
        Route::new("DELETE", "/v1/customers/{customer_id}/hard", Access::Admin, H::HardDelete),
        Route::new("POST", "/v1/customers/{customer_id}/status", Access::Admin, H::ChangeStatus),
        Route::new("GET", "/v1/customers/{customer_id}/audit", Access::Admin, H::Audit),
        Route::new("POST", "/v1/customers/{customer_id}/verify-email", Access::Staff, H::VerifyEmail),
        Route::new("POST", "/v1/customers/{customer_id}/verify-phone", Access::Staff, H::VerifyPhone),
        Route::new("POST", "/v1/customers/{customer_id}/activity", Access::Staff, H::Activity),
        Route::new("GET", "/v1/fields", Access::Staff, H::ListFields),
        Route::new("POST", "/v1/fields", Access::Admin, H::CreateField),
        Route::new("GET", "/v1/fields/{key}", Access::Staff, H::GetField),
        Route::new("PUT", "/v1/fields/{key}", Access::Admin, H::ReplaceField),
        Route::new("DELETE", "/v1/fields/{key}", Access::Admin, H::RetireField),
        Route::new("POST", "/v1/groups", Access::Staff, H::CreateGroup),
        Route::new("GET", "/v1/groups", Access::Staff, H::ListGroups),
        Route::new("GET", "/v1/groups/{group_id}", Access::Staff, H::GetGroup),
        Route::new("GET", "/v1/groups/{group_id}/customers", Access::Staff, H::GroupMembers),
        Route::new("PUT", "/v1/groups/{group_id}/customers/{customer_id}", Access::Staff, H::AddMember),
        Route::new("DELETE", "/v1/groups/{group_id}/customers/{customer_id}", Access::Staff, H::RemoveMember),
    ];

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        let (app, req) = (call.app, call.req);
        let actor = call.actor()?;
        let id = || call.param("customer_id");
        match call.matched.route.handler {
            H::Create => records::create(app, req, actor, &call.scope()).await,
            H::List => records::list(app, req, call.scope()).await,
            H::BulkUpdate => bulk::bulk_update(app, req, actor, &call.scope()).await,
            H::ByPhone => records::by_phone(app, call.param("phone")).await,
            H::ByEmail => records::by_email(app, call.param("email")).await,
            H::ByUsername => records::by_username(app, call.param("username")).await,
            H::Get => records::get(app, id()).await,
            H::Update => records::update(app, req, actor, id()).await,
            H::SoftDelete => lifecycle::soft_delete(app, actor, id()).await,
            H::HardDelete => records::hard_delete(app, actor, id()).await,
            H::ChangeStatus => lifecycle::change_status(app, req, actor, id()).await,
            H::Audit => lifecycle::audit(app, req, id(), call.scope()).await,
            H::VerifyEmail => lifecycle::verify(app, actor, id(), shared::domain::customer::ContactKind::Email).await,
            H::VerifyPhone => lifecycle::verify(app, actor, id(), shared::domain::customer::ContactKind::Phone).await,
            H::Activity => lifecycle::activity(app, req, id()).await,
            H::ListFields => fields::list(app, req).await,
            H::CreateField => fields::create(app, req).await,
            H::GetField => fields::get(app, call.param("key")).await,
            H::ReplaceField => fields::replace(app, req, call.param("key")).await,
            H::RetireField => fields::retire(app, call.param("key")).await,
            H::CreateGroup => groups::create(app, req, actor).await,
            H::ListGroups => groups::list(app, req, call.scope()).await,
            H::GetGroup => groups::get(app, call.param("group_id")).await,
            H::GroupMembers => groups::members(app, req, call.param("group_id"), call.scope()).await,
            H::AddMember => groups::add(app, call.param("group_id"), id()).await,
            H::RemoveMember => groups::remove(app, call.param("group_id"), id()).await,
        }
    }
}
