//! The worst request bodies the review could build: one shape per way a body used to burn CPU
//! (issue #13, "quadratic validation"), each under the 1 MiB limit so it is parsed, not refused
//! by size. The debug-build test (`hardening::bodies_built_to_burn_cpu_are_refused_fast`) and the
//! release-build benchmark (`worst-bodies`) send exactly these.

/// A JSON object of `count` keys named `prefix<n>`, each with `value`: a body of a megabyte or
/// so, the shape that made validation quadratic.
pub fn many_keys(prefix: &str, count: usize, value: &str) -> String {
    let mut body = String::from("{");
    for n in 0..count {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&format!("\"{prefix}{n}\":{value}"));
    }
    body.push('}');
    body
}

/// Who sends a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Nobody,
    Staff,
    Customer,
}

impl Sender {
    /// The access token this sender sends, of the two given.
    pub fn token<'a>(self, staff: &'a str, customer: &'a str) -> Option<&'a str> {
        match self {
            Sender::Nobody => None,
            Sender::Staff => Some(staff),
            Sender::Customer => Some(customer),
        }
    }
}

/// Sends a raw JSON body, with a bearer token when given; the status and how long the answer
/// took.
pub async fn send_timed(
    t: &crate::TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, std::time::Duration) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let started = std::time::Instant::now();
    let response = t.send(method, path, &headers, body.as_bytes(), "203.0.113.9").await;
    (response.status, started.elapsed())
}

pub struct HostileBody {
    pub method: &'static str,
    pub path: &'static str,
    pub sender: Sender,
    /// What the body is, for a report.
    pub shape: &'static str,
    pub body: String,
}

/// Every case, per route.
pub fn hostile_bodies() -> Vec<HostileBody> {
    let unknown = many_keys("k", 90_000, "0");
    let custom = format!("{{\"custom_fields\":{}}}", many_keys("f", 70_000, "1"));
    let tags = format!(
        "{{\"name\":\"Tag Flood\",\"email\":\"t@example.com\",\"tags\":[{}]}}",
        vec!["\"a\""; 200_000].join(",")
    );
    let tag_text =
        format!("{{\"name\":\"Tag Text\",\"email\":\"u@example.com\",\"tags\":\"{}\"}}", "x,".repeat(400_000));
    let case =
        |method, path, sender, shape, body: &String| HostileBody { method, path, sender, shape, body: body.clone() };
    vec![
        case("POST", "/v1/auth/otp", Sender::Nobody, "90,000 unknown keys", &unknown),
        case("POST", "/v1/auth/login", Sender::Nobody, "90,000 unknown keys", &unknown),
        case("POST", "/v1/customers", Sender::Staff, "90,000 unknown keys", &unknown),
        case("POST", "/v1/customers", Sender::Staff, "200,000 equal tags", &tags),
        case("POST", "/v1/customers", Sender::Staff, "tags as an 800 kB string", &tag_text),
        case("PATCH", "/v1/me", Sender::Customer, "90,000 unknown keys", &unknown),
        case("PATCH", "/v1/me", Sender::Customer, "70,000 custom fields", &custom),
        case("POST", "/v1/customers/search", Sender::Staff, "90,000 unknown keys", &unknown),
        case("POST", "/v1/fields", Sender::Staff, "90,000 unknown keys", &unknown),
    ]
}
