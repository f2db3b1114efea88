//! Customer groups and their members as use cases.

use store::groups::MembershipOutcome;
use store::{Page, PageToken, StoreError};

use crate::App;
use crate::domain::group::Group;
use crate::domain::{Customer, CustomerId, GroupId};

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("no such group")]
    NoSuchGroup,
    #[error("no such customer")]
    NoSuchCustomer,
    #[error("the customer is not in this group")]
    NotAMember,
    #[error("another group has this name")]
    NameTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a new group; group names are unique.
pub async fn create(app: &App, group: &Group) -> Result<(), GroupError> {
    app.store.create_group(group).await.map_err(|err| match err {
        StoreError::Taken(_) => GroupError::NameTaken,
        other => other.into(),
    })
}

pub async fn get(app: &App, id: &GroupId) -> Result<Group, GroupError> {
    app.store.get_group(id).await?.ok_or(GroupError::NoSuchGroup)
}

/// Groups by name.
pub async fn list(app: &App, limit: i32, start: Option<PageToken>) -> Result<Page<Group>, GroupError> {
    Ok(app.store.list_groups(limit, start).await?)
}

/// The group's customers, by customer id. Only an empty page reads the group, to tell an
/// empty group from an unknown one.
pub async fn members(
    app: &App,
    group: &GroupId,
    limit: i32,
    start: Option<PageToken>,
) -> Result<Page<Customer>, GroupError> {
    let page = app.store.list_members(group, limit, start).await?;
    if page.items.is_empty() {
        get(app, group).await?;
    }
    Ok(page)
}

/// Adds the customer to the group; adding a member again changes nothing.
pub async fn add(app: &App, group: &GroupId, customer: &CustomerId) -> Result<(), GroupError> {
    match app.store.add_member(group, customer, app.clock.now()).await? {
        MembershipOutcome::Added | MembershipOutcome::AlreadyMember => Ok(()),
        MembershipOutcome::NoGroup => Err(GroupError::NoSuchGroup),
        MembershipOutcome::NoCustomer => Err(GroupError::NoSuchCustomer),
    }
}

/// Removes the customer from the group; [`GroupError::NotAMember`] when they were not in it.
pub async fn remove(app: &App, group: &GroupId, customer: &CustomerId) -> Result<(), GroupError> {
    if app.store.remove_member(group, customer).await? { Ok(()) } else { Err(GroupError::NotAMember) }
}
