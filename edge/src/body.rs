//! JSON request bodies: a size limit, the content type, syntax (400), then shape (422 naming
//! every unknown or mistyped field at once).

use lambda_http::{Body, Request};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::ApiError;
use crate::domain::ValidationErrors;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub use crate::domain::JsonBody;

pub fn parse_json<T: JsonBody>(req: &Request) -> Result<T, ApiError> {
    let (value, errors) = parse_json_lenient::<T>(req)?;
    errors.into_result()?;
    Ok(value)
}

/// Like [`parse_json`], but hands back the fields that were fine together with the errors of
/// those that were not, so the caller can run its own validation and name every bad field in
/// one 422. Fails outright only when the rest cannot form a `T` (a required field is bad).
pub fn parse_json_lenient<T: JsonBody>(req: &Request) -> Result<(T, ValidationErrors), ApiError> {
    let bytes = checked_body(req)?;
    let accepts = |key: &str| T::FIELDS.contains(&key);
    let scan = TopLevelKeys::scan(bytes, &accepts, UNKNOWN_FIELD)?;
    if scan.unknown.is_empty() {
        // The common case: straight from the bytes, with the slower path only to name every
        // mistyped field when something is wrong.
        if let Ok(value) = serde_json::from_slice::<T>(bytes) {
            return Ok((value, ValidationErrors::new()));
        }
    }
    // Unknown keys are named and their values never built: a megabyte of them costs a few
    // milliseconds, not tens.
    deserialize_all_errors::<T>(scan.known_object()?, scan.unknown)
}

const UNKNOWN_FIELD: &str = "unknown field";

/// The body as a JSON object of the keys `accepts` takes, with the others named (`message`),
/// their values skipped unbuilt: for bodies whose fields are not a fixed list (a search's
/// `custom_fields.<key>` filters).
pub fn json_object_of(
    req: &Request,
    accepts: &dyn Fn(&str) -> bool,
    message: &'static str,
) -> Result<(Map<String, Value>, ValidationErrors), ApiError> {
    let scan = TopLevelKeys::scan(checked_body(req)?, accepts, message)?;
    Ok((scan.known_object()?, scan.unknown))
}

/// The body as a JSON object, after the size, content-type and syntax checks.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    object_of(checked_body(req)?)
}

/// The body's bytes, once its size and content type are acceptable and it is not empty.
fn checked_body(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    if !is_json_content_type(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("a JSON body is required".into()));
    }
    // The scan below skips unknown keys' values unread, so their encoding is checked here,
    // once, over the whole body (std's check runs at several GB/s).
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::BadRequest("the body is not valid UTF-8".into()));
    }
    Ok(bytes)
}

fn object_of(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(malformed)?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(not_an_object()),
    }
}

fn malformed(err: serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("malformed JSON: {err}"))
}

fn not_an_object() -> ApiError {
    ApiError::validation("body", "must be a JSON object")
}

/// One pass over a JSON object's top level: the keys `accepts` refuses are named (their values
/// skipped unbuilt), the others kept as the raw JSON of their values (borrowed, not parsed).
struct TopLevelKeys<'a, 'de> {
    accepts: &'a dyn Fn(&str) -> bool,
    message: &'static str,
    known: Vec<(String, &'de RawValue)>,
    unknown: ValidationErrors,
}

impl<'a, 'de> TopLevelKeys<'a, 'de> {
    fn scan(bytes: &'de [u8], accepts: &'a dyn Fn(&str) -> bool, message: &'static str) -> Result<Self, ApiError> {
        use serde::de::DeserializeSeed;
        let mut scan = Self { accepts, message, known: Vec::new(), unknown: ValidationErrors::new() };
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let outcome = (&mut scan).deserialize(&mut deserializer).and_then(|()| deserializer.end());
        match outcome {
            Ok(()) => Ok(scan),
            Err(err) if err.classify() == serde_json::error::Category::Data => Err(not_an_object()),
            Err(err) => Err(malformed(err)),
        }
    }

    /// The known keys' values, parsed (a later duplicate wins, as in a parsed object).
    fn known_object(&self) -> Result<Map<String, Value>, ApiError> {
        self.known
            .iter()
            .map(|(key, raw)| Ok((key.clone(), serde_json::from_str(raw.get()).map_err(malformed)?)))
            .collect()
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut TopLevelKeys<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &mut TopLevelKeys<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if (self.accepts)(&key) {
                self.known.push((key, map.next_value()?));
            } else {
                self.unknown.add(key, self.message);
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

fn is_json_content_type(req: &Request) -> bool {
    let Some(value) = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Deserialises a JSON object already read (e.g. a nested one), naming every unknown or
/// mistyped field like [`parse_json_lenient`].
pub fn parse_object<T: JsonBody>(object: Map<String, Value>) -> Result<(T, ValidationErrors), ApiError> {
    deserialize_all_errors(object, ValidationErrors::new())
}

/// Names every unknown key and every mistyped field of `object` after the `errors` found
/// already; a `T` of the fields that were fine when the rest allows one.
fn deserialize_all_errors<T: JsonBody>(
    mut object: Map<String, Value>,
    mut errors: ValidationErrors,
) -> Result<(T, ValidationErrors), ApiError> {
    let unknown: Vec<String> = object.keys().filter(|k| !T::FIELDS.contains(&k.as_str())).cloned().collect();
    for key in unknown {
        errors.add(key.clone(), "unknown field");
        object.remove(&key);
    }
    // Each round finds the first mistyped field; drop it and look for the next one. Read from a
    // reference: a copy of a megabyte of tags would cost more than the whole check.
    let mut whole = Value::Object(object);
    for _ in 0..=T::FIELDS.len() {
        match serde_path_to_error::deserialize::<_, T>(&whole) {
            Ok(value) => return Ok((value, errors)),
            Err(err) => {
                let field = err.path().iter().next().map(|segment| segment.to_string()).unwrap_or_default();
                let message = err.into_inner().to_string();
                let Value::Object(object) = &mut whole else { return Err(ApiError::Validation(errors)) };
                if field.is_empty() || !object.contains_key(&field) {
                    let target = missing_field(&message).unwrap_or("body").to_string();
                    errors.add(target, message);
                    return Err(ApiError::Validation(errors));
                }
                errors.add(field.clone(), message);
                object.remove(&field);
            }
        }
    }
    Err(ApiError::Validation(errors))
}

/// serde reports a missing field as "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Login {
        phone: String,
        code: String,
        #[serde(default)]
        name: Option<String>,
    }

    impl JsonBody for Login {
        const FIELDS: &'static [&'static str] = &["phone", "code", "name"];
    }

    fn request(body: &str, content_type: Option<&str>) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/v1/auth/login");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.into())).expect("request")
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(errors) => errors.fields().iter().map(|e| e.field.clone()).collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn every_unknown_and_mistyped_field_is_named() {
        let req = request(r#"{"phone":5,"code":"1","name":[],"extra":1,"more":2}"#, Some("application/json"));
        let mut named = fields(parse_json::<Login>(&req).expect_err("invalid"));
        named.sort();
        assert_eq!(named, ["extra", "more", "name", "phone"]);
    }

    /// A type that knows more fields than a route accepts (as `PATCH /v1/me` reads the whole
    /// customer input but takes only the customer's own fields).
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Narrow {
        phone: Option<String>,
        role: Option<String>,
    }

    impl JsonBody for Narrow {
        const FIELDS: &'static [&'static str] = &["phone"];
    }

    #[test]
    fn a_field_the_type_knows_but_the_route_does_not_take_is_unknown() {
        let req = request(r#"{"phone":"+1","role":"admin"}"#, Some("application/json"));
        assert_eq!(fields(parse_json::<Narrow>(&req).expect_err("refused")), ["role"]);
        let (narrow, errors) = parse_json_lenient::<Narrow>(&req).expect("the rest forms a value");
        assert_eq!((narrow.role, errors.fields().len()), (None, 1), "never applied");
    }

    #[test]
    fn unknown_keys_are_named_up_to_the_cap_in_the_order_sent() {
        let keys: Vec<String> = (0..40_000).map(|n| format!("\"k{n}\":[1,{{\"x\":2}}]")).collect();
        let body = format!("{{\"phone\":\"+1\",\"code\":\"1\",{}}}", keys.join(","));
        let err = parse_json::<Login>(&request(&body, Some("application/json"))).expect_err("invalid");
        let ApiError::Validation(errors) = err else { panic!("expected 422") };
        assert_eq!((errors.fields().len(), errors.unlisted()), (100, 39_900));
        assert_eq!(errors.fields()[0].field, "k0", "in the order sent");
    }

    #[test]
    fn missing_required_field_is_named() {
        let req = request(r#"{"phone":"+1"}"#, Some("application/json"));
        assert_eq!(fields(parse_json::<Login>(&req).expect_err("invalid")), ["code"]);
    }

    #[test]
    fn syntax_size_and_content_type_have_their_own_statuses() {
        let status = |req: Request| parse_json::<Login>(&req).expect_err("invalid").status().as_u16();
        assert_eq!(status(request("{not json", Some("application/json"))), 400);
        assert_eq!(status(request("", Some("application/json"))), 400);
        assert_eq!(status(request("{}", Some("text/plain"))), 415);
        assert_eq!(status(request("{}", None)), 415);
        assert_eq!(status(request("[1]", Some("application/json; charset=utf-8"))), 422);
        let big = format!(r#"{{"phone":"{}"}}"#, "1".repeat(MAX_BODY_BYTES));
        assert_eq!(status(request(&big, Some("application/json"))), 413);
    }
}
