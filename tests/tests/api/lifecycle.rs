//! The customer lifecycle: status transitions (the whole 5 × 5 matrix and the open-loan rule),
//! soft delete, verification, activity counters, and the audit trail that records them.

use futures::future::join_all;
use integration_tests::{StaffTokens, TestApp};
use serde_json::{Value, json};

const STATUSES: [&str; 5] = ["active", "suspended", "banned", "deactivated", "archived"];

/// API.md's transition list.
fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("active", "suspended" | "banned" | "deactivated" | "archived")
            | ("suspended", "active" | "banned" | "archived")
            | ("banned", "active" | "archived")
            | ("deactivated", "active" | "archived")
    )
}

async fn setup() -> (TestApp, StaffTokens) {
    let t = TestApp::new().await;
    let tokens = t.staff_tokens().await;
    (t, tokens)
}

async fn new_customer(t: &TestApp, token: &str, n: usize) -> String {
    let response = t
        .call(
            "POST",
            "/v1/customers",
            Some(token),
            Some(json!({"name": format!("Life {n}"), "email": format!("life{n}@example.com")})),
        )
        .await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    response.json()["customer_id"].as_str().expect("id").to_string()
}

async fn set_status(t: &TestApp, token: &str, id: &str, status: &str) -> (u16, Value) {
    let response = t
        .call(
            "POST",
            &format!("/v1/customers/{id}/status"),
            Some(token),
            Some(json!({"status": status, "reason": "matrix test"})),
        )
        .await;
    (response.status, response.json())
}

async fn activity(t: &TestApp, token: &str, id: &str, kind: &str) -> (u16, Value) {
    let response =
        t.call("POST", &format!("/v1/customers/{id}/activity"), Some(token), Some(json!({"type": kind}))).await;
    (response.status, response.json())
}

#[tokio::test]
async fn the_whole_transition_matrix_follows_the_contract() {
    let (t, tokens) = setup().await;
    let cases: Vec<(usize, &str, &str)> = STATUSES
        .iter()
        .flat_map(|from| STATUSES.iter().map(move |to| (*from, *to)))
        .enumerate()
        .map(|(n, (from, to))| (n, from, to))
        .collect();
    let runs = cases.iter().map(|&(n, from, to)| {
        let t = &t;
        let tokens = &tokens;
        async move {
            let id = new_customer(t, &tokens.staff, n).await;
            if from != "active" {
                assert_eq!(set_status(t, &tokens.admin, &id, from).await.0, 200, "reaching {from}");
            }
            let (status, body) = set_status(t, &tokens.admin, &id, to).await;
            (from, to, status, body)
        }
    });
    for (from, to, status, body) in join_all(runs).await {
        if allowed(from, to) {
            assert_eq!(status, 200, "{from} -> {to}: {body}");
            assert_eq!((body["status"].as_str(), body["is_active"].as_bool()), (Some(to), Some(to == "active")));
        } else {
            assert_eq!(status, 409, "{from} -> {to} must be refused: {body}");
            assert_eq!(body["type"], "/problems/conflict");
        }
    }
}

#[tokio::test]
async fn open_loans_block_deactivation_and_archiving_until_closed() {
    let (t, tokens) = setup().await;
    let id = new_customer(&t, &tokens.staff, 1).await;
    assert_eq!(activity(&t, &tokens.staff, &id, "loan_opened").await.0, 200);
    for to in ["deactivated", "archived"] {
        let (status, body) = set_status(&t, &tokens.admin, &id, to).await;
        assert_eq!(status, 409, "{to} with an open loan");
        assert!(body["detail"].as_str().unwrap_or_default().contains("open loan"), "{body}");
    }
    let soft = t.call("DELETE", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await;
    assert_eq!(soft.status, 409, "soft delete follows the same rule");
    assert_eq!(set_status(&t, &tokens.admin, &id, "suspended").await.0, 200, "suspending is fine");
    assert_eq!(activity(&t, &tokens.staff, &id, "loan_closed").await.0, 403, "a suspended customer records nothing");
    assert_eq!(set_status(&t, &tokens.admin, &id, "active").await.0, 200);
    let (status, body) = activity(&t, &tokens.staff, &id, "loan_closed").await;
    assert_eq!((status, body["active_loans"].as_u64()), (200, Some(0)));
    assert_eq!(activity(&t, &tokens.staff, &id, "loan_closed").await.0, 409, "no loan left to close");
    assert_eq!(set_status(&t, &tokens.admin, &id, "archived").await.0, 200);
}

#[tokio::test]
async fn status_changes_are_admin_only_and_need_a_reason() {
    let (t, tokens) = setup().await;
    let id = new_customer(&t, &tokens.staff, 1).await;
    let path = format!("/v1/customers/{id}/status");
    let by_staff = t.call("POST", &path, Some(&tokens.staff), Some(json!({"status": "banned", "reason": "x"}))).await;
    assert_eq!(by_staff.status, 403);
    let no_reason = t.call("POST", &path, Some(&tokens.admin), Some(json!({"status": "banned"}))).await;
    assert_eq!((no_reason.status, no_reason.error_fields()), (422, vec!["reason".to_string()]));
    let blank = t.call("POST", &path, Some(&tokens.admin), Some(json!({"status": "gone", "reason": "  "}))).await;
    assert_eq!((blank.status, blank.error_fields()), (422, vec!["status".to_string(), "reason".to_string()]));
    let unknown = t
        .call(
            "POST",
            "/v1/customers/CUST_00000000/status",
            Some(&tokens.admin),
            Some(json!({"status": "banned", "reason": "x"})),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let customer = t.call("GET", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await.json();
    assert_eq!((customer["status"].as_str(), customer["version"].as_u64()), (Some("active"), Some(1)));
}

#[tokio::test]
async fn soft_delete_deactivates_and_repeats_change_nothing() {
    let (t, tokens) = setup().await;
    let id = new_customer(&t, &tokens.staff, 1).await;
    let path = format!("/v1/customers/{id}");
    let deleted = t.call("DELETE", &path, Some(&tokens.staff), None).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        (deleted.json()["status"].as_str(), deleted.json()["is_active"].as_bool()),
        (Some("deactivated"), Some(false))
    );
    let again = t.call("DELETE", &path, Some(&tokens.staff), None).await;
    assert_eq!((again.status, again.json()["version"].as_u64()), (200, Some(2)));
    assert_eq!(
        t.call("GET", &path, Some(&tokens.staff), None).await.status,
        200,
        "soft-deleted customers stay readable"
    );
    assert_eq!(set_status(&t, &tokens.admin, &id, "archived").await.0, 200);
    assert_eq!(t.call("DELETE", &path, Some(&tokens.staff), None).await.status, 409, "archived is final");
}

#[tokio::test]
async fn customers_who_are_not_active_cannot_log_in_or_record_activity() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0"), ("OTP_PER_PHONE_PER_HOUR", "50")]).await;
    let tokens = t.staff_tokens().await;
    let login = t.sign_in("+260971234567", "Sus Pended").await;
    let id = login["customer"]["customer_id"].as_str().expect("id").to_string();
    for status in ["suspended", "banned", "deactivated"] {
        if status != "suspended" {
            assert_eq!(set_status(&t, &tokens.admin, &id, "active").await.0, 200);
        }
        assert_eq!(set_status(&t, &tokens.admin, &id, status).await.0, 200);
        let code = t.request_code("+260971234567").await;
        let again = t.call("POST", "/v1/auth/login", None, Some(json!({"phone": "+260971234567", "code": code}))).await;
        assert_eq!(again.status, 403, "a {status} customer cannot log in");
        assert_eq!(activity(&t, &tokens.staff, &id, "transaction").await.0, 403, "nor record activity while {status}");
    }
}

#[tokio::test]
async fn fifty_concurrent_transactions_count_exactly_fifty() {
    let (t, tokens) = setup().await;
    let id = new_customer(&t, &tokens.staff, 1).await;
    let all = join_all((0..50).map(|_| activity(&t, &tokens.staff, &id, "transaction"))).await;
    assert!(all.iter().all(|(status, _)| *status == 200));
    let bookings = join_all((0..5).map(|_| activity(&t, &tokens.staff, &id, "booking"))).await;
    assert!(bookings.iter().all(|(status, _)| *status == 200));
    let customer = t.call("GET", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await.json();
    assert_eq!(customer["total_transactions"], 50);
    assert_eq!(customer["bookings"], 5);
    assert_eq!(customer["active_loans"], 0);
    let bad = t
        .call("POST", &format!("/v1/customers/{id}/activity"), Some(&tokens.staff), Some(json!({"type": "refund"})))
        .await;
    assert_eq!((bad.status, bad.error_fields()), (422, vec!["type".to_string()]));
}

#[tokio::test]
async fn verification_marks_contacts_and_needs_them_on_file() {
    let (t, tokens) = setup().await;
    let response = t
        .call(
            "POST",
            "/v1/customers",
            Some(&tokens.staff),
            Some(json!({"name": "Vera Fied", "phone": "+260971222333", "email": "vera@example.com"})),
        )
        .await;
    let id = response.json()["customer_id"].as_str().expect("id").to_string();
    let email = t.call("POST", &format!("/v1/customers/{id}/verify-email"), Some(&tokens.staff), None).await.json();
    assert_eq!((email["email_verified"].as_bool(), email["is_verified"].as_bool()), (Some(true), Some(false)));
    let phone = t.call("POST", &format!("/v1/customers/{id}/verify-phone"), Some(&tokens.staff), None).await.json();
    assert_eq!((phone["phone_verified"].as_bool(), phone["is_verified"].as_bool()), (Some(true), Some(true)));
    let no_phone = t
        .call(
            "POST",
            "/v1/customers",
            Some(&tokens.staff),
            Some(json!({"name": "No Phone", "email": "np@example.com"})),
        )
        .await
        .json();
    let np = no_phone["customer_id"].as_str().expect("id");
    assert_eq!(
        t.call("POST", &format!("/v1/customers/{np}/verify-phone"), Some(&tokens.staff), None).await.status,
        409
    );
}

#[tokio::test]
async fn the_audit_trail_lists_every_change_newest_first_with_actor_and_reason() {
    let (t, tokens) = setup().await;
    let login = t.sign_in("+260971234567", "Audi Ted").await;
    let customer_token = login["access_token"].as_str().expect("token");
    let id = login["customer"]["customer_id"].as_str().expect("id").to_string();
    let me = t.call("PATCH", "/v1/me", Some(customer_token), Some(json!({"city": "Lusaka"}))).await;
    assert_eq!(me.status, 200);
    t.call("PATCH", &format!("/v1/customers/{id}"), Some(&tokens.staff), Some(json!({"notes": "called in"}))).await;
    t.call("POST", &format!("/v1/customers/{id}/verify-phone"), Some(&tokens.staff), None).await;
    set_status(&t, &tokens.admin, &id, "suspended").await;
    activity(&t, &tokens.staff, &id, "transaction").await;
    let path = format!("/v1/customers/{id}/audit");
    assert_eq!(t.call("GET", &path, Some(&tokens.staff), None).await.status, 403, "the trail is admin-only");
    let trail = t.call("GET", &path, Some(&tokens.admin), None).await.json();
    let entries = trail["items"].as_array().expect("items");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    // Login sets phone_verified already, so the verification changed nothing and is not listed.
    assert_eq!(actions, ["status_change", "update", "update", "create"]);
    assert_eq!(entries[0]["reason"], "matrix test");
    assert_eq!(entries[0]["changes"]["status"], json!({"from": "active", "to": "suspended"}));
    assert!(entries[1]["actor"].as_str().unwrap_or_default().starts_with("STAFF_"));
    assert_eq!(entries[1]["changes"]["notes"], json!({"from": null, "to": "called in"}));
    assert_eq!(entries[2]["actor"], id, "the customer's own change");
    assert_eq!(entries[3]["actor"], "self-signup");
    for entry in entries {
        assert!(entry["at"].as_str().is_some_and(|at| at.ends_with('Z')));
    }
    let first = t.call("GET", &format!("{path}?limit=3"), Some(&tokens.admin), None).await.json();
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let rest = t.call("GET", &format!("{path}?limit=3&cursor={cursor}"), Some(&tokens.admin), None).await.json();
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next_cursor"], Value::Null);
    let other = t.call("GET", "/v1/customers/CUST_00000000/audit", Some(&tokens.admin), None).await;
    assert_eq!(other.status, 404);
}
