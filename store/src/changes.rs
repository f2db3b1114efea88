//! Change events from the table's stream: which committed writes are news, read from the
//! stream record's old and new images (the items as stored). Only customer items, cart
//! migrations, media items and staff lock-outs and resets (security trail entries) make events; everything else (sessions, counters, index entries)
//! is bookkeeping. The events themselves are `domain::events`.

use serde_dynamo::{AttributeValue, Item};

use super::StoreError;
use super::keys::{self, entity};
use crate::domain::Customer;
use crate::domain::events::{ChangeEvent, cart_migrated, customer_events, media_events};
use crate::domain::media::Media;

/// The events of one stream record: `record_id` is the record's `eventID` (unique per record,
/// the same on every redelivery), `time` when it committed; an absent image is an empty item.
pub fn change_events(record_id: &str, time: &str, old: &Item, new: &Item) -> Result<Vec<ChangeEvent>, StoreError> {
    let present = |item: &Item| (!item.is_empty()).then(|| item.clone());
    let (old, new) = (present(old), present(new));
    let kind = new.as_ref().or(old.as_ref()).and_then(|item| text(item, keys::ENTITY)).unwrap_or_default();
    match kind.as_str() {
        entity::CUSTOMER => {
            let old: Option<Customer> = old.map(serde_dynamo::from_item).transpose()?;
            let new: Option<Customer> = new.map(serde_dynamo::from_item).transpose()?;
            Ok(customer_events(record_id, time, old.as_ref(), new.as_ref()))
        }
        entity::MEDIA => {
            let old: Option<Media> = old.map(serde_dynamo::from_item).transpose()?;
            let new: Option<Media> = new.map(serde_dynamo::from_item).transpose()?;
            Ok(media_events(record_id, time, old.as_ref(), new.as_ref()))
        }
        // Trail entries are only ever added: an insert is the news.
        entity::STAFF_SECURITY_EVENT => match (old.is_none(), new) {
            (true, Some(new)) => {
                let event: crate::domain::staff_security::SecurityEvent = serde_dynamo::from_item(new)?;
                Ok(crate::domain::events::staff_security_events(record_id, time, &event))
            }
            _ => Ok(Vec::new()),
        },
        entity::CART_MIGRATION => match (old.is_none(), new.as_ref().and_then(|n| text(n, "customer_id"))) {
            (true, Some(customer)) => Ok(vec![cart_migrated(record_id, time, &customer)]),
            _ => Ok(Vec::new()),
        },
        _ => Ok(Vec::new()),
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}
