//! Customer exports (issue #12) against DynamoDB Local and moto: the file holds exactly the
//! matching customers (beyond the search's counting cap), downloaded through the presigned
//! link; formula injection is neutralised; admins only; bad bodies are named; a failed or
//! silent job ends `failed`; the stream-fed job (the AWS path) writes the same file.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use integration_tests::{StaffTokens, TestApp, TestResponse, http_get, test_audit};
use serde_json::{Value, json};
use shared::domain::export::{ExportId, ExportStatus};
use shared::domain::{Customer, CustomerId, PhoneE164, Username};
use shared::time::Timestamp;

async fn setup(overrides: &[(&str, &str)]) -> (TestApp, StaffTokens) {
    let t = TestApp::with_env(overrides).await;
    let tokens = t.staff_tokens().await;
    (t, tokens)
}

fn customer(first: &str, last: &str, tags: &[&str]) -> Customer {
    let mut c = Customer::new(
        CustomerId::generate(),
        Username::base(first, last),
        (first.into(), last.into()),
        Timestamp::now(),
    );
    c.tags = tags.iter().map(|t| t.to_string()).collect();
    c
}

/// Creates `customers` through the store's creation path, 25 at a time; their ids.
async fn seed(t: &TestApp, customers: Vec<Customer>) -> BTreeSet<String> {
    let note = test_audit();
    let mut ids = BTreeSet::new();
    let mut customers = customers.into_iter().peekable();
    while customers.peek().is_some() {
        let batch: Vec<Customer> = customers.by_ref().take(25).collect();
        let created = join_all(batch.into_iter().map(|c| t.app().store.create_customer(c, &note, false))).await;
        ids.extend(created.into_iter().map(|c| c.expect("seed customer").customer_id.as_str().to_string()));
    }
    ids
}

async fn start_export(t: &TestApp, admin: &str, body: Value) -> (String, TestResponse) {
    let created = t.call("POST", "/v1/exports/customers", Some(admin), Some(body)).await;
    assert_eq!(created.status, 202, "{}", String::from_utf8_lossy(&created.body));
    let id = created.json()["export_id"].as_str().expect("export_id").to_string();
    assert_eq!(created.header("location"), Some(format!("/v1/exports/{id}").as_str()));
    assert_eq!(created.json()["status"], "pending");
    (id, created)
}

/// Polls the export until it is `ready` or `failed` (at most a minute).
async fn finished(t: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let read = t.call("GET", &format!("/v1/exports/{id}"), Some(token), None).await;
        assert_eq!(read.status, 200, "{}", String::from_utf8_lossy(&read.body));
        let export = read.json();
        if export["status"] == "ready" || export["status"] == "failed" {
            return export;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("export {id} did not finish within a minute");
}

/// The CSV behind a ready export's link: its header and its rows.
async fn download_csv(export: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let url = export["download_url"].as_str().expect("download_url");
    let (status, body) = http_get(url).await;
    assert_eq!(status, 200, "download: {}", String::from_utf8_lossy(&body));
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header = reader.headers().expect("header").iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.expect("a CSV record").iter().map(str::to_string).collect()).collect();
    (header, rows)
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?.1.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn an_export_beyond_the_counting_cap_holds_exactly_the_matching_customers() {
    let (t, tokens) = setup(&[("SEARCH_COUNT_CAP", "50")]).await;
    let matching: Vec<Customer> = (0..300).map(|i| customer(&format!("Mary{i}"), "Banda", &["campaign"])).collect();
    let others: Vec<Customer> = (0..30).map(|i| customer(&format!("John{i}"), "Phiri", &["other"])).collect();
    let expected = seed(&t, matching).await;
    seed(&t, others).await;

    let search = t.call("POST", "/v1/customers/search", Some(&tokens.admin), Some(json!({"tags": ["campaign"]}))).await;
    // The tag's posting list is read whole, so the total is exact past the counting cap too.
    assert_eq!(search.json()["total"], 300, "{}", search.json());

    let (id, _) = start_export(&t, &tokens.admin, json!({"tags": ["campaign"]})).await;
    let export = finished(&t, &tokens.admin, &id).await;
    assert_eq!(export["status"], "ready", "{export}");
    assert_eq!(export["rows"], 300);
    assert_eq!(export["filter"], json!({"tags": ["campaign"]}));
    assert_eq!(export["format"], "csv");
    assert!(export["completed_at"].is_string() && export["error"].is_null());

    let (header, rows) = download_csv(&export).await;
    assert_eq!(header.first().map(String::as_str), Some("customer_id"));
    let id_column = header.iter().position(|h| h == "customer_id").expect("customer_id column");
    let tags_column = header.iter().position(|h| h == "tags").expect("tags column");
    let exported: BTreeSet<String> = rows.iter().map(|r| r[id_column].clone()).collect();
    assert_eq!(rows.len(), 300, "no customer twice");
    assert_eq!(exported, expected);
    assert!(rows.iter().all(|r| r[tags_column] == "campaign"));

    // In another order and format, the walk over the name index beyond the cap: the same set.
    let body = json!({"tags": ["campaign"], "sort_by": "first_name", "sort_order": "asc", "format": "jsonl",
        "columns": ["customer_id", "first_name"]});
    let (by_name, _) = start_export(&t, &tokens.admin, body).await;
    let by_name = finished(&t, &tokens.admin, &by_name).await;
    assert_eq!(by_name["rows"], 300, "{by_name}");
    let (_, body) = http_get(by_name["download_url"].as_str().expect("url")).await;
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("JSON"))
        .collect();
    let names: Vec<String> = lines.iter().map(|l| l["first_name"].as_str().unwrap_or("").to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted by first name");
    let ids: BTreeSet<String> = lines.iter().map(|l| l["customer_id"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(ids, expected);

    // The link is short-lived, and signed anew on every read.
    let url = export["download_url"].as_str().expect("url");
    let expires: u64 = query_param(url, "X-Amz-Expires").expect("X-Amz-Expires").parse().expect("seconds");
    assert!(expires <= 900, "X-Amz-Expires={expires}");
    assert!(export["expires_at"].is_string());
}

#[tokio::test]
async fn another_admin_reads_the_status_and_the_list_is_the_callers() {
    let (t, tokens) = setup(&[]).await;
    seed(&t, vec![customer("Ann", "Lee", &["x"])]).await;
    let (first, _) = start_export(&t, &tokens.admin, json!({})).await;
    let (second, _) = start_export(&t, &tokens.admin, json!({"format": "jsonl"})).await;
    let created = t
        .call(
            "POST",
            "/v1/staff",
            Some(&tokens.admin),
            Some(
                json!({"email": "boss@example.com", "password": "boss-password-1234", "name": "Boss", "role": "admin"}),
            ),
        )
        .await;
    assert_eq!(created.status, 201);
    let login = t
        .call(
            "POST",
            "/v1/auth/staff/login",
            None,
            Some(json!({"email": "boss@example.com", "password": "boss-password-1234"})),
        )
        .await;
    let other_admin = login.json()["access_token"].as_str().expect("token").to_string();

    let export = finished(&t, &other_admin, &first).await;
    assert_eq!(export["status"], "ready");
    assert_eq!(export["rows"], 1);
    let jsonl = finished(&t, &tokens.admin, &second).await;
    let (status, body) = http_get(jsonl["download_url"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["first_name"], "Ann");
    assert_eq!(lines[0]["tags"], json!(["x"]), "the staff view");

    let mine = t.call("GET", "/v1/exports?limit=1", Some(&tokens.admin), None).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.json()["items"][0]["export_id"], second, "newest first");
    let cursor = mine.json()["next_cursor"].as_str().expect("a second page").to_string();
    let page = t.call("GET", &format!("/v1/exports?limit=1&cursor={cursor}"), Some(&tokens.admin), None).await;
    assert_eq!(page.json()["items"][0]["export_id"], first);
    assert!(page.json()["next_cursor"].is_null());
    let theirs = t.call("GET", "/v1/exports", Some(&other_admin), None).await;
    assert_eq!(theirs.json()["items"], json!([]));
    let forged = t.call("GET", "/v1/exports?cursor=bm9wZQ", Some(&tokens.admin), None).await;
    assert_eq!(forged.status, 400);
}

#[tokio::test]
async fn formulas_export_as_text_and_numbers_and_phones_stay_as_they_are() {
    let (t, tokens) = setup(&[]).await;
    let mut evil = customer("=HYPERLINK(\"http://x\",\"y\")", "Banda", &["inj"]);
    evil.phone = PhoneE164::parse("+260971234567", phonenumber::country::Id::ZM).ok();
    evil.company_name = Some("-42".into());
    evil.notes = Some("@SUM(1+1)".into());
    seed(&t, vec![evil]).await;
    let columns = json!(["first_name", "phone", "company_name", "notes", "tags"]);
    let (id, _) = start_export(&t, &tokens.admin, json!({"tags": ["inj"], "columns": columns, "bom": true})).await;
    let export = finished(&t, &tokens.admin, &id).await;
    assert_eq!(export["status"], "ready", "{export}");
    let (status, body) = http_get(export["download_url"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("\u{feff}first_name,".as_bytes()), "BOM, then the header");
    let (header, rows) = download_csv(&export).await;
    assert_eq!(header[0].trim_start_matches('\u{feff}'), "first_name");
    assert_eq!(rows[0], vec!["'=HYPERLINK(\"http://x\",\"y\")", "+260971234567", "-42", "'@SUM(1+1)", "inj"]);
}

#[tokio::test]
async fn exports_are_for_admins_only() {
    let (t, tokens) = setup(&[]).await;
    let customer = t.sign_in("+260971111111", "Cathy Customer").await;
    let customer_token = customer["access_token"].as_str().expect("token").to_string();
    for (method, path) in
        [("POST", "/v1/exports/customers"), ("GET", "/v1/exports"), ("GET", "/v1/exports/EXP_00000000")]
    {
        let body = (method == "POST").then(|| json!({}));
        assert_eq!(t.call(method, path, Some(&tokens.staff), body.clone()).await.status, 403, "{method} {path} staff");
        assert_eq!(
            t.call(method, path, Some(&customer_token), body.clone()).await.status,
            403,
            "{method} {path} customer"
        );
        assert_eq!(t.call(method, path, None, body).await.status, 401, "{method} {path} anonymous");
    }
    assert_eq!(t.call("GET", "/v1/exports/EXP_00000000", Some(&tokens.admin), None).await.status, 404);
    assert_eq!(t.call("GET", "/v1/exports/not-an-id", Some(&tokens.admin), None).await.status, 404);
}

#[tokio::test]
async fn bad_bodies_are_named() {
    let (t, tokens) = setup(&[]).await;
    let post = |body: Value| t.call("POST", "/v1/exports/customers", Some(&tokens.admin), Some(body));
    let cases = [
        (json!({"colour": "red"}), vec!["colour"]),
        (json!({"cursor": "abc", "limit": 10}), vec!["cursor", "limit"]),
        (json!({"format": "xlsx"}), vec!["format"]),
        (json!({"columns": ["first_name", "shoe_size"]}), vec!["columns[1]"]),
        (json!({"columns": "first_name"}), vec!["columns"]),
        (json!({"sort_by": "age", "format": "pdf"}), vec!["sort_by", "format"]),
    ];
    for (body, fields) in cases {
        let response = post(body.clone()).await;
        assert_eq!(response.status, 422, "{body}");
        let mut named = response.error_fields();
        named.sort();
        let mut fields: Vec<String> = fields.into_iter().map(str::to_string).collect();
        fields.sort();
        assert_eq!(named, fields, "{body}");
    }
    let malformed = t
        .send(
            "POST",
            "/v1/exports/customers",
            &[("content-type", "application/json"), ("authorization", &format!("Bearer {}", tokens.admin))],
            b"{\"tags\": [",
            "203.0.113.7",
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(t.count_items("export").await, 0, "nothing recorded for a bad body");
}

#[tokio::test]
async fn a_job_that_cannot_write_its_file_ends_failed_with_a_reason() {
    let (t, tokens) = setup(&[]).await;
    seed(&t, vec![customer("Ann", "Lee", &[])]).await;
    t.app().s3().delete_bucket().bucket(&t.app().config.media_bucket).send().await.expect("bucket removed");
    let (id, _) = start_export(&t, &tokens.admin, json!({})).await;
    let export = finished(&t, &tokens.admin, &id).await;
    assert_eq!(export["status"], "failed");
    assert_eq!(export["error"], "the file could not be written to storage");
    assert!(export["download_url"].is_null() && export["completed_at"].is_string());
}

#[tokio::test]
async fn a_running_job_that_stops_heartbeating_is_failed_but_a_queued_export_waits() {
    // `stream`: no job starts in this process, as if the export-job function had not run yet.
    let (t, tokens) = setup(&[("EXPORT_RUNNER", "stream")]).await;
    let (pending, _) = start_export(&t, &tokens.admin, json!({})).await;
    let (running, _) = start_export(&t, &tokens.admin, json!({"format": "jsonl"})).await;
    let running_id = ExportId::parse(&running).expect("id");
    let seen = t.app().store.get_export(&running_id).await.expect("read").expect("export");
    let claimed = t.app().store.claim_export(&seen, Timestamp::now()).await.expect("claim").expect("claimed");
    assert_eq!(claimed.status, ExportStatus::Running);

    t.app().clock.advance(121);
    let listed = t.call("GET", "/v1/exports", Some(&tokens.admin), None).await.json();
    let statuses: Vec<&str> =
        listed["items"].as_array().into_iter().flatten().filter_map(|e| e["status"].as_str()).collect();
    assert_eq!(statuses, vec!["failed", "pending"], "the list settles the silent job, and only it");
    let read = t.call("GET", &format!("/v1/exports/{running}"), Some(&tokens.admin), None).await.json();
    assert_eq!(read["status"], "failed");
    assert!(read["error"].as_str().is_some_and(|e| e.contains("heartbeat")), "{read}");
    let record = t.app().store.get_export(&running_id).await.expect("read").expect("export");
    assert_eq!(record.status, ExportStatus::Failed, "recorded, not only reported");
    // The job that lost its claim can no longer write.
    assert!(
        !t.app().store.export_heartbeat(&running_id, claimed.attempt, 5, Timestamp::now()).await.expect("heartbeat")
    );
    // Queued for longer than anything could still start it (the stream's retention): failed.
    t.app().clock.advance(86_400);
    let read = t.call("GET", &format!("/v1/exports/{pending}"), Some(&tokens.admin), None).await.json();
    assert_eq!(read["status"], "failed");
    assert!(read["error"].as_str().is_some_and(|e| e.contains("did not run")), "{read}");
}

/// The stream record of an export's INSERT, as the export-job function receives it.
fn insert_event(id: &str) -> Value {
    json!({"Records": [{
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"PK": {"S": format!("EXPORT#{id}")}, "SK": {"S": "EXPORT"}},
            "NewImage": {"entity": {"S": "export"}},
            "SequenceNumber": "100000000000000000001",
            "StreamViewType": "NEW_IMAGE"
        }
    }]})
}

#[tokio::test]
async fn queued_exports_wait_without_being_declared_dead_and_both_finish() {
    let (t, tokens) = setup(&[("EXPORT_RUNNER", "stream")]).await;
    let expected = seed(&t, (0..3).map(|i| customer(&format!("Queue{i}"), "Banda", &["q"])).collect()).await;
    let (first, _) = start_export(&t, &tokens.admin, json!({"tags": ["q"]})).await;
    let (second, _) = start_export(&t, &tokens.admin, json!({"tags": ["q"], "format": "jsonl"})).await;
    // Queued behind a long export on the same shard: polled well past the heartbeat limit.
    t.app().clock.advance(600);
    for id in [&first, &second] {
        let read = t.call("GET", &format!("/v1/exports/{id}"), Some(&tokens.admin), None).await.json();
        assert_eq!(read["status"], "pending", "waiting is not dying: {read}");
    }
    for id in [&first, &second] {
        assert_eq!(export_job::handle_stream_batch(t.app(), insert_event(id)).await, json!({"batchItemFailures": []}));
        let export = finished(&t, &tokens.admin, id).await;
        assert_eq!(export["status"], "ready", "{export}");
        assert_eq!(export["rows"], 3);
    }
    let (_, rows) = download_csv(&finished(&t, &tokens.admin, &first).await).await;
    assert_eq!(rows.into_iter().map(|r| r[0].clone()).collect::<BTreeSet<_>>(), expected);
}

#[tokio::test]
async fn a_job_stopped_mid_way_resumes_from_its_checkpoint_until_every_match_is_written() {
    // A slice of no time at all: every invocation writes one page of 10, then stops itself.
    let sliced = [("EXPORT_SLICE_SECONDS", "0"), ("EXPORT_PAGE_ROWS", "10")];
    let (t, tokens) = setup(&[sliced[0], sliced[1], ("EXPORT_RUNNER", "stream")]).await;
    let expected = seed(&t, (0..35).map(|i| customer(&format!("Slice{i:02}"), "Phiri", &["sl"])).collect()).await;
    seed(&t, vec![customer("Not", "Exported", &["other"])]).await;
    let (id, _) = start_export(&t, &tokens.admin, json!({"tags": ["sl"], "bom": true})).await;

    // In AWS: the paused slice reports its record, the mapping delivers it again.
    let mut invocations = 0;
    loop {
        invocations += 1;
        let answer = export_job::handle_stream_batch(t.app(), insert_event(&id)).await;
        if answer == json!({"batchItemFailures": []}) {
            break;
        }
        assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": "100000000000000000001"}]}));
        let read = t.call("GET", &format!("/v1/exports/{id}"), Some(&tokens.admin), None).await.json();
        assert_eq!(read["status"], "running", "paused between slices is running to a reader");
        assert_eq!(read["rows"], 10 * invocations, "each slice carries on from the last");
        assert!(invocations < 10, "the job makes progress");
    }
    assert_eq!(invocations, 4, "10 + 10 + 10 + 5 rows");
    let export = finished(&t, &tokens.admin, &id).await;
    assert_eq!(export["status"], "ready", "{export}");
    assert_eq!(export["rows"], 35);
    let (_, body) = http_get(export["download_url"].as_str().expect("url")).await;
    assert!(body.starts_with("\u{feff}customer_id,".as_bytes()), "one BOM and header, at the start");
    let (_, rows) = download_csv(&export).await;
    assert_eq!(rows.len(), 35, "no customer twice, none left out");
    assert_eq!(rows.into_iter().map(|r| r[0].clone()).collect::<BTreeSet<_>>(), expected);
    let record = t.app().store.get_export(&ExportId::parse(&id).expect("id")).await.expect("read").expect("export");
    assert_eq!((record.slices, record.attempt, record.checkpoint), (4, 1, None));

    // The local runner: the same slices, one after another, in another order and format.
    let local = t.another_instance(&sliced).await.expect("an inline instance");
    let body = json!({"tags": ["sl"], "sort_by": "first_name", "sort_order": "desc", "format": "jsonl"});
    let (by_name, _) = start_export(&local, &tokens.admin, body).await;
    let export = finished(&local, &tokens.admin, &by_name).await;
    assert_eq!(export["status"], "ready", "{export}");
    let (_, body) = http_get(export["download_url"].as_str().expect("url")).await;
    let names: Vec<String> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).expect("JSON")["first_name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(names.len(), 35);
    assert!(names.windows(2).all(|w| w[0] > w[1]), "in order across slices, none twice: {names:?}");
    let record =
        local.app().store.get_export(&ExportId::parse(&by_name).expect("id")).await.expect("read").expect("export");
    assert_eq!(record.slices, 4);
}

#[tokio::test]
async fn a_retry_takes_over_a_dead_job_as_a_new_attempt_whose_file_the_old_job_cannot_overwrite() {
    let (t, tokens) = setup(&[("EXPORT_RUNNER", "stream"), ("EXPORT_STALE_SECONDS", "1")]).await;
    let expected = seed(&t, (0..3).map(|i| customer(&format!("Takeover{i}"), "Lungu", &["to"])).collect()).await;
    let (id, _) = start_export(&t, &tokens.admin, json!({"tags": ["to"], "columns": ["customer_id"]})).await;
    let export_id = ExportId::parse(&id).expect("id");
    // A first invocation claimed the export, then stalled (or its function timed out).
    let seen = t.app().store.get_export(&export_id).await.expect("read").expect("export");
    let stalled = t.app().store.claim_export(&seen, Timestamp::now()).await.expect("claim").expect("claimed");

    // The redelivered record: the job looks alive, so the retry waits for its heartbeat to go
    // stale, then takes over.
    assert_eq!(export_job::handle_stream_batch(t.app(), insert_event(&id)).await, json!({"batchItemFailures": []}));
    let record = t.app().store.get_export(&export_id).await.expect("read").expect("export");
    assert_eq!((record.status, record.attempt), (ExportStatus::Ready, stalled.attempt + 1));

    // The stalled job wakes up and writes its file: its own attempt's, not the new one.
    let bucket = &t.app().config.media_bucket;
    assert_ne!(stalled.object_key(), record.object_key());
    t.app()
        .s3()
        .put_object()
        .bucket(bucket)
        .key(stalled.object_key())
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"customer_id\r\nSTALE\r\n"))
        .send()
        .await
        .expect("the stalled job's upload");
    let export = finished(&t, &tokens.admin, &id).await;
    let (_, rows) = download_csv(&export).await;
    assert_eq!(rows.into_iter().map(|r| r[0].clone()).collect::<BTreeSet<_>>(), expected, "the newer file");
    // Nor can it record anything.
    let store = &t.app().store;
    assert!(!store.export_heartbeat(&export_id, stalled.attempt, 1, Timestamp::now()).await.expect("heartbeat"));
    let outcome = shared::store::exports::ExportOutcome::Failed("late");
    assert!(!store.finish_export(&export_id, stalled.attempt, 1, outcome, Timestamp::now()).await.expect("finish"));
    assert_eq!(finished(&t, &tokens.admin, &id).await["status"], "ready");
}

#[tokio::test]
async fn the_stream_fed_job_writes_the_same_file() {
    let (t, tokens) = setup(&[("EXPORT_RUNNER", "stream")]).await;
    let expected = seed(&t, (0..5).map(|i| customer(&format!("Zoe{i}"), "Mwale", &["s"])).collect()).await;
    let (id, _) = start_export(&t, &tokens.admin, json!({"tags": ["s"], "columns": ["customer_id"]})).await;
    let event = json!({"Records": [{
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"PK": {"S": format!("EXPORT#{id}")}, "SK": {"S": "EXPORT"}},
            "NewImage": {"entity": {"S": "export"}},
            "SequenceNumber": "100000000000000000001",
            "StreamViewType": "NEW_IMAGE"
        }
    }]});
    let answer = export_job::handle_stream_batch(t.app(), event.clone()).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let export = finished(&t, &tokens.admin, &id).await;
    assert_eq!(export["status"], "ready");
    let (_, rows) = download_csv(&export).await;
    assert_eq!(rows.into_iter().map(|r| r[0].clone()).collect::<BTreeSet<_>>(), expected);
    // A redelivered record finds the export finished and does nothing.
    assert_eq!(export_job::handle_stream_batch(t.app(), event).await, json!({"batchItemFailures": []}));
    assert_eq!(finished(&t, &tokens.admin, &id).await["completed_at"], export["completed_at"]);
}
