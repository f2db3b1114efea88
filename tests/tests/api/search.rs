//! Customer search against DynamoDB Local: random data and random searches compared with a
//! brute-force filter written from the contract, read-your-writes, cursors, roles, and the
//! limits of the write path.

use std::collections::{BTreeMap, HashSet};

use futures::future::join_all;
use integration_tests::{StaffTokens, TestApp, test_audit};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use shared::domain::group::Group;
use shared::domain::search::{fold, query_words};
use shared::domain::{Customer, CustomerId, CustomerStatus, EmailAddress, GroupId, PhoneE164, Username};
use shared::store::search::{IndexChange, IndexOverflow};
use shared::time::Timestamp;

const FIRST_NAMES: &[&str] = &["Ann", "Anna", "Anne-Marie", "Ángel", "José", "Joseph", "Jo", "Mwansa", "Zoë", "Chōmba"];
const LAST_NAMES: &[&str] = &["Banda", "Bandawe", "Mwale", "Mwansa", "O'Brien", "Ñúñez", "Phiri", "Phillips"];
const CITIES: &[Option<&str>] = &[Some("Lusaka"), Some(" lusaka"), Some("Ndola"), Some("Kitwe"), None];
const COUNTRIES: &[Option<&str>] = &[Some("Zambia"), Some("Malawi"), None];
const TAGS: &[&str] = &["vip", "premium", "late", "new"];
const TIERS: &[Option<&str>] = &[Some("gold"), Some("Silver"), None];
const DAY: i64 = 86_400;

/// The seed data's clock (the test's start): every customer is created within 40 days before.
fn base() -> i64 {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| Timestamp::now().unix())
}

/// A random customer, as staff or a signup could have written it.
fn random_customer(rng: &mut StdRng, n: usize) -> Customer {
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Ann");
    let last = LAST_NAMES.choose(rng).copied().unwrap_or("Banda");
    // Every seventh pair shares a second, so ties on `created_at` are broken by id.
    let created = base() - rng.random_range(0..40 * DAY) / if n.is_multiple_of(7) { DAY } else { 1 };
    let id = CustomerId::generate();
    let mut c =
        Customer::new(id, Username::base(first, last), (first.into(), last.into()), Timestamp::from_unix(created));
    if rng.random_bool(0.8) {
        let phone = format!("+2609{}{:07}", rng.random_range(5..8), rng.random_range(0..10_000_000));
        c.phone = PhoneE164::parse(&phone, phonenumber::country::Id::ZM).ok();
        c.phone_verified = rng.random_bool(0.5);
    }
    if c.phone.is_none() || rng.random_bool(0.7) {
        c.email = EmailAddress::parse(&format!("{}.{}{n}@example.com", fold(first), fold(last))).ok();
        c.email_verified = rng.random_bool(0.5);
    }
    c.city = CITIES.choose(rng).copied().flatten().map(str::to_string);
    c.country = COUNTRIES.choose(rng).copied().flatten().map(str::to_string);
    c.company_name = rng.random_bool(0.3).then(|| "Copper Works".to_string());
    let mut tags: Vec<String> = TAGS.iter().filter(|_| rng.random_bool(0.3)).map(|t| t.to_string()).collect();
    tags.sort();
    c.tags = tags;
    if let Some(tier) = TIERS.choose(rng).copied().flatten() {
        c.custom_fields.insert("tier".into(), json!(tier));
    }
    c.status = *[CustomerStatus::Active, CustomerStatus::Active, CustomerStatus::Suspended, CustomerStatus::Banned]
        .choose(rng)
        .unwrap_or(&CustomerStatus::Active);
    if rng.random_bool(0.6) {
        c.last_login_at = Some(Timestamp::from_unix(base() - rng.random_range(0..40 * DAY)));
    }
    c
}

/// The contract's rules, written out plainly: what a search must return, in order.
struct Oracle<'a> {
    customers: &'a [Customer],
    groups: &'a BTreeMap<String, HashSet<String>>,
}

fn text_field(body: &Value, name: &str) -> Option<String> {
    body.get(name).and_then(Value::as_str).map(fold)
}

fn instant(body: &Value, name: &str) -> Option<i64> {
    body.get(name)
        .and_then(Value::as_str)
        .map(|d| Timestamp::parse(&format!("{d}T00:00:00Z")).map(|t| t.unix()).expect("a date"))
}

impl Oracle<'_> {
    fn matches(&self, c: &Customer, body: &Value) -> bool {
        let name_words = |name: &str| -> Vec<String> {
            fold(name)
                .replace('\'', "")
                .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .filter(|w| !w.is_empty())
                .take(6)
                .map(str::to_string)
                .collect()
        };
        let mut words = name_words(&c.first_name);
        words.extend(name_words(&c.last_name));
        words.extend(c.email.as_ref().map(|e| e.as_str().to_string()));
        words.push(c.username.as_str().to_string());
        words.push(c.customer_id.as_str().to_lowercase());
        let digits: Option<String> =
            c.phone.as_ref().map(|p| p.as_str().chars().filter(char::is_ascii_digit).collect());
        let query = body.get("query").and_then(Value::as_str).map(query_words).unwrap_or_default();
        let query_ok = query.iter().all(|w| {
            words.iter().any(|x| x.starts_with(w.as_str()))
                || (w.len() >= 3
                    && w.bytes().all(|b| b.is_ascii_digit())
                    && digits.as_deref().is_some_and(|d| d.contains(w.as_str())))
        });
        let exact = |field: &Option<String>, name: &str| {
            text_field(body, name).is_none_or(|want| field.as_deref().map(fold).as_deref() == Some(want.as_str()))
        };
        let prefix = |field: Option<String>, name: &str| {
            text_field(body, name).is_none_or(|want| field.is_some_and(|f| fold(&f).starts_with(want.as_str())))
        };
        let statuses: Option<Vec<&str>> = body.get("status").and_then(Value::as_str).map(|s| s.split(',').collect());
        let tags: Vec<&str> = body
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let login = c.last_login_at.map(|t| t.unix());
        let after =
            |name: &str, at: Option<i64>| instant(body, name).is_none_or(|bound| at.is_some_and(|at| at >= bound));
        let before =
            |name: &str, at: Option<i64>| instant(body, name).is_none_or(|bound| at.is_some_and(|at| at < bound));
        let created = Some(c.created_at.unix());
        let custom_ok = body.get("custom_fields").and_then(Value::as_object).is_none_or(|wanted| {
            wanted.iter().all(|(k, v)| c.custom_fields.get(k).and_then(Value::as_str).map(fold) == v.as_str().map(fold))
        });
        query_ok
            && exact(&c.city, "city")
            && exact(&c.country, "country")
            && prefix(Some(c.first_name.clone()), "first_name")
            && prefix(Some(c.last_name.clone()), "last_name")
            && prefix(c.company_name.clone(), "company_name")
            && statuses.is_none_or(|s| s.contains(&c.status.as_str()))
            && body.get("is_active").and_then(Value::as_bool).is_none_or(|a| a == c.is_active())
            && body.get("is_verified").and_then(Value::as_bool).is_none_or(|v| v == c.is_verified())
            && tags.iter().all(|t| c.tags.iter().any(|x| x == t))
            && body
                .get("group_id")
                .and_then(Value::as_str)
                .is_none_or(|g| self.groups.get(g).is_some_and(|members| members.contains(c.customer_id.as_str())))
            && after("created_after", created)
            && before("created_before", created)
            && after("last_login_after", login)
            && before("last_login_before", login)
            && custom_ok
    }

    /// The ids of the matches, in the requested order.
    fn expected(&self, body: &Value) -> Vec<String> {
        let mut matches: Vec<&Customer> = self.customers.iter().filter(|c| self.matches(c, body)).collect();
        let sort_by = body.get("sort_by").and_then(Value::as_str).unwrap_or("created_at");
        let descending = body.get("sort_order").and_then(Value::as_str) != Some("asc");
        let key = |c: &Customer| -> (i64, String) {
            match sort_by {
                "last_name" => (0, format!("{}\u{1}{}", fold(&c.last_name), fold(&c.first_name))),
                "first_name" => (0, format!("{}\u{1}{}", fold(&c.first_name), fold(&c.last_name))),
                "last_login_at" => (c.last_login_at.map_or(i64::MIN, |t| t.unix()), String::new()),
                _ => (c.created_at.unix(), String::new()),
            }
        };
        matches.sort_by(|a, b| {
            let order = key(a).cmp(&key(b)).then_with(|| a.customer_id.as_str().cmp(b.customer_id.as_str()));
            if descending { order.reverse() } else { order }
        });
        matches.iter().map(|c| c.customer_id.as_str().to_string()).collect()
    }
}

/// A random search body built from the seed data's vocabulary.
fn random_search(rng: &mut StdRng, customers: &[Customer], groups: &[String]) -> Value {
    let mut body = serde_json::Map::new();
    let sample = customers.choose(rng).expect("customers");
    match rng.random_range(0..10) {
        0 | 1 => {
            let word = fold(&sample.last_name).replace('\'', "");
            body.insert("query".into(), json!(word[..word.len().min(rng.random_range(1..5))]));
        }
        2 => {
            let first = fold(&sample.first_name);
            body.insert("query".into(), json!(format!("{} {}", &first[..first.len().min(2)], fold(&sample.last_name))));
        }
        3 => {
            if let Some(phone) = &sample.phone {
                let digits: String = phone.as_str().chars().filter(char::is_ascii_digit).collect();
                let start = rng.random_range(0..digits.len() - 4);
                body.insert("query".into(), json!(digits[start..start + rng.random_range(3..5)]));
            }
        }
        4 => {
            body.insert("query".into(), json!(sample.customer_id.as_str()[..9].to_string()));
        }
        _ => {}
    }
    if rng.random_bool(0.3) {
        body.insert("city".into(), json!(["LUSAKA", "ndola", "Kitwe"].choose(rng)));
    }
    if rng.random_bool(0.2) {
        body.insert("country".into(), json!(["zambia", "Malawi"].choose(rng)));
    }
    if rng.random_bool(0.25) {
        let how_many = rng.random_range(1..3);
        let tags: Vec<&str> = TAGS.choose_multiple(rng, how_many).copied().collect();
        body.insert("tags".into(), json!(tags));
    }
    if rng.random_bool(0.2) {
        body.insert("status".into(), json!(["active", "suspended", "banned,suspended"].choose(rng)));
    }
    if rng.random_bool(0.15) {
        body.insert("is_active".into(), json!(rng.random_bool(0.5)));
    }
    if rng.random_bool(0.1) {
        body.insert("is_verified".into(), json!(rng.random_bool(0.5)));
    }
    if rng.random_bool(0.15) {
        body.insert("group_id".into(), json!(groups.choose(rng)));
    }
    if rng.random_bool(0.1) {
        body.insert("company_name".into(), json!("copper"));
    }
    if rng.random_bool(0.1) {
        body.insert("first_name".into(), json!(fold(&sample.first_name)[..2].to_string()));
    }
    if rng.random_bool(0.15) {
        let tier = ["GOLD", "silver"].choose(rng).copied();
        body.insert("custom_fields".into(), json!({ "tier": tier }));
    }
    let day = |back: i64| {
        let at = time::OffsetDateTime::from_unix_timestamp(base() - back * DAY).expect("time");
        format!("{:04}-{:02}-{:02}", at.year(), at.month() as u8, at.day())
    };
    if rng.random_bool(0.2) {
        body.insert("created_after".into(), json!(day(rng.random_range(5..40))));
    }
    if rng.random_bool(0.1) {
        body.insert("created_before".into(), json!(day(rng.random_range(0..20))));
    }
    if rng.random_bool(0.15) {
        body.insert("last_login_after".into(), json!(day(rng.random_range(1..45))));
    }
    if rng.random_bool(0.05) {
        body.insert("last_login_before".into(), json!(day(rng.random_range(0..30))));
    }
    if rng.random_bool(0.6) {
        let field = ["created_at", "last_name", "first_name", "last_login_at"].choose(rng).copied();
        body.insert("sort_by".into(), json!(field));
    }
    if rng.random_bool(0.5) {
        body.insert("sort_order".into(), json!(["asc", "desc"].choose(rng)));
    }
    body.insert("limit".into(), json!(rng.random_range(1..8)));
    Value::Object(body)
}

/// Every page of a search, following `next_cursor`: (ids in order, first page's total and
/// total_exact), or the status of a refused request.
async fn all_pages(t: &TestApp, token: &str, body: &Value) -> Result<(Vec<String>, u64, bool), (u16, Value)> {
    let mut ids = Vec::new();
    let mut request = body.clone();
    let mut first: Option<(u64, bool)> = None;
    for _ in 0..200 {
        let response = t.call("POST", "/v1/customers/search", Some(token), Some(request.clone())).await;
        if response.status != 200 {
            return Err((response.status, response.json()));
        }
        let page = response.json();
        first.get_or_insert((page["total"].as_u64().expect("total"), page["total_exact"].as_bool().expect("exact")));
        ids.extend(
            page["items"].as_array().expect("items").iter().map(|c| c["customer_id"].as_str().expect("id").to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => request["cursor"] = json!(cursor),
            None => {
                let (total, exact) = first.unwrap_or_default();
                return Ok((ids, total, exact));
            }
        }
    }
    panic!("more than 200 pages for {body}");
}

async fn seed(t: &TestApp, rng: &mut StdRng, count: usize) -> (Vec<Customer>, BTreeMap<String, HashSet<String>>) {
    let mut customers = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(8) {
        let batch: Vec<Customer> = chunk.iter().map(|n| random_customer(rng, *n)).collect();
        let note = test_audit();
        let created = join_all(batch.into_iter().map(|c| t.app().store.create_customer(c, &note, false))).await;
        customers.extend(created.into_iter().map(|r| r.expect("seed customer")));
    }
    let mut groups = BTreeMap::new();
    for name in ["Gold club", "Branch A"] {
        let group = Group {
            group_id: GroupId::generate(),
            name: name.into(),
            description: None,
            created_at: Timestamp::from_unix(base()),
            created_by: "test".into(),
        };
        t.app().store.create_group(&group).await.expect("group");
        let mut members = HashSet::new();
        for c in customers.iter().filter(|_| rng.random_bool(0.3)) {
            t.app()
                .store
                .add_member(&group.group_id, &c.customer_id, Timestamp::from_unix(base()))
                .await
                .expect("member");
            members.insert(c.customer_id.as_str().to_string());
        }
        groups.insert(group.group_id.as_str().to_string(), members);
    }
    (customers, groups)
}

/// A prefix that starts more words than the planner reads list by list (200) is still counted
/// exactly when another criterion leaves few candidates: it is checked on those customers.
#[tokio::test]
async fn a_prefix_of_too_many_words_is_checked_on_the_few_the_other_criteria_leave() {
    let t = TestApp::with_env(&[("SEARCH_COUNT_CAP", "12")]).await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    // 18 customers of 12 distinct q-words each: 216 words starting with `q`.
    for n in 0..18 {
        let words = |part: &str| (0..6).map(|i| format!("Q{part}{n:02}x{i}")).collect::<Vec<_>>().join(" ");
        let tags = if n == 7 { json!(["rare"]) } else { json!(["common"]) };
        let email = format!("q{n}@example.com");
        create(&t, &staff, json!({"first_name": words("f"), "last_name": words("l"), "email": email, "tags": tags}))
            .await;
    }
    let answer =
        t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "q", "tags": ["rare"]}))).await;
    assert_eq!((answer.json()["total"].clone(), answer.json()["total_exact"].clone()), (json!(1), json!(true)));
    let broad =
        t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "q", "tags": ["common"]}))).await;
    assert_eq!(broad.json()["total"], 17, "{}", broad.json());
}

/// A one-character query that starts more words than the lists are read for, and matches more
/// customers than the counting cap, takes its total from the initials counters (a lower bound,
/// `total_exact: false`) instead of reading the creation index up to the cap; its pages still
/// hold exactly the customers it matches, and the count follows erases and renames.
#[tokio::test]
async fn a_one_character_query_is_counted_by_the_initials_counters() {
    let t = TestApp::with_env(&[("SEARCH_COUNT_CAP", "12")]).await;
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    let mut ids = Vec::new();
    for n in 0..18 {
        let words = |part: &str| (0..6).map(|i| format!("Q{part}{n:02}x{i}")).collect::<Vec<_>>().join(" ");
        let body = json!({"first_name": words("f"), "last_name": words("l"), "email": format!("q{n}@example.com")});
        ids.push(create(&t, &staff, body).await["customer_id"].as_str().expect("id").to_string());
    }
    // Another customer no `q` word belongs to.
    create(&t, &staff, json!({"name": "Zed Zulu", "email": "zed@example.com"})).await;
    let query = json!({"query": "Q", "limit": 5});
    let (mut found, total, exact) = all_pages(&t, &staff, &query).await.expect("pages");
    assert_eq!((total, exact), (18, false), "the counters' 18, over the cap of 12");
    found.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(found, expected, "every page holds only and all the q customers");
    let erased = t.call("DELETE", &format!("/v1/customers/{}/hard", ids[0]), Some(&admin), None).await;
    assert_eq!(erased.status, 204, "{}", String::from_utf8_lossy(&erased.body));
    let renamed =
        t.call("PATCH", &format!("/v1/customers/{}", ids[1]), Some(&staff), Some(json!({"first_name": "Ann"}))).await;
    assert_eq!(renamed.status, 200, "{}", String::from_utf8_lossy(&renamed.body));
    let (_, total, _) = all_pages(&t, &staff, &query).await.expect("pages");
    assert_eq!(total, 17, "the erase took one away; the rename kept a q last name and email");
    let other = t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "z"}))).await;
    assert_eq!((other.json()["total"].clone(), other.json()["total_exact"].clone()), (json!(1), json!(true)));
}

/// The property: for random data and random searches, every page, its order and the total
/// equal a brute-force filter of the same data. The counting cap is lowered to 12 so that
/// broad searches take the walking path too (with `total_exact: false`).
#[tokio::test]
async fn random_searches_equal_a_brute_force_filter() {
    let t = TestApp::with_env(&[("SEARCH_COUNT_CAP", "12")]).await;
    let tokens = t.staff_tokens().await;
    let mut rng = StdRng::seed_from_u64(0x5EA5C4);
    let (customers, groups) = seed(&t, &mut rng, 70).await;
    let group_ids: Vec<String> = groups.keys().cloned().collect();
    let oracle = Oracle { customers: &customers, groups: &groups };
    let (mut exact, mut walked) = (0, 0);
    for round in 0..160 {
        let body = random_search(&mut rng, &customers, &group_ids);
        let expected = oracle.expected(&body);
        match all_pages(&t, &tokens.staff, &body).await {
            Ok((ids, total, total_exact)) => {
                assert_eq!(ids, expected, "round {round}: {body}");
                // The contract: exact whenever at most the counting cap match, for every search
                // a posting list or entry answers (a search of only statuses, creation and a
                // login window without a start is walked, exact up to the cap's candidates).
                let listed = [
                    "query",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "city",
                    "state",
                    "country",
                    "last_login_after",
                ]
                .iter()
                .any(|f| body.get(f).is_some())
                    || body.get("tags").is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()));
                assert!(
                    !listed || total_exact || expected.len() > 12,
                    "round {round}: {} match {body}",
                    expected.len()
                );
                if total_exact {
                    exact += 1;
                    assert_eq!(total as usize, expected.len(), "round {round}: exact total of {body}");
                } else {
                    walked += 1;
                    assert!(total as usize <= expected.len(), "round {round}: a lower bound for {body}");
                }
            }
            Err((422, problem)) => {
                // Only a sort by last login beyond the counting cap is refused.
                assert_eq!(body["sort_by"], "last_login_at", "round {round}: {body} → {problem}");
                assert_eq!(problem["errors"][0]["field"], "sort_by");
            }
            Err((status, problem)) => panic!("round {round}: {body} → {status} {problem}"),
        }
    }
    assert!(exact > 50 && walked >= 3, "both paths exercised: {exact} exact, {walked} walked");
}

async fn create(t: &TestApp, token: &str, body: Value) -> Value {
    let response = t.call("POST", "/v1/customers", Some(token), Some(body)).await;
    assert_eq!(response.status, 201, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

async fn search_ids(t: &TestApp, token: &str, body: Value) -> Vec<String> {
    let response = t.call("POST", "/v1/customers/search", Some(token), Some(body)).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["customer_id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn a_write_is_searchable_the_moment_it_returns_and_an_erase_leaves_nothing() {
    let t = TestApp::new().await;
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    let created =
        create(&t, &staff, json!({"name": "Chipo Mulenga", "phone": "0977000111", "city": "Kabwe", "tags": "gold"}))
            .await;
    let id = created["customer_id"].as_str().expect("id").to_string();
    let entries_after_create = t.count_items("search_entry").await;
    assert!(entries_after_create > 5, "the create wrote index entries");
    assert_eq!(search_ids(&t, &staff, json!({"query": "chipo mul"})).await, std::slice::from_ref(&id));
    assert_eq!(search_ids(&t, &staff, json!({"query": "0111"})).await, std::slice::from_ref(&id), "a phone fragment");

    let renamed =
        t.call("PATCH", &format!("/v1/customers/{id}"), Some(&staff), Some(json!({"last_name": "Zulu"}))).await;
    assert_eq!(renamed.status, 200);
    assert!(search_ids(&t, &staff, json!({"query": "mulenga"})).await.is_empty(), "the old name is gone at once");
    assert_eq!(
        search_ids(&t, &staff, json!({"query": "zulu"})).await,
        std::slice::from_ref(&id),
        "the new one is there at once"
    );
    let moved = t.call("PATCH", &format!("/v1/customers/{id}"), Some(&staff), Some(json!({"city": "Ndola"}))).await;
    assert_eq!(moved.status, 200);
    assert!(search_ids(&t, &staff, json!({"city": "kabwe"})).await.is_empty());
    assert_eq!(search_ids(&t, &staff, json!({"city": "ndola"})).await, std::slice::from_ref(&id));

    let erased = t.call("DELETE", &format!("/v1/customers/{id}/hard"), Some(&admin), None).await;
    assert_eq!(erased.status, 204);
    assert!(search_ids(&t, &staff, json!({"query": "zulu"})).await.is_empty());
    assert_eq!(t.count_items("search_entry").await, 0, "no index entry is left behind");
    let stats = t.call("GET", "/v1/stats/customers", Some(&admin), None).await.json();
    assert_eq!(stats["total_customers"], 0);
    let cities = t.call("GET", "/v1/locations/cities", Some(&staff), None).await.json();
    assert_eq!(cities["items"], json!([]), "the city counter went back to zero");
}

#[tokio::test]
async fn cursors_are_bound_to_their_search_and_roles_are_enforced() {
    let t = TestApp::new().await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    for n in 0..3 {
        create(&t, &staff, json!({"name": format!("Page Turner{n}"), "email": format!("p{n}@example.com")})).await;
    }
    let first =
        t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "page", "limit": 1}))).await.json();
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    assert_eq!((first["total"].as_u64(), first["total_exact"].as_bool()), (Some(3), Some(true)));
    let same = t
        .call(
            "POST",
            "/v1/customers/search",
            Some(&staff),
            Some(json!({"query": "page", "limit": 2, "cursor": cursor})),
        )
        .await;
    assert_eq!(same.status, 200, "another limit keeps the cursor valid");
    let other =
        t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "turner", "cursor": cursor}))).await;
    assert_eq!(other.status, 400, "a cursor of another search");
    let mut edited = cursor.clone();
    edited.replace_range(0..1, if cursor.starts_with('A') { "B" } else { "A" });
    let tampered =
        t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "page", "cursor": edited}))).await;
    assert_eq!(tampered.status, 400);
    assert_eq!(tampered.header("content-type"), Some("application/problem+json"));
    let by_get =
        t.call("GET", &format!("/v1/customers/search?query=page&limit=1&cursor={cursor}"), Some(&staff), None).await;
    assert_eq!(by_get.status, 200, "GET and POST share cursors: {}", String::from_utf8_lossy(&by_get.body));

    let customer =
        t.sign_in("+260971111222", "Cee Customer").await["access_token"].as_str().expect("token").to_string();
    for (method, path) in [
        ("POST", "/v1/customers/search"),
        ("GET", "/v1/customers/search"),
        ("GET", "/v1/locations/countries"),
        ("GET", "/v1/stats/customers"),
    ] {
        let body = (method == "POST").then(|| json!({}));
        assert_eq!(t.call(method, path, Some(&customer), body.clone()).await.status, 403, "{method} {path}");
        assert_eq!(t.call(method, path, None, body).await.status, 401, "{method} {path}");
    }
    assert_eq!(t.call("GET", "/v1/stats/customers", Some(&staff), None).await.status, 403, "statistics are for admins");
}

#[tokio::test]
async fn bad_search_input_is_a_clear_4xx() {
    let t = TestApp::new().await;
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    let cases = [
        (
            json!({"query": 5, "tags": {"a": 1}, "limit": 101, "created_after": "soon", "colour": "red"}),
            vec!["colour", "created_after", "limit", "query", "tags"],
        ),
        (
            json!({"sort_by": "age", "sort_order": "sideways", "status": "asleep", "group_id": "GRP_X"}),
            vec!["group_id", "sort_by", "sort_order", "status"],
        ),
        (json!({"query": (0..11).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ")}), vec!["query"]),
        (json!({"phone": "12", "custom_fields": {"tier": ["gold"]}}), vec!["custom_fields.tier", "phone"]),
    ];
    for (body, fields) in cases {
        let response = t.call("POST", "/v1/customers/search", Some(&staff), Some(body.clone())).await;
        assert_eq!(response.status, 422, "{body}");
        let mut named = response.error_fields();
        named.sort();
        assert_eq!(named, fields, "{body}");
    }
    let malformed = t
        .send(
            "POST",
            "/v1/customers/search",
            &[("content-type", "application/json"), ("authorization", &format!("Bearer {staff}"))],
            b"{\"query\":",
            "203.0.113.7",
        )
        .await;
    assert_eq!(malformed.status, 400);
    let huge = vec![b' '; 1024 * 1024 + 1];
    let too_big = t
        .send(
            "POST",
            "/v1/customers/search",
            &[("content-type", "application/json"), ("authorization", &format!("Bearer {staff}"))],
            &huge,
            "203.0.113.7",
        )
        .await;
    assert_eq!(too_big.status, 413);
    assert_eq!(t.call("GET", "/v1/customers/search?limit=ten", Some(&staff), None).await.status, 400);
    assert_eq!(t.call("GET", "/v1/customers/search?is_active=maybe", Some(&staff), None).await.status, 422);
    let daily = t.call("GET", "/v1/stats/customers/daily?from=2026-02-01&to=2026-01-01", Some(&admin), None).await;
    assert_eq!(daily.status, 422);
}

#[tokio::test]
async fn concurrent_creates_and_moves_leave_statistics_and_facets_exact() {
    let t = TestApp::new().await;
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    let creates = (0..50).map(|n| {
        let city = ["Lusaka", "Ndola", "Kitwe"][n % 3];
        let body = json!({"name": format!("Busy Bee{n}"), "email": format!("bee{n}@example.com"), "city": city,
                          "country": "Zambia", "gender": if n % 2 == 0 { "female" } else { "male" },
                          "date_of_birth": "1990-06-15"});
        let (t, staff) = (&t, &staff);
        async move { create(t, staff, body).await }
    });
    let created = join_all(creates).await;
    let moves = created.iter().take(20).map(|c| {
        let path = format!("/v1/customers/{}", c["customer_id"].as_str().expect("id"));
        let (t, staff) = (&t, &staff);
        async move { t.call("PATCH", &path, Some(staff), Some(json!({"city": "Kabwe"}))).await.status }
    });
    assert!(join_all(moves).await.iter().all(|s| *s == 200));
    // The recount: 20 moved to Kabwe; of the other 30, n % 3 decides the city.
    let mut expected: BTreeMap<&str, i64> = BTreeMap::from([("Kabwe", 20)]);
    for n in 20..50 {
        *expected.entry(["Lusaka", "Ndola", "Kitwe"][n % 3]).or_insert(0) += 1;
    }
    let stats = t.call("GET", "/v1/stats/customers", Some(&admin), None).await.json();
    assert_eq!(stats["total_customers"], 50);
    assert_eq!(stats["active_customers"], 50);
    assert_eq!(stats["new_customers_today"], 50);
    assert_eq!(stats["gender_distribution"]["female"], 25);
    assert_eq!(stats["customers_by_country"], json!({"Zambia": 50}));
    let by_city: BTreeMap<String, i64> = serde_json::from_value(stats["customers_by_city"].clone()).expect("map");
    assert_eq!(by_city, expected.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>());
    let cities = t.call("GET", "/v1/locations/cities?country=ZAMBIA", Some(&staff), None).await.json();
    assert_eq!(cities["items"][0], json!({"value": "Kabwe", "count": 20}), "most customers first");
    let age = stats["average_customer_age"].as_f64().expect("an age");
    let today = t.app().clock.now().date();
    let born = time::Date::from_calendar_date(1990, time::Month::June, 15).expect("date");
    let exact = (today - born).whole_days() as f64 / 365.2425;
    assert!((age - exact).abs() < 0.06, "{age} vs {exact}");
    let daily = t.call("GET", "/v1/stats/customers/daily", Some(&admin), None).await.json();
    let items = daily["items"].as_array().expect("items");
    assert_eq!(items.len(), 30);
    assert_eq!(items.last().map(|d| d["signups"].clone()), Some(json!(50)));
}

#[tokio::test]
async fn logins_count_per_day_and_feed_the_last_login_filter() {
    let t = TestApp::new().await;
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    let signup = t.sign_in("+260971234001", "Lola Login").await;
    let id = signup["customer"]["customer_id"].as_str().expect("id").to_string();
    t.app().clock.advance(60);
    t.sign_in("+260971234001", "Lola Login").await;
    let daily = t.call("GET", "/v1/stats/customers/daily", Some(&admin), None).await.json();
    let today = daily["items"].as_array().and_then(|d| d.last()).cloned().expect("today");
    assert_eq!((today["signups"].clone(), today["logins"].clone()), (json!(1), json!(2)));
    let staff_made = create(&t, &staff, json!({"name": "Never Came", "email": "never@example.com"})).await;
    let today_text = t.app().clock.now().to_rfc3339()[..10].to_string();
    let recent = search_ids(&t, &staff, json!({"last_login_after": today_text, "sort_by": "last_login_at"})).await;
    assert_eq!(recent, std::slice::from_ref(&id));
    let everyone = search_ids(&t, &staff, json!({"sort_by": "last_login_at", "sort_order": "desc"})).await;
    assert_eq!(
        everyone,
        [id, staff_made["customer_id"].as_str().expect("id").to_string()],
        "never logged in sorts last"
    );
}

#[tokio::test]
async fn the_largest_customer_fits_one_transaction_and_a_full_rewrite_stays_correct() {
    let t = TestApp::new().await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    // Twelve words of 7 letters: as long as a name may be (100 characters).
    let long_name = |prefix: &str| (0..12).map(|i| format!("{prefix}{i:02}")).collect::<Vec<_>>().join(" ");
    let tags = |prefix: &str| (0..50).map(|i| format!("{prefix}-{i:02}-{}", "x".repeat(30))).collect::<Vec<_>>();
    let mut customer = Customer::new(
        CustomerId::generate(),
        Username::base("Max", "Imum"),
        (long_name("First"), long_name("Last")),
        Timestamp::now(),
    );
    customer.phone = PhoneE164::parse("+260971234567890", phonenumber::country::Id::ZM).ok();
    customer.email = EmailAddress::parse("max.imum@example.com").ok();
    customer.city = Some("Lusaka".into());
    customer.state = Some("Lusaka Province".into());
    customer.country = Some("Zambia".into());
    customer.tags = tags("old");
    customer.last_login_at = Some(Timestamp::now());
    let plan = t.app().store.creation_plan(&customer, &test_audit()).expect("plan");
    assert!(plan.actions.len() <= 100, "{} actions", plan.actions.len());
    assert!(plan.overflow.is_empty(), "everything in one transaction");
    let created = t.app().store.create_customer(customer, &test_audit(), true).await.expect("created");
    let id = created.customer_id.as_str().to_string();
    assert_eq!(
        search_ids(&t, &staff, json!({"tags": ["old-49-".to_string() + &"x".repeat(30)]})).await,
        std::slice::from_ref(&id)
    );

    // Every tag, name word, place and the phone change at once: more index changes than one
    // transaction holds; the search must still be right when the write returns.
    let new_tags = tags("new");
    let change = json!({"first_name": long_name("Other"), "last_name": long_name("Name"), "phone": "+260961111222",
                        "city": "Ndola", "state": "Copperbelt", "tags": new_tags});
    let response = t.call("PATCH", &format!("/v1/customers/{id}"), Some(&staff), Some(change)).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    assert!(search_ids(&t, &staff, json!({"tags": ["old-01-".to_string() + &"x".repeat(30)]})).await.is_empty());
    assert!(search_ids(&t, &staff, json!({"query": "first11"})).await.is_empty());
    assert_eq!(
        search_ids(&t, &staff, json!({"query": "other00 name05", "tags": [new_tags[7].clone()]})).await,
        std::slice::from_ref(&id)
    );
    assert_eq!(search_ids(&t, &staff, json!({"query": "1111"})).await, [id]);
}

/// Issue 19, hole 3: writers racing without `If-Match` on a customer whose every entry moves
/// (two sets of 50 tags, a new last name and city each time: more index changes than one
/// transaction holds). After every round the index holds exactly the customer's current values:
/// each tag it holds finds it, none of the other set does, and `search-index verify` finds
/// nothing. Before the fix, a late writer's batch deleted entries a newer writer had just put
/// (a search by a held tag found nothing) or wrote its older document over the newer one.
#[tokio::test]
async fn racing_writers_of_large_tag_sets_leave_the_index_exact() {
    let t = TestApp::new().await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let tag_set = |set: &str| (0..50).map(|i| format!("{set}-{i:02}-{}", "y".repeat(24))).collect::<Vec<_>>();
    let sets = [tag_set("alpha"), tag_set("beta")];
    let created =
        create(&t, &staff, json!({"name": "Racing Writer", "phone": "0977123456", "city": "Lusaka", "tags": sets[0]}))
            .await;
    let id = created["customer_id"].as_str().expect("id").to_string();
    let path = format!("/v1/customers/{id}");
    for round in 0..4 {
        let patches = (0..12).map(|n| {
            let body = json!({"tags": sets[n % 2], "last_name": format!("Writer{round}x{n}"),
                              "city": format!("Town{round}x{n}")});
            let (t, staff, path) = (&t, &staff, &path);
            async move { t.call("PATCH", path, Some(staff), Some(body)).await.status }
        });
        let statuses = join_all(patches).await;
        // On a busy machine some writers may run out of the update budget (409, nothing
        // written); the index must be exact whichever won.
        assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "round {round}: {statuses:?}");
        assert!(statuses.iter().filter(|s| **s == 200).count() >= 2, "round {round}: {statuses:?}");
        let customer = t.call("GET", &path, Some(&staff), None).await.json();
        let held: Vec<String> =
            customer["tags"].as_array().expect("tags").iter().map(|t| t.as_str().expect("tag").to_string()).collect();
        let other = if held == sets[0] { &sets[1] } else { &sets[0] };
        assert!(held == sets[0] || held == sets[1], "one whole set won");
        for tag in &held {
            let found = search_ids(&t, &staff, json!({"tags": [tag]})).await;
            assert_eq!(found, std::slice::from_ref(&id), "round {round}: a tag the customer holds ({tag})");
        }
        for tag in other {
            assert!(search_ids(&t, &staff, json!({"tags": [tag]})).await.is_empty(), "round {round}: {tag} not held");
        }
        let last = customer["last_name"].as_str().expect("last name").to_string();
        assert_eq!(search_ids(&t, &staff, json!({"query": last})).await, std::slice::from_ref(&id));
        let city = customer["city"].as_str().expect("city").to_string();
        assert_eq!(search_ids(&t, &staff, json!({"city": city})).await, std::slice::from_ref(&id));
        let gone = if last.ends_with("x0") { format!("Writer{round}x1") } else { format!("Writer{round}x0") };
        assert!(search_ids(&t, &staff, json!({"query": gone})).await.is_empty(), "round {round}: an old name");
        let drift = local_stack::reindex::verify(&t.app().store).await.expect("verify");
        assert!(drift.is_zero(), "round {round}: {drift}");
    }
}

/// What a writer moving the customer to `next`'s values stages before its transaction.
async fn stage_dead_write(store: &shared::store::Store, id: &CustomerId, next: Customer) {
    let current = store.get_customer(id).await.expect("read").expect("customer");
    let next = Customer { version: current.version + 1, ..next };
    let change = IndexChange::between(Some(&current), Some(&next)).expect("change");
    assert!(change.len() > 100, "more than one transaction holds");
    let overflow = IndexOverflow { version: change.version, puts: change.puts, deletes: change.deletes };
    store.stage_index(&overflow, "dead-writer").await.expect("staged");
}

/// The steps of a write that does not fit one transaction, stopped where a process could die:
/// staged and never committed, readers still see exactly the customer's values (they check
/// pending entries against it); the next write of the same change settles what was staged, and
/// `reindex` clears what nobody settles.
#[tokio::test]
async fn an_overflowing_write_stopped_after_staging_misleads_no_reader() {
    let t = TestApp::new().await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let store = &t.app().store;
    let tag_set = |set: &str| (0..50).map(|i| format!("{set}-{i:02}-{}", "z".repeat(24))).collect::<Vec<_>>();
    let (a, b, c) = (tag_set("amber"), tag_set("blue"), tag_set("coral"));
    let created = create(&t, &staff, json!({"name": "Stopped Writer", "phone": "0977654321", "tags": a})).await;
    let id = CustomerId::parse(created["customer_id"].as_str().expect("id")).expect("id");
    let path = format!("/v1/customers/{}", id.as_str());
    let to_b = json!({"tags": b, "last_name": "Bluewriter", "city": "Ndola"});
    let to_a = json!({"tags": a, "last_name": "Writer", "city": "Lusaka"});
    assert_eq!(t.call("PATCH", &path, Some(&staff), Some(to_b.clone())).await.status, 200);
    let as_b = store.get_customer(&id).await.expect("read").expect("customer");
    assert_eq!(t.call("PATCH", &path, Some(&staff), Some(to_a)).await.status, 200);

    // A writer staged the move to the B values and died before its transaction.
    stage_dead_write(store, &id, as_b.clone()).await;
    let found = |tag: &String| search_ids(&t, &staff, json!({"tags": [tag]}));
    for tag in [&a[0], &a[49]] {
        assert_eq!(found(tag).await, [id.as_str()], "{tag}: held, its entry pending");
    }
    for tag in [&b[0], &b[49]] {
        assert!(found(tag).await.is_empty(), "{tag}: staged, never committed");
    }
    let response = t.call("POST", "/v1/customers/search", Some(&staff), Some(json!({"query": "bluewriter"}))).await;
    assert_eq!(response.json()["total"], 0, "a pending entry is not counted");
    assert_eq!(search_ids(&t, &staff, json!({"city": "lusaka"})).await, [id.as_str()]);
    assert!(!local_stack::reindex::verify(store).await.expect("verify").is_zero(), "verify sees what is pending");

    // The same change written for real settles every staged entry.
    assert_eq!(t.call("PATCH", &path, Some(&staff), Some(to_b)).await.status, 200);
    assert_eq!(found(&b[7]).await, [id.as_str()]);
    assert!(found(&a[7]).await.is_empty());
    let drift = local_stack::reindex::verify(store).await.expect("verify");
    assert!(drift.is_zero(), "{drift}");

    // Another dead writer; nobody writes its change, and reindex clears it.
    let as_c = Customer { tags: c.clone(), last_name: "Coralwriter".into(), ..as_b };
    stage_dead_write(store, &id, as_c).await;
    assert_eq!(found(&b[3]).await, [id.as_str()]);
    assert!(found(&c[3]).await.is_empty());
    local_stack::reindex::reindex(store, false).await.expect("reindex");
    let drift = local_stack::reindex::verify(store).await.expect("verify");
    assert!(drift.is_zero(), "{drift}");
    assert_eq!(found(&b[3]).await, [id.as_str()]);
}

#[test]
fn no_request_path_scans_the_table() {
    let root = integration_tests::repo_root();
    let mut offenders = Vec::new();
    for dir in [
        "functions",
        "shared/src",
        "domain/src",
        "auth-core/src",
        "store/src",
        "platform/src",
        "services/src",
        "edge/src",
    ] {
        let mut stack = vec![root.join(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).expect("dir").map(|e| e.expect("entry").path()));
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                let scans = text.contains(".scan()") || text.contains("ScanInput") || text.contains("operation::scan");
                // The rebuild's Scan, compiled only for the local stack's tools (below).
                if scans && path != root.join("store/src/rebuild.rs") {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(offenders.is_empty(), "a Scan on a request path: {offenders:?}");
    let store = std::fs::read_to_string(root.join("store/src/lib.rs")).expect("store");
    assert!(store.contains("#[cfg(feature = \"rebuild\")]\npub mod rebuild;"), "the rebuild's Scan is a feature");
    let functions = std::fs::read_dir(root.join("functions")).expect("functions").map(|e| e.expect("entry").path());
    let layers = ["shared", "services", "edge", "platform", "auth-core", "domain"].map(|dir| root.join(dir));
    for manifest in functions.chain(layers).map(|dir| dir.join("Cargo.toml")).filter(|m| m.exists()) {
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        assert!(!text.contains("\"rebuild\""), "{} turns on the store's Scan", manifest.display());
    }
    let template = std::fs::read_to_string(root.join("template.yaml")).expect("template");
    assert!(!template.contains("dynamodb:Scan"), "no function may be granted Scan");
}

/// Deletes every item of `entity` (test-only Scan of a per-test table).
async fn delete_all(t: &TestApp, entity: &str) -> usize {
    let store = &t.app().store;
    let out = store
        .client()
        .scan()
        .table_name(store.table())
        .filter_expression("entity = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S(entity.into()))
        .send()
        .await
        .expect("scan");
    for item in out.items() {
        store
            .client()
            .delete_item()
            .table_name(store.table())
            .key("PK", item["PK"].clone())
            .key("SK", item["SK"].clone())
            .send()
            .await
            .expect("delete");
    }
    out.items().len()
}

#[tokio::test]
async fn reindex_rebuilds_a_table_without_index_and_verify_then_finds_no_drift() {
    let t = TestApp::new().await;
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    for n in 0..12 {
        let city = ["Lusaka", "Ndola"][n % 2];
        create(
            &t,
            &staff,
            json!({"name": format!("Old Timer{n}"), "email": format!("old{n}@example.com"),
                                  "city": city, "country": "Zambia", "tags": ["legacy"]}),
        )
        .await;
    }
    let store = &t.app().store;
    assert!(local_stack::reindex::verify(store).await.expect("verify").is_zero(), "the write path keeps no drift");

    // A deployment from before search: no entries, no counters; plus one stray entry.
    assert!(delete_all(&t, "search_entry").await > 12 * 5);
    assert!(delete_all(&t, "postings").await > 12);
    assert!(delete_all(&t, "word").await > 0);
    assert!(delete_all(&t, "counter").await > 0);
    let stray = shared::store::search::EntryKey { pk: "ST#legacy".into(), sk: "CUST_DEADBEEF".into() };
    let stray_doc = shared::domain::search::SearchDoc { id: "CUST_DEADBEEF".into(), ..sample_doc() };
    store
        .apply_index_overflow(vec![shared::store::search::entry_item(&stray, &stray_doc, 1).expect("item")], vec![])
        .await
        .expect("stray");
    assert!(search_ids(&t, &staff, json!({"query": "timer"})).await.is_empty(), "nothing is findable");
    let drift = local_stack::reindex::verify(store).await.expect("verify");
    assert_eq!((drift.customers, drift.stale_entries), (12, 1));
    assert!(drift.missing_entries >= 12 * 5 && !drift.counters.is_empty(), "{drift}");
    assert!(drift.missing_members >= 12 * 6 && drift.missing_words > 0, "{drift}");

    let rebuilt = local_stack::reindex::reindex(store, false).await.expect("reindex");
    assert_eq!((rebuilt.customers, rebuilt.stale_deleted, rebuilt.resumed), (12, 1, false));
    let drift = local_stack::reindex::verify(store).await.expect("verify");
    assert!(drift.is_zero(), "{drift}");
    assert_eq!(search_ids(&t, &staff, json!({"query": "timer", "tags": ["legacy"]})).await.len(), 12);
    let stats = t.call("GET", "/v1/stats/customers", Some(&admin), None).await.json();
    assert_eq!(
        (stats["total_customers"].clone(), stats["customers_by_city"].clone()),
        (json!(12), json!({"Lusaka": 6, "Ndola": 6}))
    );

    // Idempotent, and an interrupted run (a checkpoint left between phases) carries on.
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("PK", aws_sdk_dynamodb::types::AttributeValue::S("REBUILD#SEARCH".into()))
        .item("SK", aws_sdk_dynamodb::types::AttributeValue::S("CHECKPOINT".into()))
        .item("phase", aws_sdk_dynamodb::types::AttributeValue::S("stale".into()))
        .send()
        .await
        .expect("checkpoint");
    let again = local_stack::reindex::reindex(store, false).await.expect("reindex");
    assert!(again.resumed && again.entries_written == 0 && again.counters_corrected == 0, "{again:?}");
    assert!(local_stack::reindex::verify(store).await.expect("verify").is_zero());
}

fn sample_doc() -> shared::domain::search::SearchDoc {
    let c = Customer::new(CustomerId::generate(), Username::base("a", "b"), ("A".into(), "B".into()), Timestamp::now());
    shared::domain::search::SearchDoc::of(&c)
}

/// The posting-list blocks of `pk` as stored: how many carry packed members, and how many
/// changes (attributes named by an id's eight digits) lie beside them.
async fn block_shape(t: &TestApp, pk: &str) -> (usize, usize) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let items = t.partition(pk).await;
    let packed = items.iter().filter(|item| item.get("p").is_some_and(AttributeValue::is_b)).count();
    let changes = items
        .iter()
        .flat_map(|item| item.keys())
        .filter(|name| name.len() == 8 && name.bytes().all(|b| b.is_ascii_hexdigit()))
        .count();
    (packed, changes)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn readers_compact_blocks_and_searches_stay_exact_over_packed_members() {
    let t = TestApp::new().await;
    t.app().store.faults().compact_blocks_after(1);
    let StaffTokens { admin, staff } = t.staff_tokens().await;
    let mut ids = Vec::new();
    for (n, city) in ["Kabwe", "Kabwe", "Ndola", "Kabwe", "Ndola", "Kitwe"].iter().enumerate() {
        let body = json!({"name": format!("Packed Person{n}"), "email": format!("packed{n}@example.com"),
            "city": city, "tags": ["packed"]});
        ids.push(create(&t, &staff, body).await["customer_id"].as_str().expect("id").to_string());
    }
    let (_, changes) = block_shape(&t, "IX#t#packed").await;
    assert_eq!(changes, 6, "each create sets its member as a change of its block");
    let by_tag = json!({"tags": ["packed"], "limit": 100});
    assert_eq!(sorted(search_ids(&t, &staff, by_tag.clone()).await), sorted(ids.clone()));
    let (packed, changes) = block_shape(&t, "IX#t#packed").await;
    assert_eq!((packed > 0, changes), (true, 0), "the search rewrote the blocks it read packed");

    // Changes over packed members: one customer leaves the tag, one moves, one is erased.
    let untag = t.call("PATCH", &format!("/v1/customers/{}", ids[0]), Some(&staff), Some(json!({"tags": []}))).await;
    assert_eq!(untag.status, 200);
    let moved =
        t.call("PATCH", &format!("/v1/customers/{}", ids[1]), Some(&staff), Some(json!({"city": "Ndola"}))).await;
    assert_eq!(moved.status, 200);
    let erased = t.call("DELETE", &format!("/v1/customers/{}/hard", ids[2]), Some(&admin), None).await;
    assert_eq!(erased.status, 204);
    let (_, changes) = block_shape(&t, "IX#t#packed").await;
    assert_eq!(changes, 3, "a customer who left is a change too (until the next compaction)");
    let in_ndola = json!({"tags": ["packed"], "city": "ndola"});
    assert_eq!(sorted(search_ids(&t, &staff, in_ndola.clone()).await), sorted(vec![ids[1].clone(), ids[4].clone()]));
    assert_eq!(
        sorted(search_ids(&t, &staff, by_tag.clone()).await),
        sorted(ids[3..].iter().cloned().chain([ids[1].clone()]).collect())
    );
    assert_eq!(block_shape(&t, "IX#t#packed").await.1, 0, "compacted again");
    // The same answers from the compacted blocks, and the index is what a rebuild would write.
    assert_eq!(sorted(search_ids(&t, &staff, in_ndola).await), sorted(vec![ids[1].clone(), ids[4].clone()]));
    assert_eq!(search_ids(&t, &staff, json!({"query": "packed person0"})).await, [ids[0].clone()], "still named");
    assert_eq!(search_ids(&t, &staff, json!({"query": "packed person2"})).await, Vec::<String>::new(), "erased");
    let drift = local_stack::reindex::verify(&t.app().store).await.expect("verify");
    assert!(drift.is_zero(), "{drift}");
}

/// A page sorted by last login, newest first, is found in the last-login lists a week at a
/// time; logins older than the weeks read, and customers who never logged in, come after, and
/// a page that reaches them is answered from the customers themselves. Every page is exact.
#[tokio::test]
async fn pages_by_last_login_come_from_the_login_lists_and_stay_exact_past_them() {
    let t = TestApp::new().await;
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let now = Timestamp::now().unix();
    let note = test_audit();
    // Logins 0, 4, 8, … 40 days ago, one 200 days ago, two never.
    let mut logins: Vec<Option<i64>> = (0..11).map(|k| Some(now - k * 4 * DAY - 60)).collect();
    logins.extend([Some(now - 200 * DAY), None, None]);
    let mut expected: Vec<(Option<i64>, String)> = Vec::new();
    for (n, login) in logins.into_iter().enumerate() {
        let created = now - 300 * DAY + n as i64;
        let id = CustomerId::generate();
        let mut c = Customer::new(
            id,
            Username::base("Login", "Order"),
            ("Login".into(), format!("Order{n}")),
            Timestamp::from_unix(created),
        );
        c.tags = vec!["regular".into()];
        c.last_login_at = login.map(Timestamp::from_unix);
        let c = t.app().store.create_customer(c, &note, false).await.expect("customer");
        expected.push((login, c.customer_id.as_str().to_string()));
    }
    // Newest login first, never last; ties by id, descending too.
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let body = json!({"tags": ["regular"], "sort_by": "last_login_at", "sort_order": "desc", "limit": 3});
    let (ids, total, exact) = all_pages(&t, &staff, &body).await.expect("pages");
    assert_eq!((total, exact), (14, true));
    assert_eq!(ids, expected);
    // Oldest first is answered too (from the customers).
    let asc = json!({"tags": ["regular"], "sort_by": "last_login_at", "sort_order": "asc", "limit": 5});
    let (ids, _, _) = all_pages(&t, &staff, &asc).await.expect("pages");
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(ids, reversed);
}

/// A write that lands between a search's read of a block and its compaction of it: the
/// compaction does not apply (the block's write token changed), so the write is not undone.
#[tokio::test]
async fn a_write_between_a_read_and_its_compaction_is_kept() {
    let t = TestApp::new().await;
    let store = &t.app().store;
    store.faults().compact_blocks_after(1);
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let body = json!({"name": "Racer One", "email": "racer@example.com", "tags": ["racing"]});
    let id = create(&t, &staff, body).await["customer_id"].as_str().expect("id").to_string();
    let by_tag = json!({"tags": ["racing"]});
    let gate = store.faults().hold_next_compaction();
    let search = t.call("POST", "/v1/customers/search", Some(&staff), Some(by_tag.clone()));
    let untag = async {
        gate.reached.notified().await;
        let response = t.call("PATCH", &format!("/v1/customers/{id}"), Some(&staff), Some(json!({"tags": []}))).await;
        gate.release.notify_one();
        response
    };
    let (searched, untagged) = futures::future::join(search, untag).await;
    assert_eq!(searched.status, 200);
    assert_eq!(untagged.status, 200);
    assert!(search_ids(&t, &staff, by_tag).await.is_empty(), "the untagging was not undone by the compaction");
    let drift = local_stack::reindex::verify(store).await.expect("verify");
    assert!(drift.is_zero(), "{drift}");
}

/// Searches that compact blocks while writers move the same customers in and out of them:
/// a compaction applies only if no write came in since its read, so no write is lost.
#[tokio::test]
async fn compactions_racing_writers_lose_no_write() {
    let t = TestApp::new().await;
    t.app().store.faults().compact_blocks_after(1);
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let mut ids = Vec::new();
    for n in 0..8 {
        let body = json!({"name": format!("Racer Number{n}"), "email": format!("racer{n}@example.com")});
        ids.push(create(&t, &staff, body).await["customer_id"].as_str().expect("id").to_string());
    }
    let by_tag = json!({"tags": ["racing"], "limit": 100});
    for round in 0..6 {
        let tagged = |n: usize| !(n + round).is_multiple_of(3);
        let writes =
            ids.iter().enumerate().map(|(n, id)| {
                let tags = if tagged(n) { json!(["racing"]) } else { json!([]) };
                let (t, staff) = (&t, &staff);
                async move {
                    t.call("PATCH", &format!("/v1/customers/{id}"), Some(staff), Some(json!({"tags": tags}))).await
                }
            });
        let reads = (0..6).map(|_| t.call("POST", "/v1/customers/search", Some(&staff), Some(by_tag.clone())));
        let (written, read) = futures::future::join(join_all(writes), join_all(reads)).await;
        assert!(written.iter().all(|r| r.status == 200), "round {round}");
        assert!(read.iter().all(|r| r.status == 200), "round {round}");
        let expected: Vec<String> =
            ids.iter().enumerate().filter(|(n, _)| tagged(*n)).map(|(_, id)| id.clone()).collect();
        assert_eq!(sorted(search_ids(&t, &staff, by_tag.clone()).await), sorted(expected), "round {round}");
    }
    let drift = local_stack::reindex::verify(&t.app().store).await.expect("verify");
    assert!(drift.is_zero(), "{drift}");
}

/// A block whose packed value cannot be read is never compacted over (that would lose its
/// members for good): searches go on without them, `verify` reports them, `reindex` repairs it.
#[tokio::test]
async fn an_unreadable_block_is_left_for_reindex_not_compacted_over() {
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;
    let t = TestApp::new().await;
    let store = &t.app().store;
    store.faults().compact_blocks_after(1);
    let StaffTokens { staff, .. } = t.staff_tokens().await;
    let body = json!({"name": "Broken Block", "email": "broken@example.com", "tags": ["fragile"]});
    let id = create(&t, &staff, body).await["customer_id"].as_str().expect("id").to_string();
    let by_tag = json!({"tags": ["fragile"]});
    assert_eq!(
        search_ids(&t, &staff, by_tag.clone()).await,
        std::slice::from_ref(&id),
        "compacted: the member is packed"
    );
    let block = t.partition("IX#t#fragile").await.into_iter().next().expect("the tag's block");
    let mut damaged = block.clone();
    damaged.insert("p".into(), AttributeValue::B(Blob::new(vec![7, 7, 7])));
    // A change beside the damage, so that a reader would compact the block.
    damaged.insert("00000001".into(), AttributeValue::S("-".into()));
    store.client().put_item().table_name(store.table()).set_item(Some(damaged)).send().await.expect("damage");

    assert!(search_ids(&t, &staff, by_tag.clone()).await.is_empty(), "the unreadable members are not found");
    let (packed, changes) = block_shape(&t, "IX#t#fragile").await;
    assert_eq!((packed, changes), (1, 1), "not compacted over");
    let drift = local_stack::reindex::verify(store).await.expect("verify");
    assert_eq!(drift.missing_members, 1, "{drift}");
    local_stack::reindex::reindex(store, false).await.expect("reindex");
    assert_eq!(search_ids(&t, &staff, by_tag).await, [id]);
    assert!(local_stack::reindex::verify(store).await.expect("verify").is_zero());
}
