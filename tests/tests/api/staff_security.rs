//! Staff account security (issue #23): password change and reset, TOTP two factors with the
//! two-step login, the `StaffMfaRequired` enforcement, the admin's tools and the trail.

use integration_tests::TestApp;
use local_stack::admin::ensure_admin;
use serde_json::{Value, json};
use shared::auth::totp::{TotpSecret, base32_decode, step_of};
use shared::domain::staff::new_staff;
use shared::time::Timestamp;

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "local-admin-password";
const MEMBER_EMAIL: &str = "member@example.com";
const MEMBER_PASSWORD: &str = "member password 0001";

struct Setup {
    t: TestApp,
    admin: String,
    member_id: String,
}

/// A test app (with `overrides`) with the admin and a staff member; the admin's access token
/// where a password alone signs the admin in (empty where two factors are required).
async fn setup(overrides: &[(&str, &str)]) -> Setup {
    let t = TestApp::with_env(overrides).await;
    ensure_admin(&t.app().store, ADMIN_EMAIL, ADMIN_PASSWORD, "Admin").await.expect("admin");
    let member = new_staff(MEMBER_EMAIL, MEMBER_PASSWORD, "Member", "staff", Timestamp::now()).expect("member");
    t.app().store.create_staff(&member).await.expect("member account");
    let admin = login(&t, ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"].as_str().unwrap_or_default().to_string();
    Setup { t, admin, member_id: member.staff_id.to_string() }
}

async fn login(t: &TestApp, email: &str, password: &str) -> Value {
    let response =
        t.call("POST", "/v1/auth/staff/login", None, Some(json!({"email": email, "password": password}))).await;
    assert_eq!(response.status, 200, "login: {}", String::from_utf8_lossy(&response.body));
    response.json()
}

fn tokens(body: &Value) -> String {
    body["access_token"].as_str().unwrap_or_else(|| panic!("no access token in {body}")).to_string()
}

async fn verify_status(t: &TestApp, token: &str) -> u16 {
    t.call("GET", "/v1/auth/verify", Some(token), None).await.status
}

/// The code of the enrolled `secret` at `offset` steps from the app's clock.
fn code(t: &TestApp, secret: &str, offset: i64) -> String {
    let secret = TotpSecret::from_bytes(base32_decode(secret).expect("base32 secret"));
    secret.code_at(step_of(t.app().clock.now().unix()) + offset)
}

/// Enrols and confirms two factors with `token`; the secret and the recovery codes.
async fn enable_totp(t: &TestApp, token: &str) -> (String, Vec<String>) {
    let enrolled = t.call("POST", "/v1/auth/staff/mfa/totp", Some(token), None).await;
    assert_eq!(enrolled.status, 201, "{}", String::from_utf8_lossy(&enrolled.body));
    let body = enrolled.json();
    let secret = body["secret"].as_str().expect("secret").to_string();
    let uri = body["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")), "{uri}");
    let confirmed = t
        .call("POST", "/v1/auth/staff/mfa/totp/confirm", Some(token), Some(json!({"code": code(t, &secret, 0)})))
        .await;
    assert_eq!(confirmed.status, 200, "{}", String::from_utf8_lossy(&confirmed.body));
    let codes: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn second_step(t: &TestApp, mfa_token: &str, code: &str) -> integration_tests::TestResponse {
    t.call("POST", "/v1/auth/staff/login/mfa", None, Some(json!({"mfa_token": mfa_token, "code": code}))).await
}

async fn trail(t: &TestApp, admin: &str, staff_id: &str) -> Vec<String> {
    let response = t.call("GET", &format!("/v1/staff/{staff_id}/audit?limit=100"), Some(admin), None).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["event"].as_str().expect("event").to_string())
        .collect()
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_checks_the_new_one_and_ends_other_sessions() {
    let s = setup(&[]).await;
    let (t, admin) = (&s.t, &s.admin);
    let first = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    let second = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let wrong = t
        .call("POST", "/v1/auth/staff/password", Some(&first), Some(change("not it at all", "a new rare passphrase")))
        .await;
    assert_eq!(wrong.status, 403);
    for (weak, rule) in [("short", "12 characters"), (MEMBER_EMAIL, "email"), ("Unbelievable", "most common")] {
        let response =
            t.call("POST", "/v1/auth/staff/password", Some(&first), Some(change(MEMBER_PASSWORD, weak))).await;
        assert_eq!(response.status, 422, "{weak}");
        assert_eq!(response.error_fields(), ["new_password"]);
        let message = response.json()["errors"][0]["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(rule), "{weak}: {message}");
    }

    let ok = t
        .call("POST", "/v1/auth/staff/password", Some(&first), Some(change(MEMBER_PASSWORD, "a new rare passphrase")))
        .await;
    assert_eq!(ok.status, 204, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(verify_status(t, &first).await, 200, "the changing session stays");
    assert_eq!(verify_status(t, &second).await, 401, "every other session ends");
    let old = t
        .call("POST", "/v1/auth/staff/login", None, Some(json!({"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD})))
        .await;
    assert_eq!(old.status, 401);
    login(t, MEMBER_EMAIL, "a new rare passphrase").await;
    let events = trail(t, admin, &s.member_id).await;
    assert!(events.contains(&"password_changed".to_string()) && events.contains(&"password_failed".to_string()));
}

#[tokio::test]
async fn wrong_current_passwords_count_towards_the_lockout() {
    let s = setup(&[]).await;
    let t = &s.t;
    let token = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    let body = json!({"current_password": "wrong wrong wrong", "new_password": "a new rare passphrase"});
    for _ in 0..10 {
        assert_eq!(t.call("POST", "/v1/auth/staff/password", Some(&token), Some(body.clone())).await.status, 403);
    }
    let locked = t
        .call("POST", "/v1/auth/staff/login", None, Some(json!({"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD})))
        .await;
    assert_eq!(locked.status, 429);
    assert!(locked.header("retry-after").is_some());
    assert!(trail(t, &s.admin, &s.member_id).await.contains(&"locked_out".to_string()));
}

async fn request_reset(t: &TestApp, email: &str) -> integration_tests::TestResponse {
    t.call("POST", "/v1/auth/staff/password-reset", None, Some(json!({"email": email}))).await
}

async fn confirm_reset(t: &TestApp, email: &str, code: &str, password: &str) -> integration_tests::TestResponse {
    let body = json!({"email": email, "code": code, "new_password": password});
    t.call("POST", "/v1/auth/staff/password-reset/confirm", None, Some(body)).await
}

#[tokio::test]
async fn a_reset_request_answers_alike_for_existing_and_unknown_accounts() {
    let s = setup(&[("OTP_PER_PHONE_PER_HOUR", "1000"), ("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let t = &s.t;
    let keys = |body: Value| body.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let known = request_reset(t, MEMBER_EMAIL).await;
    let unknown = request_reset(t, "nobody.here@example.com").await;
    assert_eq!((known.status, unknown.status), (202, 202));
    assert_eq!(keys(known.json()), keys(unknown.json()));
    assert_eq!(known.json()["expires_in"], unknown.json()["expires_in"]);

    // Timing: interleaved rounds, medians compared. The same work runs either way, so the
    // medians differ by noise only; a profile read or an email more on one side would show.
    let mut known_ms = Vec::new();
    let mut unknown_ms = Vec::new();
    for round in 0..30 {
        for (email, samples) in [(MEMBER_EMAIL, &mut known_ms), ("nobody.here@example.com", &mut unknown_ms)] {
            let started = std::time::Instant::now();
            let response = request_reset(t, email).await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(response.status, 202, "round {round}");
        }
    }
    let median = |samples: &mut Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let (known_median, unknown_median) = (median(&mut known_ms), median(&mut unknown_ms));
    let gap = (known_median - unknown_median).abs();
    eprintln!("reset request medians: existing {known_median:.2} ms, unknown {unknown_median:.2} ms");
    assert!(gap <= 0.25 * known_median.max(unknown_median) + 2.0, "{known_median:.2} vs {unknown_median:.2} ms");
}

#[tokio::test]
async fn a_reset_code_sets_the_password_ends_every_session_and_keeps_two_factors() {
    let s = setup(&[]).await;
    let t = &s.t;
    let token = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    let (secret, _) = enable_totp(t, &token).await;

    let sent = request_reset(t, MEMBER_EMAIL).await;
    assert_eq!(sent.status, 202);
    let code = sent.json()["dev_code"].as_str().expect("dev_code").to_string();
    let weak = confirm_reset(t, MEMBER_EMAIL, &code, "short").await;
    assert_eq!(weak.status, 422, "a weak password keeps the code");
    assert_eq!(weak.error_fields(), ["new_password"]);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(confirm_reset(t, MEMBER_EMAIL, wrong, "a brand new passphrase").await.status, 400);
    let done = confirm_reset(t, MEMBER_EMAIL, &code, "a brand new passphrase").await;
    assert_eq!(done.status, 204, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(verify_status(t, &token).await, 401, "every session ends");
    assert_eq!(confirm_reset(t, MEMBER_EMAIL, &code, "yet another passphrase").await.status, 400, "used once");

    let again = login(t, MEMBER_EMAIL, "a brand new passphrase").await;
    assert_eq!(again["mfa_required"], true, "a reset never removes two factors");
    let mfa_token = again["mfa_token"].as_str().expect("mfa_token");
    assert_eq!(second_step(t, mfa_token, &code_for_next_login(t, &secret)).await.status, 200);
    let events = trail(t, &s.admin, &s.member_id).await;
    assert!(events.contains(&"password_reset".to_string()), "{events:?}");
}

/// A code the login accepts after enrolment used the current step: the next step's.
fn code_for_next_login(t: &TestApp, secret: &str) -> String {
    code(t, secret, 1)
}

#[tokio::test]
async fn five_wrong_reset_codes_end_the_code_and_unknown_accounts_get_nothing_usable() {
    let s = setup(&[]).await;
    let t = &s.t;
    let sent = request_reset(t, MEMBER_EMAIL).await;
    let code = sent.json()["dev_code"].as_str().expect("dev_code").to_string();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(confirm_reset(t, MEMBER_EMAIL, wrong, "a brand new passphrase").await.status, 400);
    }
    assert_eq!(confirm_reset(t, MEMBER_EMAIL, &code, "a brand new passphrase").await.status, 400, "the code ended");

    let unknown = request_reset(t, "ghost@example.com").await;
    let ghost_code = unknown.json()["dev_code"].as_str().expect("same body shape").to_string();
    assert_eq!(confirm_reset(t, "ghost@example.com", &ghost_code, "a brand new passphrase").await.status, 400);
}

#[tokio::test]
async fn two_factor_login_refuses_replays_and_wide_drift_and_takes_a_recovery_code_once() {
    let s = setup(&[]).await;
    let t = &s.t;
    let token = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    let (secret, recovery) = enable_totp(t, &token).await;

    let first = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    assert_eq!(first["mfa_required"], true);
    assert!(first.get("access_token").is_none(), "no tokens before the second factor");
    assert_eq!(first["expires_in"], 300);
    let mfa_token = first["mfa_token"].as_str().expect("mfa_token").to_string();
    assert_eq!(second_step(t, &mfa_token, &code(t, &secret, 0)).await.status, 401, "the confirming code was used");
    assert_eq!(second_step(t, &mfa_token, &code(t, &secret, 2)).await.status, 401, "two steps ahead");
    assert_eq!(second_step(t, &mfa_token, &code(t, &secret, -2)).await.status, 401, "two steps behind");
    let ok = second_step(t, &mfa_token, &code(t, &secret, 1)).await;
    assert_eq!(ok.status, 200, "one step of drift: {}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["staff"]["email"], MEMBER_EMAIL);
    assert_eq!(verify_status(t, &tokens(&ok.json())).await, 200);
    assert_eq!(second_step(t, &mfa_token, &code(t, &secret, 1)).await.status, 401, "the mfa_token is used up");

    let replay = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let replay_token = replay["mfa_token"].as_str().expect("mfa_token");
    assert_eq!(second_step(t, replay_token, &code(t, &secret, 1)).await.status, 401, "a code works once");
    t.app().clock.advance(30);
    assert_eq!(second_step(t, replay_token, &code(t, &secret, 1)).await.status, 200, "the next step's code works");

    let with_recovery = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let recovery_token = with_recovery["mfa_token"].as_str().expect("mfa_token");
    assert_eq!(second_step(t, recovery_token, &recovery[0]).await.status, 200);
    let reuse = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let reuse_token = reuse["mfa_token"].as_str().expect("mfa_token");
    assert_eq!(second_step(t, reuse_token, &recovery[0]).await.status, 401, "a recovery code works once");
    assert_eq!(second_step(t, reuse_token, &recovery[1].to_uppercase()).await.status, 200);

    let events = trail(t, &s.admin, &s.member_id).await;
    for expected in ["mfa_enabled", "mfa_failed", "recovery_code_used", "login"] {
        assert!(events.contains(&expected.to_string()), "{expected} in {events:?}");
    }
}

#[tokio::test]
async fn five_wrong_codes_end_the_mfa_token_and_wrong_codes_count_towards_the_lockout() {
    let s = setup(&[]).await;
    let t = &s.t;
    let token = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    let (secret, _) = enable_totp(t, &token).await;
    let wrong = |good: &str| if good == "000000" { "111111".to_string() } else { "000000".to_string() };

    let first = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let mfa_token = first["mfa_token"].as_str().expect("mfa_token").to_string();
    let good = code(t, &secret, 1);
    for _ in 0..5 {
        assert_eq!(second_step(t, &mfa_token, &wrong(&good)).await.status, 401);
    }
    assert_eq!(second_step(t, &mfa_token, &good).await.status, 401, "five wrong codes end the mfa_token");

    // Failures so far: the password step of the first login (counted until a code completes
    // it) and five wrong codes. The second login's password step is the seventh; the tenth
    // failure, a wrong code, locks the account.
    let second = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let second_token = second["mfa_token"].as_str().expect("mfa_token").to_string();
    for _ in 0..2 {
        assert_eq!(second_step(t, &second_token, &wrong(&good)).await.status, 401);
    }
    let locking = second_step(t, &second_token, &wrong(&good)).await;
    assert_eq!(locking.status, 429, "wrong codes count towards the lockout");
    assert!(locking.header("retry-after").is_some());
    assert_eq!(second_step(t, &second_token, &good).await.status, 429, "locked: not even a right code");
    let password = t
        .call("POST", "/v1/auth/staff/login", None, Some(json!({"email": MEMBER_EMAIL, "password": MEMBER_PASSWORD})))
        .await;
    assert_eq!(password.status, 429, "nor the right password");
    assert!(trail(t, &s.admin, &s.member_id).await.contains(&"locked_out".to_string()));
}

#[tokio::test]
async fn turning_two_factors_off_needs_the_password() {
    let s = setup(&[]).await;
    let t = &s.t;
    let token = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    enable_totp(t, &token).await;
    let wrong =
        t.call("DELETE", "/v1/auth/staff/mfa", Some(&token), Some(json!({"password": "not my password"}))).await;
    assert_eq!(wrong.status, 403);
    let off = t.call("DELETE", "/v1/auth/staff/mfa", Some(&token), Some(json!({"password": MEMBER_PASSWORD}))).await;
    assert_eq!(off.status, 204, "{}", String::from_utf8_lossy(&off.body));
    let plain = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    assert!(plain.get("access_token").is_some(), "a password alone again: {plain}");
}

#[tokio::test]
async fn with_two_factors_required_for_admins_an_admin_without_them_may_only_enrol() {
    let s = setup(&[("STAFF_MFA_REQUIRED", "admins")]).await;
    let t = &s.t;
    // The admin's token from before the requirement was read is the setup's; a new login:
    let gated = login(t, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(gated["mfa_required"], true);
    assert_eq!(gated["mfa_enrolment_required"], true);
    assert!(gated.get("access_token").is_none(), "never the API: {gated}");
    let enrolment = gated["mfa_token"].as_str().expect("mfa_token").to_string();
    assert_eq!(t.call("GET", "/v1/staff", Some(&enrolment), None).await.status, 401, "not a token of the API");
    assert_eq!(second_step(t, &enrolment, "123456").await.status, 401, "not a login challenge");

    let (secret, _) = enable_totp(t, &enrolment).await;
    let login_step = login(t, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mfa_token = login_step["mfa_token"].as_str().expect("mfa_token");
    let done = second_step(t, mfa_token, &code(t, &secret, 1)).await;
    assert_eq!(done.status, 200);
    let admin = tokens(&done.json());
    let off = t.call("DELETE", "/v1/auth/staff/mfa", Some(&admin), Some(json!({"password": ADMIN_PASSWORD}))).await;
    assert_eq!(off.status, 409, "required for admins");

    // A staff member (not an admin) still signs in with a password alone.
    let member = login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    assert!(member.get("access_token").is_some());
}

#[tokio::test]
async fn with_two_factors_required_for_all_every_member_must_enrol_and_with_none_nobody() {
    let all = setup(&[("STAFF_MFA_REQUIRED", "all")]).await;
    let member = login(&all.t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
    assert_eq!(member["mfa_enrolment_required"], true);
    assert!(member.get("access_token").is_none());
    let token = member["mfa_token"].as_str().expect("mfa_token").to_string();
    let (_, _) = enable_totp(&all.t, &token).await;
    let member_token = {
        let step = login(&all.t, MEMBER_EMAIL, MEMBER_PASSWORD).await;
        assert_eq!(step["mfa_required"], true);
        assert!(step.get("mfa_enrolment_required").is_none());
        step["mfa_token"].as_str().expect("mfa_token").to_string()
    };
    assert!(!member_token.is_empty());

    let none = setup(&[("STAFF_MFA_REQUIRED", "none")]).await;
    assert!(login(&none.t, ADMIN_EMAIL, ADMIN_PASSWORD).await.get("access_token").is_some());
    let token = tokens(&login(&none.t, ADMIN_EMAIL, ADMIN_PASSWORD).await);
    enable_totp(&none.t, &token).await;
    let off =
        none.t.call("DELETE", "/v1/auth/staff/mfa", Some(&token), Some(json!({"password": ADMIN_PASSWORD}))).await;
    assert_eq!(off.status, 204, "nothing requires them");
}

#[tokio::test]
async fn admins_reset_a_members_two_factors_and_send_reset_codes_and_the_trail_pages_newest_first() {
    let s = setup(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let (t, admin, id) = (&s.t, &s.admin, &s.member_id);
    let token = tokens(&login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await);
    enable_totp(t, &token).await;
    assert_eq!(login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await["mfa_required"], true);

    let reset = t.call("DELETE", &format!("/v1/staff/{id}/mfa"), Some(admin), None).await;
    assert_eq!(reset.status, 204);
    assert!(login(t, MEMBER_EMAIL, MEMBER_PASSWORD).await.get("access_token").is_some(), "two factors gone");
    assert_eq!(t.call("DELETE", "/v1/staff/STAFF_0000FFFF/mfa", Some(admin), None).await.status, 404);

    let emailed = t.call("POST", &format!("/v1/staff/{id}/password-reset"), Some(admin), None).await;
    assert_eq!(emailed.status, 202);
    let code = emailed.json()["dev_code"].as_str().expect("dev_code").to_string();
    assert_eq!(confirm_reset(t, MEMBER_EMAIL, &code, "reset by the admin 01").await.status, 204);

    let patched = t.call("PATCH", &format!("/v1/staff/{id}"), Some(admin), Some(json!({"role": "admin"}))).await;
    assert_eq!(patched.status, 200);
    let disabled = t.call("PATCH", &format!("/v1/staff/{id}"), Some(admin), Some(json!({"disabled": true}))).await;
    assert_eq!(disabled.status, 200);

    let events = trail(t, admin, id).await;
    assert_eq!(events.first().map(String::as_str), Some("status_changed"), "newest first: {events:?}");
    for expected in ["role_changed", "password_reset", "password_reset_requested", "mfa_reset", "mfa_enabled", "login"]
    {
        assert!(events.contains(&expected.to_string()), "{expected} in {events:?}");
    }
    let first_page = t.call("GET", &format!("/v1/staff/{id}/audit?limit=2"), Some(admin), None).await.json();
    assert_eq!(first_page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(first_page["items"][0]["actor"], json!(admin_id(t, admin).await));
    let cursor = first_page["next_cursor"].as_str().expect("a next page");
    let second_page =
        t.call("GET", &format!("/v1/staff/{id}/audit?limit=2&cursor={cursor}"), Some(admin), None).await.json();
    assert_eq!(second_page["items"][0]["event"].as_str(), events.get(2).map(String::as_str));
    let foreign = t.call("GET", &format!("/v1/staff?cursor={cursor}"), Some(admin), None).await;
    assert_eq!(foreign.status, 400, "a cursor of another list");
    assert_eq!(t.call("GET", "/v1/staff/STAFF_0000FFFF/audit", Some(admin), None).await.status, 404);
    assert_eq!(t.call("GET", &format!("/v1/staff/{id}/audit"), Some(&token), None).await.status, 403, "admins only");
    assert_eq!(verify_status(t, &token).await, 401, "disabled");
}

async fn admin_id(t: &TestApp, admin: &str) -> String {
    let verified = t.call("GET", "/v1/auth/verify", Some(admin), None).await.json();
    verified["staff"]["staff_id"].as_str().expect("staff id").to_string()
}
