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

// ---- Email verification ----

async fn email_customer(t: &TestApp, email: &str, name: &str) -> (String, Value) {
    let code = email_code(t, email).await;
    let (status, body) = email_login(t, json!({"email": email, "code": code, "name": name})).await;
    assert_eq!(status, 200, "{body}");
    (body["access_token"].as_str().expect("token").to_string(), body["customer"].clone())
}

#[tokio::test]
async fn a_code_to_my_email_verifies_it_and_a_new_email_is_unverified_again() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let phone = t.sign_in("+260971234567", "Pat Phone").await;
    let token = phone["access_token"].as_str().expect("token").to_string();
    let none = t.call("POST", "/v1/me/email/verification", Some(&token), None).await;
    assert_eq!(none.status, 409, "no email on file");

    let patched = t.call("PATCH", "/v1/me", Some(&token), Some(json!({"email": "pat@example.com"}))).await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["email_verified"], false);
    let sent = t.call("POST", "/v1/me/email/verification", Some(&token), None).await;
    assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
    let code = sent.json()["dev_code"].as_str().expect("dev_code").to_string();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let confirm = |c: &str| json!({"code": c});
    let bad = t.call("POST", "/v1/me/email/verification/confirm", Some(&token), Some(confirm(wrong))).await;
    assert_eq!(bad.status, 400, "a wrong code is 400, the token is fine");
    let ok = t.call("POST", "/v1/me/email/verification/confirm", Some(&token), Some(confirm(&code))).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["email_verified"], true);
    assert_eq!(ok.json()["is_verified"], true);
    let again = t.call("POST", "/v1/me/email/verification/confirm", Some(&token), Some(confirm(&code))).await;
    assert_eq!(again.status, 400, "a code works once");

    // A pending code is void once the address changes, even if it changes back.
    let sent = t.call("POST", "/v1/me/email/verification", Some(&token), None).await;
    let pending = sent.json()["dev_code"].as_str().expect("dev_code").to_string();
    let changed = t.call("PATCH", "/v1/me", Some(&token), Some(json!({"email": "pat2@example.com"}))).await;
    assert_eq!(changed.json()["email_verified"], false, "a new address is unverified");
    t.call("PATCH", "/v1/me", Some(&token), Some(json!({"email": "pat@example.com"}))).await;
    let stale = t.call("POST", "/v1/me/email/verification/confirm", Some(&token), Some(confirm(&pending))).await;
    assert_eq!(stale.status, 400, "the code sent before the change is void");
}

#[tokio::test]
async fn a_staff_change_of_email_voids_the_code_sent_to_the_old_address() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let (token, customer) = email_customer(&t, "kim@example.com", "Kim Park").await;
    let sent = t.call("POST", "/v1/me/email/verification", Some(&token), None).await;
    assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
    let pending = sent.json()["dev_code"].as_str().expect("dev_code").to_string();

    let staff = t.staff_tokens().await;
    let path = format!("/v1/customers/{}", customer["customer_id"].as_str().expect("id"));
    let patch = |email: &str| json!({"email": email});
    let changed = t.call("PATCH", &path, Some(&staff.staff), Some(patch("kim.park@example.com"))).await;
    assert_eq!(changed.status, 200, "{}", String::from_utf8_lossy(&changed.body));
    assert_eq!(changed.json()["email_verified"], false, "a new address is unverified");
    let back = t.call("PATCH", &path, Some(&staff.staff), Some(patch("kim@example.com"))).await;
    assert_eq!(back.status, 200, "{}", String::from_utf8_lossy(&back.body));

    let confirm = json!({"code": pending});
    let stale = t.call("POST", "/v1/me/email/verification/confirm", Some(&token), Some(confirm)).await;
    assert_eq!(stale.status, 400, "the code sent before staff changed the address is void");
    let me = t.call("GET", "/v1/me", Some(&token), None).await;
    assert_eq!(me.json()["email_verified"], false);
}

// ---- Sign in with a provider ----

use local_stack::dev_idp::{DevIdp, TokenRequest};

fn token(idp: &DevIdp, sub: &str, email: Option<(&str, bool)>, name: Option<&str>) -> String {
    idp.mint(&TokenRequest {
        sub: sub.into(),
        email: email.map(|e| e.0.to_string()),
        email_verified: email.map(|e| e.1),
        name: name.map(str::to_string),
        ..TokenRequest::default()
    })
    .expect("token")
}

async fn oidc(t: &TestApp, body: Value) -> (u16, Value) {
    let response = t.call("POST", "/v1/auth/oidc", None, Some(body)).await;
    (response.status, response.json())
}

#[tokio::test]
async fn a_provider_account_signs_up_once_then_logs_in() {
    let (t, idp) = TestApp::with_dev_idp(&[]).await;
    let id_token = token(&idp, "sub-1", Some(("Olu@Example.com", true)), Some("Olu Ige"));
    let (status, first) = oidc(&t, json!({"provider": "local", "id_token": id_token, "device_name": "Pixel"})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["created"], true);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["customer"]["email"], "olu@example.com");
    assert_eq!(first["customer"]["email_verified"], true);
    assert_eq!(first["customer"]["full_name"], "Olu Ige");

    let (status, again) = oidc(&t, json!({"provider": "local", "id_token": id_token})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["customer"]["customer_id"], first["customer"]["customer_id"]);

    let access = first["access_token"].as_str().expect("token");
    let listed = t.call("GET", "/v1/me/identities", Some(access), None).await;
    assert_eq!(listed.status, 200);
    let items = listed.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert_eq!(items[0]["provider"], "local");
    assert_eq!(items[0]["email"], "olu@example.com");
    assert!(items[0]["linked_at"].is_string());
    assert!(items[0].get("subject").is_none());

    let export = t.call("GET", "/v1/me/export", Some(access), None).await;
    assert_eq!(export.json()["identities"][0]["provider"], "local");
    assert_eq!(export.json()["profile"]["sign_in_channel"], "oidc:local", "how they signed up is theirs to see");

    // Erased with the customer: the same provider account then signs up anew.
    assert_eq!(t.call("DELETE", "/v1/me", Some(access), None).await.status, 204);
    assert_eq!(t.count_items("identity").await, 0);
    let (status, fresh) = oidc(&t, json!({"provider": "local", "id_token": id_token})).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["created"], true);
    assert_ne!(fresh["customer"]["customer_id"], first["customer"]["customer_id"]);
}

#[tokio::test]
async fn a_verified_provider_email_links_to_the_verified_customer_and_an_unverified_one_never_does() {
    let (t, idp) = TestApp::with_dev_idp(&[]).await;
    let (_, existing) = email_customer(&t, "kim@example.com", "Kim Lu").await;

    let unverified = token(&idp, "sub-unverified", Some(("kim@example.com", false)), Some("Mallory"));
    let (status, other) = oidc(&t, json!({"provider": "local", "id_token": unverified})).await;
    assert_eq!(status, 200, "{other}");
    assert_eq!(other["created"], true, "an unverified email never links");
    assert_ne!(other["customer"]["customer_id"], existing["customer_id"]);
    assert_eq!(other["customer"]["email"], Value::Null, "nor is the address taken from its owner");

    let verified = token(&idp, "sub-kim", Some(("KIM@example.com", true)), None);
    let (status, linked) = oidc(&t, json!({"provider": "local", "id_token": verified})).await;
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["created"], false);
    assert_eq!(linked["customer"]["customer_id"], existing["customer_id"]);

    // The second provider links too; with an email on file, either link may go.
    let second = idp
        .mint(&TokenRequest { sub: "sub-kim".into(), aud: Some("second-app".into()), ..TokenRequest::default() })
        .expect("token");
    let access = linked["access_token"].as_str().expect("token");
    let (status, body) = oidc(&t, json!({"provider": "second", "id_token": second})).await;
    assert_eq!(status, 422, "a new account without a name: {body}");
    assert_eq!(body["errors"][0]["field"], "name");
    let audit_before = t.count_items("identity").await;
    let (status, _) = oidc(&t, json!({"provider": "second", "id_token": second, "name": "Kim Two"})).await;
    assert_eq!(status, 200);
    assert_eq!(t.count_items("identity").await, audit_before + 1);
    let unlink = t.call("DELETE", "/v1/me/identities/local", Some(access), None).await;
    assert_eq!(unlink.status, 204, "{}", String::from_utf8_lossy(&unlink.body));
    let missing = t.call("DELETE", "/v1/me/identities/local", Some(access), None).await;
    assert_eq!(missing.status, 404);

    // A customer whose only way in is one provider cannot unlink it.
    let only = token(&idp, "sub-only", None, Some("Solo Link"));
    let (status, solo) = oidc(&t, json!({"provider": "local", "id_token": only})).await;
    assert_eq!(status, 200, "{solo}");
    assert_eq!(solo["customer"]["email"], Value::Null);
    assert_eq!(solo["customer"]["phone"], Value::Null);
    let solo_access = solo["access_token"].as_str().expect("token");
    let refused = t.call("DELETE", "/v1/me/identities/local", Some(solo_access), None).await;
    assert_eq!(refused.status, 409);
    let (status, _) = oidc(&t, json!({"provider": "local", "id_token": only})).await;
    assert_eq!(status, 200, "still signs in");
}

#[tokio::test]
async fn forged_foreign_expired_and_unsigned_tokens_are_401() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (t, idp) = TestApp::with_dev_idp(&[]).await;
    let now = shared::time::Timestamp::now().unix();
    let claims = |iss: &str, aud: &str, exp: i64| json!({"iss": iss, "aud": aud, "sub": "s", "exp": exp, "iat": now, "name": "A B"});
    let good = idp.sign(&claims(idp.issuer(), "local-app", now + 600)).expect("token");
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = URL_SAFE_NO_PAD.encode(claims(idp.issuer(), "local-app", now + 99_999).to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let header = serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(parts[0]).expect("header")).expect("json");
    let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": header["kid"]}).to_string());
    let unsigned = format!("{none_header}.{}.", parts[1]);
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header["kid"].as_str().map(str::to_string);
    let symmetric = jsonwebtoken::encode(
        &hs,
        &claims(idp.issuer(), "local-app", now + 600),
        &jsonwebtoken::EncodingKey::from_secret(b"guessable"),
    )
    .expect("hs256");
    let cases = [
        ("tampered", tampered),
        ("expired", idp.sign(&claims(idp.issuer(), "local-app", now - 3600)).expect("token")),
        ("wrong audience", idp.sign(&claims(idp.issuer(), "another-app", now + 600)).expect("token")),
        ("wrong issuer", idp.sign(&claims("https://evil.example", "local-app", now + 600)).expect("token")),
        ("alg none", unsigned),
        ("HS256", symmetric),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, id_token) in cases {
        let (status, body) = oidc(&t, json!({"provider": "local", "id_token": id_token})).await;
        assert_eq!(status, 401, "{what}: {body}");
    }
    let (status, _) = oidc(&t, json!({"provider": "local", "id_token": good})).await;
    assert_eq!(status, 200, "the untouched token works");
    assert_eq!(t.count_items("customer").await, 1);

    let (status, body) = oidc(&t, json!({"provider": "nobody", "id_token": good})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "provider");
}

#[tokio::test]
async fn the_nonce_must_match_when_the_client_sends_one() {
    let (t, idp) = TestApp::with_dev_idp(&[]).await;
    let with_nonce = idp
        .mint(&TokenRequest {
            sub: "n".into(),
            name: Some("Nora Nonce".into()),
            nonce: Some("abc".into()),
            ..TokenRequest::default()
        })
        .expect("token");
    let (status, _) = oidc(&t, json!({"provider": "local", "id_token": with_nonce, "nonce": "xyz"})).await;
    assert_eq!(status, 401);
    let without = token(&idp, "n", None, Some("Nora Nonce"));
    let (status, _) = oidc(&t, json!({"provider": "local", "id_token": without, "nonce": "abc"})).await;
    assert_eq!(status, 401, "a token without the nonce asked for");
    let (status, body) = oidc(&t, json!({"provider": "local", "id_token": with_nonce, "nonce": "abc"})).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_an_unreachable_provider_is_503() {
    let (t, idp) = TestApp::with_dev_idp(&[]).await;
    let (status, _) = oidc(&t, json!({"provider": "local", "id_token": token(&idp, "r", None, Some("Rae Rot"))})).await;
    assert_eq!(status, 200);
    idp.rotate().expect("rotate");
    let (status, body) = oidc(&t, json!({"provider": "local", "id_token": token(&idp, "r", None, None)})).await;
    assert_eq!(status, 200, "the new kid makes us fetch the keys again: {body}");
    assert_eq!(body["created"], false);

    let (status, body) = oidc(&t, json!({"provider": "down", "id_token": token(&idp, "r", None, None)})).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}
