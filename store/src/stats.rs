//! Statistics counters: sharded items moved with atomic `ADD`s in the customer's own
//! transaction, so they stay exact under concurrency, and read by one `Query` per partition,
//! whose cost depends on the number of shards and places, never on the number of customers.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::keys::{self, entity};
use super::search::SortKeyRange;
use super::{Item, Store, StoreError, n, number_attr, s, string_attr};
use crate::domain::stats::{CounterChange, Facet};
use crate::time::Timestamp;

/// The counts as read: domain values, named here too, where they are read.
pub use crate::domain::stats::{DayCounts, FacetCount, date_text};

fn shard(of: u32) -> u32 {
    rand::random_range(0..of)
}

/// `2026-01`: the month a day's counters live in.
fn month_text(date: time::Date) -> String {
    format!("{:04}-{:02}", date.year(), date.month() as u8)
}

/// A month's counter item on one shard: `2026-01#3`.
fn month_sk(date: time::Date, shard: u32) -> String {
    format!("{}#{shard}", month_text(date))
}

/// The attribute of a day's counter in its month's item: `s07` (signups on the 7th), `l07`.
fn day_attribute(counter: &str, day: u8) -> String {
    format!("{}{day:02}", if counter == "signups" { "s" } else { "l" })
}

impl Store {
    /// The transaction actions that move the counters by `change` (each on a random shard),
    /// and the daily counters by `day_moves` (day, counter, delta): a signup counts on its
    /// creation day (an erase takes it back), a signup that logs in counts a login too. Moves of
    /// one day share one action, since a transaction may not touch an item twice.
    pub(crate) fn counter_actions(
        &self,
        change: &CounterChange,
        day_moves: &[(time::Date, &str, i64)],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut actions = Vec::new();
        if !change.global.is_empty() {
            let mut update = Update::builder()
                .table_name(self.table())
                .key(keys::PK, s(keys::STATS_GLOBAL_PK))
                .key(keys::SK, s(format!("{:02}", shard(keys::GLOBAL_SHARDS))))
                .expression_attribute_names("#entity", keys::ENTITY)
                .expression_attribute_values(":entity", s(entity::COUNTER));
            let mut adds = Vec::new();
            for (i, (name, delta)) in change.global.iter().enumerate() {
                adds.push(format!("#c{i} :c{i}"));
                update = update
                    .expression_attribute_names(format!("#c{i}"), name)
                    .expression_attribute_values(format!(":c{i}"), n(delta));
            }
            let update = update.update_expression(format!("SET #entity = :entity ADD {}", adds.join(", ")));
            actions.push(TransactWriteItem::builder().update(build(update)?).build());
        }
        for (facet, value, delta) in &change.facets {
            let update = Update::builder()
                .table_name(self.table())
                .key(keys::PK, s(keys::stats_facet_pk(facet.name())))
                .key(keys::SK, s(format!("{}#{}", value.key, shard(keys::FACET_SHARDS))))
                .update_expression("SET #entity = :entity, #display = if_not_exists(#display, :display) ADD #n :delta")
                .expression_attribute_names("#entity", keys::ENTITY)
                .expression_attribute_names("#display", "display")
                .expression_attribute_names("#n", "n")
                .expression_attribute_values(":entity", s(entity::COUNTER))
                .expression_attribute_values(":display", s(&value.display))
                .expression_attribute_values(":delta", n(delta));
            actions.push(TransactWriteItem::builder().update(build(update)?).build());
        }
        // One action per month item: a signup's creation day and first login may share a month.
        let mut by_month: BTreeMap<String, Vec<(time::Date, &str, i64)>> = BTreeMap::new();
        for (day, counter, delta) in day_moves {
            by_month.entry(month_text(*day)).or_default().push((*day, counter, *delta));
        }
        for moves in by_month.values() {
            actions.push(TransactWriteItem::builder().update(build(self.day_update(moves))?).build());
        }
        Ok(actions)
    }

    /// A signup's login-day entry (the last-login index), inside its transaction.
    pub(crate) fn login_day_action(
        &self,
        id: &crate::domain::CustomerId,
        at: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        let day = at.unix().div_euclid(86_400);
        self.put_action(Item::from([
            (keys::PK.into(), s(keys::login_day_pk(day))),
            (keys::SK.into(), s(id.as_str())),
            (keys::ENTITY.into(), s(entity::LOGIN_DAY)),
            (keys::TTL.into(), n((day + keys::LOGIN_DAY_TTL_DAYS) * 86_400)),
        ]))
    }

    /// Moves counters outside a customer write (the rebuild's corrections): the same actions,
    /// in transactions of at most 100.
    pub async fn adjust_counters(&self, change: &CounterChange) -> Result<(), StoreError> {
        let actions = self.counter_actions(change, &[])?;
        for chunk in actions.chunks(super::customers::MAX_TRANSACTION_ACTIONS) {
            self.transact(chunk.to_vec(), &vec![None; chunk.len()]).await.map_err(|err| match err {
                super::table::TxError::Store(err) => err,
                _ => StoreError::Backend("a counter correction was refused".into()),
            })?;
        }
        Ok(())
    }

    /// Adds `delta` to a daily counter (`signups` or `logins`) of `day`: the rebuild's
    /// correction of the daily series, and bulk loads.
    pub async fn adjust_day_counter(&self, day: time::Date, counter: &str, delta: i64) -> Result<(), StoreError> {
        self.call(
            self.client()
                .update_item()
                .key(keys::PK, s(keys::STATS_DAYS_PK))
                .key(keys::SK, s(month_sk(day, 0)))
                .update_expression("SET #entity = :entity ADD #day :delta")
                .expression_attribute_names("#entity", keys::ENTITY)
                .expression_attribute_names("#day", day_attribute(counter, day.day()))
                .expression_attribute_values(":entity", s(entity::COUNTER))
                .expression_attribute_values(":delta", n(delta)),
        )
        .await?;
        Ok(())
    }

    /// Moves daily counters (day, `signups` or `logins`, delta) of one month, in that month's
    /// item on a random shard.
    fn day_update(&self, moves: &[(time::Date, &str, i64)]) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let month = moves.first().map(|(day, _, _)| *day).unwrap_or(time::Date::MIN);
        let mut update = Update::builder()
            .table_name(self.table())
            .key(keys::PK, s(keys::STATS_DAYS_PK))
            .key(keys::SK, s(month_sk(month, shard(keys::DAY_SHARDS))))
            .expression_attribute_names("#entity", keys::ENTITY)
            .expression_attribute_values(":entity", s(entity::COUNTER));
        let mut adds = Vec::new();
        for (i, (day, counter, delta)) in moves.iter().enumerate() {
            adds.push(format!("#d{i} :d{i}"));
            update = update
                .expression_attribute_names(format!("#d{i}"), day_attribute(counter, day.day()))
                .expression_attribute_values(format!(":d{i}"), n(delta));
        }
        update.update_expression(format!("SET #entity = :entity ADD {}", adds.join(", ")))
    }

    /// Counts one login on the day of `at`.
    pub async fn count_login(&self, at: Timestamp) -> Result<(), StoreError> {
        let update = build(self.day_update(&[(at.date(), "logins", 1)]))?;
        self.call(
            self.client()
                .update_item()
                .set_key(Some(update.key().clone()))
                .update_expression(update.update_expression())
                .set_expression_attribute_names(update.expression_attribute_names().cloned())
                .set_expression_attribute_values(update.expression_attribute_values().cloned()),
        )
        .await?;
        Ok(())
    }

    /// Every global counter, summed over its shards.
    pub async fn global_counters(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut totals = BTreeMap::new();
        for item in self.query_prefix(keys::STATS_GLOBAL_PK, None, None).await? {
            for (name, value) in &item {
                if let Some(number) = value.as_n().ok().and_then(|v| v.parse::<i64>().ok()) {
                    *totals.entry(name.clone()).or_insert(0) += number;
                }
            }
        }
        Ok(totals)
    }

    /// The counts of a facet's values whose key starts with `prefix`, summed over shards, most
    /// customers first (values counted down to zero left out).
    pub async fn facet_counts(&self, facet: Facet, prefix: Option<&str>) -> Result<Vec<FacetCount>, StoreError> {
        let items = self.query_prefix(&keys::stats_facet_pk(facet.name()), prefix, None).await?;
        let mut by_key: BTreeMap<String, FacetCount> = BTreeMap::new();
        for item in &items {
            let Some((key, _shard)) = string_attr(item, keys::SK).and_then(|sk| sk.rsplit_once('#')) else { continue };
            let entry = by_key.entry(key.to_string()).or_insert_with(|| FacetCount {
                key: key.to_string(),
                display: string_attr(item, "display").unwrap_or(key).to_string(),
                count: 0,
            });
            entry.count += number_attr(item, "n").unwrap_or(0);
        }
        let mut counts: Vec<FacetCount> = by_key.into_values().filter(|c| c.count > 0).collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.display.cmp(&b.display)));
        Ok(counts)
    }

    /// Signups and logins per day from `first` to `last` (inclusive): one `Query` of the month
    /// items in range, whose cost depends on the months and shards, not on the customers.
    pub async fn daily_counts(
        &self,
        first: time::Date,
        last: time::Date,
    ) -> Result<BTreeMap<String, DayCounts>, StoreError> {
        let range = SortKeyRange::Between(month_text(first), format!("{}#~", month_text(last)));
        let items = self.query_range(keys::STATS_DAYS_PK, &range).await?;
        let (from, to) = (date_text(first), date_text(last));
        let mut days: BTreeMap<String, DayCounts> = BTreeMap::new();
        for item in items {
            let Some((month, _shard)) = string_attr(&item, keys::SK).and_then(|sk| sk.split_once('#')) else {
                continue;
            };
            for day in 1..=31u8 {
                let date = format!("{month}-{day:02}");
                if date < from || date > to {
                    continue;
                }
                let signups = number_attr(&item, &day_attribute("signups", day)).unwrap_or(0);
                let logins = number_attr(&item, &day_attribute("logins", day)).unwrap_or(0);
                if signups != 0 || logins != 0 {
                    let counts = days.entry(date).or_default();
                    counts.signups += signups;
                    counts.logins += logins;
                }
            }
        }
        Ok(days)
    }
}

fn build(update: aws_sdk_dynamodb::types::builders::UpdateBuilder) -> Result<Update, StoreError> {
    update.build().map_err(|e| StoreError::Backend(e.to_string()))
}

/// A counter item as the rebuild writes it: the whole of a counter in shard 0.
pub fn counter_item(pk: String, sk: String, values: &[(&str, i64)], display: Option<&str>) -> Item {
    let mut item =
        Item::from([(keys::PK.into(), s(pk)), (keys::SK.into(), s(sk)), (keys::ENTITY.into(), s(entity::COUNTER))]);
    for (name, value) in values {
        item.insert((*name).to_string(), n(value));
    }
    if let Some(display) = display {
        item.insert("display".into(), s(display));
    }
    item
}
