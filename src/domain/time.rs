//! Timestamps: UTC, whole seconds, written `YYYY-MM-DDTHH:MM:SS` on the wire.

use std::sync::LazyLock;

use chrono::format::{self, Item, Parsed, StrftimeItems};
use chrono::{Datelike, NaiveDateTime, SubsecRound, Timelike, Utc};

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
/// Milliseconds on a monotonic clock that starts at 1 on its first reading in the process:
/// for deadlines and windows kept in atomics, where an `Instant` does not fit.
pub fn monotonic_millis() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}

pub fn parse_csv_timestamp(raw: &str) -> Result<Timestamp, super::Invalid> {
    let text = raw.trim();
    // chrono's parser is lenient where the contract is not: it takes one-digit fields, a sign
    // before the year, years past 9999, several spaces for one and a leap second ("23:59:60").
    // Each of those gave a time that one backend stored and the other refused or changed.
    has_layout_shape(text)
        .then(|| parse_as(text, &CSV_LAYOUT).or_else(|| parse_as(text, &WIRE_LAYOUT)))
        .flatten()
        .filter(|at| at.year() >= 1 && at.and_utc().timestamp_subsec_nanos() == 0)
        .ok_or_else(|| super::Invalid::new(format!("'{raw}' is not a YYYY-MM-DD HH:MM:SS time")))
}

/// `YYYY-MM-DD HH:MM:SS` (or `T` between date and time) in ASCII digits, nothing more.
fn has_layout_shape(text: &str) -> bool {
    text.len() == 19
        && text.bytes().enumerate().all(|(at, byte)| match at {
            4 | 7 => byte == b'-',
            10 => byte == b' ' || byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        })
}

fn parse_as(raw: &str, layout: &[Item<'_>]) -> Option<Timestamp> {
    let mut parsed = Parsed::new();
    format::parse(&mut parsed, raw, layout.iter()).ok()?;
    parsed.to_naive_datetime_with_offset(0).ok()
}

/// `value` as SQLite stores a time, `YYYY-MM-DD HH:MM:SS`: the text sqlx writes for a time with
/// no fraction of a second, which every stored time has ([`now`] cuts it off). The digits are
/// written directly: chrono's formatter took 2,200 instructions a time even with the layout
/// read once, a sixth of what the click writer spent on a click (docs/bottlenecks.md #15).
pub fn sqlite_text(value: &Timestamp) -> String {
    let year = value.year();
    if !(0..=9999).contains(&year) {
        return value.format_with_items(CSV_LAYOUT.iter()).to_string();
    }
    let mut text = String::with_capacity(19);
    let year = year as u32;
    push_two_digits(&mut text, year / 100);
    push_two_digits(&mut text, year % 100);
    for (separator, part) in [
        ('-', value.month()),
        ('-', value.day()),
        (' ', value.hour()),
        (':', value.minute()),
        (':', value.second()),
    ] {
        text.push(separator);
        push_two_digits(&mut text, part);
    }
    text
}

fn push_two_digits(text: &mut String, value: u32) {
    text.push(char::from(b'0' + (value / 10) as u8));
    text.push(char::from(b'0' + (value % 10) as u8));
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
    fn the_sqlite_text_is_what_sqlx_writes() {
        let at = parse_csv_timestamp("2025-06-02 03:04:05").unwrap();
        assert_eq!(sqlite_text(&at), "2025-06-02 03:04:05");
        // Every field's digits, across years of every width, against sqlx's own layout.
        let mut at = parse_csv_timestamp("0001-01-01 00:00:00").unwrap();
        let step = chrono::Duration::seconds(86_400 * 37 + 3_600 * 5 + 60 * 7 + 11);
        for year in [0, 9, 10, 99, 100, 999, 1000, 2026, 9999, 10000, -1] {
            let at = at.with_year(year).unwrap();
            assert_eq!(
                sqlite_text(&at),
                at.format("%F %T%.f").to_string(),
                "{at:?}"
            );
        }
        while at.year() < 10_000 {
            assert_eq!(
                sqlite_text(&at),
                at.format("%F %T%.f").to_string(),
                "{at:?}"
            );
            at += step;
        }
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
            "2016-12-31 23:59:60",
            "2025-6-1 1:2:3",
            "+2025-06-01 12:00:00",
            "2025-06-01  12:00:00",
            "2025-06-01\t12:00:00",
            "0000-01-01 00:00:00",
            "-0001-01-01 00:00:00",
            "+10000-01-01 00:00:00",
            "2025-06-01 12:00:00.5",
            "2025-06-01T12:00:00Z",
        ] {
            assert!(parse_csv_timestamp(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn now_has_no_fraction() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos(), 0);
    }
}
