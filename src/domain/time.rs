//! Timestamps: UTC, whole seconds, written `YYYY-MM-DDTHH:MM:SS` on the wire.

use std::sync::LazyLock;

use chrono::format::{self, Item, Parsed, StrftimeItems};
use chrono::{NaiveDateTime, SubsecRound, Utc};

pub type Timestamp = NaiveDateTime;

/// The layouts, read from their strftime spelling once: chrono reads the spelling again on
/// every call that is given it as text, which was a tenth of a million-row import's CPU.
static CSV_LAYOUT: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| layout("%Y-%m-%d %H:%M:%S"));
static WIRE_LAYOUT: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| layout("%Y-%m-%dT%H:%M:%S"));

fn layout(spelling: &'static str) -> Vec<Item<'static>> {
    StrftimeItems::new(spelling).collect()
}

/// The current UTC time cut to whole seconds, the precision the contract exposes.
pub fn now() -> Timestamp {
    Utc::now().naive_utc().trunc_subsecs(0)
}

/// Parses the `YYYY-MM-DD HH:MM:SS` form of the CSV exports (UTC, no zone).
pub fn parse_csv_timestamp(raw: &str) -> Result<Timestamp, super::Invalid> {
    parse_as(raw.trim(), &CSV_LAYOUT)
        .or_else(|| parse_as(raw.trim(), &WIRE_LAYOUT))
        .ok_or_else(|| super::Invalid::new(format!("'{raw}' is not a YYYY-MM-DD HH:MM:SS time")))
}

fn parse_as(raw: &str, layout: &[Item<'_>]) -> Option<Timestamp> {
    let mut parsed = Parsed::new();
    format::parse(&mut parsed, raw, layout.iter()).ok()?;
    parsed.to_naive_datetime_with_offset(0).ok()
}

/// `value` written the way the contract spells it, `YYYY-MM-DDTHH:MM:SS`.
pub fn wire(value: &Timestamp) -> impl std::fmt::Display + '_ {
    value.format_with_items(WIRE_LAYOUT.iter())
}

/// Serde helper writing a [`Timestamp`] the way the contract spells it.
pub mod timestamp_format {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &super::Timestamp, out: S) -> Result<S::Ok, S::Error> {
        out.collect_str(&super::wire(value))
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
    fn the_wire_form_is_read_too() {
        let parsed = parse_csv_timestamp(" 2025-06-22T20:54:35 ").unwrap();
        assert_eq!(wire(&parsed).to_string(), "2025-06-22T20:54:35");
    }

    #[test]
    fn a_timestamp_with_garbage_is_refused() {
        for raw in [
            "22/06/2025",
            "2025-06-22",
            "2025-06-22 20:54:35 extra",
            "2025-02-30 10:00:00",
        ] {
            assert!(parse_csv_timestamp(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn now_has_no_fraction() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos(), 0);
    }
}
