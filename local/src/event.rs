//! Turns a plain HTTP request into the API Gateway HTTP API (payload v2) event Lambda would
//! receive, and parses it with `lambda_http` itself, so handlers see exactly what they see in AWS.

use std::collections::BTreeMap;

use base64::Engine;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

pub struct HttpInput<'a> {
    pub method: &'a str,
    /// Path and query, e.g. `/v1/customers?status=active`.
    pub path_and_query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub source_ip: &'a str,
    /// `METHOD /path/{param}` as declared in the template.
    pub route_key: &'a str,
}

pub fn api_gateway_event(input: &HttpInput<'_>) -> Value {
    let (path, query) = input.path_and_query.split_once('?').unwrap_or((input.path_and_query, ""));
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &input.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.push(value.clone());
            continue;
        }
        // API Gateway joins repeated headers with commas.
        headers
            .entry(name)
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let (body, encoded) = match std::str::from_utf8(input.body) {
        _ if input.body.is_empty() => (Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (json!(base64::engine::general_purpose::STANDARD.encode(input.body)), true),
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    json!({
        "version": "2.0",
        "routeKey": input.route_key,
        "rawPath": path,
        "rawQueryString": query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query_map(query),
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": input.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": input.source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default()
            },
            "requestId": format!("local-{now}"),
            "routeKey": input.route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now as u64
        },
        "body": body,
        "isBase64Encoded": encoded
    })
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode_component(key), decode_component(value));
        map.entry(key)
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    map
}

fn decode_component(text: &str) -> String {
    let replaced = text.replace('+', " ");
    let bytes = replaced.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn to_request(event: &Value) -> Result<Request, serde_json::Error> {
    lambda_http::request::from_str(&event.to_string())
}

/// The bytes of a handler's response body.
pub fn body_bytes(body: &Body) -> Vec<u8> {
    match body {
        Body::Text(text) => text.as_bytes().to_vec(),
        Body::Binary(bytes) => bytes.clone(),
        _ => Vec::new(),
    }
}
