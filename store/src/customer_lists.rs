//! Customer lists: newest first by status (GSI4), and a customer's audit trail. Every read is
//! bounded by the page size, never by the number of customers.

use futures::future::try_join_all;

use super::keys::{self, entity};
use super::table::SortKeyRange;
use super::{Item, Page, PageToken, Store, StoreError, s, string_attr};
use crate::domain::audit::AuditEntry;
use crate::domain::{Customer, CustomerId, CustomerStatus};

impl Store {
    /// Newest first across `statuses`, continuing below `before` (a GSI4 sort key). Each status
    /// is its own GSI4 partition; they are read in parallel, `limit + 1` each, and merged, so a
    /// page costs at most `statuses × (limit + 1)` items whatever the table holds.
    pub async fn list_customers(
        &self,
        statuses: &[CustomerStatus],
        limit: usize,
        start: Option<PageToken>,
    ) -> Result<Page<Customer>, StoreError> {
        let before = match &start {
            Some(token) => Some(token.get(keys::GSI4_SK).ok_or(StoreError::BadPageToken)?),
            None => None,
        };
        let queries = statuses.iter().map(|status| self.status_page(*status, limit + 1, before));
        let mut merged: Vec<(String, Item)> = try_join_all(queries).await?.into_iter().flatten().collect();
        merged.sort_by(|a, b| b.0.cmp(&a.0));
        let more = merged.len() > limit;
        merged.truncate(limit);
        let next = match merged.last() {
            Some((position, _)) if more => Some(PageToken::single(keys::GSI4_SK, position.clone())),
            _ => None,
        };
        let items = merged.into_iter().map(|(_, item)| serde_dynamo::from_item(item)).collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    async fn status_page(
        &self,
        status: CustomerStatus,
        limit: usize,
        before: Option<&str>,
    ) -> Result<Vec<(String, Item)>, StoreError> {
        let mut request = self
            .client()
            .query()
            .index_name("GSI4")
            .expression_attribute_values(":status", s(keys::status_partition(status.as_str())))
            .scan_index_forward(false)
            .limit(limit as i32);
        request = match before {
            Some(position) => request
                .key_condition_expression("GSI4PK = :status AND GSI4SK < :before")
                .expression_attribute_values(":before", s(position)),
            None => request.key_condition_expression("GSI4PK = :status"),
        };
        let out = self.call(request).await?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter(|item| string_attr(item, keys::ENTITY) == Some(entity::CUSTOMER))
            .filter_map(|item| string_attr(&item, keys::GSI4_SK).map(str::to_string).map(|position| (position, item)))
            .collect())
    }

    /// The audit trail, newest first.
    pub async fn list_audit(
        &self,
        id: &CustomerId,
        limit: i32,
        start: Option<PageToken>,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let query = SortKeyRange::Prefix(keys::AUDIT_PREFIX.into())
            .condition(self.client().query(), &keys::customer_pk(id))
            .scan_index_forward(false);
        self.query_page(query, limit, start, &[keys::PK, keys::SK]).await?.typed()
    }
}
