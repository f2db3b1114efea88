//! Domain types and rules: plain Rust, no AWS types, unit-tested in place.

pub mod cart;
pub mod contact;
pub mod customer;
pub mod ids;
pub mod patch;
pub mod staff;
pub mod validation;

pub use contact::{EmailAddress, PhoneE164};
pub use customer::{Customer, CustomerStatus};
pub use ids::{CustomerId, SessionId, Username};
pub use patch::Patch;
pub use validation::{FieldError, ValidationErrors};
