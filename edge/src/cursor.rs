//! List cursors at the edge: the page size a query asks for. The cursors themselves are signed
//! by `auth_core::cursor`; one that does not verify is a 400 (`ApiError: From<InvalidCursor>`).

pub use auth_core::cursor::{CursorSigner, InvalidCursor};

use super::ApiError;

/// `limit` query parameter: 1–100, default 20.
pub fn page_limit(raw: Option<&str>) -> Result<i32, ApiError> {
    match raw {
        None => Ok(20),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n as i32),
            Ok(_) => Err(ApiError::validation("limit", "must be from 1 to 100")),
            Err(_) => Err(ApiError::BadRequest("limit must be a whole number".into())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded() {
        assert_eq!(page_limit(None).expect("default"), 20);
        assert_eq!(page_limit(Some("100")).expect("max"), 100);
        let status = |raw| page_limit(Some(raw)).expect_err("invalid").status().as_u16();
        assert_eq!(status("0"), 422);
        assert_eq!(status("101"), 422);
        assert_eq!(status("ten"), 400, "malformed query syntax");
    }

    #[test]
    fn a_cursor_that_does_not_verify_is_a_400() {
        let error = ApiError::from(InvalidCursor);
        assert_eq!(error.status().as_u16(), 400);
        assert!(
            matches!(error, ApiError::BadRequest(ref detail) if detail == "the cursor is not valid for this query")
        );
    }
}
