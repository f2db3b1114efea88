//! Refresh rotation with a grace window and reuse detection, logout, the session list, and
//! revocation.

use futures::future::join_all;
use integration_tests::TestApp;
use serde_json::{Value, json};

const PHONE: &str = "+260971234567";

async fn refresh(t: &TestApp, token: &str) -> (u16, Value) {
    let response = t.call("POST", "/v1/auth/refresh", None, Some(json!({ "refresh_token": token }))).await;
    (response.status, response.json())
}

fn field(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_else(|| panic!("{name} in {body}")).to_string()
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_stops_after_the_grace_window() {
    let t = TestApp::with_env(&[("REFRESH_GRACE_SECONDS", "1")]).await;
    let login = t.sign_in(PHONE, "Rita Refresh").await;
    let first = field(&login, "refresh_token");

    let (status, rotated) = refresh(&t, &first).await;
    assert_eq!(status, 200);
    let second = field(&rotated, "refresh_token");
    assert_ne!(second, first, "every refresh rotates the token");
    assert_eq!(t.call("GET", "/v1/me", Some(&field(&rotated, "access_token")), None).await.status, 200);

    t.app().clock.advance(2);
    let (status, _) = refresh(&t, &first).await;
    assert_eq!(status, 401, "a replay after the grace window fails");
    let (status, _) = refresh(&t, &second).await;
    assert_eq!(status, 401, "and revokes the whole session: the newest token fails too");
}

#[tokio::test]
async fn two_racing_refreshes_leave_the_client_a_working_token() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Rita Race").await;
    let token = field(&login, "refresh_token");
    let results = join_all((0..2).map(|_| refresh(&t, &token))).await;
    assert!(results.iter().all(|(status, _)| *status == 200), "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    let tokens: Vec<String> = results.iter().map(|(_, body)| field(body, "refresh_token")).collect();
    assert_eq!(tokens[0], tokens[1], "both racers get the same new token");
    // Whichever response the client kept, it works.
    let (status, _) = refresh(&t, &tokens[1]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn many_concurrent_refreshes_of_one_token_agree() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Rita Many").await;
    let token = field(&login, "refresh_token");
    let results = join_all((0..8).map(|_| refresh(&t, &token))).await;
    let winners: Vec<String> =
        results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| field(b, "refresh_token")).collect();
    assert!(!winners.is_empty());
    assert!(winners.iter().all(|w| w == &winners[0]), "no client ends up with a token the server forgot");
    assert_eq!(refresh(&t, &winners[0]).await.0, 200);
}

#[tokio::test]
async fn forged_and_garbage_refresh_tokens_are_401_and_revoke_nothing() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Rita Forge").await;
    let token = field(&login, "refresh_token");
    let forged = token.replace(".1.", ".7.");
    for bad in ["garbage", forged.as_str(), ""] {
        assert_eq!(refresh(&t, bad).await.0, 401, "{bad:?}");
    }
    assert_eq!(refresh(&t, &token).await.0, 200, "the genuine token still works");
    let wrong_type = t.call("POST", "/v1/auth/refresh", None, Some(json!({ "refresh_token": 5 }))).await;
    assert_eq!(wrong_type.status, 422);
}

#[tokio::test]
async fn sessions_are_listed_revoked_one_by_one_and_all_at_once() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let phone_login = |device: &'static str| {
        let t = &t;
        async move {
            let code = t.request_code(PHONE).await;
            let body = json!({"phone": PHONE, "code": code, "name": "Multi Device", "device_name": device});
            t.call("POST", "/v1/auth/login", None, Some(body)).await.json()
        }
    };
    let phone = phone_login("phone").await;
    let laptop = phone_login("laptop").await;
    let tablet = phone_login("tablet").await;
    let access = field(&phone, "access_token");

    let listed = t.call("GET", "/v1/auth/sessions", Some(&access), None).await;
    assert_eq!(listed.status, 200);
    let items = listed.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3);
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_name"], "phone");
    let laptop_id =
        items.iter().find(|s| s["device_name"] == "laptop").map(|s| field(s, "session_id")).expect("laptop");

    assert_eq!(t.call("DELETE", &format!("/v1/auth/sessions/{laptop_id}"), Some(&access), None).await.status, 204);
    assert_eq!(refresh(&t, &field(&laptop, "refresh_token")).await.0, 401, "the revoked session cannot refresh");
    assert_eq!(t.call("DELETE", &format!("/v1/auth/sessions/{laptop_id}"), Some(&access), None).await.status, 404);

    assert_eq!(t.call("DELETE", "/v1/auth/sessions", Some(&access), None).await.status, 204);
    for login in [&phone, &tablet] {
        assert_eq!(refresh(&t, &field(login, "refresh_token")).await.0, 401, "revoke-all ends every session");
    }
    assert_eq!(
        t.call("GET", "/v1/auth/verify", Some(&access), None).await.status,
        401,
        "verify sees the revocation at once"
    );
}

#[tokio::test]
async fn another_users_session_id_is_404() {
    let t = TestApp::new().await;
    let ann = t.sign_in("+260971234567", "Ann Lee").await;
    let bob = t.sign_in("+260971234568", "Bob Lee").await;
    let bob_sessions = t.call("GET", "/v1/auth/sessions", Some(&field(&bob, "access_token")), None).await.json();
    let bob_session = field(&bob_sessions["items"][0], "session_id");
    let response =
        t.call("DELETE", &format!("/v1/auth/sessions/{bob_session}"), Some(&field(&ann, "access_token")), None).await;
    assert_eq!(response.status, 404);
    assert_eq!(refresh(&t, &field(&bob, "refresh_token")).await.0, 200, "Bob's session is untouched");
}

#[tokio::test]
async fn logout_ends_the_current_session_only() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let first = t.sign_in(PHONE, "Lou Out").await;
    let second = t.sign_in(PHONE, "Lou Out").await;
    assert_eq!(t.call("POST", "/v1/auth/logout", Some(&field(&first, "access_token")), None).await.status, 204);
    assert_eq!(refresh(&t, &field(&first, "refresh_token")).await.0, 401);
    assert_eq!(refresh(&t, &field(&second, "refresh_token")).await.0, 200);
}

#[tokio::test]
async fn verify_returns_claims_and_profile() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Vera Verify").await;
    let response = t.call("GET", "/v1/auth/verify", Some(&field(&login, "access_token")), None).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["claims"]["role"], "customer");
    assert_eq!(body["claims"]["sub"], login["customer"]["customer_id"]);
    assert_eq!(body["customer"]["full_name"], "Vera Verify");
    assert!(body["customer"].get("notes").is_none());
}

#[tokio::test]
async fn refresh_is_refused_once_the_customer_is_suspended() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Sue Spended").await;
    let id = shared::domain::CustomerId::parse(login["customer"]["customer_id"].as_str().expect("id")).expect("id");
    let current = t.app().store.get_customer(&id).await.expect("read").expect("exists");
    let mut suspended = current.clone();
    suspended.status = shared::domain::CustomerStatus::Suspended;
    t.app()
        .store
        .replace_customer(&current, &mut suspended, shared::time::Timestamp::now(), &integration_tests::test_audit())
        .await
        .expect("suspend");
    assert_eq!(refresh(&t, &field(&login, "refresh_token")).await.0, 403);
}

#[tokio::test]
async fn verify_refuses_a_suspended_customer() {
    let t = TestApp::new().await;
    let login = t.sign_in(PHONE, "Sue Verify").await;
    let id = shared::domain::CustomerId::parse(login["customer"]["customer_id"].as_str().expect("id")).expect("id");
    let current = t.app().store.get_customer(&id).await.expect("read").expect("exists");
    let mut suspended = current.clone();
    suspended.status = shared::domain::CustomerStatus::Suspended;
    t.app()
        .store
        .replace_customer(&current, &mut suspended, shared::time::Timestamp::now(), &integration_tests::test_audit())
        .await
        .expect("suspend");
    assert_eq!(t.call("GET", "/v1/auth/verify", Some(&field(&login, "access_token")), None).await.status, 403);
}
