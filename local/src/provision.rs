//! Creates the table (from the template's definition) and the media bucket when missing.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use thiserror::Error;

use crate::template::TableDefinition;

#[derive(Debug, Error)]
pub enum ProvisionError {
    #[error("DynamoDB: {0}")]
    DynamoDb(String),
    #[error("S3: {0}")]
    S3(String),
    #[error("the template's table definition is not usable: {0}")]
    Definition(String),
}

fn dynamo_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    err: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> ProvisionError {
    ProvisionError::DynamoDb(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
}

fn definition_error(err: impl std::fmt::Display) -> ProvisionError {
    ProvisionError::Definition(err.to_string())
}

pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    definition: &TableDefinition,
) -> Result<bool, ProvisionError> {
    let tables = client.list_tables().send().await.map_err(dynamo_error)?;
    if tables.table_names().iter().any(|t| t == name) {
        return Ok(false);
    }
    create_table(client, name, definition).await?;
    Ok(true)
}

pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    definition: &TableDefinition,
) -> Result<(), ProvisionError> {
    let mut request = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for attribute in &definition.attribute_definitions {
        let built = AttributeDefinition::builder()
            .attribute_name(&attribute.attribute_name)
            .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
            .build()
            .map_err(definition_error)?;
        request = request.attribute_definitions(built);
    }
    for key in key_schema(&definition.key_schema)? {
        request = request.key_schema(key);
    }
    for index in &definition.global_secondary_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
            .set_non_key_attributes(
                (!index.projection.non_key_attributes.is_empty()).then(|| index.projection.non_key_attributes.clone()),
            )
            .build();
        let built = GlobalSecondaryIndex::builder()
            .index_name(&index.index_name)
            .set_key_schema(Some(key_schema(&index.key_schema)?))
            .projection(projection)
            .build()
            .map_err(definition_error)?;
        request = request.global_secondary_indexes(built);
    }
    if let Some(stream) = &definition.stream_specification {
        let spec = aws_sdk_dynamodb::types::StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(stream.stream_view_type.as_str()))
            .build()
            .map_err(definition_error)?;
        request = request.stream_specification(spec);
    }
    request.send().await.map_err(dynamo_error)?;
    wait_until_active(client, name).await?;
    if let Some(ttl) = &definition.time_to_live_specification {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(&ttl.attribute_name)
            .enabled(ttl.enabled)
            .build()
            .map_err(definition_error)?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(dynamo_error)?;
    }
    Ok(())
}

fn key_schema(elements: &[crate::template::KeyElement]) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    elements
        .iter()
        .map(|e| {
            KeySchemaElement::builder()
                .attribute_name(&e.attribute_name)
                .key_type(KeyType::from(e.key_type.as_str()))
                .build()
                .map_err(definition_error)
        })
        .collect()
}

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), ProvisionError> {
    for _ in 0..100 {
        let described = client.describe_table().table_name(name).send().await.map_err(dynamo_error)?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(ProvisionError::DynamoDb(format!("table {name} did not become active")))
}

pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, ProvisionError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(false);
    }
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| ProvisionError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    Ok(true)
}
