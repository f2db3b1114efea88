//! Change events from the table's stream (DynamoDB Local has streams): each committed write
//! that is news becomes exactly one event per id, whatever the publisher's retries, with no
//! personal data, in the shape `docs/events/*.schema.json` documents.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use integration_tests::TestApp;
use local_stack::changes::{JsonLinesSink, StreamReader, publish_new};
use serde_json::{Value, json};
use shared::domain::events::{ChangeEvent, EventType};
use stream_publisher::{EventSink, handle_batch};

/// Keeps every event it is given (a consumer that has not de-duplicated yet); can refuse some.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<ChangeEvent>>,
    /// Refuse the event with this position (0-based, across all calls), once.
    refuse_once: Mutex<Option<usize>>,
    offered: Mutex<usize>,
}

impl EventSink for Recorder {
    async fn publish(&self, events: &[ChangeEvent]) -> Result<Vec<bool>, String> {
        let mut accepted = Vec::new();
        for event in events {
            let position = {
                let mut offered = self.offered.lock().map_err(|_| "poisoned")?;
                *offered += 1;
                *offered - 1
            };
            let mut refuse = self.refuse_once.lock().map_err(|_| "poisoned")?;
            if *refuse == Some(position) {
                *refuse = None;
                accepted.push(false);
                continue;
            }
            self.events.lock().map_err(|_| "poisoned")?.push(event.clone());
            accepted.push(true);
        }
        Ok(accepted)
    }
}

impl Recorder {
    fn events(&self) -> Vec<ChangeEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

async fn reader(t: &TestApp) -> StreamReader {
    let app = t.app();
    StreamReader::open(app.sdk_config(), app.config.dynamodb_endpoint.as_deref(), app.store.client(), app.store.table())
        .await
        .expect("the table's stream")
}

/// A customer's life: signup, an edit, a suspension, a guest cart migrated, a document made
/// ready, and the erase. Returns the customer id and the personal data that must not leak.
async fn a_customer_life(t: &TestApp) -> (String, Vec<String>) {
    let phone = "+260971230001";
    let login = t.sign_in(phone, "Evelyn Events").await;
    let token = login["access_token"].as_str().expect("token").to_string();
    let id = login["customer"]["customer_id"].as_str().expect("id").to_string();
    let edit = json!({"email": "evelyn@example.com", "city": "Kitwe"});
    assert_eq!(t.call("PATCH", "/v1/me", Some(&token), Some(edit)).await.status, 200);

    let guest = t.send("POST", "/v1/cart/guest", &[], b"", "203.0.113.50").await.json();
    let guest_token = guest["guest_token"].as_str().expect("guest token").to_string();
    let line = json!({"quantity": 2, "unit_price": 1500});
    let put = t
        .send(
            "PUT",
            "/v1/cart/items/SKU-1",
            &[("x-guest-token", &guest_token), ("content-type", "application/json")],
            line.to_string().as_bytes(),
            "203.0.113.50",
        )
        .await;
    assert_eq!(put.status, 200);
    let migrate = t.call("POST", "/v1/cart/migrate", Some(&token), Some(json!({"guest_token": guest_token}))).await;
    assert_eq!(migrate.status, 200);

    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n".to_vec();
    let slot = t
        .call("POST", "/v1/media/uploads", Some(&token), Some(json!({"filename": "a.pdf", "content_type": "application/pdf", "size": pdf.len(), "purpose": "document"})))
        .await
        .json();
    let put = integration_tests::put_to_slot(&slot, &pdf).await;
    assert_eq!(put.status, 200);
    let media_id = slot["media_id"].as_str().expect("media id");
    assert_eq!(t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await.status, 200);

    let staff = t.staff_tokens().await;
    let status = json!({"status": "suspended", "reason": "chargeback"});
    assert_eq!(
        t.call("POST", &format!("/v1/customers/{id}/status"), Some(&staff.admin), Some(status)).await.status,
        200
    );
    assert_eq!(t.call("DELETE", &format!("/v1/customers/{id}/hard"), Some(&staff.admin), None).await.status, 204);
    (id, vec![phone.to_string(), "260971230001".into(), "evelyn@example.com".into(), "Evelyn".into(), "Kitwe".into()])
}

fn of_customer<'a>(events: &'a [ChangeEvent], id: &str) -> Vec<&'a ChangeEvent> {
    events.iter().filter(|e| e.detail["customer_id"] == id).collect()
}

fn count(events: &[&ChangeEvent], kind: EventType) -> usize {
    events.iter().filter(|e| e.kind == kind).count()
}

#[tokio::test]
async fn every_committed_change_is_one_event_with_no_personal_data() {
    let t = TestApp::with_table_stream().await;
    let mut stream = reader(&t).await;
    let (id, personal) = a_customer_life(&t).await;
    let recorder = Recorder::default();
    publish_new(&mut stream, &recorder).await.expect("published");
    let events = recorder.events();
    let mine = of_customer(&events, &id);

    for (kind, expected) in [
        (EventType::CustomerCreated, 1),
        (EventType::CustomerStatusChanged, 1),
        (EventType::CustomerDeleted, 1),
        (EventType::CartMigrated, 1),
        (EventType::MediaReady, 1),
    ] {
        assert_eq!(count(&mine, kind), expected, "{kind:?} in {mine:#?}");
    }
    let updated: Vec<&&ChangeEvent> = mine.iter().filter(|e| e.kind == EventType::CustomerUpdated).collect();
    let edit = updated
        .iter()
        .find(|e| e.detail["changed_fields"].as_array().is_some_and(|f| f.contains(&json!("email"))))
        .expect("the edit's update names the email field");
    assert!(edit.detail["changed_fields"].as_array().is_some_and(|f| f.contains(&json!("city"))));
    let status = mine.iter().find(|e| e.kind == EventType::CustomerStatusChanged).expect("status change");
    assert_eq!((status.detail["from"].as_str(), status.detail["to"].as_str()), (Some("active"), Some("suspended")));

    let text = serde_json::to_string(&events.iter().map(ChangeEvent::to_json).collect::<Vec<_>>()).expect("json");
    for secret in personal {
        assert!(!text.contains(&secret), "an event carries {secret}: {text}");
    }
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    for event in &events {
        check_schema(&event.to_json());
    }
}

/// The `sign_in_channel` of the customer's events, in order (`-` for an event without one).
fn channels(events: &[&ChangeEvent]) -> Vec<String> {
    events.iter().map(|e| e.detail["sign_in_channel"].as_str().unwrap_or("-").to_string()).collect()
}

#[tokio::test]
async fn signups_and_sign_ins_name_their_channel() {
    use local_stack::dev_idp::TokenRequest;
    let (t, idp) = TestApp::with_dev_idp_and_table_stream(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let mut stream = reader(&t).await;
    let by_sms = t.sign_in("+260971230002", "Sam Sms").await["customer"]["customer_id"].clone();

    let email = "erin@example.com";
    let code = t.call("POST", "/v1/auth/otp", None, Some(json!({"email": email}))).await.json()["dev_code"].clone();
    let login = json!({"email": email, "code": code, "name": "Erin Email"});
    let signed_up = t.call("POST", "/v1/auth/login", None, Some(login)).await;
    assert_eq!(signed_up.status, 200, "{}", String::from_utf8_lossy(&signed_up.body));
    let by_email = signed_up.json()["customer"]["customer_id"].clone();
    // The provider vouches for the same address: it links to Erin and signs her in.
    let id_token = idp
        .mint(&TokenRequest {
            sub: "erin-at-local".into(),
            email: Some(email.into()),
            email_verified: Some(true),
            ..TokenRequest::default()
        })
        .expect("token");
    let provider = idp.provider_entry()["name"].as_str().expect("provider name").to_string();
    // `last_login_at` has whole seconds: a sign-in within the second of the previous one
    // changes nothing an event reports.
    let next_second = || tokio::time::sleep(std::time::Duration::from_millis(1100));
    next_second().await;
    let oidc = t.call("POST", "/v1/auth/oidc", None, Some(json!({"provider": provider, "id_token": id_token}))).await;
    assert_eq!(oidc.status, 200, "{}", String::from_utf8_lossy(&oidc.body));
    assert_eq!(oidc.json()["customer"]["customer_id"], by_email);
    // Sam signs in again: a login is an update of `last_login_at`, by SMS this time.
    next_second().await;
    t.sign_in("+260971230002", "Sam Sms").await;

    let staff = t.staff_tokens().await;
    let made = json!({"first_name": "Stella", "last_name": "Staff", "phone": "+260971230003"});
    let created = t.call("POST", "/v1/customers", Some(&staff.staff), Some(made)).await;
    assert_eq!(created.status, 201);
    let by_staff = created.json()["customer_id"].clone();

    let recorder = Recorder::default();
    publish_new(&mut stream, &recorder).await.expect("published");
    let events = recorder.events();
    let of = |id: &Value| of_customer(&events, id.as_str().expect("id"));
    let sam = of(&by_sms);
    assert_eq!(
        sam.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventType::CustomerCreated, EventType::CustomerUpdated]
    );
    assert_eq!(channels(&sam), ["sms", "sms"], "{sam:#?}");
    assert_eq!(sam[1].detail["changed_fields"], json!(["last_login_at"]));
    let erin = of(&by_email);
    assert_eq!(channels(&erin)[0], "email", "{erin:#?}");
    assert_eq!(channels(&erin).last().map(String::as_str), Some(format!("oidc:{provider}").as_str()), "{erin:#?}");
    assert_eq!(channels(&of(&by_staff)), ["-"], "a staff create is no sign-in");
    for event in &events {
        check_schema(&event.to_json());
    }
}

#[tokio::test]
async fn a_retried_batch_repeats_the_same_ids_so_consumers_see_each_event_once() {
    let t = TestApp::with_table_stream().await;
    let (id, _) = a_customer_life(&t).await;

    // The same records delivered twice (a publisher retried after a timeout).
    let records = reader(&t).await.read().await.expect("records");
    let again = reader(&t).await.read().await.expect("records again");
    let recorder = Recorder::default();
    for batch in [records.clone(), again] {
        let mut event = aws_lambda_events::event::dynamodb::Event::default();
        event.records = batch;
        assert!(handle_batch(&recorder, event).await.batch_item_failures.is_empty());
    }
    let events = recorder.events();
    let mut by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &events {
        *by_id.entry(event.id.as_str()).or_default() += 1;
    }
    assert!(by_id.values().all(|n| *n == 2), "each id delivered once per delivery: {by_id:?}");
    let unique: Vec<ChangeEvent> = {
        let mut seen = HashSet::new();
        events.iter().filter(|e| seen.insert(e.id.clone())).cloned().collect()
    };
    assert_eq!(count(&of_customer(&unique, &id), EventType::CustomerCreated), 1);

    // The local stack's file destination de-duplicates on the id.
    let file = std::env::temp_dir().join(format!("events-{}.jsonl", rand::random::<u64>()));
    let sink = JsonLinesSink::new(file.clone());
    for _ in 0..2 {
        let mut event = aws_lambda_events::event::dynamodb::Event::default();
        event.records = records.clone();
        handle_batch(&sink, event).await;
    }
    let lines = std::fs::read_to_string(&file).expect("events file");
    let _ = std::fs::remove_file(&file);
    assert_eq!(lines.lines().count(), unique.len());
}

#[tokio::test]
async fn a_refused_event_makes_the_batch_retry_from_its_record() {
    let t = TestApp::with_table_stream().await;
    let (id, _) = a_customer_life(&t).await;
    let records = reader(&t).await.read().await.expect("records");
    let recorder = Recorder { refuse_once: Mutex::new(Some(2)), ..Recorder::default() };
    let mut event = aws_lambda_events::event::dynamodb::Event::default();
    event.records = records.clone();
    let response = handle_batch(&recorder, event).await;
    let failed =
        response.batch_item_failures.first().and_then(|f| f.item_identifier.clone()).expect("a failure reported");
    let from = records
        .iter()
        .position(|r| r.change.sequence_number.as_deref() == Some(failed.as_str()))
        .expect("a record of the batch");

    // Lambda retries from that record on.
    let mut retry = aws_lambda_events::event::dynamodb::Event::default();
    retry.records = records[from..].to_vec();
    assert!(handle_batch(&recorder, retry).await.batch_item_failures.is_empty());
    let ids: HashSet<String> = recorder.events().iter().map(|e| e.id.clone()).collect();
    let everything = {
        let all = Recorder::default();
        let mut event = aws_lambda_events::event::dynamodb::Event::default();
        event.records = records;
        handle_batch(&all, event).await;
        all.events().iter().map(|e| e.id.clone()).collect::<HashSet<String>>()
    };
    assert_eq!(ids, everything, "nothing is lost");
    assert!(recorder.events().iter().any(|e| e.detail["customer_id"] == id.as_str()));
}

/// Checks an event against its JSON Schema in `docs/events/` (the subset of JSON Schema those
/// files use: object/array/string/integer types, `required`, `properties`, `enum`, `const`,
/// `items` and `additionalProperties: false`).
fn check_schema(event: &Value) {
    let kind = event["type"].as_str().expect("type");
    let path = integration_tests::repo_root().join(format!("docs/events/{kind}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} documents {kind}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("a JSON schema");
    if let Err(why) = conforms(event, &schema, "$") {
        panic!("{kind} does not match {}: {why}\n{event:#}", path.display());
    }
}

fn conforms(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return Err(format!("{at}: expected {constant}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let type_ok = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "null" => value.is_null(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{at}: {name} is required"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => conforms(field, sub, &format!("{at}.{name}"))?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{at}: {name} is not documented"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(item, schema, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}
