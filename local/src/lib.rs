//! The local stack: serves every function's routes on one port through the same handlers the
//! Lambdas run, against DynamoDB Local and a local S3 endpoint. The route table and the table
//! definition both come from `template.yaml`, the one source of truth.

pub mod admin;
pub mod docs;
pub mod event;
pub mod functions;
pub mod provision;
pub mod reindex;
pub mod server;
pub mod template;
