//! Custom field definitions: one small partition (`FIELDS`), read whole with one consistent
//! `Query` by every customer write that validates `custom_fields`.

use super::keys::{self, entity};
use super::table::AtVersion;
use super::{Item, Store, StoreError, s};
use crate::domain::fields::FieldDefinition;

fn field_item(definition: &FieldDefinition) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(definition)?;
    item.insert(keys::PK.into(), s(keys::FIELDS_PK));
    item.insert(keys::SK.into(), s(keys::field_sk(&definition.key)));
    item.insert(keys::ENTITY.into(), s(entity::FIELD));
    Ok(item)
}

impl Store {
    /// Every definition, retired ones included (their values stay readable), sorted by key.
    pub async fn list_fields(&self) -> Result<Vec<FieldDefinition>, StoreError> {
        let items = self.query_prefix(keys::FIELDS_PK, Some(keys::FIELD_PREFIX), None).await?;
        items.into_iter().map(|item| serde_dynamo::from_item(item).map_err(StoreError::from)).collect()
    }

    pub async fn get_field(&self, key: &str) -> Result<Option<FieldDefinition>, StoreError> {
        self.get_typed(keys::FIELDS_PK.to_string(), &keys::field_sk(key)).await
    }

    /// Creates a definition; `false` when the key is taken (retired keys included: a retired
    /// key keeps its meaning for the values still stored under it).
    pub async fn create_field(&self, definition: &FieldDefinition) -> Result<bool, StoreError> {
        let result = self
            .call_if(
                self.client()
                    .put_item()
                    .set_item(Some(field_item(definition)?))
                    .condition_expression("attribute_not_exists(PK)"),
            )
            .await;
        Ok(result?.is_some())
    }

    /// Writes `next` if the stored definition is still at `expected_version`.
    pub async fn replace_field(&self, next: &FieldDefinition, expected_version: u64) -> Result<(), StoreError> {
        let result =
            self.call_if(self.client().put_item().set_item(Some(field_item(next)?)).at_version(expected_version)).await;
        result?.map(|_| ()).ok_or(StoreError::VersionConflict)
    }
}
