//! Use cases between the handlers and the store: each reads, applies a domain rule and writes
//! under optimistic concurrency, with its own error type that the HTTP edge maps to a status.
//! And `App`, everything a handler needs, built once per instance.
//!
//! Layer: `store`, `platform`, `auth-core` ← `services` ← `edge`; it knows nothing of routes,
//! request bodies or problem+json.

pub mod app;
pub mod carts;
pub mod changes;
pub mod codes;
pub mod customers;
pub mod erase;
pub mod exports;
pub mod fields;
pub mod groups;
pub mod health;
pub mod idempotency;
pub mod lifecycle;
pub mod media;
pub mod profile;
pub mod search;
pub mod sessions;
pub mod signin;
pub mod staff;
pub mod stats;

pub use app::App;
/// A page of a list and its opaque cursor, as the use cases return and take them.
pub use store::{Page, PageToken};

// The domain as `crate::domain` (and its timestamps as `crate::time`), the paths this code had
// when it was part of `shared`.
use ::domain::{self, time};
