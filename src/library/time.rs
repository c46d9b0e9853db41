//! Instants are kept as milliseconds since the epoch (like every other table)
//! and shown to people as RFC 3339.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Parses an RFC 3339 date-time, or a date (`2027-01-31`, meaning 00:00 UTC that day).
pub fn parse(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

pub fn format(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `#[serde(with = "time::rfc3339")]` for millisecond fields.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not an RFC 3339 date-time")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_accepts_dates() {
        let t = super::parse("2027-01-31T12:00:00Z").unwrap();
        assert_eq!(super::format(t), "2027-01-31T12:00:00.000Z");
        assert_eq!(super::parse("2027-01-31").unwrap(), t - 12 * 3600 * 1000);
        assert!(super::parse("31/01/2027").is_none());
    }
}
