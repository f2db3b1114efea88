//! Custom field definitions as use cases. Deleting retires a definition: values stay readable
//! on customers, new writes to the field are refused, and a replacement brings it back.

use store::StoreError;

use crate::App;
use crate::domain::fields::{FieldDefinition, MAX_CUSTOM_FIELD_KEYS};

/// More definitions than this make every customer write read a large partition.
pub const MAX_DEFINITIONS: usize = MAX_CUSTOM_FIELD_KEYS;

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("no such custom field")]
    NotFound,
    #[error("at most {MAX_DEFINITIONS} custom fields")]
    TooMany,
    #[error("a custom field {0} exists (retired ones keep their key)")]
    KeyTaken(String),
    #[error("the type of a custom field cannot change")]
    KindChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every definition, retired ones included, by key.
pub async fn definitions(app: &App) -> Result<Vec<FieldDefinition>, StoreError> {
    app.store.list_fields().await
}

pub async fn get(app: &App, key: &str) -> Result<FieldDefinition, FieldError> {
    app.store.get_field(key).await?.ok_or(FieldError::NotFound)
}

/// Stores a new definition, within [`MAX_DEFINITIONS`]; a key is never reused.
pub async fn create(app: &App, definition: &FieldDefinition) -> Result<(), FieldError> {
    if definitions(app).await?.len() >= MAX_DEFINITIONS {
        return Err(FieldError::TooMany);
    }
    if !app.store.create_field(definition).await? {
        return Err(FieldError::KeyTaken(definition.key.clone()));
    }
    Ok(())
}

/// Replaces `current` with `next` (its type cannot change: stored values would stop fitting).
/// Returns the definition as stored.
pub async fn replace(
    app: &App,
    current: &FieldDefinition,
    next: FieldDefinition,
) -> Result<FieldDefinition, FieldError> {
    if next.kind != current.kind {
        return Err(FieldError::KindChanged);
    }
    let next = FieldDefinition { created_at: current.created_at, version: current.version + 1, ..next };
    app.store.replace_field(&next, current.version).await?;
    Ok(next)
}

/// Retires the definition; retiring a retired one changes nothing.
pub async fn retire(app: &App, key: &str) -> Result<(), FieldError> {
    let current = get(app, key).await?;
    if !current.retired {
        let next = FieldDefinition {
            retired: true,
            updated_at: app.clock.now(),
            version: current.version + 1,
            ..current.clone()
        };
        app.store.replace_field(&next, current.version).await?;
    }
    Ok(())
}
