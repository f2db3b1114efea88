//! The customer write path: the ONE place that writes customer items and their uniqueness
//! sentinels, plus the look-ups and the erase path. Later capabilities (search index entries,
//! statistics counters, carts, media) add their items in `creation_items`, `change_items` and
//! `erase`, so every customer write stays one transaction.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::keys::{self, entity};
use super::table::{AtVersion, TxError, backoff};
use super::{Item, Store, StoreError, UniqueField, n, s, string_attr};
use crate::domain::audit::{AuditEntry, AuditNote};
use crate::domain::customer::ActivityKind;
use crate::domain::{Customer, CustomerId, EmailAddress, PhoneE164, Username};
use crate::time::Timestamp;

/// Attempts for one logical create: username and id collisions pick new values, transaction
/// conflicts back off and retry.
const CREATE_ATTEMPTS: usize = 8;

impl Store {
    /// Creates the customer with its audit entry, choosing a free username and, on the
    /// astronomically rare id collision, a new id. Fails with `Taken(Phone | Email)` when
    /// another customer has them, and `Taken(Username)` when a username chosen by staff
    /// (`username_chosen`) is taken.
    pub async fn create_customer(
        &self,
        mut customer: Customer,
        note: &AuditNote,
        username_chosen: bool,
    ) -> Result<Customer, StoreError> {
        let base = customer.username.clone();
        if !username_chosen && self.unique_owner(&keys::username_key(&base)).await?.is_some() {
            customer.username = base.with_suffix();
        }
        for attempt in 0..CREATE_ATTEMPTS {
            match self.put_new_customer(&customer, note).await {
                Ok(()) => return Ok(customer),
                Err(TxError::Taken(UniqueField::Username)) if !username_chosen => {
                    customer.username = base.with_suffix()
                }
                Err(TxError::Taken(UniqueField::CustomerId)) => customer.customer_id = CustomerId::generate(),
                Err(TxError::Taken(field)) => return Err(StoreError::Taken(field)),
                Err(TxError::Conflict) => backoff(attempt).await,
                Err(TxError::Condition) => return Err(StoreError::VersionConflict),
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Backend("could not create the customer after repeated conflicts".into()))
    }

    async fn put_new_customer(&self, customer: &Customer, note: &AuditNote) -> Result<(), TxError> {
        let (items, fields) = self.creation_items(customer, note)?;
        self.transact(items, &fields).await
    }

    /// Every item a new customer consists of, with the unique field each action guards.
    fn creation_items(
        &self,
        customer: &Customer,
        note: &AuditNote,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Option<UniqueField>>), StoreError> {
        let id = &customer.customer_id;
        let audit = AuditEntry::record(note, None, customer, customer.created_at);
        let mut items = vec![
            self.put_if_absent(customer_item(customer)?)?,
            self.put_if_absent(audit_item(id, customer.version, &audit)?)?,
        ];
        let mut fields = vec![Some(UniqueField::CustomerId), None];
        for (field, key) in unique_keys(customer) {
            items.push(self.put_if_absent(sentinel_item(&key, id))?);
            fields.push(Some(field));
        }
        Ok((items, fields))
    }

    /// Writes `next` over `current` if nobody changed the customer meanwhile (`version`), with
    /// its audit entry, swapping phone and email sentinels in the same transaction when they
    /// change. Sets `next.version` and `next.updated_at`.
    pub async fn replace_customer(
        &self,
        current: &Customer,
        next: &mut Customer,
        now: Timestamp,
        note: &AuditNote,
    ) -> Result<(), StoreError> {
        next.version = current.version + 1;
        next.updated_at = now;
        let (mut items, mut fields) = self.change_items(current, next)?;
        let audit = AuditEntry::record(note, Some(current), next, now);
        items.push(self.put_if_absent(audit_item(&current.customer_id, next.version, &audit)?)?);
        fields.push(None);
        for attempt in 0..CREATE_ATTEMPTS {
            match self.transact(items.clone(), &fields).await {
                Ok(()) => return Ok(()),
                Err(TxError::Taken(field)) => return Err(StoreError::Taken(field)),
                Err(TxError::Condition) => return Err(StoreError::VersionConflict),
                Err(TxError::Conflict) => backoff(attempt).await,
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::VersionConflict)
    }

    fn change_items(
        &self,
        current: &Customer,
        next: &Customer,
    ) -> Result<(Vec<TransactWriteItem>, Vec<Option<UniqueField>>), StoreError> {
        let id = &current.customer_id;
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(customer_item(next)?))
            .at_version(current.version)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        let mut fields = vec![None];
        let before = unique_keys(current);
        let after = unique_keys(next);
        for (_, key) in &before {
            if !after.iter().any(|(_, k)| k == key) {
                items.push(self.delete_owned_sentinel(key, id)?);
                fields.push(None);
            }
        }
        for (field, key) in &after {
            if !before.iter().any(|(_, k)| k == key) {
                items.push(self.put_if_absent(sentinel_item(key, id))?);
                fields.push(Some(*field));
            }
        }
        Ok((items, fields))
    }

    /// Marks a login: `last_login_at`, `phone_verified`, a new version. Only active customers
    /// may log in; returns the updated customer, or `None` when it is not active (or gone).
    pub async fn record_login(&self, id: &CustomerId, now: Timestamp) -> Result<Option<Customer>, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .update_expression("SET last_login_at = :now, updated_at = :now, phone_verified = :true ADD version :one")
            .condition_expression("attribute_exists(PK) AND #status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":active", s("active"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_consumed_capacity(Self::CAPACITY)
            .send()
            .await;
        match self.conditional(result)? {
            Some(out) => {
                let item = out.attributes.ok_or_else(|| StoreError::Malformed("update returned no item".into()))?;
                Ok(Some(serde_dynamo::from_item(item)?))
            }
            None => Ok(None),
        }
    }

    /// Counts an activity with an atomic `ADD`, so concurrent activities never lose a count.
    /// Only active customers record activity, and a loan can only close while one is open.
    /// Returns the updated customer, or `None` when a condition failed (the caller re-reads
    /// to say which).
    pub async fn record_activity(
        &self,
        id: &CustomerId,
        kind: ActivityKind,
        now: Timestamp,
    ) -> Result<Option<Customer>, StoreError> {
        let mut condition = "attribute_exists(PK) AND #status = :active".to_string();
        if kind == ActivityKind::LoanClosed {
            condition.push_str(" AND active_loans > :zero");
        }
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .update_expression("SET updated_at = :now ADD #counter :delta, version :one")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#counter", kind.counter())
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":delta", n(kind.delta()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":active", s("active"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_consumed_capacity(Self::CAPACITY);
        if kind == ActivityKind::LoanClosed {
            request = request.expression_attribute_values(":zero", n(0));
        }
        match self.conditional(request.send().await)? {
            Some(out) => {
                let item = out.attributes.ok_or_else(|| StoreError::Malformed("update returned no item".into()))?;
                Ok(Some(serde_dynamo::from_item(item)?))
            }
            None => Ok(None),
        }
    }

    pub async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        self.get_typed(keys::customer_pk(id), keys::PROFILE_SK).await
    }

    /// Read-after-write consistent look-up by phone: the GSI first (cheap, eventually
    /// consistent), then the sentinel with a consistent read when the GSI has not caught up.
    pub async fn find_customer_by_phone(&self, phone: &PhoneE164) -> Result<Option<Customer>, StoreError> {
        let key = keys::phone_key(phone);
        let matches = |c: &Customer| c.phone.as_ref() == Some(phone);
        self.find_by_unique(keys::GSI_PHONE, &key, matches).await
    }

    pub async fn find_customer_by_email(&self, email: &EmailAddress) -> Result<Option<Customer>, StoreError> {
        let key = keys::email_key(email);
        let matches = |c: &Customer| c.email.as_ref() == Some(email);
        self.find_by_unique(keys::GSI_EMAIL, &key, matches).await
    }

    pub async fn find_customer_by_username(&self, username: &Username) -> Result<Option<Customer>, StoreError> {
        let key = keys::username_key(username);
        let matches = |c: &Customer| &c.username == username;
        self.find_by_unique(keys::GSI_USERNAME, &key, matches).await
    }

    async fn find_by_unique(
        &self,
        index: &str,
        value_key: &str,
        matches: impl Fn(&Customer) -> bool,
    ) -> Result<Option<Customer>, StoreError> {
        if let Some(id) = self.index_owner(index, value_key).await?
            && let Some(customer) = self.get_customer(&id).await?
            && matches(&customer)
        {
            return Ok(Some(customer));
        }
        // The GSI lags behind writes (or the value moved): the sentinel is authoritative.
        match self.unique_owner(value_key).await? {
            Some(id) => Ok(self.get_customer(&id).await?.filter(|c| matches(c))),
            None => Ok(None),
        }
    }

    async fn index_owner(&self, index: &str, value_key: &str) -> Result<Option<CustomerId>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", format!("{index}PK"))
            .expression_attribute_values(":pk", s(value_key))
            .limit(1)
            .return_consumed_capacity(Self::CAPACITY)
            .send()
            .await
            .map_err(StoreError::backend)?;
        self.meter().read(out.consumed_capacity());
        Ok(out.items().first().and_then(|item| string_attr(item, keys::PK)).and_then(keys::customer_id_from_pk))
    }

    async fn unique_owner(&self, value_key: &str) -> Result<Option<CustomerId>, StoreError> {
        let item = self.get_raw(keys::unique_pk(value_key), keys::UNIQUE_SK).await?;
        Ok(item.as_ref().and_then(|item| string_attr(item, "customer_id")).and_then(CustomerId::parse))
    }

    /// The ONE erase path: the customer, its sentinels and everything in its partition
    /// (sessions today; carts, media records and audit items as they arrive). The customer and
    /// its sentinels go in one transaction first, so the account is gone atomically; the rest of
    /// the partition follows in batches (and expires by TTL if this is interrupted).
    pub async fn erase_customer(&self, id: &CustomerId) -> Result<(), StoreError> {
        // The delete is conditional on the version read, so a concurrent email or phone change
        // cannot leave a sentinel behind: the erase re-reads and tries again instead.
        for attempt in 0..CREATE_ATTEMPTS {
            let customer = self.get_customer(id).await?.ok_or(StoreError::NotFound)?;
            let mut items = vec![self.delete_customer_at_version(&customer)?];
            let mut fields = vec![None];
            for (_, key) in unique_keys(&customer) {
                items.push(self.delete_owned_sentinel(&key, id)?);
                fields.push(None);
            }
            match self.transact(items, &fields).await {
                Ok(()) => return self.delete_prefix(&keys::customer_pk(id), None).await,
                Err(TxError::Conflict | TxError::Condition | TxError::Taken(_)) => backoff(attempt).await,
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::VersionConflict)
    }

    fn delete_customer_at_version(&self, customer: &Customer) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(&customer.customer_id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .at_version(customer.version)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Deletes a sentinel only while it still points at `owner`, so a stale writer can never
    /// free a value that another customer has taken since.
    fn delete_owned_sentinel(&self, value_key: &str, owner: &CustomerId) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::unique_pk(value_key)))
            .key(keys::SK, s(keys::UNIQUE_SK))
            .condition_expression("attribute_not_exists(PK) OR customer_id = :owner")
            .expression_attribute_values(":owner", s(owner.as_str()))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

fn customer_item(customer: &Customer) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(customer)?;
    let id = &customer.customer_id;
    item.insert(keys::PK.into(), s(keys::customer_pk(id)));
    item.insert(keys::SK.into(), s(keys::PROFILE_SK));
    item.insert(keys::ENTITY.into(), s(entity::CUSTOMER));
    // Sparse indexes: a customer without an email simply has no GSI2 keys (never NULL).
    if let Some(phone) = &customer.phone {
        item.insert(keys::GSI1_PK.into(), s(keys::phone_key(phone)));
        item.insert(keys::GSI1_SK.into(), s(keys::PROFILE_SK));
    }
    if let Some(email) = &customer.email {
        item.insert(keys::GSI2_PK.into(), s(keys::email_key(email)));
        item.insert(keys::GSI2_SK.into(), s(keys::PROFILE_SK));
    }
    item.insert(keys::GSI3_PK.into(), s(keys::username_key(&customer.username)));
    item.insert(keys::GSI3_SK.into(), s(keys::PROFILE_SK));
    item.insert(keys::GSI4_PK.into(), s(keys::status_partition(customer.status.as_str())));
    item.insert(keys::GSI4_SK.into(), s(format!("{}#{}", customer.created_at.to_rfc3339(), id)));
    Ok(item)
}

/// Audit entries live in the customer's partition (so the erase path takes them along), keyed
/// by the version the change produced: unique, and in the order the changes happened.
fn audit_item(id: &CustomerId, version: u64, entry: &AuditEntry) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(entry)?;
    item.insert(keys::PK.into(), s(keys::customer_pk(id)));
    item.insert(keys::SK.into(), s(keys::audit_sk(version)));
    item.insert(keys::ENTITY.into(), s(entity::AUDIT));
    Ok(item)
}

fn sentinel_item(value_key: &str, owner: &CustomerId) -> Item {
    Item::from([
        (keys::PK.to_string(), s(keys::unique_pk(value_key))),
        (keys::SK.to_string(), s(keys::UNIQUE_SK)),
        (keys::ENTITY.to_string(), s(entity::UNIQUE)),
        ("customer_id".to_string(), s(owner.as_str())),
    ])
}

/// The unique values a customer holds, as sentinel keys, with the field each one guards.
fn unique_keys(customer: &Customer) -> Vec<(UniqueField, String)> {
    let mut keys = vec![(UniqueField::Username, keys::username_key(&customer.username))];
    if let Some(phone) = &customer.phone {
        keys.push((UniqueField::Phone, keys::phone_key(phone)));
    }
    if let Some(email) = &customer.email {
        keys.push((UniqueField::Email, keys::email_key(email)));
    }
    keys
}
