//! Customer search, as plain rules: how text is folded into words, what every index entry
//! carries about its customer (`SearchDoc`), which customers a request matches, how results are
//! ordered and where a page ends. The store keeps the index; this module decides what is in it
//! and what matches.

use serde_json::Value;

mod doc;
mod plan;
pub mod postings;
mod request;

pub use doc::{SearchDoc, name_words};
pub use plan::{Entry, MAX_LOGIN_WINDOW_DAYS, Position, SortValue, choose_entry, sort_key_of};
pub use request::{SEARCH_FIELDS, SearchRequest, SortField, SortOrder, parse_search_request};

/// Counting stops here: `total` is exact up to this many matches and a lower bound beyond it,
/// so a one-letter query never reads every customer.
pub const COUNT_CAP: usize = 10_000;

/// Name words indexed per name (first and last each): bounds the entries a long name adds.
pub const MAX_NAME_WORDS: usize = 6;

/// Case- and accent-insensitive form of a text: transliterated to ASCII, lower-cased, trimmed.
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase().trim().to_string()
}

/// The words of a folded text: apostrophes dropped (`O'Brien` is `obrien`), then split at
/// anything that is not a letter, a digit or `_`.
pub fn words_of(folded: &str) -> Vec<String> {
    folded
        .replace(['\'', '`'], "")
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The text form a custom field value is compared in.
pub(crate) fn custom_value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(fold(text)),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The digits of a text (`+260 97-123` is `26097123`).
pub fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// A query word that is all digits and at least this long also matches inside phone numbers.
pub const MIN_PHONE_FRAGMENT: usize = 3;

/// The words of a `query`: split at white space; a token holding `@` stays whole (it can only
/// be the start of an email), any other is split like an indexed name.
pub fn query_words(query: &str) -> Vec<String> {
    let mut words = Vec::new();
    for token in query.split_whitespace() {
        let folded = fold(token);
        let trimmed = folded.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        if trimmed.contains('@') {
            words.push(trimmed.to_string());
        } else {
            words.extend(words_of(trimmed));
        }
    }
    let mut unique = Vec::new();
    for word in words {
        if !unique.contains(&word) {
            unique.push(word);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold("  Chōmbá Ñúñez "), "chomba nunez");
        assert_eq!(words_of(&fold("O'Brien-Mwale Jr.")), ["obrien", "mwale", "jr"]);
    }

    #[test]
    fn query_words_keep_emails_whole_and_split_the_rest() {
        assert_eq!(query_words("John.Doe@Example"), ["john.doe@example"]);
        assert_eq!(query_words("  Jean-Luc  o'brien  J. "), ["jean", "luc", "obrien", "j"]);
        assert_eq!(query_words("CUST_1a2B"), ["cust_1a2b"]);
        assert_eq!(query_words("john JOHN"), ["john"]);
        assert!(query_words(" - . ").is_empty());
    }

    #[test]
    fn digits_are_taken_from_any_spelling() {
        assert_eq!(digits_of("+260 (97) 123-45"), "2609712345");
    }
}
