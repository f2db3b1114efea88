//! Every kind of bad access token gets 401 and reveals nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::TestApp;
use serde_json::{Value, json};

fn encode(part: &Value) -> String {
    URL_SAFE_NO_PAD.encode(part.to_string())
}

fn sign(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = header["kid"].as_str().map(str::to_string);
    jsonwebtoken::encode(&h, claims, &key).expect("sign")
}

async fn status_of_me(t: &TestApp, authorization: Option<&str>) -> (u16, Value) {
    let mut headers = vec![];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    let response = t.send("GET", "/v1/me", &headers, b"", "203.0.113.9").await;
    (response.status, response.json())
}

#[tokio::test]
async fn bad_tokens_are_all_401() {
    let t = TestApp::new().await;
    let login = t.sign_in("+260971234567", "Token Tester").await;
    let good = login["access_token"].as_str().expect("token").to_string();
    let (status, _) = status_of_me(&t, Some(&format!("Bearer {good}"))).await;
    assert_eq!(status, 200, "the genuine token works");

    let customer_id = login["customer"]["customer_id"].as_str().expect("id");
    let now = shared::time::Timestamp::now().unix();
    let claims = |exp: i64| json!({"iss": "customer-platform", "sub": customer_id, "role": "customer", "sid": "AAAAAAAAAAAAAAAAAAAAAA", "iat": now - 10, "exp": exp});
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "test"});
    let secret = integration_tests::TEST_SECRET.as_bytes();

    let expired = sign(&header, &claims(now - 1), secret);
    let wrong_key = sign(&header, &claims(now + 600), b"some-other-secret-some-other-secret!");
    let unknown_kid = sign(&json!({"kid": "nope"}), &claims(now + 600), secret);
    let alg_none =
        format!("{}.{}.", encode(&json!({"alg": "none", "typ": "JWT", "kid": "test"})), encode(&claims(now + 600)));
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged_claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    forged_claims["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], encode(&forged_claims), parts[2]);
    let wrong_issuer = sign(
        &header,
        &json!({"iss": "someone-else", "sub": customer_id, "role": "customer", "sid": "x", "iat": now, "exp": now + 600}),
        secret,
    );

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer not.a.jwt".into())),
        ("wrong scheme", Some(format!("Basic {good}"))),
        ("expired", Some(format!("Bearer {expired}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("payload tampered", Some(format!("Bearer {tampered}"))),
        ("wrong key", Some(format!("Bearer {wrong_key}"))),
        ("unknown kid", Some(format!("Bearer {unknown_kid}"))),
        ("wrong issuer", Some(format!("Bearer {wrong_issuer}"))),
    ];
    for (name, authorization) in cases {
        let (status, body) = status_of_me(&t, authorization.as_deref()).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(body["status"], 401, "{name}: problem+json body");
        assert!(body.get("customer_id").is_none(), "{name}: no data leaks");
    }
}

#[tokio::test]
async fn staff_tokens_cannot_use_customer_routes() {
    let t = TestApp::new().await;
    let token = t
        .app()
        .keys()
        .jwt
        .issue("STAFF_1", shared::auth::Role::Staff, "sid", shared::time::Timestamp::now())
        .expect("sign");
    let (status, _) = status_of_me(&t, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 403);
}
