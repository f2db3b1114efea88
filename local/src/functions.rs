//! The functions the local stack can run, by their logical id in `template.yaml`.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::Route;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Auth,
    Profile,
    Customers,
    Cart,
}

impl Function {
    pub const ALL: [Function; 4] = [Function::Auth, Function::Profile, Function::Customers, Function::Cart];

    pub fn logical_id(&self) -> &'static str {
        match self {
            Function::Auth => "AuthFunction",
            Function::Profile => "ProfileFunction",
            Function::Customers => "CustomersFunction",
            Function::Cart => "CartFunction",
        }
    }

    pub fn from_logical_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.logical_id() == id)
    }

    pub fn routes(&self) -> &'static [Route] {
        match self {
            Function::Auth => auth::ROUTES,
            Function::Profile => profile::ROUTES,
            Function::Customers => customers::ROUTES,
            Function::Cart => cart::ROUTES,
        }
    }

    pub async fn handle(&self, app: &App, req: Request) -> Response<Body> {
        match self {
            Function::Auth => auth::handle(app, req).await,
            Function::Profile => profile::handle(app, req).await,
            Function::Customers => customers::handle(app, req).await,
            Function::Cart => cart::handle(app, req).await,
        }
    }
}
