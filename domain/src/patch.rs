//! A field in a partial update: absent (leave alone), `null` (clear) or a new value.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only called when the key is present (fields use `#[serde(default)]`).
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Value(value),
            None => Patch::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        email: Patch<String>,
    }

    #[test]
    fn tells_absent_null_and_value_apart() {
        let parse = |s| serde_json::from_str::<Body>(s).expect("valid").email;
        assert_eq!(parse("{}"), Patch::Absent);
        assert_eq!(parse(r#"{"email":null}"#), Patch::Null);
        assert_eq!(parse(r#"{"email":"a@b.co"}"#), Patch::Value("a@b.co".into()));
    }
}
