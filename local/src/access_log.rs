//! The HTTP API stage's access log, as the local stack writes it: one line per request in the
//! template's own `AccessLogSettings.Format`, its `$context.*` variables filled in as API Gateway
//! fills them, so the line a deployed stack writes can be read, and joined to the function's
//! log lines by `requestId` (= the handler's `apigw_request_id`), here too.

use std::time::Duration;

use crate::event::HttpInput;

/// An id as API Gateway makes one for each request (16 random bytes, base64 without padding,
/// then `=`: the shape HTTP APIs use).
pub fn new_request_id() -> String {
    use base64::Engine;
    let bytes: [u8; 12] = rand::random();
    format!("{}=", base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
}

/// What the access-log line of one request says.
pub struct Entry {
    request_id: String,
    source_ip: String,
    method: String,
    request_time: String,
    pub route_key: String,
    status: u16,
    response_length: usize,
    response_latency: Duration,
    pub integration_latency: Option<Duration>,
}

impl Entry {
    pub fn new(request_id: &str, input: &HttpInput<'_>) -> Self {
        Self {
            request_id: request_id.to_string(),
            source_ip: input.source_ip.to_string(),
            method: input.method.to_string(),
            request_time: request_time(),
            route_key: "-".to_string(),
            status: 0,
            response_length: 0,
            response_latency: Duration::ZERO,
            integration_latency: None,
        }
    }

    pub fn finish(&mut self, status: u16, response_length: usize, latency: Duration) {
        self.status = status;
        self.response_length = response_length;
        self.response_latency = latency;
    }

    /// The value of `$context.<name>`, as text; `-` for a variable API Gateway would leave empty.
    fn variable(&self, name: &str) -> String {
        let millis = |d: Duration| d.as_millis().to_string();
        match name {
            "requestId" => self.request_id.clone(),
            "identity.sourceIp" => self.source_ip.clone(),
            "requestTime" => self.request_time.clone(),
            "httpMethod" => self.method.clone(),
            "routeKey" => self.route_key.clone(),
            "status" => self.status.to_string(),
            "responseLength" => self.response_length.to_string(),
            "responseLatency" => millis(self.response_latency),
            "integrationLatency" => self.integration_latency.map_or_else(|| "-".to_string(), millis),
            _ => "-".to_string(),
        }
    }

    /// `format` with each `$context.<name>` replaced by its value, JSON-escaped (the format is
    /// a JSON object whose values are strings holding variables).
    pub fn render(&self, format: &str) -> String {
        let mut out = String::with_capacity(format.len());
        let mut rest = format;
        while let Some(at) = rest.find("$context.") {
            out.push_str(&rest[..at]);
            let after = &rest[at + "$context.".len()..];
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).unwrap_or(after.len());
            let name = after[..end].trim_end_matches('.');
            let escaped = serde_json::Value::String(self.variable(name)).to_string();
            out.push_str(&escaped[1..escaped.len() - 1]);
            rest = &after[name.len()..];
        }
        out.push_str(rest);
        out.replace('\n', " ")
    }
}

/// `$context.requestTime`: CLF-style, in UTC (`06/Dec/2026:18:00:00 +0000`).
fn request_time() -> String {
    let format = time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_format_becomes_one_json_line_with_every_variable_filled() {
        let input = HttpInput {
            method: "GET",
            path_and_query: "/v1/me",
            headers: Vec::new(),
            body: b"",
            source_ip: "203.0.113.9",
            route_key: "",
        };
        let mut entry = Entry::new("abc=", &input);
        entry.route_key = "GET /v1/me".into();
        entry.integration_latency = Some(Duration::from_millis(7));
        entry.finish(200, 42, Duration::from_millis(9));
        let format = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",
          "routeKey":"$context.routeKey","status":"$context.status","latencyMs":"$context.responseLatency",
          "integrationLatencyMs":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage"}"#;
        let line: serde_json::Value = serde_json::from_str(&entry.render(format)).expect("a JSON line");
        assert_eq!(line["requestId"], "abc=");
        assert_eq!(line["ip"], "203.0.113.9");
        assert_eq!(line["routeKey"], "GET /v1/me");
        assert_eq!((line["status"].as_str(), line["latencyMs"].as_str()), (Some("200"), Some("9")));
        assert_eq!((line["integrationLatencyMs"].as_str(), line["integrationError"].as_str()), (Some("7"), Some("-")));
        assert_eq!(new_request_id().len(), 17, "16 characters of base64 and the `=`");
    }
}
