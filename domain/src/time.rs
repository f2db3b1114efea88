//! Timestamps: RFC 3339 in UTC with second precision, as the API contract prints them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_unix(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn from_unix(seconds: i64) -> Self {
        let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self(at)
    }

    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self::from_unix(self.unix().saturating_add(seconds))
    }

    pub fn date(&self) -> time::Date {
        self.0.date()
    }

    pub fn parse(text: &str) -> Option<Self> {
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        Some(Self::from_unix(at.to_offset(UtcOffset::UTC).unix_timestamp()))
    }

    /// `2026-01-15T10:30:00Z`: fixed width, so it also sorts correctly as a string.
    pub fn to_rfc3339(&self) -> String {
        let d = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_utc_with_second_precision() {
        assert_eq!(Timestamp::from_unix(1_768_473_000).to_rfc3339(), "2026-01-15T10:30:00Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let at = Timestamp::parse("2026-01-15T12:30:00+02:00").expect("valid");
        assert_eq!(at.to_rfc3339(), "2026-01-15T10:30:00Z");
        assert!(Timestamp::parse("yesterday").is_none());
    }
}
