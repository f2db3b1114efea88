//! Use cases between the handlers and the store: each reads, applies a domain rule and writes
//! under optimistic concurrency, with its own error type that the HTTP edge maps to a status.

pub mod carts;
pub mod codes;
pub mod customers;
pub mod exports;
pub mod media;
pub mod search;
