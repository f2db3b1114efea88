//! Everything held about one customer, read for the customer's own copy (`GET /v1/me/export`):
//! the customer's partition in one consistent `Query` (profile, sessions, cart, memberships,
//! audit trail), and the names of the groups it belongs to.

use super::keys;
use super::sessions::SessionRecord;
use super::{Item, Store, StoreError, string_attr};
use crate::domain::audit::AuditEntry;
use crate::domain::group::Group;
use crate::domain::{Customer, CustomerId, GroupId};
use crate::time::Timestamp;

/// A customer's records, as stored.
pub struct PersonalData {
    pub customer: Customer,
    pub sessions: Vec<SessionRecord>,
    /// The groups the customer belongs to (absent when a group is gone), and since when.
    pub memberships: Vec<(GroupId, Option<Group>, Option<Timestamp>)>,
    /// Oldest first.
    pub audit: Vec<AuditEntry>,
}

impl Store {
    /// `None` when the customer does not exist (or was erased).
    pub async fn personal_data(&self, id: &CustomerId) -> Result<Option<PersonalData>, StoreError> {
        let items = self.query_prefix(&keys::customer_pk(id), None, None).await?;
        let mut customer = None;
        let mut sessions = Vec::new();
        let mut members: Vec<(GroupId, Option<Timestamp>)> = Vec::new();
        let mut audit = Vec::new();
        for item in items {
            let sk = string_attr(&item, keys::SK).unwrap_or_default().to_string();
            if sk == keys::PROFILE_SK {
                customer = Some(serde_dynamo::from_item::<Item, Customer>(item)?);
            } else if sk.starts_with(keys::SESSION_PREFIX) {
                sessions.push(serde_dynamo::from_item(item)?);
            } else if let Some(group) = sk.strip_prefix(keys::MEMBER_PREFIX).and_then(GroupId::parse) {
                members.push((group, string_attr(&item, "added_at").and_then(Timestamp::parse)));
            } else if sk.starts_with(keys::AUDIT_PREFIX) {
                audit.push(serde_dynamo::from_item(item)?);
            }
        }
        let Some(customer) = customer else { return Ok(None) };
        // The groups in parallel: one round trip whatever the number of memberships.
        let details = futures::future::try_join_all(members.iter().map(|(group, _)| self.get_group(group))).await?;
        let memberships =
            members.into_iter().zip(details).map(|((group, since), details)| (group, details, since)).collect();
        Ok(Some(PersonalData { customer, sessions, memberships, audit }))
    }
}
