//! Timestamps: UTC, whole seconds, written `YYYY-MM-DDTHH:MM:SS` on the wire.

use chrono::{NaiveDateTime, SubsecRound, Utc};

pub type Timestamp = NaiveDateTime;

/// The current UTC time cut to whole seconds, the precision the contract exposes.
pub fn now() -> Timestamp {
    Utc::now().naive_utc().trunc_subsecs(0)
}

/// Parses the `YYYY-MM-DD HH:MM:SS` form of the CSV exports (UTC, no zone).
pub fn parse_csv_timestamp(raw: &str) -> Result<Timestamp, super::Invalid> {
    NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| super::Invalid::new(format!("'{raw}' is not a YYYY-MM-DD HH:MM:SS time")))
}

/// Serde helper writing a [`Timestamp`] the way the contract spells it.
pub mod timestamp_format {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &super::Timestamp, out: S) -> Result<S::Ok, S::Error> {
        out.collect_str(&value.format("%Y-%m-%dT%H:%M:%S"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_timestamps_parse_as_utc_seconds() {
        let parsed = parse_csv_timestamp("2025-06-22 20:54:35").unwrap();
        assert_eq!(
            parsed.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "2025-06-22T20:54:35"
        );
    }

    #[test]
    fn a_timestamp_with_garbage_is_refused() {
        assert!(parse_csv_timestamp("22/06/2025").is_err());
    }

    #[test]
    fn now_has_no_fraction() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos(), 0);
    }
}
