//! Staff login with lockout, and the admin's staff management.

use futures::future::join_all;
use integration_tests::TestApp;
use local_stack::admin::{AdminOutcome, ensure_admin};
use serde_json::{Value, json};

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "local-admin-password";

async fn with_admin(overrides: &[(&str, &str)]) -> (TestApp, String) {
    let t = TestApp::with_env(overrides).await;
    let outcome = ensure_admin(&t.app().store, ADMIN_EMAIL, ADMIN_PASSWORD, "Admin").await.expect("admin");
    assert!(matches!(outcome, AdminOutcome::Created(_)));
    let login = staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.0, 200, "{}", login.1);
    let token = login.1["access_token"].as_str().expect("token").to_string();
    (t, token)
}

async fn staff_login(t: &TestApp, email: &str, password: &str) -> (u16, Value, Option<String>) {
    let response =
        t.call("POST", "/v1/auth/staff/login", None, Some(json!({ "email": email, "password": password }))).await;
    (response.status, response.json(), response.header("retry-after").map(str::to_string))
}

#[tokio::test]
async fn staff_log_in_with_a_password_and_get_a_staff_response() {
    let (t, _) = with_admin(&[]).await;
    let (status, body, _) = staff_login(&t, " ADMIN@example.com ", ADMIN_PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(body["staff"]["role"], "admin");
    assert!(body.get("customer").is_none());
    assert!(body["staff"].get("password_hash").is_none());
    assert_eq!(
        ensure_admin(&t.app().store, ADMIN_EMAIL, "another password!", "Admin").await.expect("ok"),
        AdminOutcome::AlreadyExists(body["staff"]["staff_id"].as_str().expect("id").into())
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let (t, _) = with_admin(&[]).await;
    let (s1, unknown, _) = staff_login(&t, "nobody@example.com", ADMIN_PASSWORD).await;
    let (s2, wrong, _) = staff_login(&t, ADMIN_EMAIL, "not the password").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(unknown, wrong);
}

#[tokio::test]
async fn ten_failed_passwords_lock_the_account_for_fifteen_minutes() {
    let (t, _) = with_admin(&[]).await;
    for attempt in 1..=9 {
        assert_eq!(staff_login(&t, ADMIN_EMAIL, "wrong password!").await.0, 401, "failure {attempt}");
    }
    let (status, _, retry) = staff_login(&t, ADMIN_EMAIL, "wrong password!").await;
    assert_eq!(status, 429, "the tenth failure locks");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((890..=900).contains(&retry), "{retry}");
    let (status, _, retry) = staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(status, 429, "even the right password waits out the lock");
    assert!(retry.is_some());
}

#[tokio::test]
async fn concurrent_failed_passwords_are_all_counted() {
    let (t, _) = with_admin(&[("STAFF_LOCKOUT_THRESHOLD", "5")]).await;
    let attempts = join_all((0..5).map(|_| staff_login(&t, ADMIN_EMAIL, "wrong password!"))).await;
    assert!(attempts.iter().all(|a| a.0 == 401 || a.0 == 429));
    assert_eq!(staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 429, "five concurrent failures lock the account");
}

#[tokio::test]
async fn a_success_clears_earlier_failures() {
    let (t, _) = with_admin(&[("STAFF_LOCKOUT_THRESHOLD", "3")]).await;
    for _ in 0..2 {
        assert_eq!(staff_login(&t, ADMIN_EMAIL, "wrong password!").await.0, 401);
    }
    assert_eq!(staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 200);
    for _ in 0..2 {
        assert_eq!(staff_login(&t, ADMIN_EMAIL, "wrong password!").await.0, 401, "the count started over");
    }
}

#[tokio::test]
async fn admins_create_list_and_change_staff() {
    let (t, admin) = with_admin(&[]).await;
    // Creation times have one-second precision; a second apart makes "newest first" certain.
    t.app().clock.advance(1);
    let created = t
        .call(
            "POST",
            "/v1/staff",
            Some(&admin),
            Some(
                json!({"email": "Clerk@Example.com", "password": "clerk password 1", "name": "Clerk", "role": "staff"}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let clerk_id = created.json()["staff_id"].as_str().expect("id").to_string();
    assert_eq!(created.header("location"), Some(format!("/v1/staff/{clerk_id}").as_str()));
    assert!(created.json().get("password_hash").is_none());

    let duplicate = t.call("POST", "/v1/staff", Some(&admin), Some(json!({"email": "clerk@example.com", "password": "clerk password 2", "name": "Clerk 2", "role": "staff"}))).await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.error_fields(), ["email"]);
    let invalid = t
        .call(
            "POST",
            "/v1/staff",
            Some(&admin),
            Some(json!({"email": "x", "password": "short", "name": "", "role": "boss"})),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.error_fields(), ["email", "password", "name", "role"]);

    let list = t.call("GET", "/v1/staff?limit=1", Some(&admin), None).await.json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["staff_id"], clerk_id.as_str(), "newest first");
    let cursor = list["next_cursor"].as_str().expect("more").to_string();
    let page2 = t.call("GET", &format!("/v1/staff?limit=1&cursor={cursor}"), Some(&admin), None).await.json();
    assert_eq!(page2["items"][0]["email"], ADMIN_EMAIL);
    let mut tampered = cursor.clone();
    tampered.insert(3, 'x');
    assert_eq!(t.call("GET", &format!("/v1/staff?cursor={tampered}"), Some(&admin), None).await.status, 400);

    let clerk = staff_login(&t, "clerk@example.com", "clerk password 1").await;
    assert_eq!(clerk.0, 200);
    let clerk_refresh = clerk.1["refresh_token"].as_str().expect("refresh").to_string();
    let clerk_token = clerk.1["access_token"].as_str().expect("token").to_string();
    assert_eq!(t.call("GET", "/v1/staff", Some(&clerk_token), None).await.status, 403, "staff are not admins");

    let disabled =
        t.call("PATCH", &format!("/v1/staff/{clerk_id}"), Some(&admin), Some(json!({"disabled": true}))).await;
    assert_eq!(disabled.status, 200);
    assert_eq!(disabled.json()["disabled"], true);
    let refreshed = t.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": clerk_refresh}))).await;
    assert_eq!(refreshed.status, 401, "a disabled member's sessions end");
    // A disabled account answers like a wrong password: a guess must not learn it was right.
    assert_eq!(staff_login(&t, "clerk@example.com", "clerk password 1").await.0, 401);

    let promoted = t
        .call(
            "PATCH",
            &format!("/v1/staff/{clerk_id}"),
            Some(&admin),
            Some(json!({"disabled": false, "role": "admin"})),
        )
        .await;
    assert_eq!(promoted.json()["role"], "admin");
    assert_eq!(
        t.call("PATCH", "/v1/staff/STAFF_00000000", Some(&admin), Some(json!({"disabled": true}))).await.status,
        404
    );
    assert_eq!(
        t.call("PATCH", &format!("/v1/staff/{clerk_id}"), Some(&admin), Some(json!({"role": "customer"}))).await.status,
        422
    );
}

#[tokio::test]
async fn admins_cannot_lock_themselves_out() {
    let (t, admin) = with_admin(&[]).await;
    let me = t.call("GET", "/v1/auth/verify", Some(&admin), None).await.json();
    let my_id = me["staff"]["staff_id"].as_str().expect("id").to_string();
    assert_eq!(me["claims"]["role"], "admin");
    for change in [json!({"disabled": true}), json!({"role": "staff"})] {
        assert_eq!(t.call("PATCH", &format!("/v1/staff/{my_id}"), Some(&admin), Some(change)).await.status, 409);
    }
}

#[tokio::test]
async fn staff_sessions_list_and_refresh_with_the_current_role() {
    let (t, admin) = with_admin(&[]).await;
    let sessions = t.call("GET", "/v1/auth/sessions", Some(&admin), None).await.json();
    assert_eq!(sessions["items"].as_array().map(Vec::len), Some(1));
    let (_, login, _) = staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let refreshed =
        t.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": login["refresh_token"]}))).await;
    assert_eq!(refreshed.status, 200);
    let token = refreshed.json()["access_token"].as_str().expect("token").to_string();
    assert_eq!(
        t.call("GET", "/v1/staff", Some(&token), None).await.status,
        200,
        "the refreshed token carries the admin role"
    );
}

#[tokio::test]
async fn unknown_emails_lock_like_real_accounts() {
    let (t, _) = with_admin(&[("STAFF_LOCKOUT_THRESHOLD", "3")]).await;
    for email in ["ghost@example.com", ADMIN_EMAIL] {
        assert_eq!(staff_login(&t, email, "wrong password!").await.0, 401, "{email}");
        assert_eq!(staff_login(&t, email, "wrong password!").await.0, 401, "{email}");
        let (status, _, retry) = staff_login(&t, email, "wrong password!").await;
        assert_eq!(status, 429, "{email}: the third failure locks, account or not");
        assert!(retry.is_some());
    }
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_routes_at_once() {
    let (t, admin) = with_admin(&[]).await;
    let created = t
        .call("POST", "/v1/staff", Some(&admin), Some(json!({"email": "second@example.com", "password": "second admin pw", "name": "Second", "role": "admin"})))
        .await;
    let second_id = created.json()["staff_id"].as_str().expect("id").to_string();
    let second = staff_login(&t, "second@example.com", "second admin pw").await.1["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(t.call("GET", "/v1/staff", Some(&second), None).await.status, 200);
    let demoted =
        t.call("PATCH", &format!("/v1/staff/{second_id}"), Some(&admin), Some(json!({"role": "staff"}))).await;
    assert_eq!(demoted.status, 200);
    assert_eq!(
        t.call("GET", "/v1/staff", Some(&second), None).await.status,
        403,
        "the old admin token no longer opens admin routes"
    );
}

#[tokio::test]
async fn a_full_last_page_has_no_cursor() {
    let (t, admin) = with_admin(&[]).await;
    let body = json!({"email": "one@example.com", "password": "one password 12", "name": "One", "role": "staff"});
    assert_eq!(t.call("POST", "/v1/staff", Some(&admin), Some(body)).await.status, 201);
    let page = t.call("GET", "/v1/staff?limit=2", Some(&admin), None).await.json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(t.call("GET", "/v1/staff?limit=abc", Some(&admin), None).await.status, 400);
    assert_eq!(t.call("GET", "/v1/staff?limit=0", Some(&admin), None).await.status, 422);
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_keeps_the_lock() {
    let (t, _) = with_admin(&[("STAFF_LOCKOUT_THRESHOLD", "5")]).await;
    let attempts = join_all((0..12).map(|_| staff_login(&t, ADMIN_EMAIL, "wrong password!"))).await;
    let statuses: Vec<u16> = attempts.iter().map(|a| a.0).collect();
    assert!(statuses.iter().all(|&s| s == 401 || s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 429, "no racing failure clears the lock");
}

/// Thirty wrong guesses and the right password in one burst: every attempt reserves its slot
/// before Argon2 runs, so at most the threshold of them are ever checked, and the rest are
/// refused unchecked; the lock holds afterwards unless the right password was among the checked.
#[tokio::test]
async fn a_concurrent_burst_checks_at_most_the_threshold_of_guesses() {
    let (t, _) = with_admin(&[]).await;
    // 30 wrong guesses at once: each is counted before its password is checked, so at most the
    // threshold (10) are ever checked; the rest are refused unchecked, and so is the right
    // password once the lock is set.
    let answers = join_all((0..30).map(|_| staff_login(&t, ADMIN_EMAIL, "wrong password!"))).await;
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    let refused = answers.iter().filter(|a| a.0 == 429).count();
    assert_eq!(checked + refused, 30, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    assert!(checked <= 10, "{checked} guesses were checked");
    let (status, _, retry_after) = staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!((status, retry_after.is_some()), (429, true), "the right password after the lock is refused");

    // The right password inside such a burst: refused if the lock came first; if it was checked
    // first, it logs in and (as any success does) starts the count over, so at most the
    // threshold of wrong guesses are checked on each side of it.
    let (t, _) = with_admin(&[]).await;
    let mut guesses: Vec<&str> = vec!["wrong password!"; 30];
    guesses.insert(17, ADMIN_PASSWORD);
    let answers = join_all(guesses.iter().map(|p| staff_login(&t, ADMIN_EMAIL, p))).await;
    let wrong_checked = answers.iter().filter(|a| a.0 == 401).count();
    let right = &answers[17];
    match right.0 {
        429 => {
            assert!(right.2.is_some(), "refused with Retry-After");
            assert!(wrong_checked <= 10, "{wrong_checked} wrong guesses were checked");
            assert_eq!(staff_login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await.0, 429, "the lock holds");
        }
        200 => assert!(wrong_checked <= 19, "{wrong_checked} wrong guesses were checked around one success"),
        other => panic!("the right password answered {other}"),
    }
}

#[tokio::test]
async fn a_disabled_account_answers_like_a_wrong_password() {
    let (t, admin) = with_admin(&[]).await;
    let created = t
        .call(
            "POST",
            "/v1/staff",
            Some(&admin),
            Some(json!({"email": "gone@example.com", "password": "gone password 1", "name": "Gone", "role": "staff"})),
        )
        .await
        .json();
    let id = created["staff_id"].as_str().expect("id");
    t.call("PATCH", &format!("/v1/staff/{id}"), Some(&admin), Some(json!({"disabled": true}))).await;
    let (status, right, _) = staff_login(&t, "gone@example.com", "gone password 1").await;
    let (_, wrong, _) = staff_login(&t, "gone@example.com", "not the password").await;
    assert_eq!(status, 401);
    assert_eq!(right, wrong, "nothing tells the right password apart");
}
