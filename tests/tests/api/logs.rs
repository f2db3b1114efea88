//! What the functions write to their logs: JSON lines, each handler's lines with the route (its
//! pattern, never the path) and the request id, EMF metric lines, and no secrets or personal
//! data: no code, token, password, phone number or email address, whatever the flow.
//! (Nextest runs each test in its own process, so this test owns the process's log output.)

use std::sync::{Arc, Mutex};

use integration_tests::{TestApp, put_to_slot};
use serde_json::{Value, json};
use shared::logging::Output;

const PHONE: &str = "+260971239876";
const EMAIL: &str = "logan.private@example.com";

/// Every flow that touches secrets or contacts, once.
async fn drive_the_flows(t: &TestApp) -> Vec<String> {
    let mut secrets = vec![PHONE.to_string(), "971239876".into(), EMAIL.into(), "logan.private".into()];
    let sent = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": PHONE}))).await;
    let code = sent.json()["dev_code"].as_str().expect("dev code").to_string();
    secrets.push(code.clone());
    let login = t
        .call("POST", "/v1/auth/login", None, Some(json!({"phone": PHONE, "code": code, "name": "Logan Private"})))
        .await
        .json();
    let token = login["access_token"].as_str().expect("access token").to_string();
    secrets.push(token.clone());
    secrets.push(login["refresh_token"].as_str().expect("refresh token").to_string());
    let wrong = t.call("POST", "/v1/auth/login", None, Some(json!({"phone": PHONE, "code": "000000"}))).await;
    assert_eq!(wrong.status, 401);

    let patch = t.call("PATCH", "/v1/me", Some(&token), Some(json!({"email": EMAIL, "city": "Ndola"}))).await;
    assert_eq!(patch.status, 200);
    let lookup = t.staff_tokens().await;
    secrets.push(lookup.admin.clone());
    let by_email = t.call("GET", &format!("/v1/customers/by-email/{EMAIL}"), Some(&lookup.staff), None).await;
    assert_eq!(by_email.status, 200);
    let search = t.call("POST", "/v1/customers/search", Some(&lookup.staff), Some(json!({"query": "9712398"}))).await;
    assert_eq!(search.json()["total"], 1);
    let staff_login = t
        .call(
            "POST",
            "/v1/auth/staff/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "hunter2-hunter2"})),
        )
        .await;
    assert_eq!(staff_login.status, 401);
    secrets.push("hunter2-hunter2".into());

    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    let slot = t
        .call("POST", "/v1/media/uploads", Some(&token), Some(json!({"filename": "passport-logan.pdf", "content_type": "application/pdf", "size": pdf.len(), "purpose": "document"})))
        .await
        .json();
    assert_eq!(put_to_slot(&slot, &pdf).await.status, 200);
    let media_id = slot["media_id"].as_str().expect("media id");
    assert_eq!(t.call("POST", &format!("/v1/media/{media_id}/complete"), Some(&token), None).await.status, 200);
    secrets
}

/// `needle` standing alone (not inside a longer run of digits or letters).
fn appears(haystack: &str, needle: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        let glued_before = alnum(before) && needle.starts_with(|c: char| c.is_ascii_alphanumeric());
        let glued_after = alnum(after) && needle.ends_with(|c: char| c.is_ascii_alphanumeric());
        !glued_before && !glued_after
    })
}

#[tokio::test]
async fn logs_are_json_with_the_route_and_carry_no_secret_or_contact() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    shared::logging::init_to(Output::Buffer(Arc::clone(&buffer)));
    let t = TestApp::new().await;
    let mut secrets = drive_the_flows(&t).await;
    // An SMS provider that fails: its error is logged (and must not carry the phone either).
    let failing = TestApp::with_env(&[("OTP_DELIVERY", "sns"), ("SNS_ENDPOINT", "http://127.0.0.1:9")]).await;
    let refused = failing.call("POST", "/v1/auth/otp", None, Some(json!({"phone": "+260971230000"}))).await;
    assert_eq!(refused.status, 503);
    secrets.push("+260971230000".into());

    let text = String::from_utf8(buffer.lock().map(|b| b.clone()).unwrap_or_default()).expect("UTF-8 logs");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect();
    assert!(lines.len() >= 15, "the flows log something: {text}");
    for secret in &secrets {
        for line in text.lines() {
            assert!(!appears(line, secret), "a log line carries {secret}: {line}");
        }
    }

    let routed: Vec<&Value> = lines.iter().filter(|l| l["span"]["route"].is_string()).collect();
    assert!(routed.iter().any(|l| l["span"]["route"] == "POST /v1/auth/otp"), "handler lines name their route");
    let answered = |route: &str| {
        routed.iter().any(|l| {
            l["span"]["route"] == route && l["fields"]["message"] == "answered" && l["fields"]["status"].is_u64()
        })
    };
    assert!(answered("GET /v1/customers/by-email/{email}"), "each request ends with its status and latency");
    assert!(
        routed.iter().all(|l| !l["span"]["route"].as_str().unwrap_or_default().contains('@')),
        "patterns, not paths"
    );
    assert!(lines.iter().any(|l| l["level"] == "ERROR"), "the provider failure is logged");

    let metric = |name: &str| lines.iter().filter(|l| l["_aws"].is_object() && l.get(name).is_some()).count();
    assert_eq!(metric("OtpSent"), 1);
    assert_eq!(metric("OtpFailed"), 1);
    assert_eq!(metric("Signup"), 1);
    assert_eq!(metric("SearchLatency"), 1);
}

/// One request followed from the API's access log to the function's log: the access-log line
/// (the template's own format) and every line the handler wrote share API Gateway's request id,
/// which the client also gets as `apigw-requestid`; the function's lines name the service, the
/// function, the route, Lambda's request id and the trace, and the first request of an
/// instance says `cold_start: true` (and counts `ColdStart`), the next `false`.
#[tokio::test]
async fn a_request_is_followed_from_the_access_log_to_the_function_log() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    shared::logging::init_to(Output::Buffer(Arc::clone(&buffer)));
    let t = TestApp::new().await;
    let first = t.call("GET", "/v1/health", None, None).await;
    let second = t.call("POST", "/v1/auth/otp", None, Some(json!({"phone": "+260971230111"}))).await;
    assert_eq!((first.status, second.status), (200, 202));

    let text = String::from_utf8(buffer.lock().map(|b| b.clone()).unwrap_or_default()).expect("UTF-8 logs");
    let lines: Vec<Value> = text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    for (response, route, status, cold) in
        [(&first, "GET /v1/health", 200, true), (&second, "POST /v1/auth/otp", 202, false)]
    {
        let id = response.header("apigw-requestid").expect("API Gateway's request id answered");
        let access: Vec<&Value> =
            lines.iter().filter(|l| l["requestId"] == id && l.get("routeKey").is_some()).collect();
        assert_eq!(access.len(), 1, "one access-log line for {id}: {text}");
        assert_eq!(access[0]["routeKey"], route);
        assert_eq!(access[0]["status"], status.to_string());
        let handler: Vec<&Value> = lines.iter().filter(|l| l["span"]["apigw_request_id"] == id).collect();
        assert!(!handler.is_empty(), "the function's lines carry the access log's requestId");
        for line in &handler {
            let span = &line["span"];
            assert_eq!(span["route"], access[0]["routeKey"], "the join agrees on the route");
            assert_eq!(span["service"], shared::metrics::DEFAULT_SERVICE);
            assert_eq!(span["function"], "auth");
            assert_eq!(span["cold_start"], cold);
            assert!(span["request_id"].is_string() && span["xray_trace_id"].is_string(), "{line}");
        }
        let answered = handler.iter().find(|l| l["fields"]["message"] == "answered").expect("the answered line");
        assert_eq!(answered["fields"]["status"], status, "the same outcome in both logs");
    }
    let cold_starts = lines.iter().filter(|l| l["_aws"].is_object() && l.get("ColdStart").is_some()).count();
    assert_eq!(cold_starts, 1, "one ColdStart per instance");
}
