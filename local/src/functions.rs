//! The API functions, listed once: by their logical id in `template.yaml`, their folder under
//! `events/`, their route tables and their handlers. The local stack and the tests both use it.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::Route;
use shared::http::function::{ApiFunction, handle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Auth,
    Profile,
    Customers,
    Cart,
    Search,
    Media,
    /// The API explorer (`/docs`, `/openapi.yaml`); deployed only with `PublishApiDocs`.
    Docs,
}

impl Function {
    pub const ALL: [Function; 7] = [
        Function::Auth,
        Function::Profile,
        Function::Customers,
        Function::Cart,
        Function::Search,
        Function::Media,
        Function::Docs,
    ];

    pub fn logical_id(&self) -> &'static str {
        match self {
            Function::Auth => "AuthFunction",
            Function::Profile => "ProfileFunction",
            Function::Customers => "CustomersFunction",
            Function::Cart => "CartFunction",
            Function::Search => "SearchFunction",
            Function::Media => "MediaFunction",
            Function::Docs => "DocsFunction",
        }
    }

    /// The crate under `functions/` and the folder under `events/`.
    pub fn name(&self) -> &'static str {
        match self {
            Function::Auth => "auth",
            Function::Profile => "profile",
            Function::Customers => "customers",
            Function::Cart => "cart",
            Function::Search => "search",
            Function::Media => "media",
            Function::Docs => "docs",
        }
    }

    pub fn from_logical_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.logical_id() == id)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The function's route table, handlers left out.
    pub fn routes(&self) -> Vec<Route<()>> {
        fn of<F: ApiFunction>() -> Vec<Route<()>> {
            F::ROUTES.iter().map(|r| Route::new(r.method, r.path, r.access, ())).collect()
        }
        match self {
            Function::Auth => of::<auth::Auth>(),
            Function::Profile => of::<profile::Profile>(),
            Function::Customers => of::<customers::Customers>(),
            Function::Cart => of::<cart::CartFunction>(),
            Function::Search => of::<search::Search>(),
            Function::Media => of::<media::MediaFunction>(),
            Function::Docs => of::<docs::Docs>(),
        }
    }

    pub async fn handle(&self, app: &App, req: Request) -> Response<Body> {
        match self {
            Function::Auth => handle::<auth::Auth>(app, req).await,
            Function::Profile => handle::<profile::Profile>(app, req).await,
            Function::Customers => handle::<customers::Customers>(app, req).await,
            Function::Cart => handle::<cart::CartFunction>(app, req).await,
            Function::Search => handle::<search::Search>(app, req).await,
            Function::Media => handle::<media::MediaFunction>(app, req).await,
            Function::Docs => handle::<docs::Docs>(app, req).await,
        }
    }
}
