//! Sessions: one item per signed-in device, in the owner's partition (`CUSTOMER#…` or
//! `STAFF#…`), so listing them is one `Query` and erasing a customer takes them along.
//!
//! The item stores the SHA-256 of the current refresh token and its `generation`. A refresh
//! bumps the generation under a condition on the old one, so of two racing refreshes exactly one
//! rotates; the other, still within `rotated_at + grace`, is handed the same new token.
//! Revoking a session deletes the item; expired ones go by TTL.

use super::keys::{self, entity};
use super::{Store, StoreError, n, s};
use crate::domain::SessionId;
use crate::time::Timestamp;

pub use crate::domain::session::SessionRecord;
pub use keys::owner_pk;

impl Store {
    pub async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let mut item: super::Item = serde_dynamo::to_item(session)?;
        item.insert(keys::PK.into(), s(owner_pk(&session.owner_id)));
        item.insert(keys::SK.into(), s(keys::session_sk(&session.session_id)));
        item.insert(keys::ENTITY.into(), s(entity::SESSION));
        item.insert(keys::TTL.into(), n(session.expires_at.unix()));
        self.call(self.client().put_item().set_item(Some(item)).condition_expression("attribute_not_exists(PK)"))
            .await?;
        Ok(())
    }

    /// The session, unless it is gone or past its expiry (TTL deletion can lag by days).
    pub async fn get_session(
        &self,
        owner_id: &str,
        session_id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let session: Option<SessionRecord> = self.get_typed(owner_pk(owner_id), &keys::session_sk(session_id)).await?;
        Ok(session.filter(|s| s.expires_at > now))
    }

    /// Moves the session to `next_generation` if it is still at `session.generation`. `false`
    /// when a concurrent refresh rotated it first.
    pub async fn rotate_session(
        &self,
        session: &SessionRecord,
        next_generation: u64,
        next_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .call_if(
                self.client()
                    .update_item()
                    .key(keys::PK, s(owner_pk(&session.owner_id)))
                    .key(keys::SK, s(keys::session_sk(&session.session_id)))
                    .update_expression(
                        "SET refresh_hash = :hash, generation = :next, rotated_at = :now, last_used_at = :now",
                    )
                    .condition_expression("generation = :current")
                    .expression_attribute_values(":hash", s(next_hash))
                    .expression_attribute_values(":next", n(next_generation))
                    .expression_attribute_values(":current", n(session.generation))
                    .expression_attribute_values(":now", s(now.to_rfc3339())),
            )
            .await;
        Ok(result?.is_some())
    }

    /// Deletes one session; `false` when there was none.
    pub async fn delete_session(&self, owner_id: &str, session_id: &SessionId) -> Result<bool, StoreError> {
        let result = self
            .call_if(
                self.client()
                    .delete_item()
                    .key(keys::PK, s(owner_pk(owner_id)))
                    .key(keys::SK, s(keys::session_sk(session_id)))
                    .condition_expression("attribute_exists(PK)"),
            )
            .await;
        Ok(result?.is_some())
    }

    /// The owner's live sessions, newest first.
    pub async fn list_sessions(&self, owner_id: &str, now: Timestamp) -> Result<Vec<SessionRecord>, StoreError> {
        let items = self.query_prefix(&owner_pk(owner_id), Some(keys::SESSION_PREFIX), None).await?;
        let mut sessions: Vec<SessionRecord> =
            items.into_iter().map(serde_dynamo::from_item).collect::<Result<_, _>>()?;
        sessions.retain(|s| s.expires_at > now);
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(sessions)
    }

    /// Revokes every session of the owner.
    pub async fn delete_all_sessions(&self, owner_id: &str) -> Result<(), StoreError> {
        self.delete_prefix(&owner_pk(owner_id), Some(keys::SESSION_PREFIX)).await
    }
}
