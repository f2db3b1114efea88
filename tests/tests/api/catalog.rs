//! Custom field definitions and the validation of customers' `custom_fields` on every write
//! path; customer groups and membership.

use integration_tests::{StaffTokens, TestApp};
use serde_json::{Value, json};

async fn setup() -> (TestApp, StaffTokens) {
    let t = TestApp::new().await;
    let tokens = t.staff_tokens().await;
    (t, tokens)
}

async fn define(t: &TestApp, admin: &str, definition: Value) {
    let response = t.call("POST", "/v1/fields", Some(admin), Some(definition.clone())).await;
    assert_eq!(response.status, 201, "{definition}: {}", String::from_utf8_lossy(&response.body));
}

async fn standard_fields(t: &TestApp, admin: &str) {
    define(t, admin, json!({"key": "loyalty_tier", "label": "Loyalty tier", "type": "text", "options": ["bronze", "silver", "gold"], "default": "bronze"})).await;
    define(t, admin, json!({"key": "region", "label": "Region", "type": "text", "required": true})).await;
    define(t, admin, json!({"key": "credit_limit", "label": "Credit limit", "type": "number", "min": 0, "max": 10000}))
        .await;
    define(
        t,
        admin,
        json!({"key": "nickname", "label": "Nickname", "type": "text", "max": 20, "customer_editable": true}),
    )
    .await;
}

#[tokio::test]
async fn definitions_are_managed_by_admins_and_read_by_staff() {
    let (t, tokens) = setup().await;
    let by_staff = t
        .call("POST", "/v1/fields", Some(&tokens.staff), Some(json!({"key": "x", "label": "X", "type": "text"})))
        .await;
    assert_eq!(by_staff.status, 403);
    define(&t, &tokens.admin, json!({"key": "vip_since", "label": "VIP since", "type": "date"})).await;
    let duplicate = t
        .call(
            "POST",
            "/v1/fields",
            Some(&tokens.admin),
            Some(json!({"key": "vip_since", "label": "Again", "type": "date"})),
        )
        .await;
    assert_eq!((duplicate.status, duplicate.error_fields()), (409, vec!["key".to_string()]));
    let invalid = t
        .call(
            "POST",
            "/v1/fields",
            Some(&tokens.admin),
            Some(json!({"key": "Bad Key", "label": "", "type": "colour", "extra": 1})),
        )
        .await;
    assert_eq!(invalid.status, 422);
    let mut fields = invalid.error_fields();
    fields.sort();
    assert_eq!(fields, ["extra", "key", "label", "type"]);
    let listed = t.call("GET", "/v1/fields", Some(&tokens.staff), None).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    let one = t.call("GET", "/v1/fields/vip_since", Some(&tokens.staff), None).await.json();
    assert_eq!((one["type"].as_str(), one["retired"].as_bool()), (Some("date"), Some(false)));
    let retyped = t
        .call("PUT", "/v1/fields/vip_since", Some(&tokens.admin), Some(json!({"label": "VIP since", "type": "text"})))
        .await;
    assert_eq!(retyped.status, 409, "the type of a field cannot change");
    let relabelled = t
        .call(
            "PUT",
            "/v1/fields/vip_since",
            Some(&tokens.admin),
            Some(json!({"label": "Member since", "type": "date", "customer_editable": true})),
        )
        .await;
    assert_eq!((relabelled.status, relabelled.json()["label"].as_str()), (200, Some("Member since")));
    assert_eq!(t.call("GET", "/v1/fields/nothing", Some(&tokens.staff), None).await.status, 404);
    assert_eq!(t.call("DELETE", "/v1/fields/vip_since", Some(&tokens.staff), None).await.status, 403);
}

#[tokio::test]
async fn create_fills_defaults_enforces_required_and_names_every_bad_value() {
    let (t, tokens) = setup().await;
    standard_fields(&t, &tokens.admin).await;
    let missing = t
        .call("POST", "/v1/customers", Some(&tokens.staff), Some(json!({"name": "Cee Eff", "email": "cf@example.com"})))
        .await;
    assert_eq!((missing.status, missing.error_fields()), (422, vec!["custom_fields.region".to_string()]));
    let bad = t
        .call(
            "POST",
            "/v1/customers",
            Some(&tokens.staff),
            Some(json!({"name": "Cee Eff", "email": "cf@example.com",
                        "custom_fields": {"region": "North", "loyalty_tier": "platinum", "credit_limit": 20000, "ghost": 1}})),
        )
        .await;
    assert_eq!(bad.status, 422);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["custom_fields.credit_limit", "custom_fields.ghost", "custom_fields.loyalty_tier"]);
    assert_eq!(t.count_items("customer").await, 0);
    let created = t
        .call("POST", "/v1/customers", Some(&tokens.staff), Some(json!({"name": "Cee Eff", "email": "cf@example.com", "custom_fields": {"region": " North ", "credit_limit": 2500.5}})))
        .await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(
        created.json()["custom_fields"],
        json!({"region": "North", "credit_limit": 2500.5, "loyalty_tier": "bronze"})
    );
}

#[tokio::test]
async fn custom_fields_are_validated_on_patch_bulk_and_me_and_customers_edit_only_their_own() {
    let (t, tokens) = setup().await;
    standard_fields(&t, &tokens.admin).await;
    let login = t.sign_in("+260971234567", "Self Service").await;
    let token = login["access_token"].as_str().expect("token");
    let id = login["customer"]["customer_id"].as_str().expect("id").to_string();
    assert_eq!(login["customer"]["custom_fields"], json!({"loyalty_tier": "bronze"}), "defaults apply at signup");
    let mine = t.call("PATCH", "/v1/me", Some(token), Some(json!({"custom_fields": {"nickname": "Selfie"}}))).await;
    assert_eq!((mine.status, mine.json()["custom_fields"]["nickname"].as_str()), (200, Some("Selfie")));
    let not_mine = t
        .call(
            "PATCH",
            "/v1/me",
            Some(token),
            Some(json!({"custom_fields": {"loyalty_tier": "gold", "nickname": "x".repeat(21)}})),
        )
        .await;
    assert_eq!(not_mine.status, 422);
    let mut fields = not_mine.error_fields();
    fields.sort();
    assert_eq!(fields, ["custom_fields.loyalty_tier", "custom_fields.nickname"]);
    let staff_patch = t
        .call(
            "PATCH",
            &format!("/v1/customers/{id}"),
            Some(&tokens.staff),
            Some(json!({"custom_fields": {"loyalty_tier": "gold", "nickname": null}})),
        )
        .await;
    assert_eq!(staff_patch.status, 200);
    assert_eq!(staff_patch.json()["custom_fields"], json!({"loyalty_tier": "gold"}));
    let bulk = t
        .call(
            "POST",
            "/v1/customers/bulk-update",
            Some(&tokens.staff),
            Some(json!({"customer_ids": [id], "updates": {"custom_fields": {"credit_limit": -1}}})),
        )
        .await;
    assert_eq!((bulk.status, bulk.error_fields()), (422, vec!["updates.custom_fields.credit_limit".to_string()]));
}

#[tokio::test]
async fn retired_fields_stay_readable_but_take_no_new_values() {
    let (t, tokens) = setup().await;
    define(
        &t,
        &tokens.admin,
        json!({"key": "legacy_code", "label": "Legacy code", "type": "text", "pattern": "[A-Z]{3}-[0-9]{2}"}),
    )
    .await;
    let created = t
        .call(
            "POST",
            "/v1/customers",
            Some(&tokens.staff),
            Some(json!({"name": "Old Timer", "email": "old@example.com", "custom_fields": {"legacy_code": "ABC-12"}})),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.json()["customer_id"].as_str().expect("id").to_string();
    assert_eq!(t.call("DELETE", "/v1/fields/legacy_code", Some(&tokens.admin), None).await.status, 204);
    let live = t.call("GET", "/v1/fields", Some(&tokens.staff), None).await.json();
    assert_eq!(live["items"], json!([]));
    let all = t.call("GET", "/v1/fields?include_retired=true", Some(&tokens.staff), None).await.json();
    assert_eq!(all["items"][0]["retired"], true);
    let customer = t.call("GET", &format!("/v1/customers/{id}"), Some(&tokens.staff), None).await.json();
    assert_eq!(customer["custom_fields"]["legacy_code"], "ABC-12", "existing values stay readable");
    let write = t
        .call(
            "PATCH",
            &format!("/v1/customers/{id}"),
            Some(&tokens.staff),
            Some(json!({"custom_fields": {"legacy_code": "XYZ-99"}})),
        )
        .await;
    assert_eq!((write.status, write.error_fields()), (422, vec!["custom_fields.legacy_code".to_string()]));
    let other =
        t.call("PATCH", &format!("/v1/customers/{id}"), Some(&tokens.staff), Some(json!({"city": "Kabwe"}))).await;
    assert_eq!(other.status, 200, "other changes still work");
    assert_eq!(other.json()["custom_fields"]["legacy_code"], "ABC-12");
    let revived = t
        .call(
            "PUT",
            "/v1/fields/legacy_code",
            Some(&tokens.admin),
            Some(json!({"label": "Legacy code", "type": "text"})),
        )
        .await;
    assert_eq!((revived.status, revived.json()["retired"].as_bool()), (200, Some(false)));
}

#[tokio::test]
async fn groups_have_unique_names_and_members_come_and_go() {
    let (t, tokens) = setup().await;
    let group = t
        .call("POST", "/v1/groups", Some(&tokens.staff), Some(json!({"name": "VIP", "description": "Top customers"})))
        .await;
    assert_eq!(group.status, 201);
    let group_id = group.json()["group_id"].as_str().expect("id").to_string();
    assert!(group_id.starts_with("GRP_"));
    let same = t.call("POST", "/v1/groups", Some(&tokens.staff), Some(json!({"name": "vip"}))).await;
    assert_eq!((same.status, same.error_fields()), (409, vec!["name".to_string()]));
    let nameless = t.call("POST", "/v1/groups", Some(&tokens.staff), Some(json!({"description": "x"}))).await;
    assert_eq!((nameless.status, nameless.error_fields()), (422, vec!["name".to_string()]));
    t.call("POST", "/v1/groups", Some(&tokens.staff), Some(json!({"name": "Alpha"}))).await;
    let groups = t.call("GET", "/v1/groups", Some(&tokens.staff), None).await.json();
    let names: Vec<&str> =
        groups["items"].as_array().expect("items").iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, ["Alpha", "VIP"], "by name");

    let mut ids = Vec::new();
    for i in 0..3 {
        let c = t
            .call(
                "POST",
                "/v1/customers",
                Some(&tokens.staff),
                Some(json!({"name": format!("Member {i}"), "email": format!("m{i}@example.com")})),
            )
            .await;
        ids.push(c.json()["customer_id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        let added = t.call("PUT", &format!("/v1/groups/{group_id}/customers/{id}"), Some(&tokens.staff), None).await;
        assert_eq!(added.status, 204);
    }
    let again = t.call("PUT", &format!("/v1/groups/{group_id}/customers/{}", ids[0]), Some(&tokens.staff), None).await;
    assert_eq!(again.status, 204, "adding a member twice is harmless");
    assert_eq!(t.count_items("group_membership").await, 3);
    let page =
        t.call("GET", &format!("/v1/groups/{group_id}/customers?limit=2"), Some(&tokens.staff), None).await.json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"].as_str().expect("more");
    let rest = t
        .call("GET", &format!("/v1/groups/{group_id}/customers?limit=2&cursor={cursor}"), Some(&tokens.staff), None)
        .await
        .json();
    let mut listed: Vec<String> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(rest["items"].as_array().into_iter().flatten())
        .filter_map(|c| c["customer_id"].as_str().map(str::to_string))
        .collect();
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected);
    let removed =
        t.call("DELETE", &format!("/v1/groups/{group_id}/customers/{}", ids[1]), Some(&tokens.staff), None).await;
    assert_eq!(removed.status, 204);
    let not_member =
        t.call("DELETE", &format!("/v1/groups/{group_id}/customers/{}", ids[1]), Some(&tokens.staff), None).await;
    assert_eq!(not_member.status, 404);
    for (path, status) in [
        (format!("/v1/groups/{group_id}/customers/CUST_00000000"), 404),
        (format!("/v1/groups/GRP_00000000/customers/{}", ids[0]), 404),
        ("/v1/groups/nope/customers/nope".to_string(), 404),
    ] {
        assert_eq!(t.call("PUT", &path, Some(&tokens.staff), None).await.status, status, "{path}");
    }
    assert_eq!(t.call("GET", "/v1/groups/GRP_00000000/customers", Some(&tokens.staff), None).await.status, 404);
    assert_eq!(t.count_items("group_membership").await, 2, "failed adds wrote nothing");
}
