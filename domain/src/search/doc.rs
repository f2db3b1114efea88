//! What every index entry carries about its customer, and whether it matches a request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::request::SearchRequest;
use super::{MAX_NAME_WORDS, MIN_PHONE_FRAGMENT, custom_value_text, digits_of, fold, words_of};
use crate::customer::{Customer, CustomerStatus};

/// The folded, slowly changing attributes of a customer that search filters and sorts on.
/// Volatile values (`last_login_at`, activity counters) are left out on purpose: they change
/// on every login or transaction, and every entry of the customer repeats this document.
///
/// Stored under one-letter keys: every entry repeats the document and a search reads hundreds
/// of entries, so the names would be a sixth of what it pays for. The long names are accepted
/// when reading (entries written before the short ones, until `search-index reindex`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchDoc {
    #[serde(rename = "i", alias = "id")]
    pub id: String,
    #[serde(rename = "f", alias = "first")]
    pub first: String,
    #[serde(rename = "l", alias = "last")]
    pub last: String,
    #[serde(rename = "u", alias = "username")]
    pub username: String,
    #[serde(rename = "e", alias = "email", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 digits, without the `+`.
    #[serde(rename = "p", alias = "phone", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(rename = "s", alias = "status")]
    pub status: CustomerStatus,
    #[serde(rename = "v", alias = "verified")]
    pub verified: bool,
    #[serde(rename = "n", alias = "country", default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(rename = "r", alias = "state", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(rename = "y", alias = "city", default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(rename = "o", alias = "company", default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(rename = "t", alias = "tags", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Unix milliseconds.
    #[serde(rename = "c", alias = "created")]
    pub created: i64,
    /// Custom field values in their folded text form (`gold`, `42`, `true`).
    #[serde(rename = "x", alias = "custom", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
}

/// Up to `MAX_NAME_WORDS` words of a name.
pub fn name_words(name: &str) -> Vec<String> {
    words_of(&fold(name)).into_iter().take(MAX_NAME_WORDS).collect()
}

fn folded_option(text: Option<&String>) -> Option<String> {
    text.map(|t| fold(t)).filter(|t| !t.is_empty())
}

impl SearchDoc {
    pub fn of(customer: &Customer) -> Self {
        Self {
            id: customer.customer_id.as_str().to_string(),
            first: fold(&customer.first_name),
            last: fold(&customer.last_name),
            username: fold(customer.username.as_str()),
            email: customer.email.as_ref().map(|e| fold(e.as_str())),
            phone: customer.phone.as_ref().map(|p| digits_of(p.as_str())),
            status: customer.status,
            verified: customer.is_verified(),
            country: folded_option(customer.country.as_ref()),
            state: folded_option(customer.state.as_ref()),
            city: folded_option(customer.city.as_ref()),
            company: folded_option(customer.company_name.as_ref()),
            tags: customer.tags.clone(),
            created: customer.created_millis(),
            custom: customer
                .custom_fields
                .iter()
                .filter_map(|(key, value)| custom_value_text(value).map(|text| (key.clone(), text)))
                .collect(),
        }
    }

    /// Every word a query word may prefix-match: the name words, the email, the username and
    /// the customer id.
    pub fn words(&self) -> Vec<String> {
        let mut words = name_words(&self.first);
        for word in name_words(&self.last) {
            if !words.contains(&word) {
                words.push(word);
            }
        }
        for whole in [self.email.as_deref(), Some(self.username.as_str()), Some(&fold(&self.id))].into_iter().flatten()
        {
            if !words.iter().any(|w| w == whole) {
                words.push(whole.to_string());
            }
        }
        words
    }

    /// The phone's digit suffixes of at least `MIN_PHONE_FRAGMENT` digits: a fragment found
    /// anywhere in the phone is the start of one of them.
    pub fn phone_suffixes(&self) -> Vec<String> {
        let Some(digits) = &self.phone else { return Vec::new() };
        (0..digits.len().saturating_sub(MIN_PHONE_FRAGMENT - 1)).map(|start| digits[start..].to_string()).collect()
    }

    /// Whether a query word matches: the start of one of the words, or (three digits or more)
    /// found in the phone.
    pub fn matches_word(&self, word: &str, words: &[String]) -> bool {
        words.iter().any(|w| w.starts_with(word))
            || (word.len() >= MIN_PHONE_FRAGMENT
                && word.bytes().all(|b| b.is_ascii_digit())
                && self.phone.as_deref().is_some_and(|p| p.contains(word)))
    }

    /// Whether the customer matches every criterion of `request` this document can answer:
    /// all of them but the group and the last login, which the caller checks.
    pub fn matches(&self, request: &SearchRequest) -> bool {
        let words = if request.words.is_empty() { Vec::new() } else { self.words() };
        let prefix = |field: &Option<String>, wanted: &Option<String>| match wanted {
            None => true,
            Some(wanted) => field.as_deref().is_some_and(|f| f.starts_with(wanted.as_str())),
        };
        let exact = |field: &Option<String>, wanted: &Option<String>| match wanted {
            None => true,
            Some(wanted) => field.as_deref() == Some(wanted.as_str()),
        };
        request.words.iter().all(|w| self.matches_word(w, &words))
            && request.first_name.as_ref().is_none_or(|w| self.first.starts_with(w.as_str()))
            && request.last_name.as_ref().is_none_or(|w| self.last.starts_with(w.as_str()))
            && prefix(&self.email, &request.email)
            && prefix(&self.company, &request.company_name)
            && request.phone.as_ref().is_none_or(|d| self.phone.as_deref().is_some_and(|p| p.contains(d.as_str())))
            && exact(&self.city, &request.city)
            && exact(&self.state, &request.state)
            && exact(&self.country, &request.country)
            && request.statuses.as_ref().is_none_or(|statuses| statuses.contains(&self.status))
            && request.verified.is_none_or(|v| v == self.verified)
            && request.tags.iter().all(|t| self.tags.contains(t))
            && request.created_after.is_none_or(|at| self.created >= at * 1000)
            && request.created_before.is_none_or(|at| self.created < at * 1000)
            && request.custom.iter().all(|(key, value)| self.custom.get(key) == Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, Username};
    use crate::time::Timestamp;
    use crate::{EmailAddress, PhoneE164};

    fn customer() -> Customer {
        let mut c = Customer::new(
            CustomerId::parse("CUST_1A2B3C4D").expect("id"),
            Username::base("José", "Ñúñez O'Brien"),
            ("José María".into(), "Ñúñez O'Brien".into()),
            Timestamp::from_unix(1_700_000_000),
        );
        c.email = Some(EmailAddress::parse("Jose@Example.com").expect("email"));
        c.phone = Some(PhoneE164::parse("+260971234567", phonenumber::country::Id::ZM).expect("phone"));
        c.city = Some(" Lusaka ".into());
        c
    }

    #[test]
    fn a_document_holds_folded_words_and_phone_suffixes() {
        let doc = SearchDoc::of(&customer());
        assert_eq!(doc.first, "jose maria");
        assert_eq!(doc.city.as_deref(), Some("lusaka"));
        let words = doc.words();
        for expected in ["jose", "maria", "nunez", "obrien", "jose@example.com", "cust_1a2b3c4d"] {
            assert!(words.contains(&expected.to_string()), "{expected} in {words:?}");
        }
        let suffixes = doc.phone_suffixes();
        assert_eq!(suffixes.first().map(String::as_str), Some("260971234567"));
        assert_eq!(suffixes.last().map(String::as_str), Some("567"));
        assert_eq!(suffixes.len(), 10);
    }

    #[test]
    fn query_words_match_word_starts_and_phone_fragments() {
        let doc = SearchDoc::of(&customer());
        let words = doc.words();
        assert!(doc.matches_word("nun", &words));
        assert!(doc.matches_word("1234", &words), "digits inside the phone");
        assert!(!doc.matches_word("unez", &words), "only word starts");
        assert!(!doc.matches_word("12", &words), "two digits are too few for the phone");
        assert!(doc.matches_word("cust_1a", &words));
    }
}
