//! The secrets in Secrets Manager (moto's), as deployed: read at a cold start, read again by
//! warm instances once `JWT_KEY_REFRESH_SECONDS` pass. `auth` alone reads the access-token
//! private keys and publishes their public halves; a function that only verifies reads those.
//! A rotation staged as `AWSPENDING` and then promoted, mid-session, logs nobody out; the
//! rotation after it retires the oldest key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::{TestApp, moto_endpoint, sdk_config};
use serde_json::{Value, json};

async fn secrets_manager() -> aws_sdk_secretsmanager::Client {
    let config =
        aws_sdk_secretsmanager::config::Builder::from(&sdk_config().await).endpoint_url(moto_endpoint()).build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// A secret as the template generates it: `{"key": "<64 characters>"}`.
fn generated(letter: char) -> String {
    json!({ "key": letter.to_string().repeat(64) }).to_string()
}

/// The secrets of a deployment, as the template creates them.
struct Deployment {
    /// The access-token private keys (only `auth` reads them).
    access_key: String,
    /// The published public keys: `{}` until `auth` first writes them.
    public_keys: String,
    /// The session secret (one-time codes, refresh tokens).
    session: String,
}

impl Deployment {
    async fn create(name: &str) -> Self {
        let suffix = format!("{:x}", rand::random::<u64>());
        Self {
            access_key: create_secret(&format!("{name}-access-{suffix}"), &generated('a')).await.0,
            public_keys: create_secret(&format!("{name}-public-{suffix}"), "{}").await.0,
            session: create_secret(&format!("{name}-session-{suffix}"), &generated('s')).await.0,
        }
    }

    /// The environment of the deployed `auth` function: ARNs, no key in the environment.
    fn auth(&self) -> Vec<(&str, &str)> {
        let mut env = self.verifier();
        env.extend([("ACCESS_TOKEN_KEY_ARN", self.access_key.as_str()), ("JWT_SECRET_ARN", self.session.as_str())]);
        env
    }

    /// A function that only verifies (e.g. `profile`): the published public keys alone.
    fn verifier(&self) -> Vec<(&str, &str)> {
        vec![
            ("JWT_SECRET", ""),
            ("JWT_KID", ""),
            ("ACCESS_TOKEN_KEY", ""),
            ("ACCESS_TOKEN_PUBLIC_KEYS_ARN", self.public_keys.as_str()),
            ("SECRETS_MANAGER_ENDPOINT", moto_endpoint()),
            ("JWT_KEY_REFRESH_SECONDS", "1"),
        ]
    }
}

/// The `kid` of the key pair a secret's `{"key": …}` makes: the public key's thumbprint.
fn kid_for(letter: char) -> String {
    shared::auth::es256::AccessKey::from_secret(letter.to_string().repeat(64).as_bytes()).public.kid
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON");
    header["kid"].as_str().expect("a kid").to_string()
}

async fn me_status(t: &TestApp, access_token: &str) -> u16 {
    t.call("GET", "/v1/me", Some(access_token), None).await.status
}

async fn create_secret(name: &str, value: &str) -> (String, String) {
    let created = secrets_manager()
        .await
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create the secret");
    (created.arn().expect("arn").to_string(), created.version_id().expect("version").to_string())
}

/// Rotation, step 1 (README, "Rotating the signing key"): the new value as `AWSPENDING`.
async fn stage(sm: &aws_sdk_secretsmanager::Client, arn: &str, value: &str) -> String {
    let staged = sm
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("stage");
    staged.version_id().expect("version").to_string()
}

/// Rotation, step 2: `AWSCURRENT` moves to the staged version (the old one becomes
/// `AWSPREVIOUS`), and the staged version drops `AWSPENDING`.
async fn promote(sm: &aws_sdk_secretsmanager::Client, arn: &str, new: &str, old: &str) {
    sm.update_secret_version_stage()
        .secret_id(arn)
        .version_stage("AWSCURRENT")
        .move_to_version_id(new)
        .remove_from_version_id(old)
        .send()
        .await
        .expect("promote");
    sm.update_secret_version_stage()
        .secret_id(arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(new)
        .send()
        .await
        .expect("unstage");
}

/// The kids `/.well-known/jwks.json` lists, in its order (the signing key first).
async fn published_kids(t: &TestApp) -> Vec<String> {
    let jwks = t.call("GET", "/.well-known/jwks.json", None, None).await.json();
    jwks["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid").to_string()).collect()
}

/// Moves the instances' clocks past their refresh interval (1 s here); the next request of
/// each refreshes its keys.
fn after_refresh_interval(instances: &[&TestApp]) {
    for instance in instances {
        instance.app().clock.advance(1);
    }
}

#[tokio::test]
async fn a_rotation_staged_then_promoted_logs_nobody_out() {
    let t = TestApp::new().await;
    let sm = secrets_manager().await;
    let deployment = Deployment::create("rotation").await;
    let auth = t.another_instance(&deployment.auth()).await.expect("a cold start reads the secrets");
    let (k1, k2, k3) = (kid_for('a'), kid_for('b'), kid_for('c'));
    assert_eq!(published_kids(&auth).await, std::slice::from_ref(&k1));
    let verifier = t.another_instance(&deployment.verifier()).await.expect("auth published the public key");

    let first = auth.sign_in("+260971000101", "Ada Rotation").await;
    let (access_v1, refresh_v1) =
        (first["access_token"].as_str().expect("access"), first["refresh_token"].as_str().expect("refresh"));
    assert_eq!(kid_of(access_v1), k1, "the kid is the public key's thumbprint");
    assert_eq!(me_status(&verifier, access_v1).await, 200, "verified with the published key alone");

    // 1. Stage the next key: auth publishes it at its next refresh, still signing with k1, and
    //    the verifying functions learn it at theirs.
    let v1 = current_version(&sm, &deployment.access_key).await;
    let v2 = stage(&sm, &deployment.access_key, &generated('b')).await;
    after_refresh_interval(&[&auth, &verifier]);
    assert_eq!(published_kids(&auth).await, [k1.clone(), k2.clone()], "current first, then the next");
    assert_eq!(kid_of(auth.sign_in("+260971000102", "Bo Rotation").await["access_token"].as_str().expect("a")), k1);
    after_refresh_interval(&[&auth, &verifier]);
    assert_eq!(me_status(&verifier, access_v1).await, 200);

    // 2. Promote it, mid-session: the session of access_v1 goes on.
    promote(&sm, &deployment.access_key, &v2, &v1).await;
    after_refresh_interval(&[&auth, &verifier]);
    assert_eq!(published_kids(&auth).await, [k2.clone(), k1.clone()], "current, then the previous");
    let renewed = auth.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_v1}))).await;
    assert_eq!(
        renewed.status,
        200,
        "a refresh token from before the rotation: {}",
        String::from_utf8_lossy(&renewed.body)
    );
    let access_v2 = renewed.json()["access_token"].as_str().expect("access").to_string();
    assert_eq!(kid_of(&access_v2), k2, "auth signs with the promoted key");
    after_refresh_interval(&[&auth, &verifier]);
    assert_eq!(me_status(&verifier, &access_v2).await, 200, "the verifier knew the staged key already");
    assert_eq!(me_status(&verifier, access_v1).await, 200, "the previous key verifies until its tokens expire");
    assert_eq!(me_status(&auth, access_v1).await, 200);

    // 3. The next rotation retires k1: what only it signed stops working everywhere.
    let v3 = stage(&sm, &deployment.access_key, &generated('c')).await;
    promote(&sm, &deployment.access_key, &v3, &v2).await;
    after_refresh_interval(&[&auth, &verifier]);
    assert_eq!(published_kids(&auth).await, [k3, k2]);
    after_refresh_interval(&[&auth, &verifier]);
    assert_eq!(me_status(&verifier, access_v1).await, 401);
    assert_eq!(me_status(&auth, access_v1).await, 401);
    assert_eq!(me_status(&verifier, &access_v2).await, 200);
    let cold = t.another_instance(&deployment.verifier()).await.expect("cold start");
    assert_eq!(me_status(&cold, &access_v2).await, 200, "a cold verifier reads what auth published");
}

async fn current_version(sm: &aws_sdk_secretsmanager::Client, arn: &str) -> String {
    let current = sm.get_secret_value().secret_id(arn).send().await.expect("read");
    current.version_id().expect("version").to_string()
}

#[tokio::test]
async fn a_bad_or_missing_secret_stops_a_cold_start_and_an_outage_keeps_warm_keys() {
    let t = TestApp::new().await;
    let suffix = format!("{:x}", rand::random::<u64>());
    let (short, _) = create_secret(&format!("jwt-short-{suffix}"), r#"{"key":"too-short"}"#).await;
    let refused = t.another_instance(&session_only(&short)).await.err().expect("a 9-byte key is refused");
    assert!(refused.to_string().contains("JWT_SECRET_ARN") && refused.to_string().contains("32 bytes"), "{refused}");
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf";
    let refused = t.another_instance(&session_only(missing)).await.err().expect("no such secret");
    assert!(refused.to_string().contains("JWT_SECRET_ARN"), "{refused}");

    let (arn, _) = create_secret(&format!("jwt-outage-{suffix}"), &generated('d')).await;
    let warm = t.another_instance(&session_only(&arn)).await.expect("cold start");
    let signed_in = warm.sign_in("+260971000103", "Cy Outage").await;
    let access = signed_in["access_token"].as_str().expect("access");
    secrets_manager()
        .await
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete");
    after_refresh_interval(&[&warm]);
    assert_eq!(me_status(&warm, access).await, 200, "a failed refresh keeps the keys in use");
    assert!(t.another_instance(&session_only(&arn)).await.is_err(), "but a cold start cannot start without the key");
}

/// The session secret from Secrets Manager, the access-token key from the environment.
fn session_only(arn: &str) -> Vec<(&str, &str)> {
    vec![
        ("JWT_SECRET", ""),
        ("JWT_KID", ""),
        ("JWT_SECRET_ARN", arn),
        ("SECRETS_MANAGER_ENDPOINT", moto_endpoint()),
        ("JWT_KEY_REFRESH_SECONDS", "1"),
    ]
}
