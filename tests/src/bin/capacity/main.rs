//! `capacity`: DynamoDB consumed capacity of one call of each route, and the table, bucket,
//! customer and Lambda events the `bench` memory run needs.
//!
//! ```text
//! capacity                 Markdown table of read/write capacity units per route (stdout)
//! capacity provision DIR   create $TABLE_NAME and $MEDIA_BUCKET from template.yaml, sign up one
//!                          customer, and write Lambda events to DIR: `GET /v1/me` with its access
//!                          token (profile-get-me.json) and `GET /v1/customers/{id}` with an
//!                          admin's (customers-get.json), `GET /v1/cart` with the customer's
//!                          (cart-get.json), `GET /v1/customers/search?query=bench` with the
//!                          admin's (search-get.json), `GET /v1/media` with the customer's, who
//!                          has two ready documents (media-list.json), and an `s3:ObjectCreated`
//!                          event of a pending ~5 MB JPEG avatar for the processor
//!                          (media-processor-avatar.json); their paths on stdout, one per line
//! ```
//!
//! Both need DYNAMODB_ENDPOINT and S3_ENDPOINT (DynamoDB Local and moto, see `scripts/bench`);
//! without them the table mode starts the services itself, like the tests do.
//!
//! Capacity comes from the store's meter: every store call asks for
//! `ReturnConsumedCapacity=TOTAL` (table + indexes) and adds what DynamoDB answers, so the
//! difference of two snapshots around one request is exactly what that request consumed.

mod media;
mod search;
mod signin;

use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnConsumedCapacity, TransactWriteItem};
use integration_tests::{TestApp, TestResponse};
use local_stack::event::{HttpInput, api_gateway_event};
use local_stack::provision::{ensure_bucket, ensure_table};
use local_stack::server::LocalApi;
use local_stack::template::Template;
use serde_json::{Value, json};
use shared::store::Capacity;
use shared::{App, Config};

const PHONE: &str = "+260971234567";
const SOURCE_IP: &str = "203.0.113.7";

#[tokio::main]
async fn main() {
    // The functions' log lines and metrics would mix into the report on stdout.
    shared::logging::init_to(shared::logging::Output::Discard);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => capacity_table().await,
        ["provision", dir] => provision(Path::new(dir)).await,
        ["-h" | "--help"] => println!("usage: capacity | capacity provision EVENTS_DIR"),
        _ => fail("usage: capacity | capacity provision EVENTS_DIR"),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("capacity: {message}");
    std::process::exit(1)
}

// ---------------------------------------------------------------------------------------------
// Consumed capacity per route
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Row {
    route: &'static str,
    case: &'static str,
    used: Capacity,
    /// The request certainly wrote to DynamoDB (a 0 means the endpoint did not report it).
    writes: bool,
    /// Sentinel actions (small items, no index keys) in the request's one transaction.
    tx_sentinels: usize,
    /// Eventually consistent Queries that match nothing.
    empty_queries: usize,
    /// Strongly consistent Queries that match nothing (the custom field definitions of a table
    /// that has none).
    empty_consistent_queries: usize,
    /// Write units of transaction actions that cost the same as another action of the same
    /// transaction (which an endpoint that merges equal costs leaves out), beyond sentinels.
    tx_equal_wcu: f64,
    /// The route reads nothing, so a 0 read is no under-report.
    no_reads: bool,
    /// Conditional writes whose condition failed: DynamoDB bills them (1 WCU per KB) but the
    /// error carries no capacity, so the meter cannot count them.
    failed_conditional_writes: usize,
    note: String,
}

/// One request, and the capacity it consumed. Aborts unless the status is `expected`.
async fn measure(
    t: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    expected: u16,
) -> (TestResponse, Capacity) {
    let before = t.app().store.meter().snapshot();
    let response = t.call(method, path, token, body).await;
    let used = t.app().store.meter().snapshot() - before;
    if response.status != expected {
        fail(&format!(
            "{method} {path} answered {} (expected {expected}): {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        ));
    }
    (response, used)
}

fn text(response: &TestResponse, field: &str) -> String {
    match response.json()[field].as_str() {
        Some(value) => value.to_string(),
        None => fail(&format!("response has no {field}: {}", String::from_utf8_lossy(&response.body))),
    }
}

/// GSI projections as the template declares them, e.g. `GSI1` → `ALL`.
struct Indexes(Vec<(String, String)>);

impl Indexes {
    fn from(template: &Template) -> Self {
        Self(
            template
                .table
                .global_secondary_indexes
                .iter()
                .map(|i| (i.index_name.clone(), i.projection.projection_type.clone()))
                .collect(),
        )
    }

    fn summary(&self) -> String {
        self.0.iter().map(|(name, projection)| format!("{name} {projection}")).collect::<Vec<_>>().join(", ")
    }

    /// Of `names` (indexes the customer item is in, with unchanged keys), those that must be
    /// rewritten when non-key attributes change: the ones projecting them.
    fn rewritten(&self, names: &[&str]) -> String {
        let hit: Vec<String> = self
            .0
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()))
            .filter_map(|(name, projection)| match projection.as_str() {
                "KEYS_ONLY" => None,
                "INCLUDE" => Some(format!("{name} (if it includes them)")),
                _ => Some(name.clone()),
            })
            .collect();
        if hit.is_empty() {
            "no GSI write (keys unchanged, KEYS_ONLY)".into()
        } else {
            format!("GSI rewrite: {}", hit.join(", "))
        }
    }
}

async fn capacity_table() {
    let (t, idp) =
        TestApp::with_dev_idp(&[("OTP_MIN_INTERVAL_SECONDS", "0"), ("OTP_PER_PHONE_PER_HOUR", "1000")]).await;
    let template = integration_tests::template();
    let gsi = Indexes::from(&template);
    let mut rows = Vec::new();

    eprintln!("capacity: measuring against {}", t.app().store.table());
    let quirks = probe(&t).await;
    let (_, used) = measure(&t, "GET", "/v1/health", None, None, 200).await;
    rows.push(Row {
        route: "GET /v1/health",
        case: "DynamoDB + S3 reachable",
        used,
        writes: false,
        note: "GetItem `HEALTH` (a key that never exists, eventually consistent); S3 HeadBucket \
               costs no DynamoDB capacity"
            .into(),
        ..Row::default()
    });

    let otp = json!({ "phone": PHONE });
    let (_, used) = measure(&t, "POST", "/v1/auth/otp", None, Some(otp.clone()), 202).await;
    rows.push(Row {
        route: "POST /v1/auth/otp",
        case: "first code for a phone",
        used,
        writes: true,
        note: "GetItem `OTP#phone` (consistent, absent); UpdateItem per-IP `RATE#otp-ip` window \
               (creates it); conditional PutItem `OTP#phone` (new)"
            .into(),
        ..Row::default()
    });

    let (code, used) = measure(&t, "POST", "/v1/auth/otp", None, Some(otp.clone()), 202).await;
    rows.push(Row {
        route: "POST /v1/auth/otp",
        case: "repeat code, same phone",
        used,
        writes: true,
        note: "GetItem `OTP#phone` (consistent, present); UpdateItem `RATE#otp-ip` window; \
               PutItem `OTP#phone` conditional on its `version`"
            .into(),
        ..Row::default()
    });
    let code = text(&code, "dev_code");

    let login = json!({ "phone": PHONE, "code": code, "name": "Ann Lee" });
    let (response, used) = measure(&t, "POST", "/v1/auth/login", None, Some(login), 200).await;
    if response.json()["created"] != true {
        fail("the signup login did not create a customer");
    }
    rows.push(Row {
        route: "POST /v1/auth/login",
        case: "new customer (signup)",
        tx_sentinels: 3,
        empty_queries: 1,
        empty_consistent_queries: 1,
        used,
        writes: true,
        note: "GetItem `OTP#phone`; Query GSI1 by phone (eventually consistent, empty) + GetItem \
               phone sentinel (consistent, absent); UpdateItem OTP (use the code); Query `FIELDS` \
               (consistent, custom-field defaults; empty here); GetItem username sentinel; \
               **transaction**: Put customer + audit entry + username sentinel + phone sentinel \
               (4 items × 2), customer lands in GSI1, GSI3, GSI4; PutItem session"
            .into(),
        ..Row::default()
    });

    let again = t.request_code(PHONE).await;
    let login = json!({ "phone": PHONE, "code": again });
    let (response, used) = measure(&t, "POST", "/v1/auth/login", None, Some(login), 200).await;
    if response.json()["created"] != false {
        fail("the second login created another customer");
    }
    let token = text(&response, "access_token");
    let token = Some(token.as_str());
    let refresh_token = text(&response, "refresh_token");
    rows.push(Row {
        route: "POST /v1/auth/login",
        case: "existing customer",
        used,
        writes: true,
        note: format!(
            "GetItem `OTP#phone`; Query GSI1 by phone + GetItem customer (consistent); UpdateItem \
             OTP (use the code); UpdateItem customer (`last_login_at`, `version`; {}); PutItem \
             session",
            gsi.rewritten(&["GSI1", "GSI3", "GSI4"])
        ),
        ..Row::default()
    });
    let refresh = json!({ "refresh_token": refresh_token });
    let (_, used) = measure(&t, "POST", "/v1/auth/refresh", None, Some(refresh), 200).await;
    rows.push(Row {
        route: "POST /v1/auth/refresh",
        case: "rotation",
        used,
        writes: true,
        note: "GetItem session (consistent); GetItem customer (consistent: still active?); \
               UpdateItem session conditional on `generation` (new token hash)"
            .into(),
        ..Row::default()
    });

    let (_, used) = measure(&t, "GET", "/v1/me", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/me",
        case: "own profile",
        used,
        writes: false,
        note: "GetItem customer (consistent); the token is verified without a read".into(),
        ..Row::default()
    });

    let patch = json!({ "name": "Ann Banda" });
    let (_, used) = measure(&t, "PATCH", "/v1/me", token, Some(patch), 200).await;
    rows.push(Row {
        route: "PATCH /v1/me",
        case: "name change",
        used,
        writes: true,
        tx_sentinels: 1,
        note: format!(
            "GetItem customer (consistent); **transaction**: Put customer conditional on \
             `version` + Put audit entry (2 items × 2); {}",
            gsi.rewritten(&["GSI1", "GSI3", "GSI4"])
        ),
        ..Row::default()
    });

    let patch = json!({ "email": "ann@example.com" });
    let (_, used) = measure(&t, "PATCH", "/v1/me", token, Some(patch), 200).await;
    rows.push(Row {
        route: "PATCH /v1/me",
        case: "email added",
        tx_sentinels: 2,
        used,
        writes: true,
        note: format!(
            "GetItem customer; **transaction**: Put customer + Put new email sentinel + Put audit \
             entry (3 items × 2); GSI2 entry inserted; {}",
            gsi.rewritten(&["GSI1", "GSI3", "GSI4"])
        ),
        ..Row::default()
    });

    let patch = json!({ "email": "ann.banda@example.com" });
    let (_, used) = measure(&t, "PATCH", "/v1/me", token, Some(patch), 200).await;
    rows.push(Row {
        route: "PATCH /v1/me",
        case: "email changed",
        tx_sentinels: 3,
        used,
        writes: true,
        note: format!(
            "GetItem customer; **transaction**: Put customer + Delete old email sentinel + Put \
             new one + Put audit entry (4 items × 2); GSI2 key changes (delete + put in the \
             index); {}",
            gsi.rewritten(&["GSI1", "GSI3", "GSI4"])
        ),
        ..Row::default()
    });

    cart_rows(&t, token, &mut rows).await;

    let size = customer_item_size(&t).await;

    let (_, used) = measure(&t, "DELETE", "/v1/me", token, None, 204).await;
    rows.push(Row {
        route: "DELETE /v1/me",
        case: "erase own account",
        tx_sentinels: 3,
        used,
        writes: true,
        note: "GetItem customer (consistent); **transaction**: Delete customer + username, phone \
               and email sentinels (4 items × 2), customer leaves GSI1–GSI4; Query own partition \
               (consistent: 2 sessions, the cart, 4 audit entries); BatchWriteItem deleting those \
               7 items (the cart at its size)"
            .into(),
        ..Row::default()
    });

    local_stack::admin::ensure_admin(&t.app().store, "bench-admin@example.com", "bench admin password", "Bench")
        .await
        .unwrap_or_else(|e| fail(&format!("creating the admin: {e}")));
    let (_, used) = measure(&t, "POST", "/v1/auth/staff/login", None, Some(staff_body()), 200).await;
    rows.push(Row {
        route: "POST /v1/auth/staff/login",
        case: "right password",
        used,
        writes: true,
        note: "GetItem login guard (consistent, absent); GetItem staff email sentinel + GetItem \
               staff (consistent); Argon2id (no I/O); PutItem session"
            .into(),
        ..Row::default()
    });

    let admin = text(&t.call("POST", "/v1/auth/staff/login", None, Some(staff_body())).await, "access_token");
    customers_rows(&t, &admin, &gsi, &mut rows).await;
    search::search_rows(&t, &admin, &mut rows).await;
    media::media_rows(&t, &mut rows).await;
    signin::signin_rows(&t, &idp, &mut rows).await;
    signin::staff_security_rows(&t, &mut rows).await;

    print_table(&rows, &gsi, size, quirks);
}

fn staff_body() -> Value {
    json!({ "email": "bench-admin@example.com", "password": "bench admin password" })
}

/// The customers function: create, read, look up, update, status change, activity, bulk
/// update and the list, measured on a table holding 25 staff-created customers.
async fn customers_rows(t: &TestApp, admin: &str, gsi: &Indexes, rows: &mut Vec<Row>) {
    let token = Some(admin);
    let body = json!({"name": "Mary Banda", "phone": "+260977000100", "email": "mary@example.com",
                      "city": "Lusaka", "country": "Zambia", "tags": "premium"});
    let (created, used) = measure(t, "POST", "/v1/customers", token, Some(body), 201).await;
    let id = text(&created, "customer_id");
    rows.push(Row {
        route: "POST /v1/customers",
        case: "phone + email, no custom fields defined",
        tx_sentinels: 4,
        empty_consistent_queries: 1,
        used,
        writes: true,
        note: "Query `FIELDS` (consistent; empty here, 1 RCU per 4 KB of definitions otherwise); \
               GetItem username sentinel (consistent); **transaction**: Put customer + audit \
               entry + username, phone and email sentinels (5 items × 2); the customer lands in \
               GSI1, GSI2, GSI3 and GSI4 (+1 WCU each per KB of index entry)"
            .into(),
        ..Row::default()
    });
    let body = json!({"name": "Idem Potent", "email": "idem@example.com"});
    let auth = format!("Bearer {admin}");
    let headers =
        [("content-type", "application/json"), ("authorization", auth.as_str()), ("idempotency-key", "bench-1")];
    let before = t.app().store.meter().snapshot();
    let response = t.send("POST", "/v1/customers", &headers, body.to_string().as_bytes(), SOURCE_IP).await;
    let used = t.app().store.meter().snapshot() - before;
    if response.status != 201 {
        fail(&format!("create with an Idempotency-Key answered {}", response.status));
    }
    rows.push(Row {
        route: "POST /v1/customers",
        case: "with `Idempotency-Key` (first time)",
        tx_sentinels: 3,
        empty_consistent_queries: 1,
        used,
        writes: true,
        note: "as above with one sentinel fewer, plus conditional PutItem of the idempotency \
               claim and PutItem of the stored response (each ≈ 1 KB)"
            .into(),
        ..Row::default()
    });
    let before = t.app().store.meter().snapshot();
    let replay = t.send("POST", "/v1/customers", &headers, body.to_string().as_bytes(), SOURCE_IP).await;
    let used = t.app().store.meter().snapshot() - before;
    if replay.header("idempotent-replayed") != Some("true") {
        fail("the repeat was not replayed");
    }
    rows.push(Row {
        route: "POST /v1/customers",
        case: "same `Idempotency-Key` again (replay)",
        used,
        writes: false,
        failed_conditional_writes: 1,
        note: "conditional PutItem of the claim fails (a failed condition still bills 1 WCU) + \
               GetItem of the stored response (consistent)"
            .into(),
        ..Row::default()
    });

    let path = format!("/v1/customers/{id}");
    let (_, used) = measure(t, "GET", &path, token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/customers/{customer_id}",
        case: "by id",
        used,
        note: "GetItem customer (consistent)".into(),
        ..Row::default()
    });
    let (_, used) = measure(t, "GET", "/v1/customers/by-phone/0977000100", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/customers/by-phone/{phone}",
        case: "found in GSI1",
        used,
        note: "Query GSI1 `PHONE#…` (eventually consistent, keys only) + GetItem customer \
               (consistent); the sentinel is read only when the index has not caught up"
            .into(),
        ..Row::default()
    });
    let (_, used) = measure(t, "PATCH", &path, token, Some(json!({"city": "Ndola"})), 200).await;
    rows.push(Row {
        route: "PATCH /v1/customers/{customer_id}",
        case: "one field",
        tx_sentinels: 1,
        used,
        writes: true,
        note: format!(
            "GetItem customer (consistent); **transaction**: Put customer conditional on \
             `version` + Put audit entry (2 items × 2); {}",
            gsi.rewritten(&["GSI1", "GSI2", "GSI3", "GSI4"])
        ),
        ..Row::default()
    });
    let status = json!({"status": "suspended", "reason": "benchmark"});
    let (_, used) = measure(t, "POST", &format!("{path}/status"), token, Some(status), 200).await;
    rows.push(Row {
        route: "POST /v1/customers/{customer_id}/status",
        case: "active → suspended",
        tx_sentinels: 1,
        used,
        writes: true,
        note: format!(
            "GetItem staff (the admin re-check, consistent); GetItem customer; **transaction**: Put \
             customer + Put audit entry (2 items × 2); GSI4 key moves from `STATUS#active` to \
             `STATUS#suspended` (delete + put in the index); {}",
            gsi.rewritten(&["GSI1", "GSI2", "GSI3"])
        ),
        ..Row::default()
    });
    let back = json!({"status": "active", "reason": "benchmark"});
    t.call("POST", &format!("{path}/status"), token, Some(back)).await;
    let (_, used) =
        measure(t, "POST", &format!("{path}/activity"), token, Some(json!({"type": "transaction"})), 200).await;
    rows.push(Row {
        route: "POST /v1/customers/{customer_id}/activity",
        case: "transaction",
        used,
        writes: true,
        no_reads: true,
        note: format!(
            "UpdateItem `ADD total_transactions :1, version :1` conditional on `status = active` \
             (no read first); {}",
            gsi.rewritten(&["GSI1", "GSI2", "GSI3", "GSI4"])
        ),
        ..Row::default()
    });

    let mut ids = Vec::new();
    for n in 0..23 {
        let body = json!({"name": format!("List Customer{n}"), "email": format!("list{n}@example.com")});
        let response = t.call("POST", "/v1/customers", token, Some(body)).await;
        ids.push(text(&response, "customer_id"));
    }
    let (_, used) = measure(t, "GET", "/v1/customers?limit=20", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/customers",
        case: "page of 20, no filter (25 customers)",
        empty_queries: 4,
        used,
        note: "5 Queries on GSI4 in parallel, one per `STATUS#…` partition, `Limit` 21 each, \
               newest first (4 of them empty here); merged; cost grows with the page, not the \
               table"
            .into(),
        ..Row::default()
    });
    let (_, used) = measure(t, "GET", "/v1/customers?status=active&limit=20", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/customers",
        case: "page of 20, `status=active`",
        used,
        note: "1 Query on GSI4 `STATUS#active`, `Limit` 21".into(),
        ..Row::default()
    });
    let bulk = json!({"customer_ids": &ids[..10], "updates": {"tags": "spring-sale"}});
    let (_, used) = measure(t, "POST", "/v1/customers/bulk-update", token, Some(bulk), 200).await;
    rows.push(Row {
        route: "POST /v1/customers/bulk-update",
        case: "10 customers, one field",
        used,
        writes: true,
        note: "per customer (10 at a time): GetItem customer + **transaction** Put customer + Put \
               audit entry (2 items × 2)"
            .into(),
        ..Row::default()
    });
}

/// Cart rows: a new guest cart, a line put, a migration of a 10-line guest cart into the
/// customer's cart (which shares one product with it), and a read of the 10-line result.
async fn cart_rows(t: &TestApp, token: Option<&str>, rows: &mut Vec<Row>) {
    let (created, used) = measure(t, "POST", "/v1/cart/guest", None, None, 201).await;
    rows.push(Row {
        route: "POST /v1/cart/guest",
        case: "new guest cart",
        used,
        writes: true,
        note: "PutItem `GUEST#<sha256(token)>/CART` (empty, `attribute_not_exists`)".into(),
        no_reads: true,
        ..Row::default()
    });
    let guest = text(&created, "guest_token");

    let line = json!({ "quantity": 1, "unit_price": 1999, "name": "Product 0", "attributes": {"colour": "red"} });
    let (_, used) = measure(t, "PUT", "/v1/cart/items/SKU-0", token, Some(line), 200).await;
    rows.push(Row {
        route: "PUT /v1/cart/items/{product_id}",
        case: "first line of a customer cart",
        used,
        writes: true,
        note: "GetItem customer (consistent: the account still exists); GetItem cart (consistent, \
               absent); PutItem cart (`attribute_not_exists`); later writes are conditional on \
               `version` and cost ceil(cart size / 1 KB)"
            .into(),
        ..Row::default()
    });

    let guest_headers = [("content-type", "application/json"), ("x-guest-token", guest.as_str())];
    for i in 0..10 {
        let line = json!({ "quantity": 2, "unit_price": 1999, "name": format!("Product {i}"), "attributes": {"colour": "red"} });
        let path = format!("/v1/cart/items/SKU-{i}");
        let response = t.send("PUT", &path, &guest_headers, line.to_string().as_bytes(), SOURCE_IP).await;
        if response.status != 200 {
            fail(&format!("guest PUT {path} answered {}", response.status));
        }
    }
    let guest_bytes = cart_item_size(t, &format!("GUEST#{}", guest_key(&guest))).await;
    let migrate = json!({ "guest_token": guest });
    let (_, used) = measure(t, "POST", "/v1/cart/migrate", token, Some(migrate), 200).await;
    let cart_bytes = cart_item_size(t, "CUSTOMER#").await;
    // The 4 actions' transactional costs: 2 × ceil(size / 1 KB) each (the migration record is
    // under 1 KB).
    let sizes = [customer_item_size(t).await, cart_bytes, guest_bytes, Some(0)];
    let costs: Vec<f64> = sizes.iter().map(|b| 2.0 * b.unwrap_or(0).div_ceil(1024).max(1) as f64).collect();
    let mut distinct = costs.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let bytes = |b: Option<usize>| b.map_or("?".to_string(), |b| b.to_string());
    rows.push(Row {
        route: "POST /v1/cart/migrate",
        case: "10-line guest cart into a 1-line cart",
        used,
        writes: true,
        tx_equal_wcu: costs.iter().sum::<f64>() - distinct.iter().sum::<f64>(),
        note: format!(
            "GetItem customer; GetItem guest cart (≈ {} bytes) + customer cart (consistent); \
             **transaction** of 4 actions whatever the line count, each 2 × ceil(size / 1 KB): \
             ConditionCheck customer ({} WCU) + Put customer cart at its `version` (≈ {} bytes \
             after: {} WCU) + Delete guest cart at its `version` ({} WCU) + Put migration record \
             (`attribute_not_exists`, {} WCU)",
            bytes(guest_bytes),
            costs[0],
            bytes(cart_bytes),
            costs[1],
            costs[2],
            costs[3]
        ),
        ..Row::default()
    });

    let (_, used) = measure(t, "GET", "/v1/cart", token, None, 200).await;
    rows.push(Row {
        route: "GET /v1/cart",
        case: "customer cart, 10 lines",
        used,
        writes: false,
        note: format!(
            "GetItem cart (consistent; ≈ {} bytes, one 4 KB read unit); the token is verified \
             without a read",
            cart_bytes.map_or("?".to_string(), |b| b.to_string())
        ),
        ..Row::default()
    });
}

fn guest_key(token: &str) -> String {
    shared::domain::cart::GuestToken::parse(token).map(|t| t.key_hash()).unwrap_or_else(|| fail("bad guest token"))
}

/// Approximate DynamoDB size of a cart item: the guest cart by its partition, or the one
/// customer's cart (`CUSTOMER#` prefix, found through GSI1), read without the meter.
async fn cart_item_size(t: &TestApp, pk: &str) -> Option<usize> {
    let store = &t.app().store;
    let pk = if pk == "CUSTOMER#" {
        let out = store
            .client()
            .query()
            .table_name(store.table())
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("PHONE#{PHONE}")))
            .send()
            .await
            .ok()?;
        out.items().first()?.get("PK")?.clone()
    } else {
        AttributeValue::S(pk.to_string())
    };
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", pk)
        .key("SK", AttributeValue::S("CART".into()))
        .send()
        .await
        .ok()?
        .item?;
    Some(item.iter().map(|(name, value)| name.len() + value_size(value)).sum())
}

/// Where the endpoint's capacity reports are known to differ from DynamoDB's billing; found
/// by probing, so the same binary reports plainly against a real table.
#[derive(Clone, Copy)]
struct Quirks {
    /// A transaction of two equal small Puts reported less than 2 × 2 WCU: DynamoDB Local 3.x
    /// merges per-item costs that are equal instead of adding them.
    merges_equal_tx_items: bool,
    /// What the endpoint reported for that probe transaction.
    probe_wcu: f64,
    /// A Query matching nothing reported 0 RCU, where DynamoDB bills a minimum read.
    free_empty_query: bool,
}

/// Probes the test table directly through the client, so the meter does not see it.
async fn probe(t: &TestApp) -> Quirks {
    let store = &t.app().store;
    let client = store.client();
    let key = |n: u32| AttributeValue::S(format!("PROBE#{n}"));
    let put = |n: u32| {
        let put = Put::builder()
            .table_name(store.table())
            .item("PK", key(n))
            .item("SK", AttributeValue::S("PROBE".into()))
            .build()
            .expect("table name and item are set");
        TransactWriteItem::builder().put(put).build()
    };
    let written = client
        .transact_write_items()
        .transact_items(put(1))
        .transact_items(put(2))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap_or_else(|err| fail(&format!("probe transaction: {err}")));
    let wcu: f64 = written.consumed_capacity().iter().filter_map(|c| c.capacity_units()).sum();
    for n in 1..=2 {
        client
            .delete_item()
            .table_name(store.table())
            .key("PK", key(n))
            .key("SK", AttributeValue::S("PROBE".into()))
            .send()
            .await
            .unwrap_or_else(|err| fail(&format!("probe clean-up: {err}")));
    }
    let queried = client
        .query()
        .table_name(store.table())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", key(0))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap_or_else(|err| fail(&format!("probe query: {err}")));
    let rcu = queried.consumed_capacity().and_then(|c| c.capacity_units()).unwrap_or(0.0);
    Quirks { merges_equal_tx_items: wcu < 4.0, probe_wcu: wcu, free_empty_query: rcu == 0.0 }
}

/// What DynamoDB would bill for the row: the measurement plus what the endpoint left out.
fn on_dynamodb(row: &Row, quirks: Quirks) -> Capacity {
    let mut billed = row.used;
    if quirks.merges_equal_tx_items && row.tx_sentinels > 1 {
        // All sentinel actions cost the same {table: 2 WCU}; the endpoint counted one of them.
        billed.write += 2.0 * (row.tx_sentinels - 1) as f64;
    }
    if quirks.merges_equal_tx_items {
        billed.write += row.tx_equal_wcu;
    }
    if quirks.free_empty_query {
        billed.read += 0.5 * row.empty_queries as f64 + row.empty_consistent_queries as f64;
    }
    billed.write += row.failed_conditional_writes as f64;
    billed
}

/// Approximate DynamoDB size of the customer item (attribute names + values), read directly
/// through the client so the meter does not see it.
async fn customer_item_size(t: &TestApp) -> Option<usize> {
    let store = &t.app().store;
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("PHONE#{PHONE}")))
        .send()
        .await
        .ok()?;
    let pk = out.items().first()?.get("PK")?.clone();
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", pk)
        .key("SK", AttributeValue::S("PROFILE".into()))
        .send()
        .await
        .ok()?
        .item?;
    Some(item.iter().map(|(name, value)| name.len() + value_size(value)).sum())
}

/// DynamoDB's item-size rules, closely enough to tell which 1 KB / 4 KB step an item is on.
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

fn units(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn print_table(rows: &[Row], gsi: &Indexes, size: Option<usize>, quirks: Quirks) {
    println!("### DynamoDB consumed capacity per route\n");
    println!(
        "- Method: one request per row, in this order, through the real handlers \
         (`integration_tests::TestApp`) against DynamoDB Local on a fresh table created from \
         `template.yaml`; capacity = difference of the store's meter around the request \
         (`ReturnConsumedCapacity=TOTAL` on every call)"
    );
    println!("- Template GSIs: {}", gsi.summary());
    match size {
        Some(bytes) => println!(
            "- Customer item before the erase: ≈ {bytes} bytes (one customer, phone + email, \
             no address)"
        ),
        None => println!("- Customer item size: could not be read"),
    }
    println!();
    println!(
        "| Route | Case | Read CU (reported) | Write CU (reported) | Read CU (DynamoDB) \
         | Write CU (DynamoDB) | Items touched |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    let mut total = (Capacity::default(), Capacity::default());
    for row in rows {
        let billed = on_dynamodb(row, quirks);
        let mark = |reported: f64, billed: f64| {
            if reported == billed { units(billed) } else { format!("**{}**", units(billed)) }
        };
        println!(
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            row.route,
            row.case,
            units(row.used.read),
            units(row.used.write),
            mark(row.used.read, billed.read),
            mark(row.used.write, billed.write),
            row.note
        );
        total.0.read += row.used.read;
        total.0.write += row.used.write;
        total.1.read += billed.read;
        total.1.write += billed.write;
    }
    println!();
    println!(
        "Total of the {} requests: {} RCU, {} WCU reported; {} RCU, {} WCU on DynamoDB.",
        rows.len(),
        units(total.0.read),
        units(total.0.write),
        units(total.1.read),
        units(total.1.write)
    );
    if quirks.merges_equal_tx_items {
        println!(
            "\n> **Caveat (measured by a probe this run):** the endpoint reported a \
             `TransactWriteItems` of two equal small Puts as {} WCU instead of 4 — it merges per-item costs \
             that are equal instead of adding them, so a transaction with several sentinel \
             actions is under-reported. The DynamoDB columns add 2 WCU for every sentinel \
             action beyond the first, and for the cart migration the cost of every action that \
             costs the same as another one (from the item sizes) (**bold** where that changes \
             the figure).",
            units(quirks.probe_wcu)
        );
    }
    if quirks.free_empty_query {
        println!(
            "\n> **Caveat (measured by a probe this run):** the endpoint reported 0 RCU for a \
             Query that matched nothing. DynamoDB bills a Query at least one 4 KB read (0.5 RCU \
             eventually consistent); the DynamoDB columns add it for the empty GSI1 look-up of \
             a new phone."
        );
    }
    let unreported: Vec<String> = rows
        .iter()
        .filter(|row| row.writes && row.used.write == 0.0)
        .map(|row| format!("`{}` ({})", row.route, row.case))
        .collect();
    let unread: Vec<String> = rows
        .iter()
        .filter(|row| row.used.read == 0.0 && !row.no_reads)
        .map(|row| format!("`{}` ({})", row.route, row.case))
        .collect();
    if !unreported.is_empty() {
        println!(
            "\n> **Caveat:** write capacity 0 where a write certainly happened: {}. DynamoDB Local \
             did not report it; these rows understate the cost on DynamoDB.",
            unreported.join(", ")
        );
    }
    if !unread.is_empty() {
        println!(
            "\n> **Caveat:** read capacity 0 where a read certainly happened: {}. DynamoDB Local \
             did not report it.",
            unread.join(", ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Provisioning for the memory benchmark
// ---------------------------------------------------------------------------------------------

/// Settings the provisioning app uses on top of the process environment: codes are echoed so
/// it can sign in, and the access token outlives a long benchmark run (the functions verify
/// the token's own `exp`, not their configured lifetime).
const PROVISION_OVERRIDES: [(&str, &str); 5] = [
    ("OTP_DELIVERY", "log"),
    ("OTP_DEV_ECHO", "1"),
    ("OTP_MIN_INTERVAL_SECONDS", "0"),
    ("OTP_PER_PHONE_PER_HOUR", "1000"),
    ("ACCESS_TOKEN_TTL_SECONDS", "86400"),
];

async fn provision(dir: &Path) {
    for name in ["DYNAMODB_ENDPOINT", "S3_ENDPOINT", "TABLE_NAME", "MEDIA_BUCKET"] {
        if std::env::var(name).map_or(true, |v| v.is_empty()) {
            fail(&format!("provision needs {name} (the functions' environment)"));
        }
    }
    let config = Config::from_lookup(|name| {
        PROVISION_OVERRIDES
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| std::env::var(name).ok())
    })
    .unwrap_or_else(|err| fail(&format!("configuration: {err}")));
    let app = App::load(config, &integration_tests::sdk_config().await).await.expect("app");
    // The published public keys, for a function that verifies with them alone (scripts/bench).
    let jwks = shared::secrets::key_set_document(app.keys().jwt().published());
    std::fs::create_dir_all(dir).unwrap_or_else(|err| fail(&format!("{}: {err}", dir.display())));
    std::fs::write(dir.join("jwks.json"), jwks).unwrap_or_else(|err| fail(&format!("jwks.json: {err}")));
    let template = integration_tests::template();
    let created = ensure_table(app.store.client(), app.store.table(), &template.table)
        .await
        .unwrap_or_else(|err| fail(&format!("table {}: {err}", app.store.table())));
    ensure_bucket(app.s3(), &app.config.media_bucket)
        .await
        .unwrap_or_else(|err| fail(&format!("bucket {}: {err}", app.config.media_bucket)));
    eprintln!(
        "capacity provision: table {} ({}), bucket {}",
        app.store.table(),
        if created { "created" } else { "existed" },
        app.config.media_bucket
    );
    let api = LocalApi::new(app, &template.routes).unwrap_or_else(|err| fail(&format!("local API: {err}")));

    // A realistic customer: signed up by phone, with an email added afterwards.
    let phone = "+260977000001";
    let sent = call(&api, "POST", "/v1/auth/otp", None, json!({ "phone": phone }), 202).await;
    let code = sent["dev_code"].as_str().unwrap_or_else(|| fail("no dev_code"));
    let login = json!({ "phone": phone, "code": code, "name": "Bench Customer" });
    let login = call(&api, "POST", "/v1/auth/login", None, login, 200).await;
    let token = login["access_token"].as_str().unwrap_or_else(|| fail("no access_token")).to_string();
    let email = json!({ "email": "bench.customer@example.com" });
    call(&api, "PATCH", "/v1/me", Some(&token), email, 200).await;
    call(&api, "GET", "/v1/me", Some(&token), Value::Null, 200).await;
    eprintln!(
        "capacity provision: customer {} signed up, token valid for 24 h",
        login["customer"]["customer_id"].as_str().unwrap_or("?")
    );

    // A staff reader of that customer, for the customers function.
    let customer_id = login["customer"]["customer_id"].as_str().unwrap_or_else(|| fail("no customer_id")).to_string();
    local_stack::admin::ensure_admin(&api.app().store, "bench-admin@example.com", "bench admin password", "Bench")
        .await
        .unwrap_or_else(|e| fail(&format!("creating the admin: {e}")));
    let staff = call(&api, "POST", "/v1/auth/staff/login", None, staff_body(), 200).await;
    let staff_token = staff["access_token"].as_str().unwrap_or_else(|| fail("no staff access_token")).to_string();
    let customer_path = format!("/v1/customers/{customer_id}");
    provision_media(&api, &token).await;

    std::fs::create_dir_all(dir).unwrap_or_else(|err| fail(&format!("{}: {err}", dir.display())));
    // `GET /v1/health` needs no token: its event is static, `bench/events/auth-health.json`.
    // One path per line on stdout, in this order: profile, customers, cart, search, media,
    // media-processor.
    let events = [
        ("profile-get-me.json", "GET", "/v1/me", Some(format!("Bearer {token}"))),
        ("customers-get.json", "GET", customer_path.as_str(), Some(format!("Bearer {staff_token}"))),
        ("cart-get.json", "GET", "/v1/cart", Some(format!("Bearer {token}"))),
        ("search-get.json", "GET", "/v1/customers/search?query=bench", Some(format!("Bearer {staff_token}"))),
        ("media-list.json", "GET", "/v1/media", Some(format!("Bearer {token}"))),
    ];
    for (file, method, path, authorization) in events {
        let mut headers = vec![
            ("accept".to_string(), "application/json".to_string()),
            ("user-agent".to_string(), "bench".to_string()),
            ("host".to_string(), "abc123.execute-api.us-east-1.amazonaws.com".to_string()),
        ];
        if let Some(value) = authorization {
            headers.push(("authorization".to_string(), value));
        }
        let route_key = format!("{method} {path}");
        let event = api_gateway_event(&HttpInput {
            method,
            path_and_query: path,
            headers,
            body: b"",
            source_ip: SOURCE_IP,
            route_key: &route_key,
        });
        let target: PathBuf = dir.join(file);
        let text = serde_json::to_string_pretty(&event).expect("JSON");
        std::fs::write(&target, text + "\n").unwrap_or_else(|err| fail(&format!("{}: {err}", target.display())));
        println!("{}", target.display());
    }
    let avatar = pending_avatar(&api, &token).await;
    let target = dir.join("media-processor-avatar.json");
    std::fs::write(&target, s3_event(&api, &avatar))
        .unwrap_or_else(|err| fail(&format!("{}: {err}", target.display())));
    println!("{}", target.display());
}

/// Two ready documents of the customer, so that `GET /v1/media` lists real items.
async fn provision_media(api: &LocalApi, token: &str) {
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    for n in 0..2 {
        let request = json!({"filename": format!("contract-{n}.pdf"), "content_type": "application/pdf", "size": pdf.len(), "purpose": "document"});
        let slot = call(api, "POST", "/v1/media/uploads", Some(token), request, 201).await;
        upload(&slot, pdf).await;
        let media_id = slot["media_id"].as_str().unwrap_or_else(|| fail("no media_id"));
        call(api, "POST", &format!("/v1/media/{media_id}/complete"), Some(token), Value::Null, 200).await;
    }
    eprintln!("capacity provision: 2 ready documents for GET /v1/media");
}

async fn upload(slot: &Value, bytes: &[u8]) {
    let put = integration_tests::put_to_slot(slot, bytes).await;
    if put.status != 200 {
        fail(&format!("PUT to the presigned URL answered {}: {}", put.status, String::from_utf8_lossy(&put.body)));
    }
}

/// A phone photo (4000 × 3000, just under the 5 MiB avatar limit, with EXIF) uploaded as an
/// avatar and left pending: the processor's work. Returns its object key.
async fn pending_avatar(api: &LocalApi, token: &str) -> String {
    let limit = api.app().config.media.policy.avatar_max_bytes as usize;
    let photo = integration_tests::photo::phone_photo(4000, 3000, limit);
    let request = json!({"filename": "IMG_0001.JPG", "content_type": "image/jpeg", "size": photo.jpeg.len(), "purpose": "avatar"});
    let slot = call(api, "POST", "/v1/media/uploads", Some(token), request, 201).await;
    upload(&slot, &photo.jpeg).await;
    eprintln!("capacity provision: a pending {}-byte JPEG avatar for the processor", photo.jpeg.len());
    let media_id = slot["media_id"].as_str().unwrap_or_else(|| fail("no media_id"));
    let customer = slot["media"]["customer_id"].as_str().unwrap_or_else(|| fail("no customer_id"));
    format!("media/{customer}/{media_id}")
}

/// The sample `s3:ObjectCreated` event (events/s3-object-created.json) for `key`.
fn s3_event(api: &LocalApi, key: &str) -> String {
    let sample = std::fs::read_to_string(integration_tests::repo_root().join("events/s3-object-created.json"))
        .unwrap_or_else(|e| fail(&format!("events/s3-object-created.json: {e}")));
    sample
        .replace("media/CUST_0E7E5700/MED_0123456789ABCDEF", key)
        .replace("media-5c9a6f30-8a41-11ef-9f3b-0a1b2c3d4e5f", &api.app().config.media_bucket)
}

async fn call(api: &LocalApi, method: &str, path: &str, token: Option<&str>, body: Value, expected: u16) -> Value {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(token) = token {
        headers.push(("authorization".to_string(), format!("Bearer {token}")));
    }
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let (status, _, response) = api
        .call(HttpInput { method, path_and_query: path, headers, body: &bytes, source_ip: SOURCE_IP, route_key: "" })
        .await;
    if status.as_u16() != expected {
        fail(&format!(
            "{method} {path} answered {status} (expected {expected}): {}",
            String::from_utf8_lossy(&response)
        ));
    }
    serde_json::from_slice(&response).unwrap_or(Value::Null)
}
