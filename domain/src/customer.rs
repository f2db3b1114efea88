//! The customer: the stored record, its JSON view, and the rules for changing it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ids::{CustomerId, Username};
use super::validation::bounded_text;
use super::{EmailAddress, PhoneE164, SignInChannel};
use crate::time::Timestamp;

pub const MAX_NAME: usize = 100;
pub const MAX_ADDRESS_LINE: usize = 200;
pub const MAX_SHORT_TEXT: usize = 100;
pub const MAX_POSTAL_CODE: usize = 20;
/// `&[$before…, the address fields, $after…]`: the lists of a customer's fields in the
/// resource's order (the export's columns, the fields staff write, those a customer writes)
/// take the address from here.
macro_rules! with_address_fields {
    ([$($before:literal),* $(,)?], [$($after:literal),* $(,)?]) => {
        &[
            $($before,)*
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "country",
            $($after,)*
        ]
    };
}
pub(crate) use with_address_fields;

pub const GENDERS: [&str; 5] = ["male", "female", "non_binary", "other", "prefer_not_to_say"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerStatus {
    Active,
    Suspended,
    Banned,
    Deactivated,
    Archived,
}

impl CustomerStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Banned => "banned",
            Self::Deactivated => "deactivated",
            Self::Archived => "archived",
        }
    }

    pub const ALL: [CustomerStatus; 5] =
        [Self::Active, Self::Suspended, Self::Banned, Self::Deactivated, Self::Archived];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// The lifecycle: active → suspended/banned/deactivated/archived; suspended →
    /// active/banned/archived; banned → active/archived; deactivated → active/archived;
    /// archived is final.
    pub fn can_move_to(&self, next: CustomerStatus) -> bool {
        use CustomerStatus::*;
        matches!(
            (self, next),
            (Active, Suspended | Banned | Deactivated | Archived)
                | (Suspended, Active | Banned | Archived)
                | (Banned, Active | Archived)
                | (Deactivated, Active | Archived)
        )
    }

    /// Statuses that end the relationship, which open loans must not be left behind by.
    pub fn closes_account(&self) -> bool {
        matches!(self, Self::Deactivated | Self::Archived)
    }
}

/// What `POST /v1/customers/{id}/activity` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    Transaction,
    LoanOpened,
    LoanClosed,
    Booking,
}

impl ActivityKind {
    pub const NAMES: &'static str = "transaction, loan_opened, loan_closed, booking";

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "transaction" => Some(Self::Transaction),
            "loan_opened" => Some(Self::LoanOpened),
            "loan_closed" => Some(Self::LoanClosed),
            "booking" => Some(Self::Booking),
            _ => None,
        }
    }

    /// The counter attribute it moves.
    pub fn counter(&self) -> &'static str {
        match self {
            Self::Transaction => "total_transactions",
            Self::LoanOpened | Self::LoanClosed => "active_loans",
            Self::Booking => "bookings",
        }
    }

    pub fn delta(&self) -> i64 {
        if *self == Self::LoanClosed { -1 } else { 1 }
    }

    /// What a customer must be for this activity: active, and to close a loan, with one open.
    /// The store's condition is built from it and a refusal is explained by it.
    pub fn requirement(&self) -> ActivityRequirement {
        ActivityRequirement {
            status: CustomerStatus::Active,
            open_loans_at_least: if *self == Self::LoanClosed { 1 } else { 0 },
        }
    }

    /// Why `customer` may not record this activity, if it may not.
    pub fn refusal_for(&self, customer: &Customer) -> Option<ActivityRefusal> {
        let requirement = self.requirement();
        if customer.status != requirement.status {
            return Some(ActivityRefusal::NotActive(customer.status));
        }
        (customer.active_loans < requirement.open_loans_at_least).then_some(ActivityRefusal::NoOpenLoan)
    }
}

/// The state an activity needs its customer in (`ActivityKind::requirement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityRequirement {
    pub status: CustomerStatus,
    pub open_loans_at_least: u64,
}

/// Why an activity is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityRefusal {
    NotActive(CustomerStatus),
    NoOpenLoan,
}

/// A contact a customer can have verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Email,
    Phone,
}

impl ContactKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// The customer has no contact of this kind on file, so it cannot be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoContactOnFile(pub ContactKind);

impl Customer {
    /// The customer with `kind` marked verified; only a contact on file can be.
    pub fn with_contact_verified(&self, kind: ContactKind) -> Result<Customer, NoContactOnFile> {
        let mut next = self.clone();
        match kind {
            ContactKind::Email if self.email.is_some() => next.email_verified = true,
            ContactKind::Phone if self.phone.is_some() => next.phone_verified = true,
            _ => return Err(NoContactOnFile(kind)),
        }
        Ok(next)
    }
}

/// Why a status change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    NotAllowed { from: CustomerStatus, to: CustomerStatus },
    OpenLoans(u64),
}

impl std::fmt::Display for TransitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAllowed { from, to } if from == to => write!(f, "the customer is already {}", from.as_str()),
            Self::NotAllowed { from, to } => {
                write!(f, "a customer cannot move from {} to {}", from.as_str(), to.as_str())
            }
            Self::OpenLoans(count) => write!(f, "the customer has {count} open loan(s)"),
        }
    }
}

/// Who erases a customer, and so which rules the erase is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EraseRule {
    /// A customer's own erase (`DELETE /v1/me`): only while active and with no open loan.
    SelfService,
    /// An admin's hard delete: unconditional.
    Staff,
}

/// A customer as stored. Derived values (`full_name`, `full_address`, `is_active`,
/// `is_verified`) are computed in [`Customer::to_json`], never stored, so they cannot drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub customer_id: CustomerId,
    pub username: Username,
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneE164>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    pub status: CustomerStatus,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub phone_verified: bool,
    #[serde(default)]
    pub marketing_emails: bool,
    #[serde(default)]
    pub marketing_sms: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub custom_fields: Map<String, Value>,
    #[serde(default)]
    pub total_transactions: u64,
    #[serde(default)]
    pub active_loans: u64,
    #[serde(default)]
    pub bookings: u64,
    pub created_at: Timestamp,
    /// The creation time in milliseconds, kept for ordering: customers created within one
    /// second still list in the order they were created. `created_at` (whole seconds) is what
    /// the API shows. Absent on customers written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<i64>,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<Timestamp>,
    /// How the customer last signed up or in (`sms`, `email`, `oidc:<provider>`); stored for
    /// the change event of that write (`domain::events`), not shown by the API. Absent on a
    /// customer staff created who never signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_channel: Option<SignInChannel>,
    pub version: u64,
}

/// Who is looking decides what they see: staff see notes and tags, the customer does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Owner,
}

impl Customer {
    /// A new active customer; the store assigns nothing but what it must (uniqueness).
    pub fn new(id: CustomerId, username: Username, names: (String, String), now: Timestamp) -> Self {
        Self {
            customer_id: id,
            username,
            first_name: names.0,
            last_name: names.1,
            phone: None,
            email: None,
            avatar_url: None,
            address_line1: None,
            address_line2: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            date_of_birth: None,
            gender: None,
            company_name: None,
            tax_id: None,
            status: CustomerStatus::Active,
            email_verified: false,
            phone_verified: false,
            marketing_emails: false,
            marketing_sms: false,
            notes: None,
            tags: Vec::new(),
            custom_fields: Map::new(),
            total_transactions: 0,
            active_loans: 0,
            bookings: 0,
            created_at: now,
            created_ms: None,
            updated_at: now,
            last_login_at: None,
            sign_in_channel: None,
            version: 1,
        }
    }

    /// When the customer was created, in milliseconds (whole seconds for older customers).
    pub fn created_millis(&self) -> i64 {
        self.created_ms.unwrap_or(self.created_at.unix() * 1000)
    }

    pub fn full_name(&self) -> String {
        [self.first_name.as_str(), self.last_name.as_str()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn full_address(&self) -> Option<String> {
        let parts: Vec<&str> =
            [&self.address_line1, &self.address_line2, &self.city, &self.state, &self.postal_code, &self.country]
                .into_iter()
                .filter_map(|part| part.as_deref())
                .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    pub fn is_active(&self) -> bool {
        self.status == CustomerStatus::Active
    }

    /// True when every contact on file is verified.
    pub fn is_verified(&self) -> bool {
        let phone_ok = self.phone.is_none() || self.phone_verified;
        let email_ok = self.email.is_none() || self.email_verified;
        (self.phone.is_some() || self.email.is_some()) && phone_ok && email_ok
    }

    /// Checks a status change against the lifecycle and the open-loan rule.
    pub fn check_transition(&self, next: CustomerStatus) -> Result<(), TransitionError> {
        if !self.status.can_move_to(next) {
            return Err(TransitionError::NotAllowed { from: self.status, to: next });
        }
        if next.closes_account() && self.active_loans > 0 {
            return Err(TransitionError::OpenLoans(self.active_loans));
        }
        Ok(())
    }

    /// The ETag value: the version, quoted as RFC 9110 wants.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    pub fn to_json(&self, audience: Audience) -> Value {
        let mut json = serde_json::json!({
            "customer_id": self.customer_id,
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "full_name": self.full_name(),
            "phone": self.phone,
            "email": self.email,
            "avatar_url": self.avatar_url,
            "address_line1": self.address_line1,
            "address_line2": self.address_line2,
            "city": self.city,
            "state": self.state,
            "postal_code": self.postal_code,
            "country": self.country,
            "full_address": self.full_address(),
            "date_of_birth": self.date_of_birth,
            "gender": self.gender,
            "company_name": self.company_name,
            "tax_id": self.tax_id,
            "status": self.status,
            "is_active": self.is_active(),
            "is_verified": self.is_verified(),
            "email_verified": self.email_verified,
            "phone_verified": self.phone_verified,
            "marketing_emails": self.marketing_emails,
            "marketing_sms": self.marketing_sms,
            "custom_fields": self.custom_fields,
            "total_transactions": self.total_transactions,
            "active_loans": self.active_loans,
            "bookings": self.bookings,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_login_at": self.last_login_at,
            "version": self.version,
        });
        if audience == Audience::Staff
            && let Some(object) = json.as_object_mut()
        {
            object.insert("notes".into(), serde_json::json!(self.notes));
            object.insert("tags".into(), serde_json::json!(self.tags));
        }
        json
    }
}

/// Splits a single `name` into first and last name at the last space: `Mary Ann Lee` →
/// (`Mary Ann`, `Lee`); a single word is a first name with an empty last name.
pub fn split_full_name(name: &str) -> (String, String) {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.split_last() {
        None => (String::new(), String::new()),
        Some((only, [])) => ((*only).to_string(), String::new()),
        Some((last, rest)) => (rest.join(" "), (*last).to_string()),
    }
}

/// Validates a full name as given at signup: 1–100 characters, split into first and last.
pub fn parse_full_name(name: &str) -> Result<(String, String), String> {
    let name = bounded_text(name, MAX_NAME)?;
    Ok(split_full_name(&name))
}

/// A `YYYY-MM-DD` birth date between 1900-01-01 and today.
pub fn parse_date_of_birth(text: &str, today: time::Date) -> Result<String, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), &format).map_err(|_| "must be a date written YYYY-MM-DD".to_string())?;
    if date > today {
        return Err("must not be in the future".into());
    }
    if date.year() < 1900 {
        return Err("must be after 1900-01-01".into());
    }
    Ok(date.format(&format).unwrap_or_default())
}

pub fn parse_gender(text: &str) -> Result<String, String> {
    let value = text.trim().to_ascii_lowercase();
    if GENDERS.contains(&value.as_str()) { Ok(value) } else { Err(format!("must be one of {}", GENDERS.join(", "))) }
}

/// The customer the crate's unit tests start from: John Doe, with a verified Zambian phone.
#[cfg(test)]
pub(crate) fn sample_customer() -> Customer {
    let mut c = Customer::new(
        CustomerId::generate(),
        Username::base("John", "Doe"),
        ("John".into(), "Doe".into()),
        Timestamp::from_unix(1_768_473_000),
    );
    c.phone = Some(PhoneE164::parse("+260971234567", phonenumber::country::Id::ZM).expect("valid"));
    c.phone_verified = true;
    c
}

#[cfg(test)]
mod tests {
    use super::sample_customer as customer;
    use super::*;

    fn today() -> time::Date {
        time::macros::date!(2026 - 11 - 23)
    }

    #[test]
    fn activity_needs_an_active_customer_and_closing_a_loan_an_open_one() {
        let mut c = customer();
        assert_eq!(ActivityKind::Transaction.refusal_for(&c), None);
        assert_eq!(ActivityKind::LoanClosed.refusal_for(&c), Some(ActivityRefusal::NoOpenLoan));
        c.active_loans = 1;
        assert_eq!(ActivityKind::LoanClosed.refusal_for(&c), None);
        c.status = CustomerStatus::Suspended;
        let refused = Some(ActivityRefusal::NotActive(CustomerStatus::Suspended));
        assert_eq!(ActivityKind::Booking.refusal_for(&c), refused);
        assert_eq!(ActivityKind::LoanClosed.requirement().open_loans_at_least, 1);
    }

    #[test]
    fn only_a_contact_on_file_can_be_verified() {
        let c = customer();
        assert!(c.with_contact_verified(ContactKind::Phone).expect("on file").phone_verified);
        assert_eq!(c.with_contact_verified(ContactKind::Email), Err(NoContactOnFile(ContactKind::Email)));
    }

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(split_full_name("  Mary  Ann Lee "), ("Mary Ann".into(), "Lee".into()));
        assert_eq!(split_full_name("Cher"), ("Cher".into(), String::new()));
    }

    #[test]
    fn derived_fields_follow_the_record() {
        let mut c = customer();
        assert!(c.is_verified());
        c.email = Some(EmailAddress::parse("j@example.com").expect("valid"));
        assert!(!c.is_verified(), "an unverified email makes the customer unverified");
        c.city = Some("Lusaka".into());
        c.country = Some("Zambia".into());
        assert_eq!(c.full_address().as_deref(), Some("Lusaka, Zambia"));
        let owner = c.to_json(Audience::Owner);
        assert!(owner.get("notes").is_none() && owner.get("tags").is_none());
        assert_eq!(owner["full_name"], "John Doe");
        assert!(c.to_json(Audience::Staff).get("tags").is_some());
    }

    #[test]
    fn the_lifecycle_allows_exactly_the_listed_moves() {
        use CustomerStatus::*;
        let allowed = [
            (Active, Suspended),
            (Active, Banned),
            (Active, Deactivated),
            (Active, Archived),
            (Suspended, Active),
            (Suspended, Banned),
            (Suspended, Archived),
            (Banned, Active),
            (Banned, Archived),
            (Deactivated, Active),
            (Deactivated, Archived),
        ];
        for from in CustomerStatus::ALL {
            for to in CustomerStatus::ALL {
                assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
        let mut c = customer();
        c.active_loans = 1;
        assert_eq!(c.check_transition(Archived), Err(TransitionError::OpenLoans(1)));
        assert_eq!(c.check_transition(Suspended), Ok(()));
    }

    #[test]
    fn dates_of_birth_are_checked() {
        assert_eq!(parse_date_of_birth("1990-01-15", today()), Ok("1990-01-15".into()));
        assert!(parse_date_of_birth("1990-02-30", today()).is_err());
        assert!(parse_date_of_birth("15/01/1990", today()).is_err());
        assert!(parse_date_of_birth("1899-12-31", today()).is_err());
    }
}
