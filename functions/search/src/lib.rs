//! The `search` function: customer search, location facets and statistics, all read from the
//! index and counters the customer write path maintains (no `Scan`), and the admins' customer
//! exports, which reuse the search.

mod exports;
mod locations;
mod search;
mod stats;

use lambda_http::{Body, Response};
use shared::auth::roles::Access;
use shared::http::{ApiError, ApiFunction, Call, Route};

/// The `search` function.
pub struct Search;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    SearchByBody,
    SearchByQuery,
    Countries,
    Cities,
    States,
    Stats,
    DailyStats,
    CreateExport,
    ListExports,
    GetExport,
}

use Handler as H;

impl ApiFunction for Search {
    type Handler = Handler;

    const NAME: &'static str = "search";

    const ROUTES: &'static [Route<Handler>] = &[
        Route::new("POST", "/v1/customers/search", Access::Staff, H::SearchByBody),
        Route::new("GET", "/v1/customers/search", Access::Staff, H::SearchByQuery),
        Route::new("GET", "/v1/locations/countries", Access::Staff, H::Countries),
        Route::new("GET", "/v1/locations/cities", Access::Staff, H::Cities),
        Route::new("GET", "/v1/locations/states", Access::Staff, H::States),
        Route::new("GET", "/v1/stats/customers", Access::Admin, H::Stats),
        Route::new("GET", "/v1/stats/customers/daily", Access::Admin, H::DailyStats),
        Route::new("POST", "/v1/exports/customers", Access::Admin, H::CreateExport),
        Route::new("GET", "/v1/exports", Access::Admin, H::ListExports),
        Route::new("GET", "/v1/exports/{export_id}", Access::Admin, H::GetExport),
    ];

    async fn call(call: Call<'_, Handler>) -> Result<Response<Body>, ApiError> {
        let (app, req) = (call.app, call.req);
        match call.matched.route.handler {
            H::SearchByBody => search::by_body(app, req).await,
            H::SearchByQuery => search::by_query(app, req).await,
            H::Countries => locations::countries(app).await,
            H::Cities => locations::within_country(app, req, shared::domain::stats::Facet::City).await,
            H::States => locations::within_country(app, req, shared::domain::stats::Facet::State).await,
            H::Stats => stats::customers(app).await,
            H::DailyStats => stats::daily(app, req).await,
            H::CreateExport => exports::create(app, req, call.actor()?).await,
            H::ListExports => exports::list(app, req, call.actor()?, call.scope()).await,
            H::GetExport => exports::get(app, call.param("export_id")).await,
        }
    }
}
