//! The local stack: serves every function's routes on one port through the same handlers the
//! Lambdas run, against DynamoDB Local and a local S3 endpoint. The route table and the table
//! definition both come from `template.yaml`, the one source of truth.

pub mod access_log;
pub mod admin;
pub mod changes;
pub mod dev_idp;
pub mod event;
pub mod functions;
pub mod keys;
pub mod provision;
pub mod reindex;
pub mod server;
pub mod template;

/// The store of a command-line tool run against a deployed table (`TABLE_NAME`): the full AWS
/// credential chain of an engineer's machine, and `DYNAMODB_ENDPOINT` for DynamoDB Local.
pub async fn tool_store() -> Result<shared::store::Store, Box<dyn std::error::Error>> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required (the stack's TableName output)")?;
    let http = shared::app::https_client(shared::app::TrustRoots::System)?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http).load().await;
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").ok();
    Ok(shared::store::Store::connect(&sdk, endpoint.as_deref(), table))
}
