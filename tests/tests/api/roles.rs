//! The role walk: every route of every function, called with no token and with a customer, a
//! staff and an admin token, answers as its declared access says.

use integration_tests::TestApp;
use local_stack::admin::ensure_admin;
use local_stack::functions::Function;
use serde_json::json;
use shared::auth::roles::Access;

#[tokio::test]
async fn every_route_answers_as_its_declared_role_says() {
    let t = TestApp::new().await;
    let customer = t.sign_in("+260971234567", "Role Walker").await["access_token"].as_str().expect("token").to_string();
    ensure_admin(&t.app().store, "admin@example.com", "local-admin-password", "Admin").await.expect("admin");
    let admin_login = t
        .call(
            "POST",
            "/v1/auth/staff/login",
            None,
            Some(json!({"email": "admin@example.com", "password": "local-admin-password"})),
        )
        .await
        .json();
    let admin = admin_login["access_token"].as_str().expect("admin token").to_string();
    let created = t
        .call(
            "POST",
            "/v1/staff",
            Some(&admin),
            Some(
                json!({"email": "staff@example.com", "password": "staff password 1", "name": "Staff", "role": "staff"}),
            ),
        )
        .await;
    assert_eq!(created.status, 201);
    let staff_login = t
        .call(
            "POST",
            "/v1/auth/staff/login",
            None,
            Some(json!({"email": "staff@example.com", "password": "staff password 1"})),
        )
        .await
        .json();
    let staff = staff_login["access_token"].as_str().expect("staff token").to_string();

    let mut walked = 0;
    for function in Function::ALL {
        for route in function.routes() {
            if route.access == Access::Anyone {
                continue;
            }
            // Placeholder ids: the walk checks authorisation, which comes before any look-up.
            let path =
                route.path.replace("{session_id}", "AAAAAAAAAAAAAAAAAAAAAA").replace("{staff_id}", "STAFF_00000000");
            let path = path.replace("{product_id}", "SKU-1");
            // Destructive routes are walked with the allowed roles last, on fresh principals.
            let allowed = |role: &str| match route.access {
                // A guest needs no token at all; that side is walked in tests/tests/cart.rs.
                Access::Customer | Access::CustomerOrGuest => role == "customer",
                Access::Staff => role == "staff" || role == "admin",
                Access::Admin => role == "admin",
                Access::SignedIn | Access::OwnerOrStaff | Access::Anyone => true,
            };
            let anonymous = t.call(route.method, &path, None, Some(json!({}))).await;
            assert_eq!(anonymous.status, 401, "{} {} without a token", route.method, route.path);
            for (role, token) in [("customer", &customer), ("staff", &staff), ("admin", &admin)] {
                if is_destructive(route.method, route.path) && allowed(role) {
                    continue;
                }
                let response = t.call(route.method, &path, Some(token), Some(json!({}))).await;
                let denied = response.status == 401 || response.status == 403;
                assert_eq!(
                    !denied,
                    allowed(role),
                    "{} {} as {role}: got {}",
                    route.method,
                    route.path,
                    response.status
                );
            }
            walked += 1;
        }
    }
    assert!(walked >= 8, "the walk covered {walked} protected routes");
}

/// Routes that would end the walker's own sessions or account; their allowed calls are covered
/// by their own tests.
fn is_destructive(method: &str, path: &str) -> bool {
    matches!((method, path), ("DELETE", "/v1/me") | ("POST", "/v1/auth/logout") | ("DELETE", "/v1/auth/sessions"))
}
