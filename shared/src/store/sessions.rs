//! Sessions: one item per signed-in device, in the owner's partition, so listing a user's
//! sessions is one `Query` and erasing a customer takes them along. The refresh token is stored
//! only as a hash; `previous_refresh_hash` and `rotated_at` let a racing second refresh within
//! the grace window succeed, and reuse of anything older revoke the session.

use serde::{Deserialize, Serialize};

use super::keys::{self, entity};
use super::{Store, StoreError, n, s};
use crate::auth::Role;
use crate::domain::SessionId;
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: SessionId,
    pub owner_id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub refresh_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_refresh_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
    /// Bumped on every rotation; conditions on it keep concurrent rotations apart.
    pub generation: u64,
    #[serde(default)]
    pub revoked: bool,
}

impl SessionRecord {
    /// The partition that owns the session: the customer's partition for customers.
    pub fn owner_pk(role: Role, owner_id: &str) -> String {
        match role {
            Role::Customer => format!("CUSTOMER#{owner_id}"),
            Role::Staff | Role::Admin => format!("STAFF#{owner_id}"),
        }
    }
}

impl Store {
    pub async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let mut item: super::Item = serde_dynamo::to_item(session)?;
        item.insert(
            keys::PK.into(),
            s(SessionRecord::owner_pk(session.role, &session.owner_id)),
        );
        item.insert(keys::SK.into(), s(keys::session_sk(&session.session_id)));
        item.insert(keys::ENTITY.into(), s(entity::SESSION));
        // Kept a day past expiry so a late replay is still recognised as one, then gone.
        item.insert(keys::TTL.into(), n(session.expires_at.unix() + 86_400));
        let out = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .return_consumed_capacity(Self::CAPACITY)
            .send()
            .await
            .map_err(StoreError::backend)?;
        self.meter().write(out.consumed_capacity());
        Ok(())
    }

    pub async fn get_session(
        &self,
        role: Role,
        owner_id: &str,
        session_id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(keys::PK, s(SessionRecord::owner_pk(role, owner_id)))
            .key(keys::SK, s(keys::session_sk(session_id)))
            .consistent_read(true)
            .return_consumed_capacity(Self::CAPACITY)
            .send()
            .await
            .map_err(StoreError::backend)?;
        self.meter().read(out.consumed_capacity());
        out.item
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(StoreError::from)
    }
}
