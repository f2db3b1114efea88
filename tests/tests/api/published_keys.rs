//! The published keys: `/.well-known/jwks.json` and `/.well-known/openid-configuration` let
//! anyone verify a customer's and an admin's access token with public keys alone, as another
//! service (or API Gateway's JWT authorizer) would, and the functions that only verify read no
//! private key.

use integration_tests::TestApp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// What another service does: discover the keys through the issuer, then verify the token with
/// `jsonwebtoken` alone, the key picked by `kid`.
async fn verify_independently(t: &TestApp, token: &str) -> Value {
    let discovery = t.call("GET", "/.well-known/openid-configuration", None, None).await;
    assert_eq!(discovery.status, 200);
    let discovery = discovery.json();
    let issuer = discovery["issuer"].as_str().expect("issuer");
    let jwks_uri = discovery["jwks_uri"].as_str().expect("jwks_uri");
    let jwks_path = jwks_uri.strip_prefix(issuer).expect("the keys are published under the issuer");
    let jwks = t.call("GET", jwks_path, None, None).await.json();

    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid");
    let keys = jwks["keys"].as_array().expect("keys");
    let jwk = keys.iter().find(|k| k["kid"] == kid.as_str()).expect("the token's key is published");
    let key = DecodingKey::from_ec_components(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y"))
        .expect("a P-256 key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["customer-platform"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("verifies with the JWKS alone").claims
}

#[tokio::test]
async fn a_customers_and_an_admins_token_verify_with_the_jwks_alone() {
    let t = TestApp::new().await;
    let customer = t.sign_in("+260971000301", "Jwks Reader").await;
    let claims = verify_independently(&t, customer["access_token"].as_str().expect("token")).await;
    assert_eq!(claims["role"], "customer");
    assert_eq!(claims["sub"], customer["customer"]["customer_id"]);
    assert!(claims["sid"].as_str().is_some_and(|sid| !sid.is_empty()));
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 900);

    let admin = t.staff_tokens().await.admin;
    let claims = verify_independently(&t, &admin).await;
    assert_eq!(claims["role"], "admin");
    assert!(claims["sub"].as_str().is_some_and(|sub| sub.starts_with("STAFF_")));
}

#[tokio::test]
async fn the_documents_are_cacheable_public_and_name_the_issuer() {
    let t = TestApp::new().await;
    let jwks = t.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(jwks.header("content-type"), Some("application/json"));
    let keys = jwks.json()["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1, "one key between rotations");
    for key in &keys {
        assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")));
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private member: {key}");
        let members: Vec<&String> = key.as_object().expect("object").keys().collect();
        assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    }

    let discovery = t.call("GET", "/.well-known/openid-configuration", None, None).await;
    assert_eq!(discovery.header("cache-control"), Some("public, max-age=300"));
    let discovery = discovery.json();
    let issuer = discovery["issuer"].as_str().expect("issuer");
    assert!(issuer.starts_with("https://"), "{issuer}");
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
}

#[tokio::test]
async fn a_function_without_the_private_key_verifies_but_cannot_sign() {
    let t = TestApp::new().await;
    let login = t.sign_in("+260971000302", "Verifier Only").await;
    let token = login["access_token"].as_str().expect("token");
    // A function as the template deploys the verifying ones: the published keys only. The
    // environment has no Secrets Manager here, so hand it the key set as the secret would.
    let published = t.call("GET", "/.well-known/jwks.json", None, None).await.json();
    let keys: Vec<shared::auth::es256::PublicJwk> =
        serde_json::from_value(published["keys"].clone()).expect("the published keys");
    let verifier = shared::auth::JwtKeys::new(None, keys, "customer-platform", std::time::Duration::from_secs(900));
    let issuer = t.call("GET", "/.well-known/openid-configuration", None, None).await.json()["issuer"].clone();
    let issuer = issuer.as_str().expect("issuer");
    assert!(verifier.verify(token, issuer).is_ok());
    assert!(
        verifier.issue(issuer, "STAFF_1", shared::auth::Role::Admin, "sid", shared::time::Timestamp::now()).is_err(),
        "public keys cannot mint a token"
    );
}
