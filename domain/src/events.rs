//! Change events: what other systems (a CRM, a loyalty service, a data lake) hear about
//! customers, carts and media. Each is derived from one committed write (a stream record), so
//! an event exists exactly when its write does. Events carry ids, statuses and the NAMES of
//! changed fields, never the values of contacts or other personal data.
//! The JSON Schemas of the events are in `docs/events/`.

use serde::Serialize;
use serde_json::{Value, json};

use super::customer::Audience;
use super::media::{Media, MediaStatus};
use super::{Customer, SignInChannel};

/// The `source` of every event on the bus.
pub const SOURCE: &str = "customer-platform";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "customer.status_changed")]
    CustomerStatusChanged,
    #[serde(rename = "customer.deleted")]
    CustomerDeleted,
    #[serde(rename = "cart.migrated")]
    CartMigrated,
    #[serde(rename = "media.ready")]
    MediaReady,
    #[serde(rename = "staff.locked_out")]
    StaffLockedOut,
    #[serde(rename = "staff.password_reset")]
    StaffPasswordReset,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::CustomerCreated,
        EventType::CustomerUpdated,
        EventType::CustomerStatusChanged,
        EventType::CustomerDeleted,
        EventType::CartMigrated,
        EventType::MediaReady,
        EventType::StaffLockedOut,
        EventType::StaffPasswordReset,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::CustomerCreated => "customer.created",
            EventType::CustomerUpdated => "customer.updated",
            EventType::CustomerStatusChanged => "customer.status_changed",
            EventType::CustomerDeleted => "customer.deleted",
            EventType::CartMigrated => "cart.migrated",
            EventType::MediaReady => "media.ready",
            EventType::StaffLockedOut => "staff.locked_out",
            EventType::StaffPasswordReset => "staff.password_reset",
        }
    }
}

/// One change event. `id` is stable for the write it reports (derived from the stream record's
/// id), so a consumer de-duplicates redeliveries on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When the write committed (RFC 3339).
    pub time: String,
    pub detail: Value,
}

impl ChangeEvent {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "type": self.kind.as_str(), "source": SOURCE, "time": self.time, "detail": self.detail})
    }
}

/// Fields whose change is bookkeeping, not news.
const NOT_CHANGES: &[&str] = &["version", "updated_at", "full_name", "full_address", "is_active", "is_verified"];

/// The names of the fields that differ between two versions of a customer (the staff view, so
/// notes and tags count), without their values.
pub fn changed_fields(old: &Customer, new: &Customer) -> Vec<String> {
    let (before, after) = (old.to_json(Audience::Staff), new.to_json(Audience::Staff));
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else { return Vec::new() };
    let mut names: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|name| !NOT_CHANGES.contains(&name.as_str()))
        .filter(|name| before.get(*name) != after.get(*name))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What a write to a customer item means: created, deleted, or changed (a status change and/or
/// an update of other fields, each its own event).
pub fn customer_events(id: &str, time: &str, old: Option<&Customer>, new: Option<&Customer>) -> Vec<ChangeEvent> {
    let event = |n: usize, kind: EventType, detail: Value| ChangeEvent {
        id: format!("{id}#{n}"),
        kind,
        time: time.to_string(),
        detail,
    };
    match (old, new) {
        (None, Some(new)) => {
            let mut detail = json!({
                "customer_id": new.customer_id,
                "status": new.status.as_str(),
                "created_at": new.created_at,
                "version": new.version,
            });
            // A self-signup is the customer's first sign-in; a staff create has no channel.
            with_sign_in_channel(&mut detail, new.last_login_at.and(new.sign_in_channel.as_ref()));
            vec![event(0, EventType::CustomerCreated, detail)]
        }
        (Some(old), None) => vec![event(0, EventType::CustomerDeleted, json!({"customer_id": old.customer_id}))],
        (Some(old), Some(new)) => {
            let mut events = Vec::new();
            if old.status != new.status {
                events.push(event(
                    0,
                    EventType::CustomerStatusChanged,
                    json!({
                        "customer_id": new.customer_id,
                        "from": old.status.as_str(),
                        "to": new.status.as_str(),
                        "version": new.version,
                    }),
                ));
            }
            let fields: Vec<String> = changed_fields(old, new).into_iter().filter(|f| f != "status").collect();
            if !fields.is_empty() {
                let mut detail = json!({
                    "customer_id": new.customer_id,
                    "changed_fields": fields,
                    "version": new.version,
                });
                with_sign_in_channel(&mut detail, signed_in(old, new));
                events.push(event(1, EventType::CustomerUpdated, detail));
            }
            events
        }
        (None, None) => Vec::new(),
    }
}

/// The channel of the sign-in this write recorded: a login sets `last_login_at` and
/// `sign_in_channel` in the same write; no other write touches `last_login_at`.
fn signed_in<'a>(old: &Customer, new: &'a Customer) -> Option<&'a SignInChannel> {
    (new.last_login_at.is_some() && new.last_login_at != old.last_login_at)
        .then_some(new.sign_in_channel.as_ref())
        .flatten()
}

/// Adds `sign_in_channel` (`sms`, `email`, `oidc:<provider>`) to an event's detail, if any.
fn with_sign_in_channel(detail: &mut Value, channel: Option<&SignInChannel>) {
    if let (Some(channel), Some(object)) = (channel, detail.as_object_mut()) {
        object.insert("sign_in_channel".into(), json!(channel.to_string()));
    }
}

/// A media item that became ready.
pub fn media_events(id: &str, time: &str, old: Option<&Media>, new: Option<&Media>) -> Vec<ChangeEvent> {
    match (old.map(|m| m.status), new) {
        (previous, Some(new)) if new.status == MediaStatus::Ready && previous != Some(MediaStatus::Ready) => {
            vec![ChangeEvent {
                id: format!("{id}#0"),
                kind: EventType::MediaReady,
                time: time.to_string(),
                detail: json!({
                    "media_id": new.media_id,
                    "customer_id": new.customer_id,
                    "purpose": new.purpose.as_str(),
                    "content_type": new.content_type.mime(),
                    "size": new.size,
                }),
            }]
        }
        _ => Vec::new(),
    }
}

/// A new entry of a staff member's security trail that other systems hear of: a lock-out and a
/// completed password reset (a security team's alerting). The id only, never the email.
pub fn staff_security_events(id: &str, time: &str, event: &crate::staff_security::SecurityEvent) -> Vec<ChangeEvent> {
    use crate::staff_security::SecurityEventKind;
    let kind = match event.event {
        SecurityEventKind::LockedOut => EventType::StaffLockedOut,
        SecurityEventKind::PasswordReset => EventType::StaffPasswordReset,
        _ => return Vec::new(),
    };
    vec![ChangeEvent {
        id: format!("{id}#0"),
        kind,
        time: time.to_string(),
        detail: json!({"staff_id": event.staff_id}),
    }]
}

/// A guest cart moved into a customer's cart.
pub fn cart_migrated(id: &str, time: &str, customer_id: &str) -> ChangeEvent {
    ChangeEvent {
        id: format!("{id}#0"),
        kind: EventType::CartMigrated,
        time: time.to_string(),
        detail: json!({"customer_id": customer_id}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::CustomerStatus;
    use crate::{CustomerId, Timestamp, Username};

    fn customer() -> Customer {
        let id = CustomerId::parse("CUST_0000000A").expect("id");
        Customer::new(
            id,
            Username::base("Ann", "Lee"),
            ("Ann".into(), "Lee".into()),
            Timestamp::from_unix(1_700_000_000),
        )
    }

    #[test]
    fn an_update_names_the_fields_and_never_their_values() {
        let old = customer();
        let mut new = old.clone();
        new.email = Some(crate::EmailAddress::parse("ann@example.com").expect("email"));
        new.city = Some("Lusaka".into());
        new.version += 1;
        let events = customer_events("rec1", "2026-01-01T00:00:00Z", Some(&old), Some(&new));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventType::CustomerUpdated);
        assert_eq!(events[0].detail["changed_fields"], json!(["city", "email"]));
        let text = events[0].to_json().to_string();
        assert!(!text.contains("ann@example.com") && !text.contains("Lusaka"), "{text}");
    }

    #[test]
    fn a_status_change_with_other_fields_is_two_events_with_distinct_ids() {
        let old = customer();
        let mut new = old.clone();
        new.status = CustomerStatus::Suspended;
        new.notes = Some("fraud check".into());
        let events = customer_events("rec2", "t", Some(&old), Some(&new));
        let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventType::CustomerStatusChanged, EventType::CustomerUpdated]);
        assert_eq!(events[0].detail["from"], "active");
        assert_ne!(events[0].id, events[1].id);
        assert_eq!(events[1].detail["changed_fields"], json!(["notes"]));
    }

    #[test]
    fn a_staff_lockout_and_reset_are_events_and_other_trail_entries_are_not() {
        use crate::staff_security::{SecurityEvent, SecurityEventKind};
        let entry = |event| SecurityEvent {
            staff_id: "STAFF_0A0A0A0A".into(),
            event,
            at: Timestamp::from_unix(1_700_000_000),
            at_ms: 1_700_000_000_000,
            actor: "STAFF_0A0A0A0A".into(),
            detail: None,
        };
        let locked = staff_security_events("rec4", "t", &entry(SecurityEventKind::LockedOut));
        assert_eq!(locked[0].kind, EventType::StaffLockedOut);
        assert_eq!(locked[0].detail, json!({"staff_id": "STAFF_0A0A0A0A"}));
        let reset = staff_security_events("rec5", "t", &entry(SecurityEventKind::PasswordReset));
        assert_eq!(reset[0].to_json()["type"], "staff.password_reset");
        assert!(staff_security_events("rec6", "t", &entry(SecurityEventKind::Login)).is_empty());
    }

    #[test]
    fn a_signup_and_a_sign_in_name_their_channel_and_other_writes_do_not() {
        let staff_made = customer();
        let created = customer_events("rec7", "t", None, Some(&staff_made));
        assert!(created[0].detail.get("sign_in_channel").is_none(), "a staff create has no channel");

        let mut signed_up = customer();
        signed_up.last_login_at = Some(signed_up.created_at);
        signed_up.sign_in_channel = Some(SignInChannel::Email);
        let created = customer_events("rec8", "t", None, Some(&signed_up));
        assert_eq!(created[0].detail["sign_in_channel"], "email");

        let mut login = signed_up.clone();
        login.last_login_at = Some(Timestamp::from_unix(1_700_000_600));
        login.sign_in_channel = Some(SignInChannel::Oidc("google".into()));
        login.version += 1;
        let events = customer_events("rec9", "t", Some(&signed_up), Some(&login));
        assert_eq!(events[0].detail["changed_fields"], json!(["last_login_at"]));
        assert_eq!(events[0].detail["sign_in_channel"], "oidc:google");

        let mut edit = login.clone();
        edit.city = Some("Ndola".into());
        let events = customer_events("rec10", "t", Some(&login), Some(&edit));
        assert!(events[0].detail.get("sign_in_channel").is_none(), "an edit is no sign-in");
    }

    #[test]
    fn a_bookkeeping_only_write_is_no_event() {
        let old = customer();
        let mut new = old.clone();
        new.version += 1;
        assert!(customer_events("rec3", "t", Some(&old), Some(&new)).is_empty());
    }
}
