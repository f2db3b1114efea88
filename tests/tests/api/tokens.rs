//! Every kind of bad access token gets 401 and reveals nothing: among them a token signed with
//! the old HS256 secret, `alg: none`, a key the JWKS does not list, and a tampered payload.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::{TEST_ACCESS_TOKEN_KEY, TEST_SECRET, TestApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::auth::es256::AccessKey;

fn encode(part: &Value) -> String {
    URL_SAFE_NO_PAD.encode(part.to_string())
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// ES256 with the key derived from `secret`, named by its own thumbprint.
fn es256(claims: &Value, secret: &str) -> String {
    let key = AccessKey::from_secret(secret.as_bytes());
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.public.kid.clone());
    jsonwebtoken::encode(&header, claims, key.encoding_key()).expect("sign")
}

/// HS256 with a shared secret, as access tokens were signed before ES256.
fn hs256(claims: &Value, kid: &str, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret.as_bytes())).expect("sign")
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

    let parts: Vec<&str> = good.split('.').collect();
    let genuine_claims = decode(parts[1]);
    let kid = decode(parts[0])["kid"].as_str().expect("kid").to_string();
    let now = shared::time::Timestamp::now().unix();
    let claims = |exp: i64| {
        let mut claims = genuine_claims.clone();
        claims["iat"] = json!(now - 10);
        claims["exp"] = json!(exp);
        claims
    };
    let with = |name: &str, value: Value| {
        let mut claims = claims(now + 600);
        claims[name] = value;
        claims
    };

    assert_eq!(
        status_of_me(&t, Some(&format!("Bearer {}", es256(&claims(now + 600), TEST_ACCESS_TOKEN_KEY)))).await.0,
        200
    );
    let expired = es256(&claims(now - 1), TEST_ACCESS_TOKEN_KEY);
    let old_secret = hs256(&claims(now + 600), &kid, TEST_SECRET);
    let old_secret_old_kid = hs256(&claims(now + 600), "test", TEST_SECRET);
    let unlisted_key = es256(&claims(now + 600), "a-key-the-jwks-does-not-list-a-key-the-jwks");
    let alg_none = format!("{}.{}.", encode(&json!({"alg": "none", "typ": "JWT", "kid": kid})), parts[1]);
    let mut forged_claims = genuine_claims.clone();
    forged_claims["role"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], encode(&forged_claims), parts[2]);
    let wrong_issuer = es256(&with("iss", json!("https://someone-else.example.com")), TEST_ACCESS_TOKEN_KEY);
    let wrong_audience = es256(&with("aud", json!("another-service")), TEST_ACCESS_TOKEN_KEY);
    let no_kid = {
        let key = AccessKey::from_secret(TEST_ACCESS_TOKEN_KEY.as_bytes());
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims(now + 600), key.encoding_key()).expect("sign")
    };

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer not.a.jwt".into())),
        ("wrong scheme", Some(format!("Basic {good}"))),
        ("expired", Some(format!("Bearer {expired}"))),
        ("HS256 with the old secret, the key's kid", Some(format!("Bearer {old_secret}"))),
        ("HS256 with the old secret and kid", Some(format!("Bearer {old_secret_old_kid}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("payload tampered", Some(format!("Bearer {tampered}"))),
        ("a key not in the JWKS", Some(format!("Bearer {unlisted_key}"))),
        ("no kid", Some(format!("Bearer {no_kid}"))),
        ("wrong issuer", Some(format!("Bearer {wrong_issuer}"))),
        ("wrong audience", Some(format!("Bearer {wrong_audience}"))),
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
    let login = t.sign_in("+260971234568", "Token Tester").await;
    let issuer =
        decode(login["access_token"].as_str().expect("token").split('.').nth(1).expect("claims"))["iss"].clone();
    let token = t
        .app()
        .keys()
        .jwt()
        .issue(
            issuer.as_str().expect("iss"),
            "STAFF_1",
            shared::auth::Role::Staff,
            "sid",
            shared::time::Timestamp::now(),
        )
        .expect("sign");
    let (status, _) = status_of_me(&t, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 403);
}
