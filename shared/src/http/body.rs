//! JSON request bodies: a size limit, the content type, syntax (400), then shape (422 naming
//! every unknown or mistyped field at once).

use lambda_http::{Body, Request};
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
    let object = json_object(req)?;
    deserialize_all_errors::<T>(object)
}

/// The body as a JSON object, after the size, content-type and syntax checks.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
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
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::validation("body", "must be a JSON object")),
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
    deserialize_all_errors(object)
}

fn deserialize_all_errors<T: JsonBody>(mut object: Map<String, Value>) -> Result<(T, ValidationErrors), ApiError> {
    let mut errors = ValidationErrors::new();
    let unknown: Vec<String> = object.keys().filter(|k| !T::FIELDS.contains(&k.as_str())).cloned().collect();
    for key in unknown {
        errors.add(key.clone(), "unknown field");
        object.remove(&key);
    }
    // Each round finds the first mistyped field; drop it and look for the next one.
    for _ in 0..=T::FIELDS.len() {
        match serde_path_to_error::deserialize::<_, T>(Value::Object(object.clone())) {
            Ok(value) => return Ok((value, errors)),
            Err(err) => {
                let field = err.path().iter().next().map(|segment| segment.to_string()).unwrap_or_default();
                let message = err.into_inner().to_string();
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
