//! Customer sign-in beyond SMS: codes by email, email verification, and sign-in with an
//! identity provider (the local stack's development provider), with the linking rules.

use integration_tests::TestApp;
use serde_json::{Value, json};

const EMAIL: &str = "  Ann.Lee@Example.com ";
const NORMALISED: &str = "ann.lee@example.com";

async fn email_code(t: &TestApp, email: &str) -> String {
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({ "email": email }))).await;
    assert_eq!(response.status, 202, "email code: {}", String::from_utf8_lossy(&response.body));
    assert_eq!(response.json()["expires_in"], 300);
    response.json()["dev_code"].as_str().expect("dev_code echoed").to_string()
}

async fn email_login(t: &TestApp, body: Value) -> (u16, Value) {
    let response = t.call("POST", "/v1/auth/login", None, Some(body)).await;
    (response.status, response.json())
}

#[tokio::test]
async fn a_new_address_signs_up_verified_without_a_phone_and_logs_in_later() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let code = email_code(&t, EMAIL).await;
    let (status, body) = email_login(&t, json!({"email": EMAIL, "code": code})).await;
    assert_eq!(status, 422, "a new address needs a name: {body}");
    assert_eq!(body["errors"][0]["field"], "name");

    let (status, first) = email_login(&t, json!({"email": EMAIL, "code": code, "name": "Ann Lee"})).await;
    assert_eq!(status, 200, "the code was not used up by the 422: {first}");
    assert_eq!(first["created"], true);
    let customer = &first["customer"];
    assert_eq!(customer["email"], NORMALISED);
    assert_eq!(customer["email_verified"], true);
    assert_eq!(customer["phone"], Value::Null);
    assert_eq!(customer["is_verified"], true);
    assert_eq!(customer["username"], "annlee");
    assert!(customer["last_login_at"].is_string());

    let code = email_code(&t, "ANN.LEE@example.com").await;
    let (status, again) = email_login(&t, json!({"email": NORMALISED, "code": code})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["customer"]["customer_id"], customer["customer_id"]);
    assert_eq!(t.count_items("customer").await, 1);
}

#[tokio::test]
async fn an_email_login_finds_the_customer_staff_created_and_verifies_the_address() {
    let t = TestApp::new().await;
    let staff = t.staff_tokens().await;
    let created = t
        .call(
            "POST",
            "/v1/customers",
            Some(&staff.staff),
            Some(json!({"first_name": "Bo", "last_name": "Chen", "email": "bo@example.com", "phone": "+260971234599"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.json()["email_verified"], false);

    let code = email_code(&t, "bo@example.com").await;
    let (status, body) = email_login(&t, json!({"email": "bo@example.com", "code": code})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], false);
    assert_eq!(body["customer"]["customer_id"], created.json()["customer_id"]);
    assert_eq!(body["customer"]["email_verified"], true);
    assert_eq!(body["customer"]["phone_verified"], false, "an email code proves nothing about the phone");
}

#[tokio::test]
async fn exactly_one_of_phone_and_email() {
    let t = TestApp::new().await;
    for body in [json!({}), json!({"phone": "+260971234567", "email": "a@example.com"})] {
        let response = t.call("POST", "/v1/auth/otp", None, Some(body.clone())).await;
        assert_eq!(response.status, 422, "{body}");
        assert_eq!(response.error_fields(), ["phone", "email"], "{body}");
        let login = t.call("POST", "/v1/auth/login", None, Some(json!({"code": "123456"}))).await;
        assert_eq!(login.status, 422);
        assert_eq!(login.error_fields(), ["phone", "email"]);
    }
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"email": "not-an-address"}))).await;
    assert_eq!(response.status, 422);
    assert_eq!(response.error_fields(), ["email"]);
}

#[tokio::test]
async fn email_codes_have_the_limits_of_sms_codes_per_address() {
    let t = TestApp::new().await;
    let code = email_code(&t, EMAIL).await;
    let again = t.call("POST", "/v1/auth/otp", None, Some(json!({"email": NORMALISED}))).await;
    assert_eq!(again.status, 429, "one code per 30 s per address");
    assert!(again.header("retry-after").is_some());
    let other = t.call("POST", "/v1/auth/otp", None, Some(json!({"email": "someone@example.com"}))).await;
    assert_eq!(other.status, 202, "another address is not limited by the first");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..5).rev() {
        let (status, body) = email_login(&t, json!({"email": EMAIL, "code": wrong, "name": "Ann Lee"})).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["detail"].as_str().unwrap_or_default().contains(&format!("{left} tries left")), "{body}");
    }
    let (status, _) = email_login(&t, json!({"email": EMAIL, "code": wrong, "name": "Ann Lee"})).await;
    assert_eq!(status, 429, "the fifth wrong try ends the code");
    let (status, _) = email_login(&t, json!({"email": EMAIL, "code": code, "name": "Ann Lee"})).await;
    assert_eq!(status, 429, "even the right code no longer works");

    let hourly = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    for _ in 0..5 {
        email_code(&hourly, EMAIL).await;
    }
    let sixth = hourly.call("POST", "/v1/auth/otp", None, Some(json!({"email": EMAIL}))).await;
    assert_eq!(sixth.status, 429, "five codes per address per hour");
    assert!(sixth.json()["detail"].as_str().unwrap_or_default().contains("address"));
}

#[tokio::test]
async fn a_failed_email_send_is_503_without_the_providers_words() {
    let t = TestApp::with_env(&[
        ("EMAIL_DELIVERY", "ses"),
        ("EMAIL_FROM", "no-reply@example.com"),
        ("SES_ENDPOINT", "http://127.0.0.1:9"),
    ])
    .await;
    let response = t.call("POST", "/v1/auth/otp", None, Some(json!({"email": EMAIL}))).await;
    assert_eq!(response.status, 503, "{}", String::from_utf8_lossy(&response.body));
    let text = String::from_utf8_lossy(&response.body).to_lowercase();
    assert!(!text.contains("127.0.0.1") && !text.contains("dispatch") && !text.contains("ses"), "{text}");
    assert!(response.json().get("dev_code").is_none());
}
