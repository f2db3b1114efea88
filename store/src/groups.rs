//! Groups and membership. A group is its own item (listed through GSI4 `GROUPS` by name) with a
//! name sentinel; a membership lives in the customer's partition (so erasing the customer takes
//! it along) and is listed per group through GSI1 (`GROUP#<id>`).

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::keys::{self, entity};
use super::table::{TxError, sentinel};
use super::{Item, Page, PageToken, Store, StoreError, UniqueField, s, string_attr};
use crate::domain::group::Group;
use crate::domain::{Customer, CustomerId, GroupId};
use crate::time::Timestamp;

/// Why a membership could not be added.
#[derive(Debug, PartialEq, Eq)]
pub enum MembershipOutcome {
    Added,
    AlreadyMember,
    NoGroup,
    NoCustomer,
}

fn group_item(group: &Group) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(group)?;
    item.insert(keys::PK.into(), s(keys::group_pk(&group.group_id)));
    item.insert(keys::SK.into(), s(keys::GROUP_SK));
    item.insert(keys::ENTITY.into(), s(entity::GROUP));
    item.insert(keys::GSI4_PK.into(), s(keys::GROUP_LIST));
    item.insert(keys::GSI4_SK.into(), s(format!("{}#{}", group.name_key(), group.group_id)));
    Ok(item)
}

fn membership_item(group: &GroupId, customer: &CustomerId, now: Timestamp) -> Item {
    Item::from([
        (keys::PK.to_string(), s(keys::customer_pk(customer))),
        (keys::SK.to_string(), s(keys::member_sk(group))),
        (keys::ENTITY.to_string(), s(entity::MEMBERSHIP)),
        (keys::GSI1_PK.to_string(), s(keys::group_pk(group))),
        (keys::GSI1_SK.to_string(), s(customer.as_str())),
        ("group_id".to_string(), s(group.as_str())),
        ("customer_id".to_string(), s(customer.as_str())),
        ("added_at".to_string(), s(now.to_rfc3339())),
    ])
}

impl Store {
    /// Creates the group and its name sentinel in one transaction; `Taken(GroupName)` when
    /// another group has the name (in any case).
    pub async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
        let sentinel = sentinel(&keys::group_name_key(&group.name_key()), "group_id", group.group_id.as_str());
        self.create_with_sentinel(group_item(group)?, sentinel, UniqueField::GroupName).await
    }

    pub async fn get_group(&self, id: &GroupId) -> Result<Option<Group>, StoreError> {
        self.get_typed(keys::group_pk(id), keys::GROUP_SK).await
    }

    /// Groups by name, `limit` at a time.
    pub async fn list_groups(&self, limit: i32, start: Option<PageToken>) -> Result<Page<Group>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name("GSI4")
            .key_condition_expression("GSI4PK = :groups")
            .expression_attribute_values(":groups", s(keys::GROUP_LIST));
        self.query_page(query, limit, start, &[keys::PK, keys::SK, keys::GSI4_PK, keys::GSI4_SK]).await?.typed()
    }

    /// Adds the customer to the group: one transaction that checks both exist and writes the
    /// membership only if it is new.
    pub async fn add_member(
        &self,
        group: &GroupId,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<MembershipOutcome, StoreError> {
        let items = vec![
            self.must_exist(keys::group_pk(group), keys::GROUP_SK)?,
            self.must_exist(keys::customer_pk(customer), keys::PROFILE_SK)?,
            self.put_if_absent(membership_item(group, customer, now))?,
        ];
        for _ in 0..5 {
            match self.transact(items.clone(), &[None, None, None]).await {
                Ok(()) => return Ok(MembershipOutcome::Added),
                // Which condition failed: the cancellation says only that one did.
                Err(TxError::Condition | TxError::Taken(_)) => {
                    return Ok(if self.get_group(group).await?.is_none() {
                        MembershipOutcome::NoGroup
                    } else if self.get_customer(customer).await?.is_none() {
                        MembershipOutcome::NoCustomer
                    } else {
                        MembershipOutcome::AlreadyMember
                    });
                }
                Err(TxError::Conflict) => continue,
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::VersionConflict)
    }

    /// Removes the membership; `false` when the customer was not a member.
    pub async fn remove_member(&self, group: &GroupId, customer: &CustomerId) -> Result<bool, StoreError> {
        let out = self
            .call(
                self.client()
                    .delete_item()
                    .key(keys::PK, s(keys::customer_pk(customer)))
                    .key(keys::SK, s(keys::member_sk(group)))
                    .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld),
            )
            .await?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }

    /// The group's members by customer id, `limit` at a time. GSI1 gives the ids; one
    /// `BatchGetItem` reads the customers.
    pub async fn list_members(
        &self,
        group: &GroupId,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page<Customer>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(keys::GSI_PHONE)
            .key_condition_expression("GSI1PK = :group")
            .expression_attribute_values(":group", s(keys::group_pk(group)));
        let page = self.query_page(query, limit, start, &[keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK]).await?;
        let ids: Vec<CustomerId> = page
            .items
            .iter()
            .filter_map(|item| string_attr(item, keys::GSI1_SK))
            .filter_map(CustomerId::parse)
            .collect();
        Ok(Page { items: self.batch_get_customers(&ids, false).await?, next: page.next })
    }

    fn must_exist(&self, pk: String, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
