//! The layer crates under one name, with the paths the functions, the local stack and the tests
//! use (`shared::services::…`, `shared::http::…`; `shared::store::…` only outside the functions,
//! whose handlers reach the table through `services`). No code lives here: each layer is its own
//! crate, so Cargo refuses an import that runs back up (docs/architecture.md, "Crates"):
//!
//! - `domain`: plain types and rules, no AWS types (`ValidationErrors`);
//! - `auth-core` (`shared::auth`): tokens, one-time codes, keys and roles, no I/O (`AuthError`);
//! - `store`: DynamoDB access (`StoreError`);
//! - `platform`: configuration, clock, secrets, SMS and email senders, logs and metrics;
//! - `services`: `App` and the read-change-write use cases over the store (`UpdateError`);
//! - `edge` (`shared::http`): routing, request-time authentication, bodies; every error above
//!   converts into `ApiError`, which renders problem+json.

pub use ::domain;
pub use ::domain::time;
pub use ::edge as http;
pub use ::edge::telemetry;
pub use ::platform::{clock, config, email, logging, metrics, oidc, secrets, sms};
pub use ::services;
pub use ::services::app;
pub use ::store;
pub use app::App;
pub use config::Config;

/// Authentication: `auth-core`, and the edge's checks against the account as it is now.
pub mod auth {
    pub use ::auth_core::*;
    pub use ::edge::current;
}
