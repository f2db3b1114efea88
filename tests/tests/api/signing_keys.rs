//! The signing key in Secrets Manager (moto's), as deployed: read at a cold start, read again by
//! warm instances once `JWT_KEY_REFRESH_SECONDS` pass. A rotation staged as `AWSPENDING` and
//! then promoted logs nobody out; the rotation after it retires the oldest key.

use std::time::Duration;

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

/// The environment of a deployed function: the ARN, no key in the environment.
fn deployed(arn: &str) -> Vec<(&str, &str)> {
    vec![
        ("JWT_SECRET", ""),
        ("JWT_KID", ""),
        ("JWT_SECRET_ARN", arn),
        ("SECRETS_MANAGER_ENDPOINT", moto_endpoint()),
        ("JWT_KEY_REFRESH_SECONDS", "1"),
    ]
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

#[tokio::test]
async fn a_rotation_staged_then_promoted_logs_nobody_out() {
    let t = TestApp::new().await;
    let sm = secrets_manager().await;
    let (arn, v1) = create_secret(&format!("jwt-rotation-{:x}", rand::random::<u64>()), &generated('a')).await;
    let env = deployed(&arn);
    let warm = t.another_instance(&env).await.expect("a cold start reads the secret");
    let first = warm.sign_in("+260971000101", "Ada Rotation").await;
    let (access_v1, refresh_v1) =
        (first["access_token"].as_str().expect("access"), first["refresh_token"].as_str().expect("refresh"));
    assert_eq!(kid_of(access_v1), v1, "the version id is the kid");

    // 1. Stage the next key: instances started from now on accept it but still sign with v1.
    let v2 = stage(&sm, &arn, &generated('b')).await;
    let staged_instance = t.another_instance(&env).await.expect("cold start");
    assert_eq!(me_status(&staged_instance, access_v1).await, 200);

    // 2. Promote it: v1 becomes AWSPREVIOUS.
    promote(&sm, &arn, &v2, &v1).await;
    let promoted = t.another_instance(&env).await.expect("cold start");
    let second = promoted.sign_in("+260971000102", "Bo Rotation").await;
    let access_v2 = second["access_token"].as_str().expect("access");
    assert_eq!(kid_of(access_v2), v2, "new instances sign with the promoted key");
    assert_eq!(me_status(&staged_instance, access_v2).await, 200, "it knew the staged key already");
    assert_eq!(me_status(&promoted, access_v1).await, 200, "the previous key still verifies");

    // The instance that was warm all along learns of the new key once its interval passes.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(me_status(&warm, access_v2).await, 200);
    let renewed = warm.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_v1}))).await;
    assert_eq!(
        renewed.status,
        200,
        "a refresh token from before the rotation: {}",
        String::from_utf8_lossy(&renewed.body)
    );
    assert_eq!(kid_of(renewed.json()["access_token"].as_str().expect("access")), v2);

    // 3. The next rotation retires v1: what only it signed stops working.
    let v3 = stage(&sm, &arn, &generated('c')).await;
    promote(&sm, &arn, &v3, &v2).await;
    let later = t.another_instance(&env).await.expect("cold start");
    assert_eq!(me_status(&later, access_v1).await, 401);
    assert_eq!(me_status(&later, access_v2).await, 200);
}

#[tokio::test]
async fn a_bad_or_missing_secret_stops_a_cold_start_and_an_outage_keeps_warm_keys() {
    let t = TestApp::new().await;
    let suffix = format!("{:x}", rand::random::<u64>());
    let (short, _) = create_secret(&format!("jwt-short-{suffix}"), r#"{"key":"too-short"}"#).await;
    let refused = t.another_instance(&deployed(&short)).await.err().expect("a 9-byte key is refused");
    assert!(refused.to_string().contains("JWT_SECRET_ARN") && refused.to_string().contains("32 bytes"), "{refused}");
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf";
    let refused = t.another_instance(&deployed(missing)).await.err().expect("no such secret");
    assert!(refused.to_string().contains("JWT_SECRET_ARN"), "{refused}");

    let (arn, _) = create_secret(&format!("jwt-outage-{suffix}"), &generated('d')).await;
    let warm = t.another_instance(&deployed(&arn)).await.expect("cold start");
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
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(me_status(&warm, access).await, 200, "a failed refresh keeps the keys in use");
    assert!(t.another_instance(&deployed(&arn)).await.is_err(), "but a cold start cannot start without the key");
}
