//! Carts: customer and guest carts kept apart, the line rules, guest-cart migration (adds up,
//! once, atomically), expiry, and the erase path.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use integration_tests::{TestApp, TestResponse};
use serde_json::{Value, json};
use shared::domain::CustomerId;
use shared::domain::cart::{CartOwner, GuestToken, LineSpec, ProductId};
use shared::services::carts::{CartUpdate, change_cart};
use shared::time::Timestamp;

/// Who calls: a customer's access token, a guest token, or nothing.
#[derive(Clone, Copy)]
enum Who<'a> {
    Customer(&'a str),
    Guest(&'a str),
    Both { bearer: &'a str, guest: &'a str },
    Nobody,
}

async fn send(t: &TestApp, method: &str, path: &str, who: Who<'_>, body: Option<Value>) -> TestResponse {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    match who {
        Who::Customer(token) => headers.push(("authorization".into(), format!("Bearer {token}"))),
        Who::Guest(token) => headers.push(("x-guest-token".into(), token.into())),
        Who::Both { bearer, guest } => {
            headers.push(("authorization".into(), format!("Bearer {bearer}")));
            headers.push(("x-guest-token".into(), guest.into()));
        }
        Who::Nobody => {}
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    t.send(method, path, &headers, &bytes, "203.0.113.7").await
}

async fn customer(t: &TestApp, phone: &str, name: &str) -> (String, CustomerId) {
    let login = t.sign_in(phone, name).await;
    let id = CustomerId::parse(login["customer"]["customer_id"].as_str().expect("id")).expect("customer id");
    (login["access_token"].as_str().expect("token").to_string(), id)
}

async fn guest(t: &TestApp) -> String {
    let response = send(t, "POST", "/v1/cart/guest", Who::Nobody, None).await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(response.header("location"), Some("/v1/cart"));
    response.json()["guest_token"].as_str().expect("guest_token").to_string()
}

async fn put(t: &TestApp, who: Who<'_>, product: &str, quantity: i64) -> TestResponse {
    let path = format!("/v1/cart/items/{product}");
    let response = send(t, "PUT", &path, who, Some(json!({ "quantity": quantity }))).await;
    assert_eq!(response.status, 200, "PUT {product}: {}", String::from_utf8_lossy(&response.body));
    response
}

async fn cart(t: &TestApp, who: Who<'_>) -> Value {
    let response = send(t, "GET", "/v1/cart", who, None).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

/// product → quantity
fn lines(cart: &Value) -> BTreeMap<String, i64> {
    cart["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|line| (line["product_id"].as_str().expect("id").to_string(), line["quantity"].as_i64().expect("qty")))
        .collect()
}

fn expect(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(p, q)| (p.to_string(), *q)).collect()
}

async fn migrate(t: &TestApp, token: &str, guest_token: &str) -> TestResponse {
    send(t, "POST", "/v1/cart/migrate", Who::Customer(token), Some(json!({ "guest_token": guest_token }))).await
}

/// Fills a cart through the store in one write (100 lines by HTTP would only be slow).
async fn fill(t: &TestApp, owner: &CartOwner, products: impl Iterator<Item = String>) {
    let products: Vec<ProductId> = products.map(|p| ProductId::parse(&p).expect("product id")).collect();
    let now = Timestamp::now();
    let update = change_cart(&t.app().store, owner, now, |cart| {
        for product in &products {
            let spec = LineSpec { quantity: 1, unit_price: None, name: None, attributes: BTreeMap::new() };
            cart.set_line(product.clone(), spec, now)?;
        }
        Ok::<(), shared::domain::ValidationErrors>(())
    })
    .await
    .expect("store");
    assert!(matches!(update, CartUpdate::Saved(_)), "{update:?}");
}

#[tokio::test]
async fn two_customers_and_two_guests_each_see_only_their_own_lines() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let (bob, _) = customer(&t, "+260971234568", "Bob Lee").await;
    let (g1, g2) = (guest(&t).await, guest(&t).await);
    assert_ne!(g1, g2);
    put(&t, Who::Customer(&ann), "ANN-1", 1).await;
    put(&t, Who::Customer(&bob), "BOB-1", 2).await;
    put(&t, Who::Guest(&g1), "G1-1", 3).await;
    put(&t, Who::Guest(&g2), "G2-1", 4).await;
    put(&t, Who::Guest(&g2), "SHARED", 5).await;
    put(&t, Who::Customer(&ann), "SHARED", 6).await;

    let ann_cart = cart(&t, Who::Customer(&ann)).await;
    assert_eq!(ann_cart["owner"], "customer");
    assert_eq!(lines(&ann_cart), expect(&[("ANN-1", 1), ("SHARED", 6)]));
    assert_eq!(lines(&cart(&t, Who::Customer(&bob)).await), expect(&[("BOB-1", 2)]));
    let g1_cart = cart(&t, Who::Guest(&g1)).await;
    assert_eq!(g1_cart["owner"], "guest");
    assert_eq!(lines(&g1_cart), expect(&[("G1-1", 3)]));
    assert_eq!(lines(&cart(&t, Who::Guest(&g2)).await), expect(&[("G2-1", 4), ("SHARED", 5)]));

    // A bearer token decides when both are sent: Ann's cart, not the guest's.
    let both = cart(&t, Who::Both { bearer: &ann, guest: &g1 }).await;
    assert_eq!(lines(&both), lines(&ann_cart));
    // Emptying one cart leaves the others alone.
    assert_eq!(send(&t, "DELETE", "/v1/cart", Who::Guest(&g2), None).await.status, 204);
    assert_eq!(lines(&cart(&t, Who::Customer(&ann)).await).len(), 2);
    assert_eq!(lines(&cart(&t, Who::Guest(&g1)).await).len(), 1);
}

#[tokio::test]
async fn a_cart_answers_in_the_contract_shape() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let empty = cart(&t, Who::Customer(&ann)).await;
    assert_eq!(empty, json!({"owner": "customer", "items": [], "item_count": 0, "updated_at": null}));
    let body = json!({"quantity": 2, "unit_price": 1999, "name": "Red mug", "attributes": {"colour": "red"}});
    let response = send(&t, "PUT", "/v1/cart/items/MUG-RED", Who::Customer(&ann), Some(body)).await;
    assert_eq!(response.status, 200);
    let line = &response.json()["items"][0];
    assert_eq!(line["product_id"], "MUG-RED");
    assert_eq!((line["quantity"].as_i64(), line["unit_price"].as_i64()), (Some(2), Some(1999)));
    assert_eq!((&line["name"], &line["attributes"]), (&json!("Red mug"), &json!({"colour": "red"})));
    assert!(line["added_at"].is_string() && line["updated_at"].is_string());
    put(&t, Who::Customer(&ann), "PLATE", 3).await;
    let full = cart(&t, Who::Customer(&ann)).await;
    assert_eq!(full["item_count"], 5, "units, not lines");
    assert!(full["updated_at"].is_string());
    // PUT sets the whole line: what it leaves out is gone.
    let replaced = put(&t, Who::Customer(&ann), "MUG-RED", 1).await.json();
    let mug = replaced["items"].as_array().expect("items").iter().find(|l| l["product_id"] == "MUG-RED").cloned();
    let mug = mug.expect("still there");
    assert_eq!((mug["unit_price"].clone(), mug["added_at"].clone()), (Value::Null, line["added_at"].clone()));
}

#[tokio::test]
async fn migration_adds_up_quantities_and_the_guest_cart_is_gone() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "A", 2).await;
    put(&t, Who::Guest(&g), "B", 1).await;
    put(&t, Who::Customer(&ann), "A", 1).await;

    let moved = migrate(&t, &ann, &g).await;
    assert_eq!(moved.status, 200, "{}", String::from_utf8_lossy(&moved.body));
    assert_eq!(moved.json()["owner"], "customer");
    assert_eq!(lines(&moved.json()), expect(&[("A", 3), ("B", 1)]));
    assert_eq!(lines(&cart(&t, Who::Customer(&ann)).await), expect(&[("A", 3), ("B", 1)]));
    assert_eq!(send(&t, "GET", "/v1/cart", Who::Guest(&g), None).await.status, 404, "the guest cart is gone");
    assert_eq!(send(&t, "PUT", "/v1/cart/items/C", Who::Guest(&g), Some(json!({"quantity": 1}))).await.status, 404);

    // A retry (the response was lost) changes nothing and answers the cart as it is.
    let before = cart(&t, Who::Customer(&ann)).await;
    let again = migrate(&t, &ann, &g).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), before);
    assert_eq!(cart(&t, Who::Customer(&ann)).await, before);
}

#[tokio::test]
async fn quantities_add_up_to_at_most_999() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "A", 600).await;
    put(&t, Who::Customer(&ann), "A", 500).await;
    assert_eq!(lines(&migrate(&t, &ann, &g).await.json()), expect(&[("A", 999)]));
}

#[tokio::test]
async fn ten_concurrent_migrations_give_the_result_of_one() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "A", 2).await;
    put(&t, Who::Guest(&g), "B", 1).await;
    put(&t, Who::Customer(&ann), "A", 1).await;
    let results = join_all((0..10).map(|_| migrate(&t, &ann, &g))).await;
    for response in &results {
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        assert_eq!(lines(&response.json()), expect(&[("A", 3), ("B", 1)]));
    }
    assert_eq!(lines(&cart(&t, Who::Customer(&ann)).await), expect(&[("A", 3), ("B", 1)]));
    assert_eq!(t.count_items("cart_migration").await, 1);
}

#[tokio::test]
async fn a_migrated_guest_cart_cannot_go_to_another_customer() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let (bob, _) = customer(&t, "+260971234568", "Bob Lee").await;
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "A", 2).await;
    assert_eq!(migrate(&t, &ann, &g).await.status, 200);
    assert_eq!(migrate(&t, &bob, &g).await.status, 404);
    assert_eq!(lines(&cart(&t, Who::Customer(&bob)).await), expect(&[]));
    assert_eq!(lines(&cart(&t, Who::Customer(&ann)).await), expect(&[("A", 2)]));

    // Racing for one token: exactly one customer gets the lines.
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "RACE", 1).await;
    let (a, b) = futures::join!(migrate(&t, &ann, &g), migrate(&t, &bob, &g));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 404]);
    let holders = [&ann, &bob];
    let mut with_race = 0;
    for token in holders {
        with_race += usize::from(lines(&cart(&t, Who::Customer(token)).await).contains_key("RACE"));
    }
    assert_eq!(with_race, 1);
}

#[tokio::test]
async fn an_expired_guest_cart_reads_as_empty() {
    let t = TestApp::new().await;
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "A", 2).await;
    // TTL deletion lags (days in AWS, never in DynamoDB Local): backdate the expiry directly.
    let token = GuestToken::parse(&g).expect("token");
    let store = &t.app().store;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("GUEST#{}", token.key_hash())))
        .key("SK", AttributeValue::S("CART".into()))
        .update_expression("SET #ttl = :past")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":past", AttributeValue::N((Timestamp::now().unix() - 1).to_string()))
        .send()
        .await
        .expect("backdate");
    let expired = cart(&t, Who::Guest(&g)).await;
    assert_eq!(lines(&expired), expect(&[]));
    assert_eq!(expired["updated_at"], Value::Null);
    // Its lines are not migrated either, and new lines start a fresh 30 days.
    put(&t, Who::Guest(&g), "B", 1).await;
    assert_eq!(lines(&cart(&t, Who::Guest(&g)).await), expect(&[("B", 1)]));
}

#[tokio::test]
async fn guest_carts_expire_30_days_after_their_last_change() {
    let t = TestApp::new().await;
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "A", 1).await;
    let token = GuestToken::parse(&g).expect("token");
    let store = &t.app().store;
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("GUEST#{}", token.key_hash())))
        .key("SK", AttributeValue::S("CART".into()))
        .send()
        .await
        .expect("read")
        .item
        .expect("guest cart");
    let ttl: i64 = item["ttl"].as_n().expect("ttl").parse().expect("number");
    let expected = Timestamp::now().unix() + 30 * 86_400;
    assert!((expected - 5..=expected).contains(&ttl), "ttl {ttl}, expected about {expected}");
    assert!(!item.values().any(|v| v.as_s().is_ok_and(|s| s.contains(&g))), "the token itself is never stored");
}

#[tokio::test]
async fn a_cart_holds_at_most_100_products() {
    let t = TestApp::new().await;
    let (ann, id) = customer(&t, "+260971234567", "Ann Lee").await;
    fill(&t, &CartOwner::Customer(id.clone()), (0..100).map(|i| format!("P{i}"))).await;
    let before = cart(&t, Who::Customer(&ann)).await;
    assert_eq!(lines(&before).len(), 100);
    let refused = send(&t, "PUT", "/v1/cart/items/ONE-MORE", Who::Customer(&ann), Some(json!({"quantity": 1}))).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.error_fields(), ["product_id"]);
    assert_eq!(cart(&t, Who::Customer(&ann)).await, before, "nothing changed");
    put(&t, Who::Customer(&ann), "P7", 9).await;

    // A migration that would pass 100 products is refused whole: both carts stay as they were.
    let g = guest(&t).await;
    put(&t, Who::Guest(&g), "P1", 1).await;
    put(&t, Who::Guest(&g), "NEW", 1).await;
    let before = cart(&t, Who::Customer(&ann)).await;
    let refused = migrate(&t, &ann, &g).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.error_fields(), ["guest_token"]);
    assert_eq!(cart(&t, Who::Customer(&ann)).await, before);
    assert_eq!(lines(&cart(&t, Who::Guest(&g)).await), expect(&[("NEW", 1), ("P1", 1)]));
}

#[tokio::test]
async fn bad_lines_are_422_naming_every_field_and_bad_json_400() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let who = Who::Customer(&ann);
    let t = &t;
    let status_and_fields = |body: Value| async move {
        let response = send(t, "PUT", "/v1/cart/items/SKU-1", who, Some(body)).await;
        (response.status, response.error_fields())
    };
    for quantity in [json!(0), json!(1000), json!("3"), json!(-1), json!(1.5)] {
        let answer = status_and_fields(json!({ "quantity": quantity })).await;
        assert_eq!(answer, (422, vec!["quantity".to_string()]), "quantity {quantity}");
    }
    for price in [json!(-1), json!(19.99), json!("1999")] {
        let answer = status_and_fields(json!({ "quantity": 1, "unit_price": price })).await;
        assert_eq!(answer, (422, vec!["unit_price".to_string()]), "unit_price {price}");
    }
    assert_eq!(status_and_fields(json!({"quantity": 1, "colour": "red"})).await, (422, vec!["colour".to_string()]));
    assert_eq!(status_and_fields(json!({})).await, (422, vec!["quantity".to_string()]));
    let (status, mut fields) =
        status_and_fields(json!({"quantity": 0, "unit_price": -5, "name": 3, "attributes": [], "extra": 1})).await;
    fields.sort();
    assert_eq!(
        (status, fields),
        (
            422,
            vec!["attributes", "extra", "name", "quantity", "unit_price"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        )
    );
    let bad_id = send(t, "PUT", "/v1/cart/items/no%20spaces", who, Some(json!({"quantity": 1}))).await;
    assert_eq!((bad_id.status, bad_id.error_fields()), (422, vec!["product_id".to_string()]));

    let auth = format!("Bearer {ann}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let malformed = t.send("PUT", "/v1/cart/items/SKU-1", &headers, b"{\"quantity\": ", "203.0.113.7").await;
    assert_eq!(malformed.status, 400);
    let plain = [("authorization", auth.as_str()), ("content-type", "text/plain")];
    assert_eq!(t.send("PUT", "/v1/cart/items/SKU-1", &plain, b"{}", "203.0.113.7").await.status, 415);
    assert_eq!(lines(&cart(t, who).await), expect(&[]), "no bad request wrote anything");
}

#[tokio::test]
async fn unknown_and_forged_guest_tokens_are_404() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let forged = GuestToken::generate();
    for token in [forged.as_str(), "not-a-token"] {
        assert_eq!(send(&t, "GET", "/v1/cart", Who::Guest(token), None).await.status, 404);
        let put = send(&t, "PUT", "/v1/cart/items/A", Who::Guest(token), Some(json!({"quantity": 1}))).await;
        assert_eq!(put.status, 404);
        assert_eq!(send(&t, "DELETE", "/v1/cart", Who::Guest(token), None).await.status, 404);
    }
    assert_eq!(migrate(&t, &ann, forged.as_str()).await.status, 404);
    let garbage = migrate(&t, &ann, "garbage").await;
    assert_eq!((garbage.status, garbage.error_fields()), (422, vec!["guest_token".to_string()]));
    assert_eq!(t.count_items("cart").await, 0, "no request made a cart for a token that was not issued");
}

#[tokio::test]
async fn staff_get_403_and_nobody_gets_401() {
    let t = TestApp::new().await;
    let g = guest(&t).await;
    local_stack::admin::ensure_admin(&t.app().store, "admin@example.com", "local-admin-password", "Admin")
        .await
        .expect("admin");
    let login = json!({"email": "admin@example.com", "password": "local-admin-password"});
    let admin = t.call("POST", "/v1/auth/staff/login", None, Some(login)).await.json();
    let admin = admin["access_token"].as_str().expect("admin token").to_string();
    for (method, path) in
        [("GET", "/v1/cart"), ("PUT", "/v1/cart/items/A"), ("DELETE", "/v1/cart"), ("POST", "/v1/cart/migrate")]
    {
        let body = Some(json!({"quantity": 1, "guest_token": g}));
        assert_eq!(send(&t, method, path, Who::Nobody, body.clone()).await.status, 401, "{method} {path}");
        let staff = send(&t, method, path, Who::Both { bearer: &admin, guest: &g }, body.clone()).await;
        assert_eq!(staff.status, 403, "{method} {path} with a staff token beside a guest token");
        let forged = send(&t, method, path, Who::Both { bearer: "forged", guest: &g }, body).await;
        assert_eq!(forged.status, 401, "{method} {path}: a bad bearer token is not overlooked");
    }
    // Migration is for customers: a guest token alone is not enough.
    let guest_only = send(&t, "POST", "/v1/cart/migrate", Who::Guest(&g), Some(json!({"guest_token": g}))).await;
    assert_eq!(guest_only.status, 401);
}

#[tokio::test]
async fn lines_can_be_removed_and_carts_emptied() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let g = guest(&t).await;
    for who in [Who::Customer(&ann), Who::Guest(&g)] {
        put(&t, who, "A", 1).await;
        put(&t, who, "B", 2).await;
        let removed = send(&t, "DELETE", "/v1/cart/items/A", who, None).await;
        assert_eq!(removed.status, 200);
        assert_eq!(lines(&removed.json()), expect(&[("B", 2)]));
        assert_eq!(send(&t, "DELETE", "/v1/cart/items/A", who, None).await.status, 404, "already gone");
        assert_eq!(send(&t, "DELETE", "/v1/cart", who, None).await.status, 204);
        let empty = cart(&t, who).await;
        assert_eq!((lines(&empty).len(), empty["item_count"].as_i64()), (0, Some(0)));
    }
    put(&t, Who::Guest(&g), "C", 1).await;
    assert_eq!(lines(&cart(&t, Who::Guest(&g)).await), expect(&[("C", 1)]), "an emptied guest cart keeps its token");
}

#[tokio::test]
async fn concurrent_puts_of_different_lines_all_survive() {
    let t = TestApp::new().await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let g = guest(&t).await;
    for who in [Who::Customer(&ann), Who::Guest(&g)] {
        let products: Vec<String> = (0..10).map(|i| format!("P{i}")).collect();
        join_all(products.iter().map(|p| put(&t, who, p, 1))).await;
        assert_eq!(lines(&cart(&t, who).await).len(), 10, "no write lost");
    }
}

#[tokio::test]
async fn erasing_the_customer_removes_their_cart() {
    let t = TestApp::with_env(&[("OTP_MIN_INTERVAL_SECONDS", "0")]).await;
    let (ann, _) = customer(&t, "+260971234567", "Ann Lee").await;
    let (bob, bob_id) = customer(&t, "+260971234568", "Bob Lee").await;
    put(&t, Who::Customer(&ann), "A", 1).await;
    put(&t, Who::Customer(&bob), "B", 1).await;
    assert_eq!(t.count_items("cart").await, 2);

    assert_eq!(t.call("DELETE", "/v1/me", Some(&ann), None).await.status, 204);
    assert_eq!(t.count_items("cart").await, 1, "DELETE /v1/me took Ann's cart");
    // Ann's access token still verifies for a few minutes: it must not bring a cart back.
    let late = send(&t, "PUT", "/v1/cart/items/A", Who::Customer(&ann), Some(json!({"quantity": 1}))).await;
    assert_eq!(late.status, 404);
    assert_eq!(t.count_items("cart").await, 1);

    t.app().store.erase_customer(&bob_id, "test", shared::store::customers::EraseRule::Staff).await.expect("erase");
    assert_eq!(t.count_items("cart").await, 0, "the store's erase path took Bob's cart");
    assert_eq!(send(&t, "GET", "/v1/cart", Who::Customer(&bob), None).await.json()["items"], json!([]));
}
