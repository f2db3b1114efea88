//! Field-level validation errors, collected so one response names every bad field.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        // One message per field is enough; the first one is usually the most basic problem.
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError { field, message: message.into() });
        }
    }

    /// Keeps the value when `result` is Ok, records the error under `field` otherwise.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// Adds `other`'s errors after this one's (one message per field still).
    pub fn merge(&mut self, other: ValidationErrors) {
        for error in other.0 {
            self.add(error.field, error.message);
        }
    }

    /// These errors (found while parsing a body) together with those of `result` (found by the
    /// rules that ran on what parsed), or `result`'s value when there are none: one 422 names
    /// every bad field.
    pub fn combined_with<T>(&self, result: Result<T, ValidationErrors>) -> Result<T, ValidationErrors> {
        let mut errors = self.clone();
        match result {
            Ok(value) if errors.is_empty() => Ok(value),
            Ok(_) => Err(errors),
            Err(found) => {
                errors.merge(found);
                Err(errors)
            }
        }
    }

    /// Whether any of `fields` already has an error.
    pub fn names_any(&self, fields: &[&str]) -> bool {
        self.0.iter().any(|e| fields.contains(&e.field.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

/// A trimmed, non-empty string of at most `max` characters.
pub fn bounded_text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_message_per_field_in_order() {
        let mut errors = ValidationErrors::new();
        errors.add("phone", "bad");
        errors.add("email", "bad");
        errors.add("phone", "worse");
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["phone", "email"]);
    }

    #[test]
    fn bounded_text_trims_and_limits() {
        assert_eq!(bounded_text("  Ann ", 5), Ok("Ann".into()));
        assert!(bounded_text("   ", 5).is_err());
        assert!(bounded_text("abcdef", 5).is_err());
        assert!(bounded_text("a\u{0}b", 5).is_err());
    }
}
