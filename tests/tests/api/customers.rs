//! Staff customer management: create, look-ups, updates, bulk update, idempotency, hard delete.
//! (The lifecycle, custom fields and groups are in `lifecycle.rs` and `catalog.rs`.)

use std::collections::HashSet;

use futures::future::join_all;
use integration_tests::{StaffTokens, TestApp, TestResponse};
use serde_json::{Value, json};

async fn setup() -> (TestApp, StaffTokens) {
    let t = TestApp::new().await;
    let tokens = t.staff_tokens().await;
    (t, tokens)
}

async fn create(t: &TestApp, token: &str, body: Value) -> TestResponse {
    t.call("POST", "/v1/customers", Some(token), Some(body)).await
}

async fn create_ok(t: &TestApp, token: &str, body: Value) -> Value {
    let response = create(t, token, body).await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

fn id_of(customer: &Value) -> String {
    customer["customer_id"].as_str().expect("customer_id").to_string()
}

#[tokio::test]
async fn create_answers_201_with_location_etag_and_the_staff_view() {
    let (t, tokens) = setup().await;
    let response = create(
        &t,
        &tokens.staff,
        json!({"name": "John Doe", "phone": "+1 (650) 253-0000", "email": " John.Doe@Example.com ",
               "tags": "Premium, tech", "notes": "Premium customer", "city": "New York", "country": "USA"}),
    )
    .await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    let body = response.json();
    let id = id_of(&body);
    assert!(id.starts_with("CUST_") && id.len() == 13, "{id}");
    assert_eq!(response.header("location"), Some(format!("/v1/customers/{id}").as_str()));
    assert_eq!(response.header("etag"), Some("\"1\""));
    assert_eq!(body["username"], "johndoe");
    assert_eq!((body["first_name"].as_str(), body["last_name"].as_str()), (Some("John"), Some("Doe")));
    assert_eq!(body["phone"], "+16502530000");
    assert_eq!(body["email"], "john.doe@example.com");
    assert_eq!(body["tags"], json!(["premium", "tech"]));
    assert_eq!(body["notes"], "Premium customer");
    assert_eq!(body["full_address"], "New York, USA");
    assert_eq!((body["status"].as_str(), body["is_active"].as_bool()), (Some("active"), Some(true)));
    let fetched = t.call("GET", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await;
    assert_eq!(fetched.json(), body);
}

#[tokio::test]
async fn customers_and_anonymous_callers_cannot_use_staff_routes() {
    let (t, tokens) = setup().await;
    let login = t.sign_in("+260971234567", "Cara Customer").await;
    let customer_token = login["access_token"].as_str().expect("token");
    let body = json!({"name": "X", "email": "x@example.com"});
    assert_eq!(create(&t, customer_token, body.clone()).await.status, 403);
    assert_eq!(t.call("POST", "/v1/customers", None, Some(body)).await.status, 401);
    assert_eq!(t.call("GET", "/v1/customers", Some(customer_token), None).await.status, 403);
    assert_eq!(t.count_items("customer").await, 1, "only the signed-up customer exists");
    let _ = tokens;
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_creates_nothing() {
    let (t, tokens) = setup().await;
    let raw = |body: &'static str| {
        let token = tokens.staff.clone();
        let t = &t;
        async move {
            let auth = format!("Bearer {token}");
            t.send(
                "POST",
                "/v1/customers",
                &[("content-type", "application/json"), ("authorization", &auth)],
                body.as_bytes(),
                "203.0.113.7",
            )
            .await
        }
    };
    assert_eq!(raw("{\"name\": ").await.status, 400, "malformed JSON");
    let wrong = create(
        &t,
        &tokens.staff,
        json!({"name": 5, "email": "a@example.com", "marketing_sms": "yes", "colour": "red"}),
    )
    .await;
    assert_eq!(wrong.status, 422);
    let mut fields = wrong.error_fields();
    fields.sort();
    assert_eq!(fields, ["colour", "marketing_sms", "name"], "unknown and mistyped fields all named");
    let invalid = create(
        &t,
        &tokens.staff,
        json!({"first_name": "Ann", "phone": "12", "email": "not-an-email", "date_of_birth": "1990-02-30",
               "tags": (0..51).map(|i| format!("t{i}")).collect::<Vec<_>>(), "notes": "n".repeat(2001), "gender": "robot"}),
    )
    .await;
    assert_eq!(invalid.status, 422);
    let mut fields = invalid.error_fields();
    fields.sort();
    assert_eq!(fields, ["date_of_birth", "email", "gender", "notes", "phone", "tags"]);
    let nameless = create(&t, &tokens.staff, json!({"email": "a@example.com"})).await;
    assert_eq!((nameless.status, nameless.error_fields()), (422, vec!["first_name".to_string()]));
    let contactless = create(&t, &tokens.staff, json!({"name": "Ann Lee"})).await;
    assert_eq!((contactless.status, contactless.error_fields()), (422, vec!["phone".into(), "email".into()]));
    let huge = format!("{{\"notes\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let auth = format!("Bearer {}", tokens.staff);
    let too_large = t
        .send(
            "POST",
            "/v1/customers",
            &[("content-type", "application/json"), ("authorization", &auth)],
            huge.as_bytes(),
            "203.0.113.7",
        )
        .await;
    assert_eq!(too_large.status, 413);
    assert_eq!(t.count_items("customer").await, 0);
    assert_eq!(t.count_items("audit").await, 0);
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_email_make_one_customer() {
    let (t, tokens) = setup().await;
    let attempts = (0..20).map(|i| {
        create(&t, &tokens.staff, json!({"name": format!("Racer {i}"), "email": format!("Same.Person+x@Example.com")}))
    });
    let responses = join_all(attempts).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    for conflict in responses.iter().filter(|r| r.status == 409) {
        assert_eq!(conflict.error_fields(), ["email"], "the 409 names the field");
    }
    assert_eq!(t.count_items("customer").await, 1);
}

#[tokio::test]
async fn fifty_john_does_get_fifty_distinct_usernames() {
    let (t, tokens) = setup().await;
    let mut usernames = HashSet::new();
    for batch in 0..5 {
        let creates = (0..10).map(|i| {
            create_ok(
                &t,
                &tokens.staff,
                json!({"name": "John Doe", "email": format!("john{}@example.com", batch * 10 + i)}),
            )
        });
        for customer in join_all(creates).await {
            let username = customer["username"].as_str().expect("username").to_string();
            assert!(
                username.starts_with("johndoe") && username.bytes().all(|b| b.is_ascii_alphanumeric()),
                "{username}"
            );
            usernames.insert(username);
        }
    }
    assert_eq!(usernames.len(), 50, "every username is unique");
    assert!(usernames.contains("johndoe"), "the first one gets the plain base");
}

#[tokio::test]
async fn a_chosen_username_that_is_taken_is_a_409_naming_it() {
    let (t, tokens) = setup().await;
    create_ok(&t, &tokens.staff, json!({"name": "Ann Lee", "email": "ann@example.com", "username": "annlee"})).await;
    let taken =
        create(&t, &tokens.staff, json!({"name": "Ann Other", "email": "other@example.com", "username": "AnnLee"}))
            .await;
    assert_eq!((taken.status, taken.error_fields()), (409, vec!["username".to_string()]));
}

#[tokio::test]
async fn look_ups_find_a_customer_right_after_create_by_any_spelling() {
    let (t, tokens) = setup().await;
    let created = create_ok(
        &t,
        &tokens.staff,
        json!({"name": "Zoë Núñez", "phone": "+260 97 765 4321", "email": "Zoe@Example.com"}),
    )
    .await;
    let id = id_of(&created);
    for path in [
        format!("/v1/customers/{id}"),
        "/v1/customers/by-phone/0977654321".to_string(),
        "/v1/customers/by-phone/%2B260977654321".to_string(),
        "/v1/customers/by-phone/00260977654321".to_string(),
        "/v1/customers/by-email/%20ZOE%40example.com".to_string(),
        "/v1/customers/by-username/ZoeNunez".to_string(),
    ] {
        let found = t.call("GET", &path, Some(&tokens.staff), None).await;
        assert_eq!(found.status, 200, "{path}: {}", String::from_utf8_lossy(&found.body));
        assert_eq!(id_of(&found.json()), id, "{path}");
        assert_eq!(found.header("etag"), Some("\"1\""));
    }
    for (path, status) in [
        ("/v1/customers/CUST_00000000", 404),
        ("/v1/customers/not-an-id", 404),
        ("/v1/customers/by-phone/+260977000000", 404),
        ("/v1/customers/by-phone/12", 422),
        ("/v1/customers/by-email/nobody@example.com", 404),
        ("/v1/customers/by-email/nope", 422),
        ("/v1/customers/by-username/nobody", 404),
    ] {
        assert_eq!(t.call("GET", path, Some(&tokens.staff), None).await.status, status, "{path}");
    }
}

#[tokio::test]
async fn patch_and_put_update_partially_and_honour_if_match() {
    let (t, tokens) = setup().await;
    let created =
        create_ok(&t, &tokens.staff, json!({"name": "Pat Patch", "email": "pat@example.com", "city": "Lusaka"})).await;
    let path = format!("/v1/customers/{}", id_of(&created));
    let patched = t
        .call_with(
            "PATCH",
            &path,
            &tokens.staff,
            &[("if-match", "\"1\"")],
            Some(json!({"company_name": "Acme", "tags": ["a"]})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", String::from_utf8_lossy(&patched.body));
    assert_eq!(patched.header("etag"), Some("\"2\""));
    let body = patched.json();
    assert_eq!(
        (body["company_name"].as_str(), body["city"].as_str()),
        (Some("Acme"), Some("Lusaka")),
        "untouched fields stay"
    );
    let put = t.call("PUT", &path, Some(&tokens.staff), Some(json!({"city": null}))).await;
    assert_eq!(put.status, 200);
    assert_eq!(put.json()["city"], Value::Null);
    let stale =
        t.call_with("PATCH", &path, &tokens.staff, &[("if-match", "\"1\"")], Some(json!({"city": "Ndola"}))).await;
    assert_eq!(stale.status, 412);
    let username = t.call("PATCH", &path, Some(&tokens.staff), Some(json!({"username": "other"}))).await;
    assert_eq!(
        (username.status, username.error_fields()),
        (422, vec!["username".to_string()]),
        "usernames never change"
    );
    let missing = t.call("PATCH", "/v1/customers/CUST_00000000", Some(&tokens.staff), Some(json!({"city": "X"}))).await;
    assert_eq!(missing.status, 404);
    let current = t.call("GET", &path, Some(&tokens.staff), None).await.json();
    assert_eq!(
        (current["version"].as_u64(), current["city"].clone()),
        (Some(3), Value::Null),
        "bad requests changed nothing"
    );
}

#[tokio::test]
async fn ten_concurrent_patches_with_one_if_match_give_one_200_and_nine_412() {
    let (t, tokens) = setup().await;
    let created = create_ok(&t, &tokens.staff, json!({"name": "Con Current", "email": "con@example.com"})).await;
    let path = format!("/v1/customers/{}", id_of(&created));
    let patches = (0..10).map(|i| {
        t.call_with("PATCH", &path, &tokens.staff, &[("if-match", "\"1\"")], Some(json!({"city": format!("City {i}")})))
    });
    let statuses: Vec<u16> = join_all(patches).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 9, "{statuses:?}");
    let current = t.call("GET", &path, Some(&tokens.staff), None).await.json();
    assert_eq!(current["version"], 2);
}

#[tokio::test]
async fn changing_phone_or_email_moves_uniqueness_with_it() {
    let (t, tokens) = setup().await;
    let first = create_ok(
        &t,
        &tokens.staff,
        json!({"name": "First One", "phone": "+260971000001", "email": "one@example.com"}),
    )
    .await;
    let second = create_ok(&t, &tokens.staff, json!({"name": "Second Two", "phone": "+260971000002"})).await;
    let first_path = format!("/v1/customers/{}", id_of(&first));
    let taken = t.call("PATCH", &first_path, Some(&tokens.staff), Some(json!({"phone": "+260971000002"}))).await;
    assert_eq!((taken.status, taken.error_fields()), (409, vec!["phone".to_string()]));
    let moved = t
        .call(
            "PATCH",
            &first_path,
            Some(&tokens.staff),
            Some(json!({"phone": "+260971000003", "email": "uno@example.com"})),
        )
        .await;
    assert_eq!(moved.status, 200);
    assert_eq!(moved.json()["phone_verified"], false);
    let second_path = format!("/v1/customers/{}", id_of(&second));
    let takes_old = t
        .call(
            "PATCH",
            &second_path,
            Some(&tokens.staff),
            Some(json!({"phone": "+260971000001", "email": "one@example.com"})),
        )
        .await;
    assert_eq!(takes_old.status, 200, "the old values are free: {}", String::from_utf8_lossy(&takes_old.body));
    let by_old = t.call("GET", "/v1/customers/by-phone/+260971000001", Some(&tokens.staff), None).await;
    assert_eq!(id_of(&by_old.json()), id_of(&second));
    let by_new = t.call("GET", "/v1/customers/by-email/uno@example.com", Some(&tokens.staff), None).await;
    assert_eq!(id_of(&by_new.json()), id_of(&first));
}

#[tokio::test]
async fn list_is_newest_first_filters_by_status_and_pages_without_gaps() {
    let (t, tokens) = setup().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        if i > 0 {
            // Creation times have second precision; customers created within one second are
            // ordered by id, so the test moves the clock on to know the expected order.
            t.app().clock.advance(1);
        }
        ids.push(id_of(
            &create_ok(&t, &tokens.staff, json!({"name": format!("List {i}"), "email": format!("l{i}@example.com")}))
                .await,
        ));
    }
    for id in [&ids[1], &ids[4]] {
        let suspended = t
            .call(
                "POST",
                &format!("/v1/customers/{id}/status"),
                Some(&tokens.admin),
                Some(json!({"status": "suspended", "reason": "test"})),
            )
            .await;
        assert_eq!(suspended.status, 200);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers?limit=3&cursor={c}"),
            None => "/v1/customers?limit=3".to_string(),
        };
        let page = t.call("GET", &path, Some(&tokens.staff), None).await.json();
        seen.extend(page["items"].as_array().expect("items").iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every customer once, newest first");
    let suspended = t.call("GET", "/v1/customers?status=suspended", Some(&tokens.staff), None).await.json();
    let suspended: Vec<String> = suspended["items"].as_array().expect("items").iter().map(id_of).collect();
    assert_eq!(suspended, [ids[4].clone(), ids[1].clone()]);
    let active = t.call("GET", "/v1/customers?is_active=true&limit=100", Some(&tokens.staff), None).await.json();
    assert_eq!(active["items"].as_array().map(Vec::len), Some(5));
    let inactive = t.call("GET", "/v1/customers?is_active=false", Some(&tokens.staff), None).await.json();
    assert_eq!(inactive["items"].as_array().map(Vec::len), Some(2));
    let first = t.call("GET", "/v1/customers?limit=2", Some(&tokens.staff), None).await.json();
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let foreign =
        t.call("GET", &format!("/v1/customers?status=active&cursor={cursor}"), Some(&tokens.staff), None).await;
    assert_eq!(foreign.status, 400, "a cursor of another query");
    let edited = format!("A{}", &cursor[1..]);
    assert_eq!(t.call("GET", &format!("/v1/customers?cursor={edited}"), Some(&tokens.staff), None).await.status, 400);
    for (query, status) in
        [("status=gone", 422), ("limit=0", 422), ("limit=abc", 400), ("status=active&is_active=false", 422)]
    {
        assert_eq!(
            t.call("GET", &format!("/v1/customers?{query}"), Some(&tokens.staff), None).await.status,
            status,
            "{query}"
        );
    }
}

#[tokio::test]
async fn bulk_update_reports_each_customer_and_applies_the_valid_ones() {
    let (t, tokens) = setup().await;
    let a = id_of(&create_ok(&t, &tokens.staff, json!({"name": "Bulk A", "email": "a@example.com"})).await);
    let b = id_of(&create_ok(&t, &tokens.staff, json!({"name": "Bulk B", "email": "b@example.com"})).await);
    let response = t
        .call(
            "POST",
            "/v1/customers/bulk-update",
            Some(&tokens.staff),
            Some(json!({"customer_ids": [a, "CUST_00000000", b, "garbage"], "updates": {"tags": "vip", "marketing_emails": true}})),
        )
        .await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let results = response.json()["results"].clone();
    let statuses: Vec<(String, u64)> = results
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["customer_id"].as_str().unwrap_or_default().to_string(), r["status"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(statuses, [(a.clone(), 200), ("CUST_00000000".into(), 404), (b.clone(), 200), ("garbage".into(), 404)]);
    for id in [&a, &b] {
        let customer = t.call("GET", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await.json();
        assert_eq!((customer["tags"].clone(), customer["marketing_emails"].clone()), (json!(["vip"]), json!(true)));
    }
    let same_email = t
        .call(
            "POST",
            "/v1/customers/bulk-update",
            Some(&tokens.staff),
            Some(json!({"customer_ids": [a, b], "updates": {"email": "shared@example.com"}})),
        )
        .await
        .json();
    let mut statuses: Vec<u64> =
        same_email["results"].as_array().expect("results").iter().filter_map(|r| r["status"].as_u64()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "an email can only go to one customer (customers are updated concurrently)");
}

#[tokio::test]
async fn bulk_update_rejects_bad_requests_whole() {
    let (t, tokens) = setup().await;
    let a = id_of(&create_ok(&t, &tokens.staff, json!({"name": "Bulk A", "email": "a@example.com"})).await);
    let too_many: Vec<String> = (0..101).map(|i| format!("CUST_{i:08X}")).collect();
    let cases = [
        (json!({"customer_ids": too_many, "updates": {"city": "X"}}), vec!["customer_ids"]),
        (json!({"customer_ids": [], "updates": {"city": "X"}}), vec!["customer_ids"]),
        (json!({"customer_ids": [a, a], "updates": {"city": "X"}}), vec!["customer_ids"]),
        (
            json!({"customer_ids": [a], "updates": {"email": "nope", "shoe_size": 9}}),
            vec!["updates.shoe_size", "updates.email"],
        ),
        (json!({"customer_ids": [a], "updates": {}}), vec!["updates"]),
    ];
    for (body, fields) in cases {
        let response = t.call("POST", "/v1/customers/bulk-update", Some(&tokens.staff), Some(body.clone())).await;
        assert_eq!(
            (response.status, response.error_fields()),
            (422, fields.iter().map(|f| f.to_string()).collect()),
            "{body}"
        );
    }
    let customer = t.call("GET", &format!("/v1/customers/{a}"), Some(&tokens.staff), None).await.json();
    assert_eq!(customer["version"], 1, "nothing changed");
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response_and_refuse_another_body() {
    let (t, tokens) = setup().await;
    let body = json!({"name": "Idem Potent", "email": "idem@example.com"});
    let key = [("idempotency-key", "create-idem-1")];
    let first = t.call_with("POST", "/v1/customers", &tokens.staff, &key, Some(body.clone())).await;
    assert_eq!(first.status, 201);
    let reordered = json!({"email": "idem@example.com", "name": "Idem Potent"});
    let repeat = t.call_with("POST", "/v1/customers", &tokens.staff, &key, Some(reordered)).await;
    assert_eq!(repeat.status, 201, "the first response, not a 409");
    assert_eq!(repeat.json(), first.json());
    assert_eq!(repeat.header("location"), first.header("location"));
    assert_eq!(repeat.header("idempotent-replayed"), Some("true"));
    assert_eq!(t.count_items("customer").await, 1);
    let other = t
        .call_with(
            "POST",
            "/v1/customers",
            &tokens.staff,
            &key,
            Some(json!({"name": "Else", "email": "else@example.com"})),
        )
        .await;
    assert_eq!((other.status, other.error_fields()), (422, vec!["Idempotency-Key".to_string()]));
    let concurrent = join_all((0..5).map(|_| {
        t.call_with(
            "POST",
            "/v1/customers",
            &tokens.staff,
            &[("idempotency-key", "create-idem-2")],
            Some(json!({"name": "Twin", "email": "twin@example.com"})),
        )
    }))
    .await;
    let created: Vec<_> = concurrent.iter().filter(|r| r.status == 201).collect();
    assert!(
        !created.is_empty() && concurrent.iter().all(|r| r.status == 201 || r.status == 409),
        "in-flight repeats get 409"
    );
    assert_eq!(t.count_items("customer").await, 2, "five requests with one key created one customer");

    let id = id_of(&first.json());
    let bulk = json!({"customer_ids": [id], "updates": {"city": "Kitwe"}});
    let bulk_key = [("idempotency-key", "bulk-1")];
    let once = t.call_with("POST", "/v1/customers/bulk-update", &tokens.staff, &bulk_key, Some(bulk.clone())).await;
    let twice = t.call_with("POST", "/v1/customers/bulk-update", &tokens.staff, &bulk_key, Some(bulk)).await;
    assert_eq!((once.status, twice.status), (200, 200));
    assert_eq!(once.json(), twice.json());
    let customer = t.call("GET", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await.json();
    assert_eq!(customer["version"], 2, "the repeat did not update again");
    let bad_key =
        t.call_with("POST", "/v1/customers", &tokens.staff, &[("idempotency-key", "")], Some(json!({}))).await;
    assert_eq!(bad_key.status, 400);
}

#[tokio::test]
async fn hard_delete_is_admin_only_and_frees_phone_email_and_username() {
    let (t, tokens) = setup().await;
    let body =
        json!({"name": "Gone Soon", "phone": "+260971111111", "email": "gone@example.com", "username": "gonesoon"});
    let id = id_of(&create_ok(&t, &tokens.staff, body.clone()).await);
    let path = format!("/v1/customers/{id}");
    t.call("PATCH", &path, Some(&tokens.staff), Some(json!({"city": "Lusaka"}))).await;
    let group = t.call("POST", "/v1/groups", Some(&tokens.staff), Some(json!({"name": "Leavers"}))).await.json();
    let group_id = group["group_id"].as_str().expect("group id").to_string();
    let joined = t.call("PUT", &format!("/v1/groups/{group_id}/customers/{id}"), Some(&tokens.staff), None).await;
    assert_eq!(joined.status, 204);
    assert_eq!(t.call("DELETE", &format!("{path}/hard"), Some(&tokens.staff), None).await.status, 403, "staff may not");
    assert_eq!(t.call("DELETE", &format!("{path}/hard"), Some(&tokens.admin), None).await.status, 204);
    assert_eq!(t.call("GET", &path, Some(&tokens.staff), None).await.status, 404);
    assert_eq!(t.call("DELETE", &format!("{path}/hard"), Some(&tokens.admin), None).await.status, 404);
    for entity in ["customer", "audit", "group_membership"] {
        assert_eq!(t.count_items(entity).await, 0, "{entity} items erased");
    }
    let members = t.call("GET", &format!("/v1/groups/{group_id}/customers"), Some(&tokens.staff), None).await.json();
    assert_eq!(members["items"], json!([]));
    let again = create_ok(&t, &tokens.staff, body).await;
    assert_ne!(id_of(&again), id);
    assert_eq!(again["username"], "gonesoon");
}

#[tokio::test]
async fn an_erase_removes_the_stored_responses_that_hold_the_customer() {
    let (t, tokens) = setup().await;
    let body = json!({"name": "Stored Response", "email": "stored.response@example.com", "phone": "+260977551100"});
    let created =
        t.call_with("POST", "/v1/customers", &tokens.staff, &[("idempotency-key", "erase-me-1")], Some(body)).await;
    assert_eq!(created.status, 201);
    let other = json!({"name": "Someone Else", "email": "someone.else@example.com"});
    let kept =
        t.call_with("POST", "/v1/customers", &tokens.staff, &[("idempotency-key", "keep-me-1")], Some(other)).await;
    assert_eq!(kept.status, 201);
    assert_eq!(t.count_items("idempotency").await, 2);

    let id = id_of(&created.json());
    let erased = t.call("DELETE", &format!("/v1/customers/{id}/hard"), Some(&tokens.admin), None).await;
    assert_eq!(erased.status, 204);
    assert_eq!(t.count_items("idempotency").await, 1, "the erased customer's stored response is gone, the other kept");
    assert_eq!((t.count_items("idempotency_link").await), 1, "only the kept customer's link remains");
    let store = &t.app().store;
    let scan = store.client().scan().table_name(store.table()).send().await.expect("scan");
    let text = format!("{:?}", scan.items());
    assert!(!text.contains("stored.response@example.com") && !text.contains("260977551100"), "no copy of the contacts");
}
