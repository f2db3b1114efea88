//! The sample events under `events/`: every file is a real API Gateway HTTP API (payload v2)
//! event that `lambda_http` parses, its function's handler answers it with the status in its
//! file name (`events/<function>/<name>.<status>.json`), and every route of every function has
//! at least one event, so a new route without a sample event fails here.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use futures::future::join_all;
use integration_tests::{TestApp, files_under, repo_root};
use lambda_http::{Body, Response};
use local_stack::functions::Function;
use serde_json::Value;
use shared::App;
use shared::auth::Role;
use shared::auth::refresh::token_hash;
use shared::domain::audit::{AuditAction, AuditNote};
use shared::domain::cart::{CartOwner, GuestToken, LineSpec, ProductId};
use shared::domain::fields::FieldDefinitionInput;
use shared::domain::group::Group;
use shared::domain::media::{Media, MediaId, MediaStatus, MediaType, Purpose};
use shared::domain::staff::{StaffId, StaffMember, new_staff};
use shared::domain::{Customer, CustomerId, CustomerStatus, EmailAddress, GroupId, PhoneE164, SessionId, Username};
use shared::http::{Route, Router};
use shared::services::carts::{CartUpdate, change_cart};
use shared::store::groups::MembershipOutcome;
use shared::store::login_guard::{LoginGuard, guard_subject};
use shared::store::otp::OtpRecord;
use shared::store::sessions::SessionRecord;
use shared::time::Timestamp;

/// Files in `events/` that are documentation or SAM settings, not events.
const NOT_EVENTS: &[&str] = &["README.md", "sam-env.json", "s3-object-created.json"];

/// The fixtures the events are written against (see `events/README.md`).
const EVENT_PHONE: &str = "+260971234567";
const EVENT_CODE: &str = "123456";
const EVENT_CUSTOMER: &str = "CUST_0E7E5700";
const EVENT_MEDIA_READY: &str = "MED_0E7E570000000001";
const EVENT_MEDIA_PENDING: &str = "MED_0E7E570000000002";
/// The `sid` of the sample customer tokens: the customer's current session.
const EVENT_SESSION: &str = "AAAAAAAAAAAAAAAAAAAAAA";
/// The customer's other device (`revoke-session.204.json` revokes it).
const EVENT_OTHER_SESSION: &str = "CCCCCCCCCCCCCCCCCCCCCC";
/// The refresh token of `EVENT_SESSION` at generation 1, signed with the test secret
/// (`refresh.200.json` carries it; `events/README.md` says how to regenerate it).
const EVENT_REFRESH_TOKEN: &str =
    "rt1.CUST_0E7E5700.AAAAAAAAAAAAAAAAAAAAAA.1.80R-7Htcjt6Bfq-4xyn0g1hBVtciF5CMIHvQ9Wn77y4";
/// The admin the sample admin token belongs to, and that token's `sid`.
const EVENT_ADMIN: &str = "STAFF_0A0A0A0A";
const EVENT_ADMIN_SESSION: &str = "BBBBBBBBBBBBBBBBBBBBBB";

/// The guest cart of the cart events (`x-guest-token`, and the body of `migrate.200.json`).
const EVENT_GUEST_TOKEN: &str = "ZXZlbnQtZ3Vlc3QtY2FydC10b2tlbi1maXh0dXJlMDE";

/// The staff accounts of the staff events: (id, email, password, name, role, locked).
const EVENT_STAFF: &[(&str, &str, &str, &str, &str, bool)] = &[
    (EVENT_ADMIN, "event.admin@example.com", "event-admin-password", "Event Admin", "admin", false),
    ("STAFF_0B0B0B0B", "ops@example.com", "event-staff-password", "Event Ops", "staff", false),
    ("STAFF_0C0C0C0C", "locked@example.com", "event-locked-password", "Event Locked", "staff", true),
];

/// The back office's customers besides `EVENT_CUSTOMER` (see `seed_back_office`).
const EVENT_CUSTOMER_MARY: &str = "CUST_0E7E5701";
const EVENT_CUSTOMER_SAM: &str = "CUST_0E7E5702";
/// The custom field definition and the group of the customers events.
const EVENT_FIELD: &str = "loyalty_tier";
const EVENT_GROUP: &str = "GRP_0A0A0A0A";

/// One event file, checked for shape and ready to send.
struct EventFile {
    /// `events/auth/login.200.json`, for messages.
    name: String,
    function: Function,
    expected: u16,
    route: Route<()>,
    text: String,
}

#[tokio::test]
async fn every_event_gets_the_status_in_its_file_name_and_every_route_has_one() {
    let root = repo_root().join("events");
    let mut failures = Vec::new();

    let mut events = Vec::new();
    for path in files_under(&root) {
        let relative = path.strip_prefix(&root).expect("under events/").to_string_lossy().replace('\\', "/");
        if NOT_EVENTS.contains(&relative.as_str()) {
            continue;
        }
        match load_event(&path, &relative) {
            Ok(event) => events.push(event),
            Err(message) => failures.push(format!("events/{relative}: {message}")),
        }
    }

    for function in Function::ALL {
        let covered: BTreeSet<(&str, &str)> =
            events.iter().filter(|e| e.function == function).map(|e| (e.route.method, e.route.path)).collect();
        for route in function.routes() {
            if !covered.contains(&(route.method, route.path)) {
                failures.push(format!(
                    "events/{}/: no event for {} {} (add events/{}/<name>.<status>.json)",
                    function.name(),
                    route.method,
                    route.path,
                    function.name()
                ));
            }
        }
    }

    let outcomes = join_all(events.iter().map(run_event)).await;
    failures.extend(outcomes.into_iter().filter_map(Result::err));

    assert!(events.len() >= 2, "no events found under {}", root.display());
    assert!(failures.is_empty(), "{} problem(s) with the sample events:\n  {}", failures.len(), failures.join("\n  "));
}

/// Reads `events/<function>/<name>.<status>.json` and checks that it is an HTTP API event
/// for one of that function's routes, shaped the way API Gateway sends it.
fn load_event(path: &Path, relative: &str) -> Result<EventFile, String> {
    let parts: Vec<&str> = relative.split('/').collect();
    let [folder, file] = parts.as_slice() else {
        return Err("events live in events/<function>/<name>.<status>.json".into());
    };
    let function = Function::from_name(folder).ok_or_else(|| {
        let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        format!("unknown function folder {folder:?} (known: {})", known.join(", "))
    })?;
    let expected = file
        .strip_suffix(".json")
        .and_then(|stem| stem.rsplit_once('.'))
        .and_then(|(_, status)| status.parse::<u16>().ok())
        .filter(|status| (100..=599).contains(status))
        .ok_or("the file name must be <name>.<status>.json with an HTTP status, e.g. login.200.json")?;

    let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read: {err}"))?;
    let event: Value = serde_json::from_str(&text).map_err(|err| format!("not JSON: {err}"))?;
    let field = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
    if field("/version") != "2.0" {
        return Err("not an HTTP API payload v2 event (\"version\": \"2.0\")".into());
    }
    let method = field("/requestContext/http/method");
    let http_path = field("/requestContext/http/path");
    if http_path != field("/rawPath") {
        return Err(format!("rawPath {:?} differs from requestContext.http.path {http_path:?}", field("/rawPath")));
    }
    if field("/requestContext/stage") != "$default" {
        return Err("requestContext.stage must be \"$default\" (the API has no named stage)".into());
    }
    let headers = event.get("headers").and_then(Value::as_object);
    let upper_case =
        headers.into_iter().flat_map(|h| h.keys()).find(|name| name.chars().any(|c| c.is_ascii_uppercase()));
    if let Some(name) = upper_case {
        return Err(format!("header {name:?} is not lower-case, as API Gateway sends it"));
    }
    let router = Router::new(function.routes()).map_err(|e| e.to_string())?;
    let route = router
        .find(&method, &http_path)
        .map_err(|_| format!("{method} {http_path} is not a route of the {} function", function.name()))?
        .route;
    let route_key = format!("{} {}", route.method, route.path);
    for pointer in ["/routeKey", "/requestContext/routeKey"] {
        if field(pointer) != route_key {
            return Err(format!("{pointer} is {:?}, API Gateway sends {route_key:?}", field(pointer)));
        }
    }
    lambda_http::request::from_str(&text).map_err(|err| format!("lambda_http cannot parse it: {err}"))?;
    Ok(EventFile { name: format!("events/{relative}"), function, expected, route, text })
}

/// Sends the event to its handler in a fresh table, after seeding what it refers to.
async fn run_event(event: &EventFile) -> Result<(), String> {
    let fail = |message: String| format!("{}: {message}", event.name);
    let t = TestApp::new().await;
    seed(t.app(), event.route).await.map_err(fail)?;
    let request = lambda_http::request::from_str(&event.text)
        .map_err(|err| fail(format!("lambda_http cannot parse it: {err}")))?;
    let response = event.function.handle(t.app(), request).await;
    check_response(event, &response).map_err(fail)
}

/// The data the events are written against (see `events/README.md`): a pending code `123456`
/// for the login events' phone; the customer the sample customer tokens belong to, with its
/// sessions; the staff accounts and the admin's session.
async fn seed(app: &App, route: Route<()>) -> Result<(), String> {
    let path = route.path;
    if (route.method, path) == ("POST", "/v1/auth/login") {
        seed_code(app).await?;
    }
    let customer_routes = path.starts_with("/v1/me")
        || path == "/v1/auth/refresh"
        || path == "/v1/auth/logout"
        || path == "/v1/auth/verify"
        || path.starts_with("/v1/auth/sessions")
        || path.starts_with("/v1/cart")
        || path.starts_with("/v1/media");
    let staff_routes =
        path.starts_with("/v1/auth/staff/") || path == "/v1/auth/verify" || path.starts_with("/v1/staff");
    // The customers function: its admin routes re-read the admin's account, and its events name
    // `EVENT_CUSTOMER` and the customers, field definition and group of `seed_back_office`.
    let back_office_routes = ["/v1/customers", "/v1/fields", "/v1/groups", "/v1/locations", "/v1/stats", "/v1/exports"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    if customer_routes || back_office_routes {
        seed_customer(app).await?;
    }
    if path.starts_with("/v1/cart") {
        seed_carts(app).await?;
    }
    if path.starts_with("/v1/media") {
        seed_media(app).await?;
    }
    if staff_routes || back_office_routes {
        seed_staff(app).await?;
    }
    if back_office_routes {
        seed_back_office(app).await?;
    }
    Ok(())
}

/// The sample customer's media: `EVENT_MEDIA_READY`, a verified PDF, and `EVENT_MEDIA_PENDING`,
/// a PDF uploaded but not yet completed.
async fn seed_media(app: &App) -> Result<(), String> {
    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let customer = CustomerId::parse(EVENT_CUSTOMER).ok_or("fixture customer id is malformed")?;
    for raw in [EVENT_MEDIA_READY, EVENT_MEDIA_PENDING] {
        let (now, now_ms) = app.clock.now_with_ms();
        let media = Media {
            media_id: MediaId::parse(raw).ok_or("fixture media id is malformed")?,
            customer_id: customer.clone(),
            purpose: Purpose::Document,
            filename: "statement.pdf".into(),
            content_type: MediaType::Pdf,
            size: PDF.len() as u64,
            status: MediaStatus::Pending,
            created_at: now,
            created_ms: now_ms,
            uploaded_by: EVENT_CUSTOMER.into(),
            reason: None,
            variants: Default::default(),
        };
        app.store.create_media(&media, now.unix() + 900).await.map_err(|err| format!("seeding {raw}: {err}"))?;
        app.s3()
            .put_object()
            .bucket(&app.config.media_bucket)
            .key(media.upload_key())
            .body(PDF.to_vec().into())
            .send()
            .await
            .map_err(|err| format!("uploading {raw}: {err}"))?;
    }
    let ready = MediaId::parse(EVENT_MEDIA_READY).ok_or("fixture media id is malformed")?;
    shared::services::media::complete(app, &ready)
        .await
        .map_err(|err| format!("completing {EVENT_MEDIA_READY}: {err}"))?;
    Ok(())
}

fn event_phone() -> Result<PhoneE164, String> {
    PhoneE164::parse(EVENT_PHONE, phonenumber::country::Id::ZM).map_err(|err| format!("fixture phone: {err}"))
}

async fn seed_code(app: &App) -> Result<(), String> {
    let phone = shared::domain::CodeRecipient::Phone(event_phone()?);
    let now = Timestamp::now().unix();
    let record = OtpRecord {
        code_hash: Some(app.keys().otp_hasher().expect("the session secret").hash(&phone, EVENT_CODE)),
        expires_at: now + 300,
        attempts: 0,
        sent_at: vec![],
        version: 1,
    };
    let saved = app
        .store
        .save_otp(&phone, &record, None, now + 3600)
        .await
        .map_err(|err| format!("seeding the code: {err}"))?;
    if !saved {
        return Err("seeding the code: an OTP item already existed".into());
    }
    Ok(())
}

/// `CUST_0E7E5700` with its current session (`sid` of the sample tokens, refresh token
/// `EVENT_REFRESH_TOKEN` at generation 1) and a second device's session.
async fn seed_customer(app: &App) -> Result<(), String> {
    let id = CustomerId::parse(EVENT_CUSTOMER).ok_or("fixture customer id is malformed")?;
    let names = ("Event".to_string(), "Tester".to_string());
    let mut customer = Customer::new(id, Username::base(&names.0, &names.1), names, Timestamp::now());
    customer.phone = Some(event_phone()?);
    customer.phone_verified = true;
    app.store
        .create_customer(customer, &integration_tests::test_audit(), false)
        .await
        .map_err(|err| format!("seeding {EVENT_CUSTOMER}: {err}"))?;

    let current = session_id(EVENT_SESSION)?;
    let token = app.keys().refresh_signer().expect("the session secret").issue(EVENT_CUSTOMER, &current, 1);
    if token != EVENT_REFRESH_TOKEN {
        return Err(format!(
            "EVENT_REFRESH_TOKEN is not the test secret's token for {EVENT_CUSTOMER}/{EVENT_SESSION} \
             generation 1; put {token} in it and in events/auth/refresh.200.json"
        ));
    }
    let now = Timestamp::now();
    put_session(app, EVENT_CUSTOMER, Role::Customer, current, "Pixel 8", &token, now).await?;
    let other = session_id(EVENT_OTHER_SESSION)?;
    let other_token = app.keys().refresh_signer().expect("the session secret").issue(EVENT_CUSTOMER, &other, 1);
    let earlier = now.plus_seconds(-86_400);
    put_session(app, EVENT_CUSTOMER, Role::Customer, other, "iPad", &other_token, earlier).await
}

/// The guest cart of `EVENT_GUEST_TOKEN` (a red T-shirt ×2 and a mug) and the sample
/// customer's cart (a mug).
async fn seed_carts(app: &App) -> Result<(), String> {
    let token = GuestToken::parse(EVENT_GUEST_TOKEN).ok_or("fixture guest token is malformed")?;
    let now = Timestamp::now();
    app.store.create_guest_cart(&token, now).await.map_err(|err| format!("seeding the guest cart: {err}"))?;
    let shirt = LineSpec {
        quantity: 2,
        unit_price: Some(1999),
        name: Some("T-shirt".into()),
        attributes: [("size".to_string(), "M".to_string()), ("colour".to_string(), "red".to_string())].into(),
    };
    let mug = LineSpec { quantity: 1, unit_price: Some(899), name: Some("Mug".into()), attributes: Default::default() };
    let guest_lines = [("SKU-RED-M", shirt), ("SKU-MUG", mug.clone())];
    fill_cart(app, &CartOwner::Guest(token), &guest_lines).await?;
    let customer = CustomerId::parse(EVENT_CUSTOMER).ok_or("fixture customer id is malformed")?;
    fill_cart(app, &CartOwner::Customer(customer), &[("SKU-MUG", mug)]).await
}

async fn fill_cart(app: &App, owner: &CartOwner, lines: &[(&str, LineSpec)]) -> Result<(), String> {
    let now = Timestamp::now();
    let update = change_cart(&app.store, owner, now, |cart| {
        for (product, line) in lines {
            let product = ProductId::parse(product)?;
            cart.set_line(product, line.clone(), now).map_err(|err| format!("{err:?}"))?;
        }
        Ok::<(), String>(())
    })
    .await
    .map_err(|err| format!("seeding a cart: {err}"))?;
    match update {
        CartUpdate::Saved(_) => Ok(()),
        other => Err(format!("seeding a cart: {other:?}")),
    }
}

/// The staff accounts of `EVENT_STAFF` (fixed ids, so the admin token's `sub` and the events'
/// paths name them) and the admin's session (`sid` of the sample admin token).
async fn seed_staff(app: &App) -> Result<(), String> {
    let now = Timestamp::now();
    for (staff, &(.., locked)) in staff_fixtures()?.iter().zip(EVENT_STAFF) {
        if locked {
            // Locked by ten failed passwords a moment ago: 15 minutes to go.
            let guard = LoginGuard { failed_logins: Vec::new(), locked_until: Some(now.unix() + 900), version: 1 };
            let subject = guard_subject(staff.email.as_str());
            app.store
                .save_login_guard(&subject, &LoginGuard::default(), &guard, now.unix() + 960)
                .await
                .map_err(|err| format!("locking {}: {err}", staff.staff_id))?;
        }
        app.store.create_staff(staff).await.map_err(|err| format!("seeding {}: {err}", staff.staff_id))?;
    }
    let sid = session_id(EVENT_ADMIN_SESSION)?;
    let token = app.keys().refresh_signer().expect("the session secret").issue(EVENT_ADMIN, &sid, 1);
    put_session(app, EVENT_ADMIN, Role::Admin, sid, "Back office", &token, now).await
}

/// What the customers events are written against, next to `EVENT_CUSTOMER` (Event Tester: a
/// phone, no email, no loans): the custom field `loyalty_tier` (text, bronze/silver/gold,
/// default bronze); `CUST_0E7E5701` (Mary Banda: unverified phone and email, notes, a tag,
/// `loyalty_tier` gold, one open loan); `CUST_0E7E5702` (Sam Phiri: email only, suspended); and
/// the group `GRP_0A0A0A0A` (VIP) with `EVENT_CUSTOMER` as its member. The admin created them.
async fn seed_back_office(app: &App) -> Result<(), String> {
    let now = Timestamp::now();
    let tier = FieldDefinitionInput {
        key: Some(EVENT_FIELD.into()),
        label: Some("Loyalty tier".into()),
        kind: Some("text".into()),
        default: Some(serde_json::json!("bronze")),
        options: Some(vec!["bronze".into(), "silver".into(), "gold".into()]),
        ..FieldDefinitionInput::default()
    }
    .into_definition(None, now)
    .map_err(|err| format!("fixture field {EVENT_FIELD}: {err:?}"))?;
    if !app.store.create_field(&tier).await.map_err(|err| format!("seeding {EVENT_FIELD}: {err}"))? {
        return Err(format!("seeding {EVENT_FIELD}: the key was taken"));
    }

    let mut mary = back_office_customer(EVENT_CUSTOMER_MARY, ("Mary", "Banda"), "mary.banda@example.com", now)?;
    mary.phone = Some(
        PhoneE164::parse("+260977123456", phonenumber::country::Id::ZM)
            .map_err(|err| format!("fixture phone: {err}"))?,
    );
    mary.city = Some("Lusaka".into());
    mary.country = Some("Zambia".into());
    mary.notes = Some("Prefers SMS".into());
    mary.tags = vec!["premium".into()];
    mary.custom_fields.insert(EVENT_FIELD.into(), serde_json::json!("gold"));
    mary.total_transactions = 12;
    mary.active_loans = 1;
    let mut sam = back_office_customer(EVENT_CUSTOMER_SAM, ("Sam", "Phiri"), "sam.phiri@example.com", now)?;
    sam.status = CustomerStatus::Suspended;
    for customer in [mary, sam] {
        let id = customer.customer_id.clone();
        let note = AuditNote::new(EVENT_ADMIN, AuditAction::Create);
        app.store.create_customer(customer, &note, false).await.map_err(|err| format!("seeding {id}: {err}"))?;
    }

    let group = Group {
        group_id: GroupId::parse(EVENT_GROUP).ok_or("fixture group id is malformed")?,
        name: "VIP".into(),
        description: Some("Top customers".into()),
        created_at: now,
        created_by: EVENT_ADMIN.into(),
    };
    app.store.create_group(&group).await.map_err(|err| format!("seeding {EVENT_GROUP}: {err}"))?;
    let member = CustomerId::parse(EVENT_CUSTOMER).ok_or("fixture customer id is malformed")?;
    let added = app
        .store
        .add_member(&group.group_id, &member, now)
        .await
        .map_err(|err| format!("adding {EVENT_CUSTOMER} to {EVENT_GROUP}: {err}"))?;
    if added != MembershipOutcome::Added {
        return Err(format!("adding {EVENT_CUSTOMER} to {EVENT_GROUP}: {added:?}"));
    }
    Ok(())
}

fn back_office_customer(id: &str, names: (&str, &str), email: &str, now: Timestamp) -> Result<Customer, String> {
    let customer_id = CustomerId::parse(id).ok_or(format!("fixture customer id {id} is malformed"))?;
    let username = Username::base(names.0, names.1);
    let mut customer = Customer::new(customer_id, username, (names.0.into(), names.1.into()), now);
    customer.email = Some(EmailAddress::parse(email).map_err(|err| format!("fixture email {email}: {err}"))?);
    Ok(customer)
}

/// `EVENT_STAFF` as accounts. Argon2 is slow by design, so the passwords are hashed once per
/// test run rather than once per event.
fn staff_fixtures() -> Result<&'static [StaffMember], String> {
    static STAFF: OnceLock<Result<Vec<StaffMember>, String>> = OnceLock::new();
    STAFF
        .get_or_init(|| {
            EVENT_STAFF
                .iter()
                .map(|&(id, email, password, name, role, _)| {
                    let mut staff = new_staff(email, password, name, role, Timestamp::now())
                        .map_err(|err| format!("fixture staff {email}: {err:?}"))?;
                    staff.staff_id = StaffId::parse(id).ok_or(format!("fixture staff id {id} is malformed"))?;
                    Ok(staff)
                })
                .collect()
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

fn session_id(text: &str) -> Result<SessionId, String> {
    SessionId::parse(text).ok_or(format!("fixture session id {text} is malformed"))
}

async fn put_session(
    app: &App,
    owner_id: &str,
    role: Role,
    session_id: SessionId,
    device_name: &str,
    refresh_token: &str,
    created_at: Timestamp,
) -> Result<(), String> {
    let session = SessionRecord {
        session_id,
        owner_id: owner_id.to_string(),
        role,
        device_name: Some(device_name.to_string()),
        created_at,
        last_used_at: created_at,
        expires_at: created_at.plus_seconds(30 * 86_400),
        refresh_hash: token_hash(refresh_token),
        generation: 1,
        rotated_at: None,
    };
    app.store
        .put_session(&session)
        .await
        .map_err(|err| format!("seeding session {owner_id}/{}: {err}", session.session_id.as_str()))
}

fn check_response(event: &EventFile, response: &Response<Body>) -> Result<(), String> {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    if status != event.expected {
        return Err(format!("expected {}, got {status}: {body}", event.expected));
    }
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if status >= 400 {
        // RFC 9457 problem details, as the contract promises for every error.
        if header("content-type") != "application/problem+json" {
            return Err(format!("a {status} must be application/problem+json, got {:?}", header("content-type")));
        }
        let problem: Value = serde_json::from_str(&body).map_err(|err| format!("problem body is not JSON: {err}"))?;
        if problem["status"] != status || !problem["title"].is_string() || !problem["type"].is_string() {
            return Err(format!("not a problem+json body for {status}: {body}"));
        }
        if status == 429 && header("retry-after").is_empty() {
            return Err("429 without Retry-After".into());
        }
    } else if (300..400).contains(&status) {
        if header("location").is_empty() {
            return Err(format!("a {status} must carry a Location"));
        }
    } else if status == 204 {
        if !body.is_empty() {
            return Err(format!("204 with a body: {body}"));
        }
    } else if !event.route.path.starts_with("/v1/") {
        check_explorer_file(event.route, &header("content-type"), &body)?;
    } else {
        let json: Value = serde_json::from_str(&body).map_err(|err| format!("{status} body is not JSON: {err}"))?;
        if header("content-type") != "application/json" {
            return Err(format!("{status} must be application/json, got {:?}", header("content-type")));
        }
        if (event.route.path == "/v1/me" || answers_customer(event.route)) && header("etag").is_empty() {
            return Err("a customer response must carry an ETag".into());
        }
        // A bulk creation makes several resources: their ids are in the body, not one Location.
        if status == 201 && header("location").is_empty() && !event.route.path.ends_with("/bulk") {
            return Err("a 201 must carry a Location".into());
        }
        check_shape(event.route, &json).map_err(|message| format!("{message}: {body}"))?;
    }
    Ok(())
}

/// The explorer's answers (outside `/v1`) are files, not JSON: each of its type.
fn check_explorer_file(route: Route<()>, content_type: &str, body: &str) -> Result<(), String> {
    let (wanted, marker) = match route.path {
        "/openapi.yaml" => ("application/yaml", "openapi: "),
        "/docs" => ("text/html", "SwaggerUIBundle"),
        _ => ("", ""),
    };
    if content_type.is_empty() || !content_type.starts_with(wanted) {
        return Err(format!("{} answered content-type {content_type:?}", route.key()));
    }
    if body.is_empty() || !body.contains(marker) {
        return Err(format!("{} answered an unexpected body", route.key()));
    }
    Ok(())
}

/// The top-level shape of a success body, for the routes whose contract names it.
fn check_shape(route: Route<()>, body: &Value) -> Result<(), String> {
    let has = |key: &str| body.get(key).is_some_and(|v| !v.is_null());
    let tokens = || {
        let ok = body["access_token"].is_string()
            && body["refresh_token"].is_string()
            && body["token_type"] == "Bearer"
            && body["expires_in"].is_u64();
        ok.then_some(()).ok_or("not a token response (access_token, refresh_token, token_type, expires_in)")
    };
    match (route.method, route.path) {
        ("POST", "/v1/auth/login") if !(has("customer") && body["created"].is_boolean()) => {
            Err("a login response has customer and created".into())
        }
        ("POST", "/v1/auth/login" | "/v1/auth/refresh") => Ok(tokens()?),
        ("POST", "/v1/auth/staff/login") => {
            tokens()?;
            if has("staff") && !has("customer") {
                Ok(())
            } else {
                Err("a staff login response has staff, not customer".into())
            }
        }
        ("GET", "/v1/auth/verify") if !(has("claims") && (has("customer") ^ has("staff"))) => {
            Err("verify answers claims and either customer or staff".into())
        }
        (
            "GET",
            "/v1/auth/sessions"
            | "/v1/staff"
            | "/v1/customers"
            | "/v1/customers/{customer_id}/audit"
            | "/v1/fields"
            | "/v1/groups"
            | "/v1/groups/{group_id}/customers",
        ) if !(body["items"].is_array() && body.get("next_cursor").is_some()) => {
            Err("a list answers items and next_cursor".into())
        }
        (_, "/v1/customers/search")
            if !(body["items"].is_array()
                && body["total"].is_u64()
                && body["total_exact"].is_boolean()
                && body.get("next_cursor").is_some()) =>
        {
            Err("a search answers items, total, total_exact and next_cursor".into())
        }
        ("GET", path) if path.starts_with("/v1/locations/") && !body["items"].is_array() => {
            Err("a location facet answers items".into())
        }
        ("GET", "/v1/stats/customers")
            if !(body["total_customers"].is_i64() && body["customers_by_status"].is_object()) =>
        {
            Err("statistics answer total_customers and customers_by_status".into())
        }
        ("GET", "/v1/stats/customers/daily") if !body["items"].is_array() => Err("a daily series answers items".into()),
        ("POST", "/v1/cart/guest") if !body["guest_token"].is_string() => {
            Err("a new guest cart answers guest_token".into())
        }
        (_, path) if path.starts_with("/v1/cart") && path != "/v1/cart/guest" && !is_cart(body) => {
            Err("a cart answers owner, items, item_count and updated_at".into())
        }
        ("POST", "/v1/staff") | ("PATCH", "/v1/staff/{staff_id}")
            if !has("staff_id") || body.get("password_hash").is_some() =>
        {
            Err("a staff response has staff_id and never password_hash".into())
        }
        _ if answers_customer(route)
            && !(has("customer_id") && body.get("notes").is_some() && body["tags"].is_array()) =>
        {
            Err("a staff customer response has customer_id and the staff-only notes and tags".into())
        }
        ("POST", "/v1/customers/bulk-update") if !body["results"].is_array() => {
            Err("a bulk update answers results".into())
        }
        ("POST", "/v1/fields") | ("GET" | "PUT", "/v1/fields/{key}") if !has("key") => {
            Err("a field definition has key".into())
        }
        ("POST", "/v1/groups") | ("GET", "/v1/groups/{group_id}") if !has("group_id") => {
            Err("a group has group_id".into())
        }
        _ => Ok(()),
    }
}

/// The customers function's routes that answer one customer: the staff view (with `notes` and
/// `tags`) and its version as the `ETag`.
fn answers_customer(route: Route<()>) -> bool {
    matches!(
        (route.method, route.path),
        ("POST", "/v1/customers")
            | (
                "GET",
                "/v1/customers/by-phone/{phone}"
                    | "/v1/customers/by-email/{email}"
                    | "/v1/customers/by-username/{username}"
                    | "/v1/customers/{customer_id}"
            )
            | ("PATCH" | "PUT" | "DELETE", "/v1/customers/{customer_id}")
            | (
                "POST",
                "/v1/customers/{customer_id}/status"
                    | "/v1/customers/{customer_id}/verify-email"
                    | "/v1/customers/{customer_id}/verify-phone"
                    | "/v1/customers/{customer_id}/activity"
            )
    )
}

fn is_cart(body: &Value) -> bool {
    body["owner"].is_string()
        && body["items"].is_array()
        && body["item_count"].is_i64()
        && body.get("updated_at").is_some()
}

/// `events/sam-env.json` is the `--env-vars` file of `sam local invoke`, and SAM applies only the
/// variables the template declares: one it sets that no function (nor `Globals`) declares is
/// silently dropped, and the sample tokens then answer 401. Every variable it sets is declared.
#[test]
fn sam_env_sets_only_variables_the_template_declares() {
    let text = std::fs::read_to_string(integration_tests::repo_root().join("template.yaml")).expect("template.yaml");
    let template: serde_norway::Value = serde_norway::from_str(&text).expect("template.yaml parses");
    let names = |value: &serde_norway::Value| -> Vec<String> {
        value["Environment"]["Variables"]
            .as_mapping()
            .map(|vars| vars.keys().filter_map(|k| k.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut declared: std::collections::BTreeSet<String> =
        names(&template["Globals"]["Function"]).into_iter().collect();
    for resource in template["Resources"].as_mapping().expect("Resources").values() {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            declared.extend(names(&resource["Properties"]));
        }
    }
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(integration_tests::repo_root().join("events/sam-env.json")).expect("sam-env.json"),
    )
    .expect("sam-env.json parses");
    let set = env["Parameters"].as_object().expect("Parameters");
    let undeclared: Vec<&String> = set.keys().filter(|name| !declared.contains(*name)).collect();
    assert!(undeclared.is_empty(), "sam-env.json sets variables SAM will drop: {undeclared:?}");
    for needed in ["ACCESS_TOKEN_KEY", "JWT_SECRET"] {
        assert!(set.get(needed).and_then(|v| v.as_str()).is_some_and(|v| !v.is_empty()), "sam-env.json sets {needed}");
    }
}
