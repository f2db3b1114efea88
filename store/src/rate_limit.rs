//! Fixed-window counters in DynamoDB, so limits hold across Lambda instances. Each window is one
//! item that expires by TTL after the window ends.

use super::keys::{self, entity};
use super::{Store, StoreError, n, s};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit; the window ends in this many seconds.
    Limited {
        retry_after: u64,
    },
}

impl Store {
    /// Counts one hit for `subject` in the current window of `window_seconds`, unless the window
    /// already has `limit` hits.
    pub async fn hit_rate_window(
        &self,
        scope: &str,
        subject: &str,
        limit: u32,
        window_seconds: i64,
        now: i64,
    ) -> Result<RateDecision, StoreError> {
        let window_start = now - now.rem_euclid(window_seconds);
        let window_end = window_start + window_seconds;
        let result = self
            .call_if(
                self.client()
                    .update_item()
                    .key(keys::PK, s(keys::rate_pk(scope, subject)))
                    .key(keys::SK, s(window_start.to_string()))
                    .update_expression("ADD hits :one SET #entity = :entity, #ttl = :ttl")
                    .condition_expression("attribute_not_exists(hits) OR hits < :limit")
                    .expression_attribute_names("#entity", keys::ENTITY)
                    .expression_attribute_names("#ttl", keys::TTL)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":entity", s(entity::RATE_WINDOW))
                    .expression_attribute_values(":ttl", n(window_end + 60))
                    .expression_attribute_values(":limit", n(limit)),
            )
            .await;
        Ok(match result? {
            Some(_) => RateDecision::Allowed,
            None => RateDecision::Limited { retry_after: (window_end - now).max(1) as u64 },
        })
    }
}
