//! Carts: ONE item per cart, its lines in a map keyed by product, with a `version` for
//! optimistic concurrency. A customer's cart is `CUSTOMER#<id>` / `CART` (so the erase path's
//! partition sweep takes it); a guest's is `GUEST#<sha256(token)>` / `CART` with a TTL 30 days
//! after its last change.
//!
//! One item per cart keeps a migration at 4 transaction actions however many lines the carts
//! hold (line-per-item would need one action per line and hit the 100-action limit), at the
//! price of rewriting the whole cart (ceil(size / 1 KB) WCU) on every change.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::keys::{self, entity};
use super::table::{AtVersion, TxError, backoff};
use super::{Item, Store, StoreError, n, number_attr, s};
use crate::domain::cart::{Cart, CartOwner, GUEST_CART_TTL_SECONDS, GuestToken};
use crate::domain::{CustomerId, ValidationErrors};
use crate::time::Timestamp;

/// Read-modify-write rounds before giving up on a cart that keeps changing underneath.
const WRITE_ATTEMPTS: usize = 10;

/// The outcome of moving a guest cart into a customer's.
#[derive(Debug)]
pub enum Migration {
    /// The guest lines are in; the customer's cart as saved.
    Moved(Cart),
    /// This customer migrated the token before (a retry): their cart as it is now, unchanged.
    AlreadyMoved(Cart),
    /// No guest cart for this token, or it went into another customer's cart.
    Unknown,
    /// The merged cart would break a cart rule; nothing changed.
    Refused(ValidationErrors),
}

/// Who received a migrated guest cart: a retry by the same customer is answered from it.
#[derive(Debug, Serialize, Deserialize)]
struct MigrationRecord {
    customer_id: CustomerId,
    migrated_at: Timestamp,
}

impl Store {
    /// Stores an empty cart for a new guest token, so that only issued tokens address a cart.
    pub async fn create_guest_cart(&self, token: &GuestToken, now: Timestamp) -> Result<Cart, StoreError> {
        let owner = CartOwner::Guest(token.clone());
        let cart = Cart { updated_at: Some(now), ..Cart::default() };
        match self.put_cart(&owner, &cart, now).await? {
            Some(saved) => Ok(saved),
            // 256 random bits collided: a broken random source, not bad luck.
            None => Err(StoreError::Backend("a new guest token already had a cart".into())),
        }
    }

    /// The owner's cart, read consistently. A customer without one has an empty cart
    /// (version 0); `None` means no guest cart for this token. A guest cart past its expiry
    /// reads as empty even before DynamoDB's TTL deletes it (that can lag by days).
    pub async fn get_cart(&self, owner: &CartOwner, now: Timestamp) -> Result<Option<Cart>, StoreError> {
        let (pk, sk) = cart_key(owner);
        let Some(item) = self.get_raw(pk, sk).await? else {
            return Ok(match owner {
                CartOwner::Customer(_) => Some(Cart::default()),
                CartOwner::Guest(_) => None,
            });
        };
        let cart: Cart = serde_dynamo::from_item(item.clone())?;
        if expired(&item, now) {
            return Ok(Some(Cart { version: cart.version, ..Cart::default() }));
        }
        Ok(Some(cart))
    }

    /// Writes `cart` as the next version after `cart.version` (absent for version 0). `None`
    /// when another writer got there first, or a guest cart is gone.
    pub async fn put_cart(&self, owner: &CartOwner, cart: &Cart, now: Timestamp) -> Result<Option<Cart>, StoreError> {
        let saved = Cart { version: cart.version + 1, ..cart.clone() };
        let put = self.versioned_cart_put(owner, cart.version, &saved, now)?;
        let result = self
            .call_if(
                self.client()
                    .put_item()
                    .set_item(Some(put.item().clone()))
                    .set_condition_expression(put.condition_expression().map(str::to_string))
                    .set_expression_attribute_names(put.expression_attribute_names().cloned())
                    .set_expression_attribute_values(put.expression_attribute_values().cloned()),
            )
            .await;
        Ok(result?.map(|_| saved))
    }

    /// Moves the guest cart's lines into the customer's cart (see `Cart::absorb`) in one
    /// transaction of 4 actions, whatever the number of lines: the customer still exists; put
    /// the customer cart if still at the version read; delete the guest cart if still at the
    /// version read; put the migration record if there is none. Of concurrent migrations of one
    /// token exactly one applies; the others find the guest cart gone and the record naming
    /// who received it.
    pub async fn migrate_guest_cart(
        &self,
        token: &GuestToken,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<Migration, StoreError> {
        let guest_owner = CartOwner::Guest(token.clone());
        let owner = CartOwner::Customer(customer.clone());
        for attempt in 0..WRITE_ATTEMPTS {
            let Some(guest) = self.get_cart(&guest_owner, now).await? else {
                return match self.migrated_to(token, now).await? {
                    Some(receiver) if &receiver == customer => {
                        Ok(Migration::AlreadyMoved(self.get_cart(&owner, now).await?.unwrap_or_default()))
                    }
                    _ => Ok(Migration::Unknown),
                };
            };
            let mine = self.get_cart(&owner, now).await?.unwrap_or_default();
            let merged = match mine.absorb(&guest, now) {
                Ok(merged) => merged,
                Err(errors) => return Ok(Migration::Refused(errors)),
            };
            match self.commit_migration(customer, merged, token, guest.version, now).await? {
                Some(saved) => return Ok(Migration::Moved(saved)),
                None => backoff(attempt).await,
            }
        }
        Err(StoreError::VersionConflict)
    }

    /// The customer who received this token's cart, while the record lasts.
    async fn migrated_to(&self, token: &GuestToken, now: Timestamp) -> Result<Option<CustomerId>, StoreError> {
        let Some(item) = self.get_raw(keys::guest_pk(&token.key_hash()), keys::MIGRATED_SK).await? else {
            return Ok(None);
        };
        if expired(&item, now) {
            return Ok(None);
        }
        let record: MigrationRecord = serde_dynamo::from_item(item)?;
        Ok(Some(record.customer_id))
    }

    /// The migration transaction; `None` when any of its conditions failed (the caller re-reads).
    async fn commit_migration(
        &self,
        customer: &CustomerId,
        merged: Cart,
        token: &GuestToken,
        guest_version: u64,
        now: Timestamp,
    ) -> Result<Option<Cart>, StoreError> {
        let owner = CartOwner::Customer(customer.clone());
        let saved = Cart { version: merged.version + 1, ..merged };
        let items = vec![
            self.customer_exists(customer)?,
            TransactWriteItem::builder().put(self.versioned_cart_put(&owner, saved.version - 1, &saved, now)?).build(),
            self.delete_guest_cart_at_version(token, guest_version)?,
            self.put_if_absent(migration_item(token, customer, now)?)?,
        ];
        match self.transact(items, &[None, None, None, None]).await {
            Ok(()) => Ok(Some(saved)),
            Err(TxError::Condition | TxError::Conflict | TxError::Taken(_)) => Ok(None),
            Err(TxError::Store(err)) => Err(err),
        }
    }

    /// A Put of the cart item conditioned on the stored version being `previous_version`
    /// (on there being no item for 0).
    fn versioned_cart_put(
        &self,
        owner: &CartOwner,
        previous_version: u64,
        cart: &Cart,
        now: Timestamp,
    ) -> Result<Put, StoreError> {
        let builder = Put::builder().table_name(self.table()).set_item(Some(cart_item(owner, cart, now)?));
        let builder = if previous_version == 0 {
            builder.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", keys::PK)
        } else {
            builder.at_version(previous_version)
        };
        builder.build().map_err(|e| StoreError::Backend(e.to_string()))
    }

    fn customer_exists(&self, customer: &CustomerId) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(customer)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    fn delete_guest_cart_at_version(&self, token: &GuestToken, version: u64) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::guest_pk(&token.key_hash())))
            .key(keys::SK, s(keys::CART_SK))
            .at_version(version)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

fn cart_key(owner: &CartOwner) -> (String, &'static str) {
    match owner {
        CartOwner::Customer(id) => (keys::customer_pk(id), keys::CART_SK),
        CartOwner::Guest(token) => (keys::guest_pk(&token.key_hash()), keys::CART_SK),
    }
}

/// TTL deletion lags, so reads check the expiry themselves.
fn expired(item: &Item, now: Timestamp) -> bool {
    number_attr(item, keys::TTL).is_some_and(|ttl| ttl <= now.unix())
}

fn cart_item(owner: &CartOwner, cart: &Cart, now: Timestamp) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(cart)?;
    // An empty cart has no `lines` attribute (see `Cart::lines`).
    let (pk, sk) = cart_key(owner);
    item.insert(keys::PK.into(), s(pk));
    item.insert(keys::SK.into(), s(sk));
    item.insert(keys::ENTITY.into(), s(entity::CART));
    if let CartOwner::Guest(_) = owner {
        item.insert(keys::TTL.into(), n(now.unix() + GUEST_CART_TTL_SECONDS));
    }
    Ok(item)
}

fn migration_item(token: &GuestToken, customer: &CustomerId, now: Timestamp) -> Result<Item, StoreError> {
    let record = MigrationRecord { customer_id: customer.clone(), migrated_at: now };
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&record)?;
    item.insert(keys::PK.into(), s(keys::guest_pk(&token.key_hash())));
    item.insert(keys::SK.into(), s(keys::MIGRATED_SK));
    item.insert(keys::ENTITY.into(), s(entity::CART_MIGRATION));
    item.insert(keys::TTL.into(), n(now.unix() + GUEST_CART_TTL_SECONDS));
    Ok(item)
}
