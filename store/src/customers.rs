//! The customer write path: the ONE place that writes customer items and their uniqueness
//! sentinels, their search index entries and statistics counters, plus the look-ups and the
//! erase path. Every customer write is one transaction of at most 100 actions: the customer,
//! its sentinels, its audit entry, its counters, then its index changes; only index changes that
//! do not fit (a customer with dozens of tags whose every entry moves) are written around it,
//! staged before and settled after (see `WritePlan` and `search::IndexOverflow`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem};

use super::keys::{self, entity};
use super::search::{IndexChange, IndexOverflow, slots_of};
use super::table::{AtVersion, TxError, backoff, sentinel};
use super::{Item, Store, StoreError, UniqueField, n, s, string_attr};
use crate::domain::audit::{AuditEntry, AuditNote};
use crate::domain::customer::ActivityKind;
use crate::domain::ids::random_token;
use crate::domain::search::postings::{SlotWrite, customer_id_of};
use crate::domain::stats::CounterChange;
use crate::domain::{Customer, CustomerId, EmailAddress, PhoneE164, Username};
use crate::time::Timestamp;

/// Who erases: a domain rule, named here too, where the erase is written.
pub use crate::domain::customer::EraseRule;

/// Attempts of a login that keeps meeting concurrent changes of its customer.
const LOGIN_ATTEMPTS: usize = 8;

/// Attempts of an erase that keeps meeting concurrent changes of its customer.
const ERASE_ATTEMPTS: usize = 8;

/// How long a write keeps retrying transaction conflicts (concurrent writers of the same
/// counter shard or sentinel), with jittered backoff: well inside the function timeout.
const CONFLICT_BUDGET: std::time::Duration = std::time::Duration::from_secs(6);

/// Attempt numbers while the conflict budget lasts (so backoff grows, then stays capped).
fn attempts_within_budget() -> impl Iterator<Item = usize> {
    let started = std::time::Instant::now();
    (0..).take_while(move |_| started.elapsed() < CONFLICT_BUDGET)
}

impl Store {
    /// Creates the customer with its audit entry, choosing a free username and, on the
    /// astronomically rare id collision, a new id. Fails with `Taken(Phone | Email)` when
    /// another customer has them, and `Taken(Username)` when a username chosen by staff
    /// (`username_chosen`) is taken.
    pub async fn create_customer(
        &self,
        customer: Customer,
        note: &AuditNote,
        username_chosen: bool,
    ) -> Result<Customer, StoreError> {
        self.create_customer_with(customer, note, username_chosen, &[]).await
    }

    /// [`Store::create_customer`] with more actions in the same transaction (a provider link
    /// and its sentinel), each with the unique field it guards.
    pub(crate) async fn create_customer_with(
        &self,
        mut customer: Customer,
        note: &AuditNote,
        username_chosen: bool,
        extra: &[ExtraAction],
    ) -> Result<Customer, StoreError> {
        let base = customer.username.clone();
        if !username_chosen && self.unique_owner(&keys::username_key(&base)).await?.is_some() {
            customer.username = base.with_suffix();
        }
        let token = random_token(12);
        for attempt in attempts_within_budget() {
            match self.put_new_customer(&customer, note, extra, &token).await {
                Ok(()) => return Ok(customer),
                Err(TxError::Taken(UniqueField::Username)) if !username_chosen => {
                    customer.username = base.with_suffix()
                }
                Err(TxError::Taken(UniqueField::CustomerId)) => customer.customer_id = CustomerId::generate(),
                Err(TxError::Taken(field)) => return Err(StoreError::Taken(field)),
                Err(TxError::Conflict) => {
                    // Writers racing for one phone or address conflict with each other until
                    // the winner commits: once it has, the answer is known without retrying.
                    if let Some(field) = self.contact_taken_from(&customer).await? {
                        return Err(StoreError::Taken(field));
                    }
                    backoff(attempt).await
                }
                Err(TxError::Condition) => return Err(StoreError::VersionConflict),
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Backend("could not create the customer after repeated conflicts".into()))
    }

    /// The phone or email of `customer` that another customer holds, if any.
    async fn contact_taken_from(&self, customer: &Customer) -> Result<Option<UniqueField>, StoreError> {
        for (field, key) in unique_keys(customer) {
            if matches!(field, UniqueField::Phone | UniqueField::Email)
                && self.unique_owner(&key).await?.is_some_and(|owner| owner != customer.customer_id)
            {
                return Ok(Some(field));
            }
        }
        Ok(None)
    }

    async fn put_new_customer(
        &self,
        customer: &Customer,
        note: &AuditNote,
        extra: &[ExtraAction],
        token: &str,
    ) -> Result<(), TxError> {
        let mut plan = self.creation_plan(customer, note)?;
        for (action, field) in extra {
            plan.push(action.clone(), *field);
        }
        let overflow = plan.overflow.clone();
        let outcome = self.run_plan(plan, token).await;
        // A conflict is retried by the caller with the same token; any other failure (or its
        // id or username being taken) ends this attempt.
        if !matches!(outcome, Ok(()) | Err(TxError::Conflict)) {
            self.abandon_write(&customer.customer_id, &overflow, token).await;
        }
        outcome
    }

    /// Every item a new customer consists of, with the unique field each action guards
    /// (public so that a test can hold the largest customer to one transaction).
    pub fn creation_plan(&self, customer: &Customer, note: &AuditNote) -> Result<WritePlan, StoreError> {
        let id = &customer.customer_id;
        let audit = AuditEntry::record(note, None, customer, customer.created_at);
        let mut plan = WritePlan::default();
        plan.push(self.put_if_absent(customer_item(customer)?)?, Some(UniqueField::CustomerId));
        plan.push(self.put_if_absent(audit_item(id, customer.version, &audit)?)?, None);
        for (field, key) in unique_keys(customer) {
            plan.push(self.put_if_absent(sentinel_item(&key, id))?, Some(field));
        }
        let counters = CounterChange::between(None, Some(customer));
        let mut day_moves = vec![(customer.created_at.date(), "signups", 1)];
        day_moves.extend(customer.last_login_at.map(|at| (at.date(), "logins", 1)));
        for action in self.counter_actions(&counters, &day_moves)? {
            plan.push(action, None);
        }
        if let Some(at) = customer.last_login_at {
            plan.push(self.login_day_action(id, at)?, None);
        }
        plan.add_index(self, IndexChange::between(None, Some(customer))?)?;
        Ok(plan)
    }

    /// Runs a plan: the index changes that did not fit in its transaction staged (tagged with
    /// `token`), the transaction, then those changes settled. Once the transaction committed,
    /// the write succeeded: a failure to settle is logged, and leaves pending entries, which
    /// readers check against the customer.
    async fn run_plan(&self, plan: WritePlan, token: &str) -> Result<(), TxError> {
        if !plan.new_words.is_empty() {
            self.register_words(&plan.new_words).await?;
        }
        if !plan.overflow.is_empty() {
            self.stage_index(&plan.overflow, token).await?;
        }
        self.transact(plan.actions, &plan.fields).await?;
        if !plan.slot_overflow.is_empty() {
            self.settle_slots(plan.slot_overflow, plan.overflow.version).await?;
        }
        if !plan.overflow.is_empty()
            && let Err(err) = self.settle_index(&plan.overflow).await
        {
            tracing::warn!(error = %err, "index changes of a committed write left pending");
        }
        Ok(())
    }

    /// Puts right what a write that did not commit staged in the index: first makes sure its
    /// version can no longer commit (taking it with a bare version bump if nobody has, so that
    /// no other attempt at that version can rely on what it staged), then sets every entry
    /// still tagged with `token` to what the customer holds (`Store::reconcile_index`). Best
    /// effort: what a failure here leaves stays pending, which readers check.
    async fn abandon_write(&self, id: &CustomerId, overflow: &IndexOverflow, token: &str) {
        if overflow.is_empty() {
            return;
        }
        if let Err(err) = self.try_abandon_write(id, overflow, token).await {
            tracing::warn!(error = %err, "staged index changes of a failed write left pending");
        }
    }

    async fn try_abandon_write(
        &self,
        id: &CustomerId,
        overflow: &IndexOverflow,
        token: &str,
    ) -> Result<(), StoreError> {
        let mut current = self.get_customer(id).await?;
        if let Some(customer) = &current
            && customer.version < overflow.version
        {
            self.take_version(id, customer.version, overflow.version).await?;
            current = self.get_customer(id).await?;
        }
        self.reconcile_index(overflow, token, current.as_ref()).await
    }

    /// Moves the customer from version `from` to `to` without another change (as a login
    /// does); nothing when it moved meanwhile.
    async fn take_version(&self, id: &CustomerId, from: u64, to: u64) -> Result<(), StoreError> {
        let result = self
            .call_if(
                self.client()
                    .update_item()
                    .key(keys::PK, s(keys::customer_pk(id)))
                    .key(keys::SK, s(keys::PROFILE_SK))
                    .update_expression("SET #version = :to")
                    .condition_expression("#version = :from")
                    .expression_attribute_names("#version", keys::VERSION)
                    .expression_attribute_values(":from", n(from))
                    .expression_attribute_values(":to", n(to)),
            )
            .await;
        result?;
        Ok(())
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
        let audit = AuditEntry::record(note, Some(current), next, now);
        self.write_change(current, next, Some(&audit), &[]).await
    }

    /// [`Store::replace_customer`] with more actions in the same transaction (linking or
    /// unlinking a provider, audited as a change of the customer).
    pub(crate) async fn replace_customer_with(
        &self,
        current: &Customer,
        next: &mut Customer,
        now: Timestamp,
        note: &AuditNote,
        extra: &[ExtraAction],
    ) -> Result<(), StoreError> {
        next.version = current.version + 1;
        next.updated_at = now;
        let audit = AuditEntry::record(note, Some(current), next, now);
        self.write_change(current, next, Some(&audit), extra).await
    }

    /// Writes the change from `current` to `next` (already at its new version), with `audit`
    /// when given, as one transaction conditional on `current.version`.
    async fn write_change(
        &self,
        current: &Customer,
        next: &Customer,
        audit: Option<&AuditEntry>,
        extra: &[ExtraAction],
    ) -> Result<(), StoreError> {
        // One token for every attempt: a retry after a conflict stages the same changes again.
        let token = random_token(12);
        let mut staged = IndexOverflow::default();
        for attempt in attempts_within_budget() {
            // Built anew each time: counter shards are drawn at random, so a retry after a
            // conflict on a hot counter goes elsewhere.
            let mut plan = self.change_plan(current, next)?;
            for (action, field) in extra {
                plan.push(action.clone(), *field);
            }
            if let Some(audit) = audit {
                plan.push(self.put_if_absent(audit_item(&current.customer_id, next.version, audit)?)?, None);
            }
            plan.add_index(self, IndexChange::between(Some(current), Some(next))?)?;
            staged = plan.overflow.clone();
            let outcome = self.run_plan(plan, &token).await;
            if !matches!(outcome, Ok(()) | Err(TxError::Conflict)) {
                self.abandon_write(&current.customer_id, &staged, &token).await;
            }
            match outcome {
                Ok(()) => return Ok(()),
                Err(TxError::Taken(field)) => return Err(StoreError::Taken(field)),
                Err(TxError::Condition) => return Err(StoreError::VersionConflict),
                Err(TxError::Conflict) => backoff(attempt).await,
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        self.abandon_write(&current.customer_id, &staged, &token).await;
        Err(StoreError::VersionConflict)
    }

    /// The customer's new item (if still at `current.version`), its sentinel swaps and its
    /// counter moves; the caller adds the audit entry and the index changes.
    fn change_plan(&self, current: &Customer, next: &Customer) -> Result<WritePlan, StoreError> {
        let id = &current.customer_id;
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(customer_item(next)?))
            .at_version(current.version)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut plan = WritePlan::default();
        plan.push(TransactWriteItem::builder().put(put).build(), None);
        let before = unique_keys(current);
        let after = unique_keys(next);
        for (_, key) in &before {
            if !after.iter().any(|(_, k)| k == key) {
                plan.push(self.delete_owned_sentinel(key, id)?, None);
            }
        }
        for (field, key) in &after {
            if !before.iter().any(|(_, k)| k == key) {
                plan.push(self.put_if_absent(sentinel_item(key, id))?, Some(*field));
            }
        }
        for action in self.counter_actions(&CounterChange::between(Some(current), Some(next)), &[])? {
            plan.push(action, None);
        }
        Ok(plan)
    }

    /// Marks a login: `last_login_at`, the verified flag of the contact the login proved (a
    /// code sent to the phone or the address), a new version, the day's login count and the
    /// last-login index. Only active customers may log in; returns the updated customer, or
    /// `None` when it is not active (or gone).
    ///
    /// The login moves the customer from the posting list of its previous login day to
    /// today's, in the same transaction as the customer (a consistent read first, then the
    /// versioned write, as any change): a search by last login is exact the moment a login
    /// returns, whatever else changes the customer meanwhile. `known` is the customer as the
    /// caller just read it (to find who signs in): the first attempt writes on top of it, and
    /// only a version conflict reads the customer again.
    pub async fn record_login(
        &self,
        known: &Customer,
        now: Timestamp,
        proof: LoginProof<'_>,
    ) -> Result<Option<Customer>, StoreError> {
        let id = &known.customer_id;
        let mut read = Some(known.clone());
        let mut attempts = 0;
        let customer = loop {
            attempts += 1;
            if attempts > LOGIN_ATTEMPTS {
                return Err(StoreError::VersionConflict);
            }
            let current = match read.take() {
                Some(current) => current,
                None => match self.get_customer(id).await? {
                    Some(current) => current,
                    None => return Ok(None),
                },
            };
            if !current.is_active() {
                return Ok(None);
            }
            let mut next = current.clone();
            next.last_login_at = Some(now);
            next.updated_at = now;
            proof.mark_verified(&mut next);
            next.sign_in_channel = Some(proof.channel());
            next.version = current.version + 1;
            match self.write_change(&current, &next, None, &[]).await {
                Ok(()) => break next,
                // Changed meanwhile: read it again and decide again.
                Err(StoreError::VersionConflict) => continue,
                Err(err) => return Err(err),
            }
        };
        let day = now.unix().div_euclid(86_400);
        futures::try_join!(self.count_login(now), self.record_login_day(id, day))?;
        Ok(Some(customer))
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
        let requirement = kind.requirement();
        let mut condition = "attribute_exists(PK) AND #status = :status".to_string();
        if requirement.open_loans_at_least > 0 {
            condition.push_str(" AND active_loans >= :loans");
        }
        let mut request = self
            .client()
            .update_item()
            .key(keys::PK, s(keys::customer_pk(id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .update_expression("SET updated_at = :now ADD #counter :delta, version :one")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#counter", kind.counter())
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":delta", n(kind.delta()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":status", s(requirement.status.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        if requirement.open_loans_at_least > 0 {
            request = request.expression_attribute_values(":loans", n(requirement.open_loans_at_least));
        }
        match self.call_if(request).await? {
            Some(out) => {
                let item = out.attributes.ok_or_else(|| StoreError::Malformed("update returned no item".into()))?;
                Ok(Some(serde_dynamo::from_item(item)?))
            }
            None => Ok(None),
        }
    }

    /// The customers of `ids` that exist, in the order of `ids`, read 100 to a batch.
    pub async fn batch_get_customers(&self, ids: &[CustomerId], consistent: bool) -> Result<Vec<Customer>, StoreError> {
        let mut found: HashMap<String, Customer> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&CustomerId> = ids.iter().filter(|id| seen.insert(id.as_str())).collect();
        for chunk in unique.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| {
                    Item::from([(keys::PK.into(), s(keys::customer_pk(id))), (keys::SK.into(), s(keys::PROFILE_SK))])
                })
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            for item in self.batch_get(request).await? {
                let customer: Customer = serde_dynamo::from_item(item)?;
                found.insert(customer.customer_id.as_str().to_string(), customer);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id.as_str())).collect())
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
            .call(
                self.client()
                    .query()
                    .index_name(index)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", format!("{index}PK"))
                    .expression_attribute_values(":pk", s(value_key))
                    .limit(1),
            )
            .await?;
        Ok(out.items().first().and_then(|item| string_attr(item, keys::PK)).and_then(keys::customer_id_from_pk))
    }

    async fn unique_owner(&self, value_key: &str) -> Result<Option<CustomerId>, StoreError> {
        let item = self.get_raw(keys::unique_pk(value_key), keys::UNIQUE_SK).await?;
        Ok(item.as_ref().and_then(|item| string_attr(item, "customer_id")).and_then(CustomerId::parse))
    }

    /// The ONE erase path: the customer, its sentinels, its search entries, its share of the
    /// counters and everything in its partition (sessions, cart, audit trail, memberships).
    ///
    /// Resumable, in this order: the search entries (idempotent deletes); then one transaction
    /// deleting the customer (at the version read, and under `rule`), its sentinels and its
    /// counter share, and writing an erase record (`ERASURE#<id>`: who, when, no personal
    /// data) in state `sweeping`; then the partition sweep, after which the record says `done`.
    /// A repeat finds the record still `sweeping` and finishes the sweep; once `done`, the
    /// customer is simply gone (`NotFound`).
    pub async fn erase_customer(&self, id: &CustomerId, actor: &str, rule: EraseRule) -> Result<(), EraseError> {
        self.remove_customer(id, actor, rule).await?;
        self.sweep_erased(id).await
    }

    /// The first half of an erase: everything up to the partition sweep (the search entries,
    /// then the customer, its sentinels and counter share with the erase record, in one
    /// transaction). `Ok` also when an earlier erase stopped before its sweep, so the caller
    /// goes on to finish it; `NotFound` once the sweep is done. Callers that hold what the
    /// table does not (the media service, objects in S3) clean up between this and
    /// [`Store::sweep_erased`].
    pub async fn remove_customer(&self, id: &CustomerId, actor: &str, rule: EraseRule) -> Result<(), EraseError> {
        // The delete is conditional on the version read, so a concurrent email or phone change
        // (or a loan opened meanwhile) cannot slip past it: the erase re-reads and decides again.
        for attempt in 0..ERASE_ATTEMPTS {
            let Some(customer) = self.get_customer(id).await? else {
                return match self.erase_state(id).await?.as_deref() {
                    Some("sweeping") => Ok(()),
                    _ => Err(EraseError::NotFound),
                };
            };
            if rule == EraseRule::SelfService {
                if !customer.is_active() {
                    return Err(EraseError::NotActive(customer.status));
                }
                if customer.active_loans > 0 {
                    return Err(EraseError::OpenLoans(customer.active_loans));
                }
            }
            let index = IndexChange::between(Some(&customer), None)?;
            self.apply_index_overflow(Vec::new(), index.deletes).await?;
            let mut plan = WritePlan::default();
            plan.push(self.delete_customer_under(&customer, rule)?, None);
            for write in &index.slots {
                plan.push(self.slot_action(write)?, None);
            }
            for (_, key) in unique_keys(&customer) {
                plan.push(self.delete_owned_sentinel(&key, id)?, None);
            }
            for action in self.counter_actions(
                &CounterChange::between(Some(&customer), None),
                &[(customer.created_at.date(), "signups", -1)],
            )? {
                plan.push(action, None);
            }
            plan.push(self.put_action(erasure_item(id, actor, Timestamp::now(), "sweeping"))?, None);
            match self.transact(plan.actions, &plan.fields).await {
                Ok(()) => return Ok(()),
                Err(TxError::Conflict | TxError::Condition | TxError::Taken(_)) => backoff(attempt).await,
                Err(TxError::Store(err)) => return Err(err.into()),
            }
        }
        Err(EraseError::Store(StoreError::VersionConflict))
    }

    async fn erase_state(&self, id: &CustomerId) -> Result<Option<String>, StoreError> {
        let record = self.get_raw(keys::erasure_pk(id), keys::ERASURE_SK).await?;
        Ok(record.as_ref().and_then(|r| string_attr(r, "state")).map(str::to_string))
    }

    /// The sweep of an erased customer's partition and login-day entries, when its erase
    /// record says it is due; the record then says `done` and leaves the list of unfinished
    /// erases. Idempotent: every step deletes what is still there.
    pub async fn sweep_erased(&self, id: &CustomerId) -> Result<(), EraseError> {
        if self.erase_state(id).await?.as_deref() != Some("sweeping") {
            return Err(EraseError::NotFound);
        }
        #[cfg(feature = "test-faults")]
        self.faults.check_sweep()?;
        // The provider links' sentinels live outside the partition: freed first, so a repeated
        // sweep still finds the links that name them.
        self.release_identity_sentinels(id).await?;
        self.delete_login_days(id, Timestamp::now()).await?;
        self.delete_prefix(&keys::customer_pk(id), None).await?;
        self.call(
            self.client()
                .update_item()
                .key(keys::PK, s(keys::erasure_pk(id)))
                .key(keys::SK, s(keys::ERASURE_SK))
                .update_expression("SET #state = :done REMOVE #list, #started")
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#list", keys::GSI4_PK)
                .expression_attribute_names("#started", keys::GSI4_SK)
                .expression_attribute_values(":done", s("done")),
        )
        .await?;
        Ok(())
    }

    /// The customers whose erase started before `started_before` and is not finished (its
    /// record still `sweeping`), oldest first, at most `limit`: a `Query` of the sparse GSI4
    /// list, never a `Scan`.
    pub async fn unfinished_erasures(
        &self,
        started_before: Timestamp,
        limit: i32,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let out = self
            .call(
                self.client()
                    .query()
                    .index_name("GSI4")
                    .key_condition_expression("#list = :list AND #started < :before")
                    .expression_attribute_names("#list", keys::GSI4_PK)
                    .expression_attribute_names("#started", keys::GSI4_SK)
                    .expression_attribute_values(":list", s(keys::UNFINISHED_ERASURES_PK))
                    .expression_attribute_values(":before", s(started_before.to_rfc3339()))
                    .limit(limit),
            )
            .await?;
        Ok(out
            .items()
            .iter()
            .filter_map(|item| string_attr(item, keys::PK))
            .filter_map(|pk| pk.strip_prefix("ERASURE#"))
            .filter_map(CustomerId::parse)
            .collect())
    }

    /// The customer's delete: at the version read, and for a customer's own erase only while
    /// active with no open loan (checked by the write itself, not just by the read before it).
    fn delete_customer_under(&self, customer: &Customer, rule: EraseRule) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::customer_pk(&customer.customer_id)))
            .key(keys::SK, s(keys::PROFILE_SK))
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_values(":expected", n(customer.version));
        delete = match rule {
            EraseRule::Staff => delete.condition_expression("#version = :expected"),
            EraseRule::SelfService => delete
                .condition_expression(
                    "#version = :expected AND #status = :active AND (attribute_not_exists(active_loans) OR active_loans = :zero)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":active", s("active"))
                .expression_attribute_values(":zero", n(0)),
        };
        let delete = delete.build().map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Deletes a sentinel only while it still points at `owner`, so a stale writer can never
    /// free a value that another customer has taken since.
    pub(crate) fn delete_owned_sentinel(
        &self,
        value_key: &str,
        owner: &CustomerId,
    ) -> Result<TransactWriteItem, StoreError> {
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

/// What a login proved: that the customer holds the phone or address a code went to (which
/// verifies it), or an identity at a provider, by its name (which verifies no contact on file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginProof<'a> {
    Code(&'a crate::domain::CodeRecipient),
    Provider(&'a str),
}

impl LoginProof<'_> {
    /// The channel the login came by, kept on the customer for the write's change event.
    pub fn channel(self) -> crate::domain::SignInChannel {
        match self {
            LoginProof::Code(to) => crate::domain::SignInChannel::of_code(to),
            LoginProof::Provider(provider) => crate::domain::SignInChannel::Oidc(provider.to_string()),
        }
    }

    /// Marks the proved contact verified, if it is still the customer's (it may have changed
    /// since the look-up that found the customer).
    fn mark_verified(self, customer: &mut Customer) {
        match self {
            LoginProof::Code(crate::domain::CodeRecipient::Phone(phone)) if customer.phone.as_ref() == Some(phone) => {
                customer.phone_verified = true
            }
            LoginProof::Code(crate::domain::CodeRecipient::Email(email)) if customer.email.as_ref() == Some(email) => {
                customer.email_verified = true
            }
            LoginProof::Code(_) | LoginProof::Provider(_) => {}
        }
    }
}

impl Store {
    /// Writes the posting-list changes a committed customer write had no room for, each batch
    /// one transaction conditional on the customer still being at `version`. When a newer write
    /// got there first (it changed the lists from the customer it read, assuming these were
    /// done), the same slots are set to what the customer now says, at its version, until one
    /// batch applies: the lists end as the newest customer says whatever the interleaving.
    async fn settle_slots(&self, writes: Vec<SlotWrite>, version: u64) -> Result<(), StoreError> {
        let Some(id) = writes.first().and_then(|w| CustomerId::parse(&customer_id_of(&w.slot.name))) else {
            return Ok(());
        };
        // `None` once the customer is erased: its erase removed every slot it had then, and
        // the writes left (removals) need no condition.
        let (mut writes, mut version) = (writes, Some(version));
        for attempt in attempts_within_budget() {
            match self.try_settle_slots(&id, &writes, version).await {
                Ok(()) => return Ok(()),
                Err(TxError::Condition | TxError::Taken(_)) => {
                    let current = self.get_customer(&id).await?;
                    let wanted = slots_of(current.as_ref());
                    writes = writes
                        .into_iter()
                        .map(|w| SlotWrite { member: wanted.get(&w.slot).cloned(), slot: w.slot })
                        .collect();
                    version = current.map(|c| c.version);
                }
                Err(TxError::Conflict) => backoff(attempt).await,
                Err(TxError::Store(err)) => return Err(err),
            }
        }
        Err(StoreError::Backend("posting lists left behind by repeated conflicts".into()))
    }

    /// The writes in transactions of at most 100 actions, each with a check that the customer is
    /// still at `version` when there is one.
    async fn try_settle_slots(
        &self,
        id: &CustomerId,
        writes: &[SlotWrite],
        version: Option<u64>,
    ) -> Result<(), TxError> {
        for chunk in writes.chunks(MAX_TRANSACTION_ACTIONS - 1) {
            let mut actions = Vec::with_capacity(chunk.len() + 1);
            if let Some(version) = version {
                let check = ConditionCheck::builder()
                    .table_name(self.table())
                    .key(keys::PK, s(keys::customer_pk(id)))
                    .key(keys::SK, s(keys::PROFILE_SK))
                    .at_version(version)
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                actions.push(TransactWriteItem::builder().condition_check(check).build());
            }
            for write in chunk {
                actions.push(self.slot_action(write)?);
            }
            let fields = vec![None; actions.len()];
            self.transact(actions, &fields).await?;
        }
        Ok(())
    }
}

/// A transaction action added to a customer write, with the unique field it guards.
pub(crate) type ExtraAction = (TransactWriteItem, Option<UniqueField>);

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("no such customer")]
    NotFound,
    #[error("the account is {}", .0.as_str())]
    NotActive(crate::domain::CustomerStatus),
    #[error("the customer has {0} open loan(s)")]
    OpenLoans(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The record an erase leaves: the id, when, and who; nothing else about the customer. While
/// `sweeping` it is also on the GSI4 list of unfinished erases (by start time), which the
/// scheduled sweep reads.
fn erasure_item(id: &CustomerId, actor: &str, at: Timestamp, state: &str) -> Item {
    let mut item = Item::from([
        (keys::PK.into(), s(keys::erasure_pk(id))),
        (keys::SK.into(), s(keys::ERASURE_SK)),
        (keys::ENTITY.into(), s(entity::ERASURE)),
        ("customer_id".into(), s(id.as_str())),
        ("erased_at".into(), s(at.to_rfc3339())),
        ("actor".into(), s(actor)),
        ("state".into(), s(state)),
    ]);
    if state == "sweeping" {
        item.insert(keys::GSI4_PK.into(), s(keys::UNFINISHED_ERASURES_PK));
        item.insert(keys::GSI4_SK.into(), s(format!("{}#{id}", at.to_rfc3339())));
    }
    item
}

/// DynamoDB's limit on the actions of one transaction.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;

/// One customer write: the actions of its transaction (with the unique field each guards, to
/// name the one that collided) and the index changes that did not fit in it.
#[derive(Default)]
pub struct WritePlan {
    pub actions: Vec<TransactWriteItem>,
    pub fields: Vec<Option<UniqueField>>,
    pub overflow: IndexOverflow,
    /// Name words for the posting lists' directory, written before the transaction.
    pub new_words: Vec<String>,
    /// Posting-list writes that did not fit (a tag set of 50 replaced by another): written
    /// once the transaction committed (`Store::settle_slots`).
    pub slot_overflow: Vec<SlotWrite>,
}

impl WritePlan {
    fn push(&mut self, action: TransactWriteItem, field: Option<UniqueField>) {
        self.actions.push(action);
        self.fields.push(field);
    }

    /// Adds index changes to the transaction: every posting-list write (a customer has at most
    /// ~70: one per name word, tag, place, status and last-login day), then entries while it
    /// has room, puts before deletes.
    fn add_index(&mut self, store: &Store, change: IndexChange) -> Result<(), StoreError> {
        self.overflow.version = change.version;
        self.new_words.extend(change.new_words);
        for write in change.slots {
            if self.actions.len() < MAX_TRANSACTION_ACTIONS {
                self.push(store.slot_action(&write)?, None);
            } else {
                self.slot_overflow.push(write);
            }
        }
        for item in change.puts {
            if self.actions.len() < MAX_TRANSACTION_ACTIONS {
                self.push(store.put_action(item)?, None);
            } else {
                self.overflow.puts.push(item);
            }
        }
        for key in change.deletes {
            if self.actions.len() < MAX_TRANSACTION_ACTIONS {
                self.push(store.delete_action(&key)?, None);
            } else {
                self.overflow.deletes.push(key);
            }
        }
        Ok(())
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
    item.insert(keys::GSI4_SK.into(), s(keys::created_position(customer.created_millis(), id)));
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

pub(crate) fn sentinel_item(value_key: &str, owner: &CustomerId) -> Item {
    sentinel(value_key, "customer_id", owner.as_str())
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
