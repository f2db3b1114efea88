//! Domain types and rules: plain Rust, unit-tested in place. This crate depends on no AWS,
//! HTTP or Lambda crate, so the compiler keeps the innermost layer pure: the store, the
//! services and the handlers depend on it, never the reverse.

pub mod audit;
pub mod cart;
pub mod contact;
pub mod customer;
pub mod events;
pub mod export;
pub mod fields;
pub mod group;
pub mod idempotency;
pub mod ids;
pub mod input;
pub mod media;
pub mod password;
pub mod patch;
pub mod role;
pub mod search;
pub mod session;
pub mod sign_in;
pub mod staff;
pub mod staff_security;
pub mod stats;
pub mod time;
pub mod validation;

pub use contact::{CodeRecipient, EmailAddress, PhoneE164};
pub use customer::{Customer, CustomerStatus};
pub use ids::{CustomerId, GroupId, SessionId, Username};
pub use patch::Patch;
pub use role::Role;
pub use sign_in::SignInChannel;
pub use time::Timestamp;
pub use validation::{FieldError, ValidationErrors};

/// An input type read from a JSON object. `FIELDS` lists every accepted key, so unknown keys
/// are all reported together rather than one per round trip.
pub trait JsonBody: serde::de::DeserializeOwned {
    const FIELDS: &'static [&'static str];
}
