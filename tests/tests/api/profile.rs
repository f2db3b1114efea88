//! `/v1/me`: view, edit and delete one's own profile, and the request-body rules.

use futures::future::join_all;
use integration_tests::TestApp;
use serde_json::{Value, json};

async fn signed_in(t: &TestApp, phone: &str, name: &str) -> (String, Value) {
    let login = t.sign_in(phone, name).await;
    (login["access_token"].as_str().expect("token").to_string(), login["customer"].clone())
}

#[tokio::test]
async fn view_and_edit_my_profile() {
    let t = TestApp::new().await;
    let (token, customer) = signed_in(&t, "+260971234567", "John Doe").await;
    let me = t.call("GET", "/v1/me", Some(&token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["customer_id"], customer["customer_id"]);
    assert_eq!(me.header("etag"), Some(format!("\"{}\"", me.json()["version"]).as_str()));

    let patch = json!({"email": " John.Doe@Example.COM ", "city": "Lusaka", "country": "Zambia", "date_of_birth": "1990-01-15", "gender": "male", "marketing_sms": true, "name": "Johnny Doe"});
    let updated = t.call("PATCH", "/v1/me", Some(&token), Some(patch)).await;
    assert_eq!(updated.status, 200, "{}", String::from_utf8_lossy(&updated.body));
    let body = updated.json();
    assert_eq!(body["email"], "john.doe@example.com");
    assert_eq!(body["email_verified"], false);
    assert_eq!(body["is_verified"], false, "an unverified email makes the customer unverified");
    assert_eq!(body["full_name"], "Johnny Doe");
    assert_eq!(body["full_address"], "Lusaka, Zambia");
    assert_eq!(body["version"].as_u64(), me.json()["version"].as_u64().map(|v| v + 1));
    assert_eq!(body["username"], customer["username"], "usernames never change on edit");

    // The new email is unique and can be looked up right away.
    let email = shared::domain::EmailAddress::parse("JOHN.DOE@example.com").expect("email");
    let found = t.app().store.find_customer_by_email(&email).await.expect("lookup").expect("found");
    assert_eq!(found.customer_id.as_str(), customer["customer_id"]);
}

#[tokio::test]
async fn invalid_edits_are_422_naming_every_field_and_change_nothing() {
    let t = TestApp::new().await;
    let (token, _) = signed_in(&t, "+260971234567", "John Doe").await;
    let before = t.call("GET", "/v1/me", Some(&token), None).await.json();
    let response = t
        .call("PATCH", "/v1/me", Some(&token), Some(json!({"email": "not-an-email", "gender": 5, "date_of_birth": "2999-01-01", "phone": "+1", "notes": "x"})))
        .await;
    assert_eq!(response.status, 422);
    let mut fields = response.error_fields();
    fields.sort();
    assert_eq!(fields, ["date_of_birth", "email", "gender", "notes", "phone"]);
    assert_eq!(t.call("GET", "/v1/me", Some(&token), None).await.json(), before);
}

#[tokio::test]
async fn malformed_oversized_and_wrongly_typed_bodies() {
    let t = TestApp::new().await;
    let (token, _) = signed_in(&t, "+260971234567", "John Doe").await;
    let auth = format!("Bearer {token}");
    let t = &t;
    let send = |body: Vec<u8>, content_type: &'static str| {
        let auth = auth.clone();
        async move {
            t.send("PATCH", "/v1/me", &[("authorization", &auth), ("content-type", content_type)], &body, "203.0.113.9")
                .await
        }
    };
    assert_eq!(send(b"{\"city\": ".to_vec(), "application/json").await.status, 400);
    assert_eq!(send(b"{}".to_vec(), "text/plain").await.status, 415);
    let huge = format!("{{\"city\":\"{}\"}}", "a".repeat(1024 * 1024 + 1));
    assert_eq!(send(huge.into_bytes(), "application/json").await.status, 413);
    let unknown = send(br#"{"favourite_colour":"blue"}"#.to_vec(), "application/json").await;
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.error_fields(), ["favourite_colour"]);
    let too_long = send(format!("{{\"first_name\":\"{}\"}}", "a".repeat(101)).into_bytes(), "application/json").await;
    assert_eq!(too_long.status, 422);
    assert_eq!(too_long.error_fields(), ["first_name"]);
}

#[tokio::test]
async fn taken_email_is_409_naming_it() {
    let t = TestApp::new().await;
    let (ann, _) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let (bob, _) = signed_in(&t, "+260971234568", "Bob Lee").await;
    assert_eq!(t.call("PATCH", "/v1/me", Some(&ann), Some(json!({"email": "same@example.com"}))).await.status, 200);
    let response = t.call("PATCH", "/v1/me", Some(&bob), Some(json!({"email": "SAME@example.com"}))).await;
    assert_eq!(response.status, 409);
    assert_eq!(response.error_fields(), ["email"]);
    assert_eq!(t.call("GET", "/v1/me", Some(&bob), None).await.json()["email"], Value::Null);
}

#[tokio::test]
async fn changing_email_frees_the_old_one() {
    let t = TestApp::new().await;
    let (ann, _) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let (bob, _) = signed_in(&t, "+260971234568", "Bob Lee").await;
    assert_eq!(t.call("PATCH", "/v1/me", Some(&ann), Some(json!({"email": "first@example.com"}))).await.status, 200);
    assert_eq!(t.call("PATCH", "/v1/me", Some(&ann), Some(json!({"email": "second@example.com"}))).await.status, 200);
    assert_eq!(t.call("PATCH", "/v1/me", Some(&bob), Some(json!({"email": "first@example.com"}))).await.status, 200);
}

#[tokio::test]
async fn if_match_guards_against_lost_updates() {
    let t = TestApp::new().await;
    let (token, _) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let etag = t.call("GET", "/v1/me", Some(&token), None).await.header("etag").expect("etag").to_string();
    let auth = format!("Bearer {token}");
    let t = &t;
    let patch = |city: &'static str| {
        let (auth, etag) = (auth.clone(), etag.clone());
        async move {
            let body = json!({ "city": city }).to_string();
            t.send(
                "PATCH",
                "/v1/me",
                &[("authorization", &auth), ("content-type", "application/json"), ("if-match", &etag)],
                body.as_bytes(),
                "203.0.113.9",
            )
            .await
        }
    };
    let results = join_all(["A", "B", "C", "D", "E"].map(patch)).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 412).count(), 4, "{statuses:?}");
}

#[tokio::test]
async fn concurrent_edits_without_if_match_all_apply() {
    let t = TestApp::new().await;
    let (token, _) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let before = t.call("GET", "/v1/me", Some(&token), None).await.json()["version"].as_u64().expect("version");
    let edits = ["a", "b", "c", "d"].map(|city| t.call("PATCH", "/v1/me", Some(&token), Some(json!({ "city": city }))));
    let results = join_all(edits).await;
    assert!(results.iter().all(|r| r.status == 200), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    let after = t.call("GET", "/v1/me", Some(&token), None).await.json()["version"].as_u64().expect("version");
    assert_eq!(after, before + 4, "every edit applied atomically, none lost");
}

#[tokio::test]
async fn deleting_my_account_erases_it_and_frees_the_phone() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let (token, customer) = signed_in(&t, "+260971234567", "Ann Lee").await;
    assert_eq!(t.call("PATCH", "/v1/me", Some(&token), Some(json!({"email": "ann@example.com"}))).await.status, 200);
    assert_eq!(t.call("DELETE", "/v1/me", Some(&token), None).await.status, 204);
    assert_eq!(t.call("GET", "/v1/me", Some(&token), None).await.status, 404);
    assert_eq!(t.call("DELETE", "/v1/me", Some(&token), None).await.status, 404);
    for entity in ["customer", "unique", "session"] {
        assert_eq!(t.count_items(entity).await, 0, "no {entity} items left");
    }
    let again = t.sign_in("+260971234567", "Ann Again").await;
    assert_eq!(again["created"], true);
    assert_ne!(again["customer"]["customer_id"], customer["customer_id"]);
    assert_eq!(again["customer"]["username"], "annagain");
}

#[tokio::test]
async fn other_peoples_data_is_out_of_reach() {
    let t = TestApp::new().await;
    let (ann, _) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let (bob, bob_customer) = signed_in(&t, "+260971234568", "Bob Lee").await;
    let mine = t.call("GET", "/v1/me", Some(&ann), None).await.json();
    assert_ne!(mine["customer_id"], bob_customer["customer_id"]);
    assert_eq!(t.call("DELETE", "/v1/me", Some(&ann), None).await.status, 204);
    assert_eq!(t.call("GET", "/v1/me", Some(&bob), None).await.status, 200, "Bob is untouched");
}

#[tokio::test]
async fn if_match_uses_strong_comparison_and_accepts_lists() {
    let t = TestApp::new().await;
    let (token, _) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let version = t.call("GET", "/v1/me", Some(&token), None).await.json()["version"].as_u64().expect("version");
    let auth = format!("Bearer {token}");
    let patch = |if_match: String, city: &'static str| {
        let auth = auth.clone();
        let t = &t;
        async move {
            let body = json!({ "city": city }).to_string();
            t.send(
                "PATCH",
                "/v1/me",
                &[("authorization", &auth), ("content-type", "application/json"), ("if-match", &if_match)],
                body.as_bytes(),
                "203.0.113.9",
            )
            .await
            .status
        }
    };
    assert_eq!(patch(format!("W/\"{version}\""), "Weak").await, 412, "weak tags never match");
    assert_eq!(patch(format!("\"999\", \"{version}\""), "Listed").await, 200);
    assert_eq!(patch("garbage".into(), "Bad").await, 400);
}

#[tokio::test]
async fn suspended_customers_cannot_edit_their_profile() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let (token, customer) = signed_in(&t, "+260971234567", "Ann Lee").await;
    let id = shared::domain::CustomerId::parse(customer["customer_id"].as_str().expect("id")).expect("id");
    let current = t.app().store.get_customer(&id).await.expect("read").expect("exists");
    let mut suspended = current.clone();
    suspended.status = shared::domain::CustomerStatus::Suspended;
    t.app()
        .store
        .replace_customer(&current, &mut suspended, shared::time::Timestamp::now(), &integration_tests::test_audit())
        .await
        .expect("suspend");
    let response = t.call("PATCH", "/v1/me", Some(&token), Some(json!({"city": "Ndola"}))).await;
    assert_eq!(response.status, 403);
    assert_eq!(t.call("GET", "/v1/me", Some(&token), None).await.json()["city"], Value::Null);
    let code = t.request_code("+260971234567").await;
    let login = t.call("POST", "/v1/auth/login", None, Some(json!({"phone": "+260971234567", "code": code}))).await;
    assert_eq!(login.status, 403, "suspended customers cannot log in");
}

#[tokio::test]
async fn my_export_holds_my_data_and_nothing_of_anyone_else() {
    let t = TestApp::new().await;
    let tokens = t.staff_tokens().await;
    let ann = t.sign_in("+260971000441", "Ann Export").await;
    let bob = t.sign_in("+260971000442", "Bob Other").await;
    let ann_token = ann["access_token"].as_str().expect("token").to_string();
    let ann_id = ann["customer"]["customer_id"].as_str().expect("id").to_string();
    let bob_id = bob["customer"]["customer_id"].as_str().expect("id").to_string();
    let tagged = t
        .call(
            "PATCH",
            &format!("/v1/customers/{ann_id}"),
            Some(&tokens.staff),
            Some(json!({"notes": "Prefers SMS", "tags": ["vip"]})),
        )
        .await;
    assert_eq!(tagged.status, 200);
    let group = t.call("POST", "/v1/groups", Some(&tokens.staff), Some(json!({"name": "Exporters"}))).await.json();
    let group_id = group["group_id"].as_str().expect("group");
    for id in [&ann_id, &bob_id] {
        assert_eq!(
            t.call("PUT", &format!("/v1/groups/{group_id}/customers/{id}"), Some(&tokens.staff), None).await.status,
            204
        );
    }
    let put = t.call("PUT", "/v1/cart/items/SKU-1", Some(&ann_token), Some(json!({"quantity": 2}))).await;
    assert_eq!(put.status, 200);

    let export = t.call("GET", "/v1/me/export", Some(&ann_token), None).await;
    assert_eq!(export.status, 200);
    assert_eq!(export.header("content-disposition"), Some("attachment; filename=\"my-data.json\""));
    let doc = export.json();
    assert_eq!(doc["profile"]["customer_id"], ann_id.as_str());
    assert_eq!(doc["profile"]["notes"], "Prefers SMS", "their staff notes are their data too");
    assert_eq!(doc["profile"]["tags"], json!(["vip"]));
    assert_eq!(doc["sessions"].as_array().map(Vec::len), Some(1));
    assert!(doc["sessions"][0].get("refresh_hash").is_none(), "no secrets");
    assert_eq!(doc["cart"]["items"][0]["product_id"], "SKU-1");
    assert_eq!(
        doc["groups"],
        json!([{"group_id": group_id, "name": "Exporters", "description": null, "added_at": doc["groups"][0]["added_at"]}])
    );
    let actions: Vec<&str> =
        doc["audit_trail"].as_array().expect("audit").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["create", "update"], "oldest first");
    let text = String::from_utf8_lossy(&export.body);
    assert!(!text.contains(&bob_id) && !text.contains("+260971000442"), "nothing of Bob");

    assert_eq!(t.call("DELETE", "/v1/me", Some(&ann_token), None).await.status, 204);
    assert_eq!(t.call("GET", "/v1/me/export", Some(&ann_token), None).await.status, 404);
    let staff_token = t.call("GET", "/v1/me/export", Some(&tokens.staff), None).await;
    assert_eq!(staff_token.status, 403);
}
