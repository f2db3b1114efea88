//! Everything the Lambda functions share: configuration, domain rules, the DynamoDB store,
//! authentication and the HTTP glue that turns errors into RFC 9457 problem details.
//!
//! Layers and their error types:
//! - `domain` (its own crate, re-exported): plain types and rules, no AWS types (`ValidationErrors`).
//! - `store`: DynamoDB access (`StoreError`).
//! - `auth`: tokens and one-time codes (`AuthError`).
//! - `services`: read-change-write use cases over the store (`UpdateError`).
//! - `http`: the edge; every error above converts into `ApiError`, which renders problem+json.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod email;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod oidc;
pub mod secrets;
pub mod services;
pub mod sms;
pub mod store;
pub mod telemetry;

pub use ::domain;
pub use ::domain::time;
pub use app::App;
pub use config::Config;
