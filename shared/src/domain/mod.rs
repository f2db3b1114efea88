//! Domain types and rules: plain Rust, no AWS types, unit-tested in place.

pub mod audit;
pub mod cart;
pub mod contact;
pub mod customer;
pub mod fields;
pub mod group;
pub mod ids;
pub mod input;
pub mod patch;
pub mod staff;
pub mod validation;

pub use contact::{EmailAddress, PhoneE164};
pub use customer::{Customer, CustomerStatus};
pub use ids::{CustomerId, GroupId, SessionId, Username};
pub use patch::Patch;
pub use validation::{FieldError, ValidationErrors};
