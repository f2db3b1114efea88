//! Signup-or-login with a one-time code, and the code limits.

use futures::future::join_all;
use integration_tests::TestApp;
use serde_json::json;

const PHONE: &str = "+260 97 123 4567";
const E164: &str = "+260971234567";

#[tokio::test]
async fn new_phone_signs_up_and_the_same_phone_logs_in_later() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let first = t.sign_in(PHONE, "John Doe").await;
    assert_eq!(first["created"], true);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 900);
    let customer = &first["customer"];
    assert_eq!(customer["phone"], E164);
    assert_eq!(customer["phone_verified"], true);
    assert_eq!(customer["username"], "johndoe");
    assert_eq!(customer["full_name"], "John Doe");
    assert!(customer["customer_id"].as_str().expect("id").starts_with("CUST_"));
    assert!(customer["last_login_at"].is_string());
    assert!(customer.get("notes").is_none(), "staff-only fields stay hidden");

    // Any spelling of the same number reaches the same customer; no name needed now.
    let code = t.request_code("0971234567").await;
    let again = t.call("POST", "/v1/auth/login", None, Some(json!({"phone": "00260971234567", "code": code}))).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["created"], false);
    assert_eq!(again.json()["customer"]["customer_id"], customer["customer_id"]);
    assert_eq!(t.count_items("customer").await, 1);
}

#[tokio::test]
async fn new_phone_without_name_is_422_and_keeps_the_code() {
    let t = TestApp::new().await;
    let code = t.request_code(PHONE).await;
    let response = t.call("POST", "/v1/auth/login", None, Some(json!({"phone": PHONE, "code": code}))).await;
    assert_eq!(response.status, 422);
    assert_eq!(response.error_fields(), ["name"]);
    assert_eq!(t.count_items("customer").await, 0);

    let response =
        t.call("POST", "/v1/auth/login", None, Some(json!({"phone": PHONE, "code": code, "name": "Ann Lee"}))).await;
    assert_eq!(response.status, 200, "the same code still works");
    assert_eq!(response.json()["created"], true);
}

#[tokio::test]
async fn a_code_works_once() {
    let t = TestApp::new().await;
    let code = t.request_code(PHONE).await;
    let body = json!({"phone": PHONE, "code": code, "name": "Ann Lee"});
    assert_eq!(t.call("POST", "/v1/auth/login", None, Some(body.clone())).await.status, 200);
    assert_eq!(t.call("POST", "/v1/auth/login", None, Some(body)).await.status, 401);
}

#[tokio::test]
async fn five_wrong_codes_invalidate_the_code() {
    let t = TestApp::new().await;
    let code = t.request_code(PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let login = |code: &str| json!({"phone": PHONE, "code": code, "name": "A B"});
    for attempt in 1..=4 {
        let response = t.call("POST", "/v1/auth/login", None, Some(login(wrong))).await;
        assert_eq!(response.status, 401, "wrong try {attempt}");
        assert_eq!(response.json()["detail"], format!("wrong code; {} tries left", 5 - attempt));
    }
    let fifth = t.call("POST", "/v1/auth/login", None, Some(login(wrong))).await;
    assert_eq!(fifth.status, 429, "the fifth wrong try uses up the code");
    assert!(fifth.header("retry-after").is_some());
    let right = t.call("POST", "/v1/auth/login", None, Some(login(&code))).await;
    assert_eq!(right.status, 429, "the right code no longer works after five wrong ones");
    assert!(right.header("retry-after").is_some());
    assert_eq!(t.count_items("customer").await, 0);
}

#[tokio::test]
async fn concurrent_wrong_codes_are_all_counted() {
    let t = TestApp::new().await;
    let code = t.request_code(PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let login = |code: &str| json!({"phone": PHONE, "code": code, "name": "A B"});
    let tries = (0..8).map(|_| t.call("POST", "/v1/auth/login", None, Some(login(wrong))));
    let statuses: Vec<u16> = join_all(tries).await.iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|&s| s == 401 || s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "eight wrong tries exceed the limit: {statuses:?}");
    let right = t.call("POST", "/v1/auth/login", None, Some(login(&code))).await;
    assert_eq!(right.status, 429, "no try beyond the fifth gets through, even concurrently");
}

#[tokio::test]
async fn twenty_concurrent_logins_for_a_new_phone_make_one_customer() {
    let t = TestApp::new().await;
    let code = t.request_code(PHONE).await;
    let body = json!({"phone": PHONE, "code": code, "name": "Racing Rita"});
    let responses = join_all((0..20).map(|_| t.call("POST", "/v1/auth/login", None, Some(body.clone())))).await;
    let winners: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    assert!(!winners.is_empty(), "at least one login succeeds");
    assert!(responses.iter().all(|r| r.status == 200 || r.status == 401), "losers are told the code is used");
    assert_eq!(t.count_items("customer").await, 1, "exactly one customer");
    let by_phone = t
        .app()
        .store
        .find_customer_by_phone(&shared::domain::PhoneE164::parse(E164, phonenumber_zm()).expect("phone"))
        .await
        .expect("lookup")
        .expect("exists");
    for winner in winners {
        assert_eq!(winner.json()["customer"]["customer_id"], by_phone.customer_id.as_str());
    }
}

#[tokio::test]
async fn twenty_concurrent_signups_through_the_write_path_make_one_customer() {
    use shared::domain::{Customer, CustomerId, PhoneE164, Username};
    use shared::time::Timestamp;
    let t = TestApp::new().await;
    let phone = PhoneE164::parse(E164, phonenumber_zm()).expect("phone");
    let note = integration_tests::test_audit();
    let attempts = (0..20).map(|_| {
        let mut c = Customer::new(
            CustomerId::generate(),
            Username::base("Rita", "Race"),
            ("Rita".into(), "Race".into()),
            Timestamp::now(),
        );
        c.phone = Some(phone.clone());
        t.app().store.create_customer(c, &note, false)
    });
    let results = join_all(attempts).await;
    let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "exactly one create wins");
    for result in &results {
        if let Err(err) = result {
            assert!(matches!(err, shared::store::StoreError::Taken(shared::store::UniqueField::Phone)), "{err}");
        }
    }
    assert_eq!(t.count_items("customer").await, 1);
}

fn phonenumber_zm() -> phonenumber::country::Id {
    phonenumber::country::Id::ZM
}

#[tokio::test]
async fn repeated_code_requests_get_429_with_retry_after() {
    let t = TestApp::new().await;
    t.request_code(PHONE).await;
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": PHONE}))).await;
    assert_eq!(response.status, 429);
    let retry: u64 = response.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(response.header("content-type"), Some("application/problem+json"));
}

#[tokio::test]
async fn at_most_five_codes_per_phone_per_hour() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    for _ in 0..5 {
        t.request_code(PHONE).await;
    }
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": PHONE}))).await;
    assert_eq!(response.status, 429);
    let retry: u64 = response.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry > 3000 && retry <= 3600, "{retry}");
}

#[tokio::test]
async fn the_per_ip_cap_holds_across_phones() {
    let t = TestApp::with_env(&[("OTP_PER_IP_PER_HOUR", "3")]).await;
    for n in 0..3 {
        t.request_code(&format!("+26097123450{n}")).await;
    }
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": "+260971234509"}))).await;
    assert_eq!(response.status, 429);
    assert!(response.header("retry-after").is_some());
}

#[tokio::test]
async fn bad_phones_and_codes_are_422_naming_the_field() {
    let t = TestApp::new().await;
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": "12"}))).await;
    assert_eq!(response.status, 422);
    assert_eq!(response.error_fields(), ["phone"]);
    let response =
        t.call("POST", "/v1/auth/login", None, Some(json!({"phone": "not a phone", "code": "12ab", "name": ""}))).await;
    assert_eq!(response.status, 422);
    assert_eq!(response.error_fields(), ["phone", "code", "name"]);
}

#[tokio::test]
async fn codes_are_stored_hashed_and_not_echoed_without_the_dev_flag() {
    let t = TestApp::with_env(&[("OTP_DEV_ECHO", "0")]).await;
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": PHONE}))).await;
    assert_eq!(response.status, 202);
    assert_eq!(response.json(), json!({"expires_in": 300}));
    let record = t
        .app()
        .store
        .get_otp(&shared::domain::CodeRecipient::Phone(
            shared::domain::PhoneE164::parse(E164, phonenumber_zm()).expect("phone"),
        ))
        .await
        .expect("read")
        .expect("saved");
    let hash = record.code_hash.expect("hash");
    assert_eq!(hash.len(), 64, "an HMAC-SHA256, not the digits");
}

#[tokio::test]
async fn expired_codes_do_not_work() {
    let t = TestApp::with_env(&[("OTP_TTL_SECONDS", "1")]).await;
    let code = t.request_code(PHONE).await;
    t.app().clock.advance(2);
    let response =
        t.call("POST", "/v1/auth/login", None, Some(json!({"phone": PHONE, "code": code, "name": "A B"}))).await;
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn a_new_customer_is_found_by_every_unique_value_right_away() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Read After").await;
    let id = login["customer"]["customer_id"].as_str().expect("id");
    let store = &t.app().store;
    let by_username = shared::domain::Username::parse(" READAFTER ").expect("username");
    let found = store.find_customer_by_username(&by_username).await.expect("lookup").expect("found");
    assert_eq!(found.customer_id.as_str(), id);
    let by_phone = shared::domain::PhoneE164::parse("0971234567", phonenumber_zm()).expect("phone");
    let found = store.find_customer_by_phone(&by_phone).await.expect("lookup").expect("found");
    assert_eq!(found.customer_id.as_str(), id);
    let unknown = shared::domain::Username::parse("nobody").expect("username");
    assert!(store.find_customer_by_username(&unknown).await.expect("lookup").is_none());
}
