//! Custom field definitions (`/v1/fields`) and the validation of customers' `custom_fields`
//! against them. A definition is never deleted: retiring it keeps existing values readable
//! while new writes to the field are refused.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::validation::{ValidationErrors, bounded_text};
use crate::time::Timestamp;

pub const MAX_LABEL: usize = 100;
pub const MAX_OPTIONS: usize = 100;
pub const MAX_OPTION: usize = 100;
pub const MAX_PATTERN: usize = 200;
/// Text values longer than this are refused even when the definition sets no `max`.
pub const MAX_TEXT_VALUE: usize = 1_000;
/// List values with more items than this are refused even when the definition sets no `max`.
pub const MAX_LIST_ITEMS: usize = 50;
pub const MAX_KEY: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Text,
    Number,
    Date,
    Boolean,
    List,
}

impl FieldType {
    pub const NAMES: &'static str = "text, number, date, boolean, list";

    fn parse(text: &str) -> Option<Self> {
        match text {
            "text" => Some(Self::Text),
            "number" => Some(Self::Number),
            "date" => Some(Self::Date),
            "boolean" => Some(Self::Boolean),
            "list" => Some(Self::List),
            _ => None,
        }
    }

    /// `min`/`max` bound the value of a number, the length of a text and the item count of a list.
    fn takes_bounds(&self) -> bool {
        matches!(self, Self::Text | Self::Number | Self::List)
    }

    fn takes_options(&self) -> bool {
        matches!(self, Self::Text | Self::List)
    }
}

/// A field key: a lower-case letter, then lower-case letters, digits or `_`, at most 40.
pub fn parse_key(text: &str) -> Result<String, String> {
    let valid = text.len() <= MAX_KEY
        && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("must start with a-z and contain only a-z, 0-9 and _ (at most {MAX_KEY})"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDefinition {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default)]
    pub customer_editable: bool,
    #[serde(default)]
    pub retired: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl FieldDefinition {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "key": self.key,
            "label": self.label,
            "type": self.kind,
            "required": self.required,
            "default": self.default,
            "options": self.options,
            "min": self.min,
            "max": self.max,
            "pattern": self.pattern,
            "customer_editable": self.customer_editable,
            "retired": self.retired,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// Checks one value against this definition; returns it normalised (texts trimmed).
    pub fn check_value(&self, value: &Value) -> Result<Value, String> {
        match self.kind {
            FieldType::Text => self.check_text(value),
            FieldType::Number => self.check_number(value),
            FieldType::Date => check_date(value),
            FieldType::Boolean => value.as_bool().map(Value::Bool).ok_or_else(|| "must be true or false".into()),
            FieldType::List => self.check_list(value),
        }
    }

    fn check_text(&self, value: &Value) -> Result<Value, String> {
        let text = value.as_str().ok_or("must be a string")?.trim();
        let length = text.chars().count() as f64;
        if length > MAX_TEXT_VALUE as f64 {
            return Err(format!("must be at most {MAX_TEXT_VALUE} characters"));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        check_bounds(length, self.min, self.max, "characters")?;
        if !self.options.is_empty() && !self.options.iter().any(|o| o == text) {
            return Err(format!("must be one of: {}", self.options.join(", ")));
        }
        if let Some(pattern) = &self.pattern
            && !compile_pattern(pattern)?.is_match(text)
        {
            return Err(format!("must match the pattern {pattern}"));
        }
        Ok(Value::String(text.to_string()))
    }

    fn check_number(&self, value: &Value) -> Result<Value, String> {
        let number = value.as_f64().filter(|n| n.is_finite()).ok_or("must be a number")?;
        if !is_storable_number(number) {
            return Err(NUMBER_RANGE.into());
        }
        if let Some(min) = self.min
            && number < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = self.max
            && number > max
        {
            return Err(format!("must be at most {max}"));
        }
        Ok(value.clone())
    }

    fn check_list(&self, value: &Value) -> Result<Value, String> {
        let items = value.as_array().ok_or("must be a list of strings")?;
        if items.len() > MAX_LIST_ITEMS {
            return Err(format!("must have at most {MAX_LIST_ITEMS} items"));
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let text = item.as_str().ok_or("must be a list of strings")?;
            let text = bounded_text(text, MAX_OPTION)?;
            if !self.options.is_empty() && !self.options.contains(&text) {
                return Err(format!("{text:?} is not one of: {}", self.options.join(", ")));
            }
            if !out.contains(&text) {
                out.push(text);
            }
        }
        check_bounds(out.len() as f64, self.min, self.max, "items")?;
        Ok(Value::from(out))
    }
}

fn check_bounds(size: f64, min: Option<f64>, max: Option<f64>, unit: &str) -> Result<(), String> {
    if let Some(min) = min
        && size < min
    {
        return Err(format!("must have at least {min} {unit}"));
    }
    if let Some(max) = max
        && size > max
    {
        return Err(format!("must have at most {max} {unit}"));
    }
    Ok(())
}

fn check_date(value: &Value) -> Result<Value, String> {
    let text = value.as_str().ok_or("must be a date written YYYY-MM-DD")?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format).map_err(|_| "must be a date written YYYY-MM-DD".to_string())?;
    Ok(Value::String(text.trim().to_string()))
}

/// Patterns must match the whole value.
fn compile_pattern(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| "has a pattern that does not compile".into())
}

/// A definition as sent to `POST /v1/fields` or `PUT /v1/fields/{key}`.
#[derive(Debug, Default, Deserialize)]
pub struct FieldDefinitionInput {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub options: Option<Vec<String>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub customer_editable: Option<bool>,
}

impl crate::JsonBody for FieldDefinitionInput {
    const FIELDS: &'static [&'static str] =
        &["key", "label", "type", "required", "default", "options", "min", "max", "pattern", "customer_editable"];
}

impl FieldDefinitionInput {
    /// A complete, consistent definition, or every problem with it. `key` comes from the body
    /// on create and from the path on replace (where a body `key` must agree with it).
    pub fn into_definition(self, path_key: Option<&str>, now: Timestamp) -> Result<FieldDefinition, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let key = match (path_key, self.key.as_deref()) {
            (Some(path), Some(body)) if path != body => {
                errors.add("key", "must match the key in the path");
                None
            }
            (Some(path), _) => Some(path.to_string()),
            (None, Some(body)) => errors.check("key", parse_key(body)),
            (None, None) => {
                errors.add("key", "is required");
                None
            }
        };
        let label = match self.label.as_deref() {
            Some(label) => errors.check("label", bounded_text(label, MAX_LABEL)),
            None => {
                errors.add("label", "is required");
                None
            }
        };
        let kind = match self.kind.as_deref() {
            Some(text) => {
                errors.check("type", FieldType::parse(text).ok_or(format!("must be one of {}", FieldType::NAMES)))
            }
            None => {
                errors.add("type", "is required");
                None
            }
        };
        let options = errors.check("options", check_options(self.options.unwrap_or_default())).unwrap_or_default();
        let (Some(key), Some(label), Some(kind)) = (key, label, kind) else {
            return Err(errors);
        };
        let definition = FieldDefinition {
            key,
            label,
            kind,
            required: self.required.unwrap_or(false),
            default: None,
            options,
            min: self.min,
            max: self.max,
            pattern: self.pattern,
            customer_editable: self.customer_editable.unwrap_or(false),
            retired: false,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        check_consistency(&definition, &mut errors);
        let default = match self.default.filter(|d| !d.is_null()) {
            Some(value) if errors.is_empty() => errors.check("default", definition.check_value(&value)),
            _ => None,
        };
        errors.into_result().map(|()| FieldDefinition { default, ..definition })
    }
}

fn check_options(options: Vec<String>) -> Result<Vec<String>, String> {
    if options.len() > MAX_OPTIONS {
        return Err(format!("must have at most {MAX_OPTIONS} entries"));
    }
    let mut out: Vec<String> = Vec::with_capacity(options.len());
    for option in options {
        let option = bounded_text(&option, MAX_OPTION).map_err(|m| format!("every option {m}"))?;
        if out.contains(&option) {
            return Err(format!("lists {option:?} twice"));
        }
        out.push(option);
    }
    Ok(out)
}

/// What a stored number may be: DynamoDB keeps numbers from 1e-130 to just under 1e126 in
/// magnitude, and zero; a value beyond that would fail the write after validation passed.
pub fn is_storable_number(n: f64) -> bool {
    n == 0.0 || (1e-130..1e126).contains(&n.abs())
}

const NUMBER_RANGE: &str = "must be 0 or between 1e-130 and 1e125 in magnitude";

fn check_consistency(definition: &FieldDefinition, errors: &mut ValidationErrors) {
    let kind = definition.kind;
    if !definition.options.is_empty() && !kind.takes_options() {
        errors.add("options", "only text and list fields take options");
    }
    for (field, bound) in [("min", definition.min), ("max", definition.max)] {
        let Some(bound) = bound else { continue };
        if !kind.takes_bounds() {
            errors.add(field, "only text, number and list fields take min and max");
        } else if !bound.is_finite() || (kind != FieldType::Number && (bound < 0.0 || bound.fract() != 0.0)) {
            errors.add(field, "must be a whole number of characters or items, at least 0");
        } else if !is_storable_number(bound) {
            errors.add(field, NUMBER_RANGE);
        }
    }
    if let (Some(min), Some(max)) = (definition.min, definition.max)
        && min > max
    {
        errors.add("min", "must not be greater than max");
    }
    if let Some(pattern) = &definition.pattern {
        if kind != FieldType::Text {
            errors.add("pattern", "only text fields take a pattern");
        } else if pattern.chars().count() > MAX_PATTERN {
            errors.add("pattern", format!("must be at most {MAX_PATTERN} characters"));
        } else if let Err(message) = compile_pattern(pattern) {
            errors.add("pattern", message.replace("has a pattern that", "is a pattern that"));
        }
    }
}

/// Who is writing `custom_fields`: staff may set any live field, customers only those marked
/// `customer_editable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Staff,
    Customer,
}

/// Merges `patch` into `current`: a value sets the field, `null` removes it. Every bad key is
/// reported as `custom_fields.<key>`.
/// No table has more custom field definitions than this (the customers function's cap).
pub const MAX_CUSTOM_FIELD_KEYS: usize = 200;

pub fn merge_custom_fields(
    current: &Map<String, Value>,
    patch: &Map<String, Value>,
    definitions: &[FieldDefinition],
    writer: Writer,
    errors: &mut ValidationErrors,
) -> Map<String, Value> {
    let mut next = current.clone();
    // More keys than a table can define are refused whole, before any is looked up.
    if patch.len() > MAX_CUSTOM_FIELD_KEYS {
        errors.add("custom_fields", format!("has more than {MAX_CUSTOM_FIELD_KEYS} fields"));
        return next;
    }
    for (key, value) in patch {
        let field = format!("custom_fields.{key}");
        let Some(definition) = definitions.iter().find(|d| &d.key == key) else {
            errors.add(field, "no such custom field");
            continue;
        };
        if definition.retired {
            errors.add(field, "this custom field is retired");
        } else if writer == Writer::Customer && !definition.customer_editable {
            errors.add(field, "cannot be changed by the customer");
        } else if value.is_null() {
            if definition.required {
                errors.add(field, "is required");
            } else {
                next.remove(key);
            }
        } else if let Some(value) = errors.check(&field, definition.check_value(value)) {
            next.insert(key.clone(), value);
        }
    }
    next
}

/// On create: live fields with a default and no value get the default; required live fields
/// without a value are reported.
pub fn fill_defaults(
    values: &mut Map<String, Value>,
    definitions: &[FieldDefinition],
    enforce_required: bool,
    errors: &mut ValidationErrors,
) {
    for definition in definitions.iter().filter(|d| !d.retired) {
        if values.contains_key(&definition.key) {
            continue;
        }
        match &definition.default {
            Some(default) => {
                values.insert(definition.key.clone(), default.clone());
            }
            None if definition.required && enforce_required => {
                errors.add(format!("custom_fields.{}", definition.key), "is required");
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn define(body: Value) -> Result<FieldDefinition, ValidationErrors> {
        let input: FieldDefinitionInput = serde_json::from_value(body).expect("shape");
        input.into_definition(None, Timestamp::from_unix(1_768_473_000))
    }

    fn fields_of(errors: &ValidationErrors) -> Vec<&str> {
        errors.fields().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn definitions_are_checked_for_consistency() {
        let errors = define(json!({"key": "Tier", "label": "", "type": "colour"})).expect_err("bad");
        assert_eq!(fields_of(&errors), ["key", "label", "type"]);
        let errors = define(json!({"key": "vip", "label": "VIP", "type": "boolean", "min": 1, "options": ["a"]}))
            .expect_err("bad");
        assert_eq!(fields_of(&errors), ["options", "min"]);
        let errors =
            define(json!({"key": "code", "label": "Code", "type": "text", "pattern": "(", "min": 5, "max": 2}))
                .expect_err("bad");
        assert_eq!(fields_of(&errors), ["min", "pattern"]);
        let errors =
            define(json!({"key": "tier", "label": "Tier", "type": "text", "options": ["gold"], "default": "tin"}))
                .expect_err("default must satisfy the definition");
        assert_eq!(fields_of(&errors), ["default"]);
    }

    #[test]
    fn numbers_a_table_cannot_hold_are_refused_before_any_write() {
        let errors =
            define(json!({"key": "branch", "label": "Branch", "type": "number", "max": 1.4666553050531285e-250}))
                .expect_err("found by schemathesis: a 500 before this check");
        assert_eq!(fields_of(&errors), ["max"]);
        let amount = define(json!({"key": "amount", "label": "Amount", "type": "number"})).expect("valid");
        assert_eq!(amount.check_value(&json!(1e-250)), Err(NUMBER_RANGE.to_string()));
        assert_eq!(amount.check_value(&json!(-1e200)), Err(NUMBER_RANGE.to_string()));
        assert!(amount.check_value(&json!(0)).is_ok());
        assert!(amount.check_value(&json!(-1e125)).is_ok());
        assert!(amount.check_value(&json!(1e-130)).is_ok());
    }

    #[test]
    fn values_are_checked_by_type() {
        let tier = define(json!({"key": "tier", "label": "Tier", "type": "text", "options": ["gold", "silver"]}))
            .expect("valid");
        assert_eq!(tier.check_value(&json!(" gold ")), Ok(json!("gold")));
        assert!(tier.check_value(&json!("tin")).is_err());
        assert!(tier.check_value(&json!(3)).is_err());
        let score =
            define(json!({"key": "score", "label": "Score", "type": "number", "min": 0, "max": 10})).expect("valid");
        assert!(score.check_value(&json!(10.0)).is_ok());
        assert!(score.check_value(&json!(11)).is_err());
        assert!(score.check_value(&json!("5")).is_err());
        let code =
            define(json!({"key": "code", "label": "Code", "type": "text", "pattern": "[A-Z]{3}"})).expect("valid");
        assert!(code.check_value(&json!("ABC")).is_ok());
        assert!(code.check_value(&json!("ABCD")).is_err(), "the pattern matches the whole value");
        let since = define(json!({"key": "since", "label": "Since", "type": "date"})).expect("valid");
        assert!(since.check_value(&json!("2024-02-29")).is_ok());
        assert!(since.check_value(&json!("2023-02-29")).is_err());
        let hobbies = define(
            json!({"key": "hobbies", "label": "Hobbies", "type": "list", "options": ["chess", "golf"], "max": 2}),
        )
        .expect("valid");
        assert_eq!(hobbies.check_value(&json!(["chess", "chess", "golf"])), Ok(json!(["chess", "golf"])));
        assert!(hobbies.check_value(&json!(["darts"])).is_err());
        assert!(hobbies.check_value(&json!("chess")).is_err());
    }

    #[test]
    fn merging_names_every_bad_key_and_respects_retirement_and_editability() {
        let mut old = define(json!({"key": "old", "label": "Old", "type": "text"})).expect("valid");
        old.retired = true;
        let staff_only = define(json!({"key": "risk", "label": "Risk", "type": "number"})).expect("valid");
        let editable = define(json!({"key": "nickname", "label": "Nick", "type": "text", "customer_editable": true}))
            .expect("valid");
        let definitions = [old, staff_only, editable];
        let current = json!({"old": "kept"}).as_object().cloned().unwrap_or_default();
        let patch =
            json!({"old": "x", "risk": 3, "nickname": "JD", "ghost": 1}).as_object().cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let next = merge_custom_fields(&current, &patch, &definitions, Writer::Customer, &mut errors);
        assert_eq!(fields_of(&errors), ["custom_fields.ghost", "custom_fields.old", "custom_fields.risk"]);
        assert_eq!(next["old"], "kept", "retired values stay readable");
        assert_eq!(next["nickname"], "JD");
    }

    #[test]
    fn defaults_fill_in_and_required_fields_are_reported() {
        let tier = define(json!({"key": "tier", "label": "Tier", "type": "text", "default": "bronze"})).expect("valid");
        let region =
            define(json!({"key": "region", "label": "Region", "type": "text", "required": true})).expect("valid");
        let mut values = Map::new();
        let mut errors = ValidationErrors::new();
        fill_defaults(&mut values, &[tier, region], true, &mut errors);
        assert_eq!(values["tier"], "bronze");
        assert_eq!(fields_of(&errors), ["custom_fields.region"]);
    }
}
