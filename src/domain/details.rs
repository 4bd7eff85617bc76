//! An event's `details`: any JSON object that both stores can keep. Its values come back as
//! sent, numbers at their full precision; their notation may not (keys come back sorted,
//! PostgreSQL writes `1E2` as `100` and SQLite as `1e+2`).

use serde_json::{Map, Value};

use super::Invalid;

/// Most digits a number in details may have once written out without an exponent, before and
/// after its decimal point together (zeros written after the point count). PostgreSQL keeps
/// JSON numbers as `numeric`, written out so: `1e99` is stored and sent back as 100 digits,
/// `0e-16383` as 16,384, and past 131,072 digits before the point or 16,383 after it the write
/// fails; SQLite keeps the text. The bound keeps what PostgreSQL stores within 25 times what
/// was sent (as f64, before numbers kept their digits, `1e308` was 309 digits), and holds every
/// 128-bit integer and a price with 60 decimals.
const MOST_DIGITS: i64 = 100;

/// Largest exponent a number in details may be written with, either way. PostgreSQL fails on
/// an exponent past about a billion even on a zero (`0e2147483648`).
const MOST_EXPONENT: i64 = 1000;

/// Whether both stores can keep `details` as sent: no NUL character (PostgreSQL's text and
/// JSON refuse it) and no number past [`MOST_DIGITS`] or [`MOST_EXPONENT`].
pub fn check_details(details: &Map<String, Value>) -> Result<(), Invalid> {
    details
        .iter()
        .try_for_each(|(key, value)| check_text(key).and_then(|()| check_value(value)))
}

fn check_text(text: &str) -> Result<(), Invalid> {
    match text.contains('\0') {
        true => Err(Invalid::new("must not contain NUL characters")),
        false => Ok(()),
    }
}

fn check_value(value: &Value) -> Result<(), Invalid> {
    match value {
        Value::String(text) => check_text(text),
        Value::Array(items) => items.iter().try_for_each(check_value),
        Value::Object(map) => check_details(map),
        Value::Number(number) => check_number(&number.to_string()),
        _ => Ok(()),
    }
}

/// Whether `a` and `b` hold the same values, whatever the notation of their numbers: what a
/// store gives back (PostgreSQL writes `1E2` as `100`, `-0` as `0`) is the same as what was
/// sent.
pub fn same_details(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.to_string(), b.to_string());
            match (Written::parse(&a), Written::parse(&b)) {
                (Some(a), Some(b)) => a.same_value(&b),
                _ => a == b,
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_details(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| same_details(a, b)))
        }
        (a, b) => a == b,
    }
}

/// A JSON number as written (serde_json keeps it so, with `arbitrary_precision`): its digits
/// from the first that is not zero, its exponent, and where they put the decimal point.
struct Written {
    negative: bool,
    digits: String,
    /// Digits after the point as PostgreSQL writes them out, trailing zeros included; negative
    /// when the exponent moves the point past the last digit (`1e3`: -3).
    scale: i64,
    exponent: i64,
}

impl Written {
    /// `None` when the exponent is past an i64.
    fn parse(text: &str) -> Option<Self> {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
            None => (unsigned, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: String = whole.chars().chain(fraction.chars()).collect();
        Some(Self {
            negative: text.starts_with('-'),
            digits: digits.trim_start_matches('0').to_owned(),
            scale: (fraction.len() as i64).saturating_sub(exponent),
            exponent,
        })
    }

    /// Digits of the number written out: before the point (none for a zero or a fraction)
    /// and after it.
    fn written_out(&self) -> i64 {
        let before = match self.digits.is_empty() {
            true => 0,
            false => (self.digits.len() as i64).saturating_sub(self.scale),
        };
        before.max(0).saturating_add(self.scale.max(0))
    }

    /// Equal values: the same digits once trailing zeros are dropped, the point at the same
    /// place, the same sign (a zero has none: PostgreSQL drops the sign of `-0`).
    fn same_value(&self, other: &Written) -> bool {
        let significant = |n: &Written| {
            let digits = n.digits.trim_end_matches('0');
            // Where the point stands among the digits; trailing zeros do not move it.
            let point = (n.digits.len() as i64).saturating_sub(n.scale);
            match digits.is_empty() {
                true => (false, String::new(), 0),
                false => (n.negative, digits.to_owned(), point),
            }
        };
        significant(self) == significant(other)
    }
}

/// Whether the number written `text` is within [`MOST_EXPONENT`] and [`MOST_DIGITS`].
fn check_number(text: &str) -> Result<(), Invalid> {
    let within = |exponent: i64| exponent.unsigned_abs() <= MOST_EXPONENT.unsigned_abs();
    match Written::parse(text) {
        Some(number) if within(number.exponent) && number.written_out() <= MOST_DIGITS => Ok(()),
        Some(number) if within(number.exponent) => Err(Invalid::new(format!(
            "numbers must have at most {MOST_DIGITS} digits when written without an exponent"
        ))),
        _ => Err(Invalid::new(format!(
            "numbers must have an exponent between -{MOST_EXPONENT} and {MOST_EXPONENT}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(text: &str) -> Result<(), Invalid> {
        let value: Value = serde_json::from_str(text).expect("JSON");
        check_details(value.as_object().expect("an object"))
    }

    #[test]
    fn numbers_of_at_most_a_hundred_digits_written_out_are_kept() {
        let wide = format!("1{}", "0".repeat(99));
        let fine = format!("0.{}1", "0".repeat(98));
        for number in [
            "7",
            "-0",
            "-0.0",
            "1E+2",
            "123456789012345678901234567890",
            "340282366920938463463374607431768211455",
            "0.100000000000000000000000000001",
            "1e99",
            "1e-99",
            "0.5e100",
            "1000e-96",
            "0e1000",
            "0e-99",
            wide.as_str(),
            fine.as_str(),
        ] {
            assert_eq!(check(&format!(r#"{{"n": {number}}}"#)), Ok(()), "{number}");
        }
    }

    #[test]
    fn numbers_past_a_hundred_digits_or_an_exponent_of_a_thousand_are_refused() {
        const DIGITS: &str =
            "numbers must have at most 100 digits when written without an exponent";
        const EXPONENT: &str = "numbers must have an exponent between -1000 and 1000";
        let wide = format!("1{}", "0".repeat(100));
        let fine = format!("0.{}1", "0".repeat(100));
        let zeros = format!("1.{}", "0".repeat(100));
        for (number, why) in [
            ("1e100", DIGITS),
            ("1e-101", DIGITS),
            ("0e-101", DIGITS),
            ("0.5e101", DIGITS),
            ("1000e-101", DIGITS),
            (wide.as_str(), DIGITS),
            (fine.as_str(), DIGITS),
            (zeros.as_str(), DIGITS),
            // Even on a zero: PostgreSQL fails on `0e2147483648`.
            ("0e1001", EXPONENT),
            ("0e-16384", EXPONENT),
            ("0e2147483648", EXPONENT),
            ("0e99999999999999999999", EXPONENT),
            ("-1e99999999999999999999", EXPONENT),
            ("1e-9223372036854775808", EXPONENT),
            ("1e1000000", EXPONENT),
            ("123456789e-140000", EXPONENT),
        ] {
            let refused = check(&format!(r#"{{"n": [{{"deep": {number}}}]}}"#));
            assert_eq!(refused.expect_err(number).0, why, "{number}");
        }
    }

    #[test]
    fn nul_characters_are_refused_in_keys_and_values_at_any_depth() {
        for details in [
            json!({"k\0": 1}),
            json!({"k": "v\0"}),
            json!({"k": ["ok", {"n\0": true}]}),
        ] {
            let refused = check_details(details.as_object().expect("an object"));
            assert_eq!(refused.unwrap_err().0, "must not contain NUL characters");
        }
        assert_eq!(
            check_details(json!({"k": ["ok", 1]}).as_object().unwrap()),
            Ok(())
        );
    }

    #[test]
    fn details_are_the_same_whatever_the_notation_of_their_numbers() {
        let same = |a: &str, b: &str| {
            let a: Value = serde_json::from_str(a).expect("JSON");
            let b: Value = serde_json::from_str(b).expect("JSON");
            same_details(&a, &b)
        };
        for (a, b) in [
            (r#"{"n": 1E+2}"#, r#"{"n": 100}"#),
            (r#"{"n": -0}"#, r#"{"n": 0.0}"#),
            (r#"{"n": 0e5}"#, r#"{"n": 0}"#),
            (r#"{"n": 1e-3}"#, r#"{"n": 0.0010}"#),
            (
                r#"{"n": [1.50, {"m": 12e1}]}"#,
                r#"{"n": [1.5, {"m": 120}]}"#,
            ),
            (r#"{"a": 1, "b": "x"}"#, r#"{"b": "x", "a": 1}"#),
        ] {
            assert!(same(a, b), "{a} = {b}");
        }
        for (a, b) in [
            (r#"{"n": 1E+2}"#, r#"{"n": 10}"#),
            (r#"{"n": -1}"#, r#"{"n": 1}"#),
            (r#"{"n": 0.1}"#, r#"{"n": 1}"#),
            (r#"{"n": 1}"#, r#"{"n": "1"}"#),
            (r#"{"n": [1]}"#, r#"{"n": [1, 1]}"#),
            (r#"{"a": 1}"#, r#"{"a": 1, "b": 1}"#),
            (
                r#"{"n": 123456789012345678901}"#,
                r#"{"n": 123456789012345678902}"#,
            ),
        ] {
            assert!(!same(a, b), "{a} != {b}");
        }
    }
}
