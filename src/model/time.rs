//! Event time: microseconds since the Unix epoch, UTC.
//!
//! Microseconds keep SenML's fractional seconds and match PostgreSQL's `timestamptz`
//! resolution, so a reading's identity (sensor, metric, time) is the same in both stores.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// In JSON a timestamp is an RFC 3339 string in UTC with microseconds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

impl Timestamp {
    pub const fn from_micros(us: i64) -> Self {
        Self(us)
    }
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms.saturating_mul(1000))
    }
    /// Seconds (possibly fractional) since the epoch; `None` if not finite or out of range.
    pub fn from_secs_f64(s: f64) -> Option<Self> {
        let us = (s * 1e6).round();
        (us.is_finite() && us.abs() < 9.0e18).then_some(Self(us as i64))
    }
    pub const fn micros(self) -> i64 {
        self.0
    }
    pub const fn millis(self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub fn to_chrono(self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp_micros(self.0)
    }
    pub fn from_chrono(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self(t.timestamp_micros())
    }
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Self(t.timestamp_micros()))
    }
    pub fn to_rfc3339(self) -> String {
        match self.to_chrono() {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            None => self.0.to_string(),
        }
    }
    pub const fn saturating_add_micros(self, us: i64) -> Self {
        Self(self.0.saturating_add(us))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("RFC 3339 time in UTC, microseconds"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_rfc3339_with_micros_and_round_trips() {
        let t = Timestamp::from_micros(1_764_000_000_123_456);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2025-11-24T16:00:00.123456Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
