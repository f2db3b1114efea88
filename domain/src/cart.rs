//! Carts: lines keyed by product, the rules for setting and merging them, and guest tokens.
//!
//! A cart is stored as ONE item (see `store::carts`), so every bound here also bounds the item:
//! at most 100 lines of at most ~1.3 KB each keeps the worst case near 130 KB, far below
//! DynamoDB's 400 KB item limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::CustomerId;
use super::ids::random_token;
use super::validation::{ValidationErrors, bounded_text};
use crate::time::Timestamp;

/// Distinct products in one cart.
pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i64 = 999;
/// Minor units; far above any real price, low enough that sums never overflow.
pub const MAX_UNIT_PRICE: i64 = 1_000_000_000_000;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_ATTRIBUTES: usize = 10;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 40;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 100;
/// UTF-8 bytes of a line's name plus its attribute keys and values: what bounds the item size
/// whatever the script of the text.
pub const MAX_LINE_TEXT_BYTES: usize = 1024;
/// Guest carts expire this long after their last change.
pub const GUEST_CART_TTL_SECONDS: i64 = 30 * 86_400;

/// 1–64 characters of `[A-Za-z0-9._:-]`: safe in a path segment and as a map key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductId(String);

impl ProductId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, String> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
        if input.is_empty() || input.len() > Self::MAX_CHARS || !input.bytes().all(allowed) {
            return Err(format!("must be 1 to {} characters of A-Z, a-z, 0-9, '.', '_', ':', '-'", Self::MAX_CHARS));
        }
        Ok(Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The credential of a guest cart: 32 bytes from the CSPRNG, URL-safe base64 without padding.
/// Only its SHA-256 is stored, so a leaked table hands out no carts.
#[derive(Clone, PartialEq, Eq)]
pub struct GuestToken(String);

impl GuestToken {
    const ENCODED_LEN: usize = 43;

    pub fn generate() -> Self {
        Self(random_token(32))
    }

    /// `None` for anything that cannot be a token we issued.
    pub fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        let valid = input.len() == Self::ENCODED_LEN
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256 of the token: the key of its cart. A token is 256 random bits, so a plain
    /// hash (no salt, no key) cannot be reversed by guessing.
    pub fn key_hash(&self) -> String {
        crate::ids::hex(&Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for GuestToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuestToken(******)")
    }
}

/// Whose cart: a customer (by the bearer token) or a guest (by `X-Guest-Token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    Customer(CustomerId),
    Guest(GuestToken),
}

impl CartOwner {
    pub fn kind(&self) -> &'static str {
        match self {
            CartOwner::Customer(_) => "customer",
            CartOwner::Guest(_) => "guest",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    pub added_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a `PUT` sets on a line, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub quantity: i64,
    pub unit_price: Option<i64>,
    pub name: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// A cart as stored. `version` 0 means "not stored yet"; every write adds one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    // Empty maps are left out of stored items: DynamoDB Local's stream writes an empty map in
    // a shape the SDK cannot read (`{}` instead of `{"M":{}}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lines: BTreeMap<ProductId, CartLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub version: u64,
}

impl Cart {
    /// Sets the line for `product`: quantity, price, name and attributes are replaced; a line
    /// already there keeps its `added_at`. A 101st distinct product is refused.
    pub fn set_line(&mut self, product: ProductId, spec: LineSpec, now: Timestamp) -> Result<(), ValidationErrors> {
        if !self.lines.contains_key(&product) && self.lines.len() >= MAX_LINES {
            return Err(ValidationErrors::single("product_id", format!("a cart holds at most {MAX_LINES} products")));
        }
        let added_at = self.lines.get(&product).map_or(now, |line| line.added_at);
        let line = CartLine {
            quantity: spec.quantity,
            unit_price: spec.unit_price,
            name: spec.name,
            attributes: spec.attributes,
            added_at,
            updated_at: now,
        };
        self.lines.insert(product, line);
        self.updated_at = Some(now);
        Ok(())
    }

    /// Removes the line; `false` when the product was not in the cart.
    pub fn remove_line(&mut self, product: &ProductId, now: Timestamp) -> bool {
        let removed = self.lines.remove(product).is_some();
        if removed {
            self.updated_at = Some(now);
        }
        removed
    }

    pub fn clear(&mut self, now: Timestamp) {
        self.lines.clear();
        self.updated_at = Some(now);
    }

    /// This cart with `guest`'s lines moved in: quantities of the same product add up (capped at
    /// 999); the line already here keeps its price, name and attributes (filled in from the
    /// guest line where it has none) and the earlier `added_at`. Refused, with nothing merged,
    /// when the result would hold more than 100 products: dropping lines the user chose
    /// without asking is worse than letting the client ask which ones to remove.
    pub fn absorb(&self, guest: &Cart, now: Timestamp) -> Result<Cart, ValidationErrors> {
        let mut merged = self.clone();
        for (product, incoming) in &guest.lines {
            let line = match merged.lines.get(product) {
                Some(mine) => CartLine {
                    quantity: (mine.quantity + incoming.quantity).min(MAX_QUANTITY),
                    unit_price: mine.unit_price.or(incoming.unit_price),
                    name: mine.name.clone().or_else(|| incoming.name.clone()),
                    attributes: if mine.attributes.is_empty() {
                        incoming.attributes.clone()
                    } else {
                        mine.attributes.clone()
                    },
                    added_at: mine.added_at.min(incoming.added_at),
                    updated_at: now,
                },
                None => CartLine { updated_at: now, ..incoming.clone() },
            };
            merged.lines.insert(product.clone(), line);
        }
        if merged.lines.len() > MAX_LINES {
            return Err(ValidationErrors::single(
                "guest_token",
                format!(
                    "together the two carts would hold {} products, and a cart holds at most {MAX_LINES}; \
                     remove some lines from either cart first",
                    merged.lines.len()
                ),
            ));
        }
        merged.updated_at = Some(now);
        Ok(merged)
    }

    /// Units in the cart (the sum of the quantities), as a cart badge shows it.
    pub fn item_count(&self) -> i64 {
        self.lines.values().map(|line| line.quantity).sum()
    }

    /// The API representation; lines in the order they were added.
    pub fn to_json(&self, owner: &CartOwner) -> Value {
        let mut lines: Vec<(&ProductId, &CartLine)> = self.lines.iter().collect();
        lines.sort_by(|a, b| (a.1.added_at, a.0).cmp(&(b.1.added_at, b.0)));
        let items: Vec<Value> = lines
            .into_iter()
            .map(|(product, line)| {
                json!({
                    "product_id": product,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "name": line.name,
                    "attributes": line.attributes,
                    "added_at": line.added_at,
                    "updated_at": line.updated_at,
                })
            })
            .collect();
        json!({
            "owner": owner.kind(),
            "items": items,
            "item_count": self.item_count(),
            "updated_at": self.updated_at,
        })
    }
}

/// The body of `PUT /v1/cart/items/{product_id}`. Values stay raw JSON so that every bad field
/// gets a message in the API's words, all in one 422.
#[derive(Debug, Default, Deserialize)]
pub struct LineInput {
    #[serde(default)]
    pub quantity: Option<Value>,
    #[serde(default)]
    pub unit_price: Option<Value>,
    #[serde(default)]
    pub name: Option<Value>,
    #[serde(default)]
    pub attributes: Option<Value>,
}

impl crate::JsonBody for LineInput {
    const FIELDS: &'static [&'static str] = &["quantity", "unit_price", "name", "attributes"];
}

impl LineInput {
    /// The product (from the path) and the line, or every problem with both.
    pub fn validate(self, product_id: &str) -> Result<(ProductId, LineSpec), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let product = errors.check("product_id", ProductId::parse(product_id));
        let quantity = errors.check("quantity", quantity(self.quantity.as_ref()));
        let unit_price = errors.check("unit_price", unit_price(self.unit_price.as_ref()));
        let name = errors.check("name", name(self.name.as_ref()));
        let attributes = errors.check("attributes", attributes(self.attributes.as_ref()));
        if let (Some(name), Some(attributes)) = (&name, &attributes) {
            let bytes =
                name.as_ref().map_or(0, String::len) + attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
            if bytes > MAX_LINE_TEXT_BYTES {
                let field = if attributes.is_empty() { "name" } else { "attributes" };
                errors.add(field, format!("name and attributes together must fit in {MAX_LINE_TEXT_BYTES} bytes"));
            }
        }
        match (product, quantity, unit_price, name, attributes) {
            (Some(product), Some(quantity), Some(unit_price), Some(name), Some(attributes)) if errors.is_empty() => {
                Ok((product, LineSpec { quantity, unit_price, name, attributes }))
            }
            _ => Err(errors),
        }
    }
}

fn quantity(value: Option<&Value>) -> Result<i64, String> {
    let message = || format!("must be a whole number from 1 to {MAX_QUANTITY}");
    let value = value.ok_or("is required")?;
    match value.as_i64() {
        Some(n) if (1..=MAX_QUANTITY).contains(&n) => Ok(n),
        _ => Err(message()),
    }
}

fn unit_price(value: Option<&Value>) -> Result<Option<i64>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.as_i64() {
        Some(n) if n < 0 => Err("must not be negative".into()),
        Some(n) if n <= MAX_UNIT_PRICE => Ok(Some(n)),
        Some(_) => Err(format!("must be at most {MAX_UNIT_PRICE}")),
        None => Err("must be a whole number of minor units (e.g. 1999 for 19.99)".into()),
    }
}

fn name(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) => bounded_text(text, MAX_NAME_CHARS).map(Some),
        Some(_) => Err("must be a string".into()),
    }
}

fn attributes(value: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    let object: &Map<String, Value> = match value {
        None => return Ok(BTreeMap::new()),
        Some(Value::Object(object)) => object,
        Some(_) => return Err("must be an object of string values".into()),
    };
    if object.len() > MAX_ATTRIBUTES {
        return Err(format!("must have at most {MAX_ATTRIBUTES} entries"));
    }
    let mut attributes = BTreeMap::new();
    for (key, value) in object {
        let key_ok =
            !key.is_empty() && key.chars().count() <= MAX_ATTRIBUTE_KEY_CHARS && !key.chars().any(char::is_control);
        if !key_ok {
            return Err(format!("keys must be 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters"));
        }
        let Value::String(text) = value else {
            return Err(format!("{key}: must be a string"));
        };
        if text.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS || text.chars().any(char::is_control) {
            return Err(format!(
                "{key}: must be at most {MAX_ATTRIBUTE_VALUE_CHARS} characters, no control characters"
            ));
        }
        attributes.insert(key.clone(), text.clone());
    }
    Ok(attributes)
}

/// The body of `POST /v1/cart/migrate`.
#[derive(Debug, Deserialize)]
pub struct MigrateInput {
    pub guest_token: String,
}

impl crate::JsonBody for MigrateInput {
    const FIELDS: &'static [&'static str] = &["guest_token"];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix(1_768_473_000 + seconds)
    }

    fn product(id: &str) -> ProductId {
        ProductId::parse(id).expect("valid product id")
    }

    fn spec(quantity: i64) -> LineSpec {
        LineSpec { quantity, unit_price: None, name: None, attributes: BTreeMap::new() }
    }

    fn cart(lines: &[(&str, i64)]) -> Cart {
        let mut cart = Cart::default();
        for (i, (id, quantity)) in lines.iter().enumerate() {
            cart.set_line(product(id), spec(*quantity), at(i as i64)).expect("room");
        }
        cart
    }

    fn quantities(cart: &Cart) -> Vec<(String, i64)> {
        cart.lines.iter().map(|(p, l)| (p.as_str().to_string(), l.quantity)).collect()
    }

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.fields().iter().map(|e| e.field.clone()).collect()
    }

    fn input(body: Value) -> LineInput {
        serde_json::from_value(body).expect("shape")
    }

    #[test]
    fn product_ids_are_short_and_path_safe() {
        assert!(ProductId::parse("SKU-123_a.b:c").is_ok());
        assert!(ProductId::parse(&"a".repeat(64)).is_ok());
        assert!(ProductId::parse(&"a".repeat(65)).is_err());
        assert!(ProductId::parse("").is_err());
        assert!(ProductId::parse("a/b").is_err());
        assert!(ProductId::parse("café").is_err());
    }

    #[test]
    fn guest_tokens_are_256_bit_and_only_their_hash_is_a_key() {
        let token = GuestToken::generate();
        assert_eq!(GuestToken::parse(token.as_str()), Some(token.clone()));
        assert_ne!(GuestToken::generate(), token);
        assert_eq!(token.key_hash().len(), 64);
        assert!(!token.key_hash().contains(token.as_str()));
        assert!(GuestToken::parse("short").is_none());
        assert!(GuestToken::parse(&"*".repeat(43)).is_none());
        assert_eq!(format!("{token:?}"), "GuestToken(******)");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = input(json!({"quantity": 0, "unit_price": -1, "name": "", "attributes": {"size": 5}}));
        let mut named = fields(bad.validate("no spaces").expect_err("invalid"));
        named.sort();
        assert_eq!(named, ["attributes", "name", "product_id", "quantity", "unit_price"]);
    }

    #[test]
    fn quantity_is_a_whole_number_from_1_to_999() {
        for bad in [json!(0), json!(1000), json!("3"), json!(-1), json!(2.5), Value::Null] {
            let body = input(json!({ "quantity": bad }));
            assert_eq!(fields(body.validate("SKU").expect_err("invalid")), ["quantity"], "{bad}");
        }
        let (_, line) = input(json!({"quantity": 999})).validate("SKU").expect("valid");
        assert_eq!(line.quantity, 999);
    }

    #[test]
    fn unit_price_is_a_non_negative_integer() {
        for bad in [json!(-5), json!(19.99), json!("1999")] {
            let body = input(json!({ "quantity": 1, "unit_price": bad }));
            assert_eq!(fields(body.validate("SKU").expect_err("invalid")), ["unit_price"], "{bad}");
        }
        let (_, line) = input(json!({"quantity": 1, "unit_price": 0})).validate("SKU").expect("valid");
        assert_eq!(line.unit_price, Some(0));
        let (_, line) = input(json!({"quantity": 1, "unit_price": null})).validate("SKU").expect("valid");
        assert_eq!(line.unit_price, None);
    }

    #[test]
    fn attributes_are_small_flat_string_maps() {
        let many: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        let nested = json!({"quantity": 1, "attributes": {"size": {"eu": 42}}});
        for bad in [json!({"quantity": 1, "attributes": many}), nested, json!({"quantity": 1, "attributes": [1]})] {
            assert_eq!(fields(input(bad).validate("SKU").expect_err("invalid")), ["attributes"]);
        }
        let big: Map<String, Value> = (0..10).map(|i| (format!("k{i}"), json!("é".repeat(60)))).collect();
        let body = input(json!({"quantity": 1, "attributes": big}));
        assert_eq!(fields(body.validate("SKU").expect_err("too many bytes")), ["attributes"]);
        let ok = input(json!({"quantity": 1, "name": "Mug", "attributes": {"colour": "red"}}));
        let (_, line) = ok.validate("SKU").expect("valid");
        assert_eq!(line.attributes.get("colour").map(String::as_str), Some("red"));
    }

    #[test]
    fn setting_a_line_replaces_it_but_keeps_when_it_was_added() {
        let mut cart = cart(&[("A", 1)]);
        cart.set_line(product("A"), spec(5), at(100)).expect("room");
        let line = &cart.lines[&product("A")];
        assert_eq!((line.quantity, line.added_at, line.updated_at), (5, at(0), at(100)));
        assert_eq!(cart.item_count(), 5);
    }

    #[test]
    fn a_cart_holds_at_most_100_products() {
        let ids: Vec<String> = (0..MAX_LINES).map(|i| format!("P{i}")).collect();
        let mut full = cart(&ids.iter().map(|id| (id.as_str(), 1)).collect::<Vec<_>>());
        let before = full.clone();
        assert!(full.set_line(product("ONE-MORE"), spec(1), at(500)).is_err());
        assert_eq!(full, before);
        full.set_line(product("P0"), spec(2), at(500)).expect("an existing line still changes");
    }

    #[test]
    fn absorbing_adds_quantities_and_caps_them() {
        let customer = cart(&[("A", 1), ("C", 998)]);
        let guest = cart(&[("A", 2), ("B", 1), ("C", 5)]);
        let merged = customer.absorb(&guest, at(50)).expect("fits");
        assert_eq!(quantities(&merged), [("A".into(), 3), ("B".into(), 1), ("C".into(), 999)]);
        assert_eq!(merged.version, customer.version, "the stored version is what the write checks");
    }

    #[test]
    fn absorbing_beyond_100_products_changes_nothing() {
        let mine: Vec<String> = (0..60).map(|i| format!("M{i}")).collect();
        let theirs: Vec<String> = (0..41).map(|i| format!("G{i}")).collect();
        let customer = cart(&mine.iter().map(|id| (id.as_str(), 1)).collect::<Vec<_>>());
        let guest = cart(&theirs.iter().map(|id| (id.as_str(), 1)).collect::<Vec<_>>());
        assert_eq!(fields(customer.absorb(&guest, at(9)).expect_err("101 products")), ["guest_token"]);
        let shared: Vec<(&str, i64)> = mine.iter().take(40).map(|id| (id.as_str(), 1)).collect();
        assert!(customer.absorb(&cart(&shared), at(9)).is_ok(), "shared products do not count twice");
    }

    #[test]
    fn json_lists_lines_in_the_order_they_were_added() {
        let cart = cart(&[("Z", 1), ("A", 2)]);
        let body = cart.to_json(&CartOwner::Guest(GuestToken::generate()));
        assert_eq!(body["owner"], "guest");
        assert_eq!(body["items"][0]["product_id"], "Z");
        assert_eq!(body["items"][1]["unit_price"], Value::Null);
        assert_eq!(body["item_count"], 3);
    }
}
