//! Staff accounts: the item in its own partition (with its sessions), a sentinel that keeps
//! emails unique, and GSI4 (`STAFF`, newest first) for the admin list.

use super::keys::{self, entity};
use super::table::{AtVersion, sentinel};
use super::{Item, Page, PageToken, Store, StoreError, UniqueField, s, string_attr};
use crate::domain::EmailAddress;
use crate::domain::staff::{StaffId, StaffMember};

fn staff_item(staff: &StaffMember) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(staff)?;
    item.insert(keys::PK.into(), s(keys::staff_pk(&staff.staff_id)));
    item.insert(keys::SK.into(), s(keys::PROFILE_SK));
    item.insert(keys::ENTITY.into(), s(entity::STAFF));
    item.insert(keys::GSI4_PK.into(), s(keys::STAFF_LIST));
    item.insert(keys::GSI4_SK.into(), s(format!("{}#{}", staff.created_at.to_rfc3339(), staff.staff_id)));
    Ok(item)
}

impl Store {
    /// Creates the account and its email sentinel in one transaction; `Taken(Email)` when the
    /// email belongs to another staff member.
    pub async fn create_staff(&self, staff: &StaffMember) -> Result<(), StoreError> {
        let sentinel = sentinel(&keys::staff_email_key(&staff.email), "staff_id", staff.staff_id.as_str());
        self.create_with_sentinel(staff_item(staff)?, sentinel, UniqueField::Email).await
    }

    pub async fn get_staff(&self, id: &StaffId) -> Result<Option<StaffMember>, StoreError> {
        self.get_typed(keys::staff_pk(id), keys::PROFILE_SK).await
    }

    pub async fn find_staff_by_email(&self, email: &EmailAddress) -> Result<Option<StaffMember>, StoreError> {
        let sentinel = self.get_raw(keys::unique_pk(&keys::staff_email_key(email)), keys::UNIQUE_SK).await?;
        match sentinel.as_ref().and_then(|item| string_attr(item, "staff_id")).and_then(StaffId::parse) {
            Some(id) => self.get_staff(&id).await,
            None => Ok(None),
        }
    }

    /// Newest first, `limit` at a time. Asks for one more than a page so a full last page does
    /// not come with a cursor to an empty one.
    pub async fn list_staff(&self, limit: i32, start: Option<PageToken>) -> Result<Page<StaffMember>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name("GSI4")
            .key_condition_expression("GSI4PK = :staff")
            .expression_attribute_values(":staff", s(keys::STAFF_LIST))
            .scan_index_forward(false);
        self.query_page(query, limit, start, &[keys::PK, keys::SK, keys::GSI4_PK, keys::GSI4_SK]).await?.typed()
    }

    /// Writes `next` over `current` if nobody changed the account meanwhile.
    pub async fn replace_staff(
        &self,
        current: &StaffMember,
        next: &mut StaffMember,
        now: crate::time::Timestamp,
    ) -> Result<(), StoreError> {
        next.version = current.version + 1;
        next.updated_at = now;
        let result =
            self.call_if(self.client().put_item().set_item(Some(staff_item(next)?)).at_version(current.version)).await;
        result?.map(|_| ()).ok_or(StoreError::VersionConflict)
    }
}
