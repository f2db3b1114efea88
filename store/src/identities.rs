//! Customers' links to identity providers (`POST /v1/auth/oidc`): a link item in the
//! customer's partition per provider, and a sentinel per (provider, subject) so one provider
//! account signs in to one customer only. Linking and unlinking are written with a new version
//! of the customer and its audit entry, in one transaction.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::customers::{ExtraAction, sentinel_item};
use super::keys::{self, entity};
use super::{Item, Store, StoreError, UniqueField, s, string_attr};
use crate::domain::audit::AuditNote;
use crate::domain::{Customer, CustomerId};
use crate::time::Timestamp;

/// One link, as stored and as `GET /v1/me/identities` shows it (without the subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    pub provider: String,
    pub subject: String,
    /// The provider's email for the account when the link was made, if it said one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub linked_at: Timestamp,
}

impl IdentityLink {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"provider": self.provider, "email": self.email, "linked_at": self.linked_at})
    }
}

/// What [`Store::change_identity`] does to a customer's link to a provider account.
#[derive(Debug, Clone, Copy)]
pub enum IdentityChange<'a> {
    Link(&'a IdentityLink),
    Unlink(&'a IdentityLink),
}

impl Store {
    /// The customer linked to `subject` at `provider`, read consistently from the sentinel.
    pub async fn identity_owner(&self, provider: &str, subject: &str) -> Result<Option<CustomerId>, StoreError> {
        let item = self.get_raw(keys::unique_pk(&keys::identity_key(provider, subject)), keys::UNIQUE_SK).await?;
        Ok(item.as_ref().and_then(|item| string_attr(item, "customer_id")).and_then(CustomerId::parse))
    }

    pub async fn list_identities(&self, id: &CustomerId) -> Result<Vec<IdentityLink>, StoreError> {
        let items = self.query_prefix(&keys::customer_pk(id), Some(keys::IDENTITY_PREFIX), None).await?;
        items.into_iter().map(|item| Ok(serde_dynamo::from_item(item)?)).collect()
    }

    /// Creates `customer` already linked to `link`: `Taken(Identity)` when that provider
    /// account was linked meanwhile, `Taken(Email)` when the address was taken.
    pub async fn create_linked_customer(
        &self,
        customer: Customer,
        note: &AuditNote,
        link: &IdentityLink,
    ) -> Result<Customer, StoreError> {
        let extra = self.link_actions(&customer.customer_id, link)?;
        self.create_customer_with(customer, note, false, &extra).await
    }

    /// Links `current` to a provider account or removes its link (a new version of the customer,
    /// audited with `note`). Linking: `Taken(Identity)` when the provider account is someone's
    /// already; `VersionConflict` when the customer changed meanwhile or already has a link to
    /// that provider. Unlinking frees the account's sentinel.
    pub async fn change_identity(
        &self,
        current: &Customer,
        change: IdentityChange<'_>,
        note: &AuditNote,
        now: Timestamp,
    ) -> Result<Customer, StoreError> {
        let extra = match change {
            IdentityChange::Link(link) => self.link_actions(&current.customer_id, link)?,
            IdentityChange::Unlink(link) => self.unlink_actions(&current.customer_id, link)?,
        };
        self.next_version_with(current, note, now, &extra).await
    }

    /// The link item deleted (if it still names the same subject) and its sentinel freed.
    fn unlink_actions(&self, id: &CustomerId, link: &IdentityLink) -> Result<Vec<ExtraAction>, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(id)))
            .key(keys::SK, s(keys::identity_sk(&link.provider)))
            .condition_expression("attribute_exists(PK) AND subject = :subject")
            .expression_attribute_values(":subject", s(&link.subject))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(vec![
            (TransactWriteItem::builder().delete(delete).build(), None),
            (self.delete_owned_sentinel(&keys::identity_key(&link.provider, &link.subject), id)?, None),
        ])
    }

    /// A new version of `current`, audited with `note`, written with `extra` in its transaction.
    async fn next_version_with(
        &self,
        current: &Customer,
        note: &AuditNote,
        now: Timestamp,
        extra: &[ExtraAction],
    ) -> Result<Customer, StoreError> {
        let mut next = current.clone();
        self.replace_customer_with(current, &mut next, now, note, extra).await?;
        Ok(next)
    }

    /// The link item (new for this provider) and the sentinel (new for this subject).
    fn link_actions(&self, id: &CustomerId, link: &IdentityLink) -> Result<Vec<ExtraAction>, StoreError> {
        let mut item: Item = serde_dynamo::to_item(link)?;
        item.insert(keys::PK.into(), s(keys::customer_pk(id)));
        item.insert(keys::SK.into(), s(keys::identity_sk(&link.provider)));
        item.insert(keys::ENTITY.into(), s(entity::IDENTITY));
        let sentinel = sentinel_item(&keys::identity_key(&link.provider, &link.subject), id);
        Ok(vec![(self.put_if_absent(item)?, None), (self.put_if_absent(sentinel)?, Some(UniqueField::Identity))])
    }

    /// Frees the sentinels of an erased customer's links (the sweep then removes the links).
    pub(crate) async fn release_identity_sentinels(&self, id: &CustomerId) -> Result<(), StoreError> {
        for link in self.list_identities(id).await? {
            let key = keys::identity_key(&link.provider, &link.subject);
            let result = self
                .call_if(
                    self.client()
                        .delete_item()
                        .key(keys::PK, s(keys::unique_pk(&key)))
                        .key(keys::SK, s(keys::UNIQUE_SK))
                        .condition_expression("attribute_not_exists(PK) OR customer_id = :owner")
                        .expression_attribute_values(":owner", s(id.as_str())),
                )
                .await;
            result?;
        }
        Ok(())
    }
}
