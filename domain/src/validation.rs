//! Field-level validation errors, collected so one response names every bad field.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// At most this many fields are named in one answer: enough for any real form, and a body of a
/// hundred thousand unknown keys is refused in the time it takes to read it.
pub const MAX_REPORTED_ERRORS: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
    /// The fields already named, for a constant-time check.
    named: std::collections::HashSet<String>,
    /// Errors past `MAX_REPORTED_ERRORS`, counted but not listed.
    unlisted: usize,
}

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
        if self.named.contains(&field) {
            return;
        }
        if self.errors.len() >= MAX_REPORTED_ERRORS {
            self.unlisted += 1;
            return;
        }
        self.named.insert(field.clone());
        self.errors.push(FieldError { field, message: message.into() });
    }

    /// How many more bad fields there were than are listed.
    pub fn unlisted(&self) -> usize {
        self.unlisted
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
        for error in other.errors {
            self.add(error.field, error.message);
        }
        self.unlisted += other.unlisted;
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
        fields.iter().any(|f| self.named.contains(*f))
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.errors
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
    fn a_flood_of_errors_is_listed_up_to_the_cap_in_linear_time() {
        let started = std::time::Instant::now();
        let mut errors = ValidationErrors::new();
        for i in 0..200_000 {
            errors.add(format!("field{i}"), "unknown field");
        }
        assert_eq!(errors.fields().len(), MAX_REPORTED_ERRORS);
        assert_eq!(errors.unlisted(), 200_000 - MAX_REPORTED_ERRORS);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn bounded_text_trims_and_limits() {
        assert_eq!(bounded_text("  Ann ", 5), Ok("Ann".into()));
        assert!(bounded_text("   ", 5).is_err());
        assert!(bounded_text("abcdef", 5).is_err());
        assert!(bounded_text("a\u{0}b", 5).is_err());
    }
}
