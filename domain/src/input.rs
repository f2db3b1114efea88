//! Customer fields as clients send them, and the rules for turning them into a customer.
//! One input type serves every write path (staff create, staff PATCH/PUT, bulk update,
//! `PATCH /v1/me`); each path accepts its own subset of fields through a `JsonBody` wrapper.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::customer::{
    MAX_ADDRESS_LINE, MAX_NAME, MAX_POSTAL_CODE, MAX_SHORT_TEXT, parse_date_of_birth, parse_full_name, parse_gender,
};
use super::fields::{FieldDefinition, Writer, fill_defaults, merge_custom_fields};
use super::patch::Patch;
use super::validation::{ValidationErrors, bounded_text};
use super::{Customer, CustomerId, EmailAddress, PhoneE164, Username};
use crate::time::Timestamp;

pub const MAX_NOTES: usize = 2_000;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG: usize = 40;

/// Raw tags (before blanks and duplicates are dropped) beyond which a list is refused.
const MAX_RAW_TAGS: usize = MAX_TAGS * 4;

/// `tags` as an array or as a comma-separated string. A list keeps at most one item more than
/// [`parse_tags`] accepts: the rest of a list of a hundred thousand is read past, never built.
#[derive(Debug, Clone, PartialEq)]
pub enum TagsInput {
    List(Vec<String>),
    Text(String),
}

/// A `Deserialize` for `$input` that enters the deserializer with `$entry` and reads with a
/// visitor of the given methods (the two bounded inputs below).
macro_rules! read_with {
    ($input:ident, $entry:ident, $expecting:literal, $visitor:ident { $($methods:tt)* }) => {
        impl<'de> Deserialize<'de> for $input {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.$entry($visitor)
            }
        }

        struct $visitor;

        impl<'de> serde::de::Visitor<'de> for $visitor {
            type Value = $input;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str($expecting)
            }

            $($methods)*
        }
    };
}

read_with!(TagsInput, deserialize_any, "a list of tags or a comma-separated string", TagsVisitor {
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<TagsInput, E> {
        Ok(TagsInput::Text(text.to_string()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<TagsInput, A::Error> {
        let mut list = Vec::new();
        while list.len() <= MAX_RAW_TAGS {
            match seq.next_element::<String>()? {
                Some(tag) => list.push(tag),
                None => return Ok(TagsInput::List(list)),
            }
        }
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(TagsInput::List(list))
    }
});

/// `custom_fields` of an update: an object of at most one key more than a table can define
/// ([`MAX_CUSTOM_FIELD_KEYS`](super::fields::MAX_CUSTOM_FIELD_KEYS)); the rest of an object of
/// seventy thousand keys is read past, never built, and the whole is refused as too large.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomFieldsInput(pub Map<String, Value>);

read_with!(CustomFieldsInput, deserialize_map, "an object of custom field values", CustomFieldsVisitor {
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CustomFieldsInput, A::Error> {
        let mut fields = Map::new();
        while fields.len() <= super::fields::MAX_CUSTOM_FIELD_KEYS {
            match map.next_entry::<String, Value>()? {
                Some((key, value)) => {
                    fields.insert(key, value);
                }
                None => return Ok(CustomFieldsInput(fields)),
            }
        }
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(CustomFieldsInput(fields))
    }
});

/// Trims, lower-cases and de-duplicates tags (first spelling wins), dropping empty ones. The
/// raw count is checked first, so a body of a hundred thousand tags costs no de-duplication.
pub fn parse_tags(input: &TagsInput) -> Result<Vec<String>, String> {
    let raw: Vec<&str> = match input {
        TagsInput::List(list) => list.iter().map(String::as_str).collect(),
        TagsInput::Text(text) => text.split(',').collect(),
    };
    // Duplicates and blanks are forgiven, but not without bound.
    if raw.len() > MAX_RAW_TAGS {
        return Err(format!("must have at most {MAX_TAGS} tags"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut tags: Vec<String> = Vec::new();
    for tag in raw.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if tag.chars().count() > MAX_TAG {
            return Err(format!("every tag must be at most {MAX_TAG} characters"));
        }
        if tag.chars().any(char::is_control) {
            return Err("tags must not contain control characters".into());
        }
        let tag = tag.to_lowercase();
        if seen.insert(tag.clone()) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("must have at most {MAX_TAGS} tags"));
    }
    Ok(tags)
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct CustomerInput {
    #[serde(default)]
    pub name: Patch<String>,
    #[serde(default)]
    pub first_name: Patch<String>,
    #[serde(default)]
    pub last_name: Patch<String>,
    #[serde(default)]
    pub username: Patch<String>,
    #[serde(default)]
    pub phone: Patch<String>,
    #[serde(default)]
    pub email: Patch<String>,
    #[serde(default)]
    pub address_line1: Patch<String>,
    #[serde(default)]
    pub address_line2: Patch<String>,
    #[serde(default)]
    pub city: Patch<String>,
    #[serde(default)]
    pub state: Patch<String>,
    #[serde(default)]
    pub postal_code: Patch<String>,
    #[serde(default)]
    pub country: Patch<String>,
    #[serde(default)]
    pub date_of_birth: Patch<String>,
    #[serde(default)]
    pub gender: Patch<String>,
    #[serde(default)]
    pub company_name: Patch<String>,
    #[serde(default)]
    pub tax_id: Patch<String>,
    #[serde(default)]
    pub marketing_emails: Option<bool>,
    #[serde(default)]
    pub marketing_sms: Option<bool>,
    #[serde(default)]
    pub notes: Patch<String>,
    #[serde(default)]
    pub tags: Patch<TagsInput>,
    #[serde(default)]
    pub custom_fields: Patch<CustomFieldsInput>,
}

/// The fields a customer may change on their own profile.
pub const SELF_FIELDS: &[&str] = super::customer::with_address_fields!(
    ["name", "first_name", "last_name", "email"],
    ["date_of_birth", "gender", "marketing_emails", "marketing_sms", "custom_fields"]
);

/// Every field staff may write, plus `$extra`.
macro_rules! staff_fields {
    ($($extra:literal),*) => {
        super::customer::with_address_fields!(
            [$($extra,)* "name", "first_name", "last_name", "phone", "email"],
            [
                "date_of_birth",
                "gender",
                "company_name",
                "tax_id",
                "marketing_emails",
                "marketing_sms",
                "notes",
                "tags",
                "custom_fields",
            ]
        )
    };
}

/// The fields staff may change on an existing customer (the username never changes).
pub const STAFF_UPDATE_FIELDS: &[&str] = staff_fields!();

/// Everything that shapes a write besides the input: today's date (birth dates), the default
/// phone region, the custom field definitions and who is writing.
pub struct ApplyContext<'a> {
    pub today: time::Date,
    pub phone_region: phonenumber::country::Id,
    pub fields: &'a [FieldDefinition],
    pub writer: Writer,
}

impl CustomerInput {
    /// Applies the changes to a copy of `current`, validating every field and naming each bad
    /// one. Returns the updated customer; the store sets version and `updated_at`.
    pub fn apply(&self, current: &Customer, ctx: &ApplyContext) -> Result<Customer, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let next = self.apply_collecting(current, ctx, &mut errors);
        errors.into_result().map(|()| next)
    }

    /// Applies every valid change and records every invalid one, so a caller can check rules
    /// that span fields (a create's name) on the best-effort result.
    fn apply_collecting(&self, current: &Customer, ctx: &ApplyContext, errors: &mut ValidationErrors) -> Customer {
        let mut next = current.clone();
        self.apply_names(errors, &mut next);
        self.apply_contacts(errors, &mut next, ctx);
        self.apply_address(errors, &mut next);
        optional_parsed(errors, "date_of_birth", &self.date_of_birth, &mut next.date_of_birth, |t| {
            parse_date_of_birth(t, ctx.today)
        });
        optional_parsed(errors, "gender", &self.gender, &mut next.gender, parse_gender);
        optional_text(errors, "company_name", &self.company_name, MAX_SHORT_TEXT, &mut next.company_name);
        optional_text(errors, "tax_id", &self.tax_id, MAX_SHORT_TEXT, &mut next.tax_id);
        optional_text(errors, "notes", &self.notes, MAX_NOTES, &mut next.notes);
        if let Some(flag) = self.marketing_emails {
            next.marketing_emails = flag;
        }
        if let Some(flag) = self.marketing_sms {
            next.marketing_sms = flag;
        }
        match &self.tags {
            Patch::Absent => {}
            Patch::Null => next.tags.clear(),
            Patch::Value(tags) => next.tags = errors.check("tags", parse_tags(tags)).unwrap_or(next.tags),
        }
        match &self.custom_fields {
            Patch::Absent => {}
            Patch::Null => errors.add("custom_fields", "must be an object; set a field to null to remove it"),
            Patch::Value(patch) => {
                next.custom_fields =
                    merge_custom_fields(&current.custom_fields, &patch.0, ctx.fields, ctx.writer, errors);
            }
        }
        if next.phone.is_none() && next.email.is_none() && !errors.names_any(&["phone", "email"]) {
            errors.add("phone", "a customer needs a phone or an email");
            errors.add("email", "a customer needs a phone or an email");
        }
        next
    }

    /// A new customer from a staff create: names (or `name`) required, a phone or an email, an
    /// optional chosen username, custom-field defaults filled in and required fields enforced.
    /// `errors` arrives with the body's shape errors, so a mistyped `name` is not also reported
    /// as a missing one.
    pub fn create(
        &self,
        ctx: &ApplyContext,
        now: Timestamp,
        mut errors: ValidationErrors,
    ) -> Result<Customer, ValidationErrors> {
        let blank = Customer::new(CustomerId::generate(), Username::base("", ""), (String::new(), String::new()), now);
        let mut customer = self.apply_collecting(&blank, ctx, &mut errors);
        if customer.first_name.is_empty() && !errors.names_any(&["name", "first_name", "last_name"]) {
            errors.add("first_name", "is required (or give name)");
        }
        customer.username = match &self.username {
            Patch::Value(text) => errors
                .check("username", Username::parse(text).ok_or_else(|| Username::RULE.to_string()))
                .unwrap_or(customer.username),
            Patch::Null | Patch::Absent => Username::base(&customer.first_name, &customer.last_name),
        };
        fill_defaults(&mut customer.custom_fields, ctx.fields, true, &mut errors);
        errors.into_result().map(|()| customer)
    }

    fn apply_names(&self, errors: &mut ValidationErrors, next: &mut Customer) {
        match &self.name {
            Patch::Absent => {}
            Patch::Null => errors.add("name", "must not be null"),
            Patch::Value(name) => {
                if let Some((first, last)) = errors.check("name", parse_full_name(name)) {
                    next.first_name = first;
                    next.last_name = last;
                }
            }
        }
        required_text(errors, "first_name", &self.first_name, MAX_NAME, &mut next.first_name);
        match &self.last_name {
            Patch::Absent => {}
            Patch::Null => next.last_name.clear(),
            Patch::Value(text) if text.trim().is_empty() => next.last_name.clear(),
            Patch::Value(text) => {
                if let Some(value) = errors.check("last_name", bounded_text(text, MAX_NAME)) {
                    next.last_name = value;
                }
            }
        }
    }

    fn apply_contacts(&self, errors: &mut ValidationErrors, next: &mut Customer, ctx: &ApplyContext) {
        let before = next.clone();
        match &self.phone {
            Patch::Absent => {}
            Patch::Null => next.phone = None,
            Patch::Value(text) => next.phone = errors.check("phone", PhoneE164::parse(text, ctx.phone_region)),
        }
        match &self.email {
            Patch::Absent => {}
            Patch::Null => next.email = None,
            Patch::Value(text) => next.email = errors.check("email", EmailAddress::parse(text)),
        }
        if next.phone != before.phone {
            next.phone_verified = false;
        }
        if next.email != before.email {
            next.email_verified = false;
        }
    }

    fn apply_address(&self, errors: &mut ValidationErrors, next: &mut Customer) {
        optional_text(errors, "address_line1", &self.address_line1, MAX_ADDRESS_LINE, &mut next.address_line1);
        optional_text(errors, "address_line2", &self.address_line2, MAX_ADDRESS_LINE, &mut next.address_line2);
        optional_text(errors, "city", &self.city, MAX_SHORT_TEXT, &mut next.city);
        optional_text(errors, "state", &self.state, MAX_SHORT_TEXT, &mut next.state);
        optional_text(errors, "postal_code", &self.postal_code, MAX_POSTAL_CODE, &mut next.postal_code);
        optional_text(errors, "country", &self.country, MAX_SHORT_TEXT, &mut next.country);
    }
}

/// `PATCH /v1/me`: the customer's own fields.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct SelfUpdateInput(pub CustomerInput);

impl crate::JsonBody for SelfUpdateInput {
    const FIELDS: &'static [&'static str] = SELF_FIELDS;
}

/// `PATCH`/`PUT /v1/customers/{id}` and the `updates` of a bulk update.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(transparent)]
pub struct StaffUpdateInput(pub CustomerInput);

impl crate::JsonBody for StaffUpdateInput {
    const FIELDS: &'static [&'static str] = STAFF_UPDATE_FIELDS;
}

/// `POST /v1/customers`: every staff field plus an optional chosen `username`.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct StaffCreateInput(pub CustomerInput);

impl crate::JsonBody for StaffCreateInput {
    const FIELDS: &'static [&'static str] = staff_fields!("username");
}

fn required_text(errors: &mut ValidationErrors, field: &str, patch: &Patch<String>, max: usize, target: &mut String) {
    match patch {
        Patch::Absent => {}
        Patch::Null => errors.add(field, "must not be null"),
        Patch::Value(text) => {
            if let Some(value) = errors.check(field, bounded_text(text, max)) {
                *target = value;
            }
        }
    }
}

fn optional_text(
    errors: &mut ValidationErrors,
    field: &str,
    patch: &Patch<String>,
    max: usize,
    target: &mut Option<String>,
) {
    optional_parsed(errors, field, patch, target, |text| bounded_text(text, max));
}

fn optional_parsed(
    errors: &mut ValidationErrors,
    field: &str,
    patch: &Patch<String>,
    target: &mut Option<String>,
    parse: impl Fn(&str) -> Result<String, String>,
) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *target = None,
        Patch::Value(text) => {
            if let Some(value) = errors.check(field, parse(text)) {
                *target = Some(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_beyond_what_a_table_can_define_are_read_past_and_refused() {
        let keys: Vec<String> = (0..70_000).map(|n| format!("\"k{n}\":{n}")).collect();
        let body = format!("{{{}}}", keys.join(","));
        let input: CustomFieldsInput = serde_json::from_str(&body).expect("an object");
        assert_eq!(input.0.len(), crate::fields::MAX_CUSTOM_FIELD_KEYS + 1, "one more kept than allowed");
        let mut errors = ValidationErrors::new();
        crate::fields::merge_custom_fields(&Map::new(), &input.0, &[], Writer::Staff, &mut errors);
        assert!(errors.into_result().is_err(), "too many fields are refused whole");
        assert!(serde_json::from_str::<CustomFieldsInput>("[1]").is_err(), "not an object");
    }
    use crate::customer::sample_customer as customer;
    use serde_json::json;

    fn ctx(fields: &[FieldDefinition], writer: Writer) -> ApplyContext<'_> {
        ApplyContext {
            today: time::macros::date!(2026 - 11 - 23),
            phone_region: phonenumber::country::Id::ZM,
            fields,
            writer,
        }
    }

    fn input(body: Value) -> CustomerInput {
        serde_json::from_value(body).expect("shape is fine")
    }

    fn fields_of(errors: &ValidationErrors) -> Vec<&str> {
        errors.fields().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = input(json!({"email":"nope","gender":"dragon","date_of_birth":"2999-01-01","first_name":""}))
            .apply(&customer(), &ctx(&[], Writer::Customer))
            .expect_err("invalid");
        assert_eq!(fields_of(&errors), ["first_name", "email", "date_of_birth", "gender"]);
    }

    #[test]
    fn changing_a_contact_resets_its_verification() {
        let mut current = customer();
        current.email = Some(EmailAddress::parse("old@example.com").expect("valid"));
        current.email_verified = true;
        let next = input(json!({"email":" New@Example.com ","name":"Jane Roe","city":null, "phone": "0977 123 456"}))
            .apply(&current, &ctx(&[], Writer::Staff))
            .expect("valid");
        assert_eq!(next.email.as_ref().map(EmailAddress::as_str), Some("new@example.com"));
        assert!(!next.email_verified && !next.phone_verified);
        assert_eq!((next.first_name.as_str(), next.last_name.as_str()), ("Jane", "Roe"));
    }

    #[test]
    fn a_flood_of_tags_is_read_past_not_built() {
        let flood = format!("[{}]", vec!["\"a\""; 100_000].join(","));
        let TagsInput::List(kept) = serde_json::from_str(&flood).expect("a list") else { panic!("a list") };
        assert_eq!(kept.len(), MAX_RAW_TAGS + 1, "one more than accepted, so it is refused");
        assert!(parse_tags(&TagsInput::List(kept)).is_err());
        let wrong: Result<TagsInput, _> = serde_json::from_str("[1]");
        assert!(wrong.is_err(), "items are strings");
        let number: Result<TagsInput, _> = serde_json::from_str("5");
        assert!(number.expect_err("a number").to_string().contains("a list of tags or a comma-separated string"));
    }

    #[test]
    fn tags_arrive_as_a_list_or_a_comma_separated_string() {
        assert_eq!(
            parse_tags(&TagsInput::Text(" Premium, tech,,premium ".into())),
            Ok(vec!["premium".into(), "tech".into()])
        );
        assert_eq!(parse_tags(&TagsInput::List(vec!["VIP".into()])), Ok(vec!["vip".into()]));
        assert!(parse_tags(&TagsInput::Text("x".repeat(41))).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&TagsInput::List(many)).is_err());
    }

    #[test]
    fn create_needs_a_name_and_a_contact_and_generates_the_username() {
        let create =
            |body: Value| input(body).create(&ctx(&[], Writer::Staff), Timestamp::now(), ValidationErrors::new());
        let errors = create(json!({"city": "Lusaka"})).expect_err("bad");
        assert_eq!(fields_of(&errors), ["phone", "email", "first_name"]);
        let created = create(json!({"name": "Zoë Núñez", "email": "zoe@example.com", "tags": "a,b"})).expect("valid");
        assert_eq!(created.username.as_str(), "zoenunez");
        assert_eq!(created.tags, ["a", "b"]);
        let errors =
            create(json!({"name": "Ann", "email": "a@example.com", "username": "not valid!"})).expect_err("bad");
        assert_eq!(fields_of(&errors), ["username"]);
    }
}
