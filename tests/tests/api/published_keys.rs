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
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
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

/// `template.yaml` as YAML (intrinsics such as `!Ref` stay tagged values).
fn template_yaml() -> serde_norway::Value {
    let text = std::fs::read_to_string(integration_tests::repo_root().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml parses")
}

const SECRETS: [&str; 4] = ["AccessTokenSigningKey", "AccessTokenPublicKeys", "JwtSecret", "CursorSecret"];

/// The secrets a YAML value names (as `!Ref`, in a policy or an environment variable).
fn secrets_named(value: Option<&serde_norway::Value>) -> Vec<&'static str> {
    let text = value.map(|v| serde_norway::to_string(v).expect("yaml")).unwrap_or_default();
    SECRETS.into_iter().filter(|secret| text.contains(&format!("!Ref {secret}"))).collect()
}

#[test]
fn each_function_can_read_only_the_secrets_it_uses_and_only_auth_the_private_key() {
    let template = template_yaml();
    let expected: &[(&str, &[&str])] = &[
        ("AuthFunction", &SECRETS),
        ("ProfileFunction", &["AccessTokenPublicKeys", "JwtSecret"]),
        ("CartFunction", &["AccessTokenPublicKeys"]),
        ("CustomersFunction", &["AccessTokenPublicKeys", "CursorSecret"]),
        ("SearchFunction", &["AccessTokenPublicKeys", "CursorSecret"]),
        ("MediaFunction", &["AccessTokenPublicKeys", "CursorSecret"]),
        ("MediaProcessorFunction", &[]),
        ("ExportJobFunction", &[]),
        ("StreamPublisherFunction", &[]),
        ("DocsFunction", &[]),
        ("EraseSweeperFunction", &[]),
    ];
    let resources = template["Resources"].as_mapping().expect("Resources");
    let functions: Vec<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| id.as_str().expect("id"))
        .collect();
    assert_eq!(functions.len(), expected.len(), "every function is listed here: {functions:?}");
    for (function, secrets) in expected {
        let properties = &template["Resources"][*function]["Properties"];
        assert_eq!(secrets_named(properties.get("Policies")), *secrets, "{function}: the secrets its role may read");
        assert_eq!(secrets_named(properties.get("Environment")), *secrets, "{function}: the secrets' ARNs it gets");
        let writes =
            serde_norway::to_string(&properties["Policies"]).expect("yaml").contains("secretsmanager:PutSecretValue");
        assert_eq!(writes, *function == "AuthFunction", "{function}: only auth writes the published public keys");
    }
    assert!(secrets_named(template["Globals"].get("Function")).is_empty(), "no secret for every function");
    let auth_policies =
        serde_norway::to_string(&template["Resources"]["AuthFunction"]["Properties"]["Policies"]).expect("yaml");
    let put = auth_policies.split("secretsmanager:PutSecretValue").nth(1).expect("the write statement");
    assert!(put.trim_start().starts_with("Resource: !Ref AccessTokenPublicKeys"), "{put}");
}

/// The routes that take only a bearer token, by the functions' route tables.
fn bearer_routes() -> std::collections::BTreeSet<String> {
    use shared::auth::roles::Access;
    local_stack::functions::Function::ALL
        .iter()
        .flat_map(|f| f.routes())
        .filter(|r| {
            matches!(
                r.access,
                Access::Customer | Access::Staff | Access::Admin | Access::SignedIn | Access::OwnerOrStaff
            )
        })
        .map(|r| r.key())
        .collect()
}

#[test]
fn the_gateway_jwt_authorizer_guards_every_bearer_route_and_only_those_when_switched_on() {
    let template = template_yaml();
    assert_eq!(template["Parameters"]["GatewayJwtAuthorizer"]["Default"], "false");
    assert_eq!(
        template["Conditions"]["UseGatewayJwtAuthorizer"],
        serde_norway::from_str::<serde_norway::Value>("!Equals [!Ref GatewayJwtAuthorizer, 'true']").expect("yaml")
    );
    let body = &template["Resources"]["HttpApi"]["Properties"]["DefinitionBody"];
    let switched = |value: &serde_norway::Value, then: &str| {
        let expected = format!("!If\n- UseGatewayJwtAuthorizer\n- {then}\n- !Ref AWS::NoValue\n");
        assert_eq!(serde_norway::to_string(value).expect("yaml"), expected);
    };
    let scheme = "securitySchemes:\n    AccessToken:\n      type: oauth2\n      x-amazon-apigateway-authorizer:\n        type: jwt\n        identitySource: $request.header.Authorization\n        jwtConfiguration:\n          issuer: !Ref TokenIssuer\n          audience:\n          - !Ref TokenAudience";
    switched(&body["components"], scheme);
    let mut guarded = std::collections::BTreeSet::new();
    for (path, item) in body["paths"].as_mapping().expect("paths") {
        for (method, operation) in item.as_mapping().expect("path item") {
            switched(&operation["security"], "- AccessToken: []");
            guarded.insert(format!(
                "{} {}",
                method.as_str().expect("method").to_ascii_uppercase(),
                path.as_str().expect("path")
            ));
        }
    }
    assert_eq!(guarded, bearer_routes(), "the authorizer's routes are exactly those that need a bearer token");
    let rule = serde_norway::to_string(&template["Rules"]["GatewayJwtAuthorizerNeedsTokenIssuer"]).expect("yaml");
    assert!(rule.contains("!Ref TokenIssuer"), "{rule}");
}
