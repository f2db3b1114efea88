//! The counters behind the statistics and the location facets, read as the store keeps them
//! (the events that change them are counted by the store's writes).

use std::collections::BTreeMap;

use store::StoreError;
use time::Date;

use crate::App;
use crate::domain::stats::{DayCounts, Facet, FacetCount};

/// The totals, customers per country and per city, and the days from `first_day` to `today`.
pub type Counters = (BTreeMap<String, i64>, Vec<FacetCount>, Vec<FacetCount>, BTreeMap<String, DayCounts>);

/// The four reads behind the statistics, in parallel.
pub async fn counters(app: &App, first_day: Date, today: Date) -> Result<Counters, StoreError> {
    let store = &app.store;
    tokio::try_join!(
        store.global_counters(),
        store.facet_counts(Facet::Country, None),
        store.facet_counts(Facet::City, None),
        store.daily_counts(first_day, today),
    )
}

/// Customers per value of `facet` (within `prefix`, e.g. a country's), most first.
pub async fn facet_counts(app: &App, facet: Facet, prefix: Option<&str>) -> Result<Vec<FacetCount>, StoreError> {
    app.store.facet_counts(facet, prefix).await
}

/// The counters of each day from `from` to `to`, by day.
pub async fn daily_counts(app: &App, from: Date, to: Date) -> Result<BTreeMap<String, DayCounts>, StoreError> {
    app.store.daily_counts(from, to).await
}
