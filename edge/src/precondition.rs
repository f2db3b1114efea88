//! Conditional requests: `If-Match` against a resource's version (its ETag).

use lambda_http::Request;

use super::ApiError;

/// The versions an `If-Match` header accepts: `"3"` or a list `"3", "4"`; absent or `*` means
/// any. Weak tags never match (RFC 9110 §13.1.1 uses the strong comparison).
pub fn if_match(req: &Request) -> Result<Option<Vec<u64>>, ApiError> {
    let Some(value) = req.headers().get(http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::BadRequest("If-Match is not readable".into()))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let mut versions = Vec::new();
    for tag in text.split(',').map(str::trim) {
        if tag.starts_with("W/") {
            continue;
        }
        let quoted = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
        let version = quoted.and_then(|v| v.parse().ok());
        versions.push(
            version.ok_or_else(|| ApiError::BadRequest("If-Match must list ETags from previous responses".into()))?,
        );
    }
    Ok(Some(versions))
}
