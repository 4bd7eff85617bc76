//! An event's `details`: any JSON object that both stores can keep. Its values come back as
//! sent, numbers at their full precision; their notation may not (keys come back sorted,
//! PostgreSQL writes `1E2` as `100` and SQLite as `1e+2`).

use serde_json::{Map, Value};

use super::Invalid;

/// Most significant digits a number in details may have before, and after, its decimal point
/// once its exponent is applied, and twice that in its written mantissa. PostgreSQL keeps JSON
/// numbers as `numeric`, which stops at 131,072 digits before the point and 16,383 after
/// (zeros written after the point count), and would fail the write; SQLite keeps the text.
/// Bounds well inside both refuse `1e1000000` or `1.` and 20,000 zeros on either store alike.
const MOST_DIGITS: i64 = 1000;

/// Whether both stores can keep `details` as sent: no NUL character (PostgreSQL's text and
/// JSON refuse it) and no number past [`MOST_DIGITS`].
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
        Value::Number(number) if !number_fits(&number.to_string()) => Err(Invalid::new(format!(
            "numbers must have at most {MOST_DIGITS} digits before and after the decimal point, \
             written in at most {}",
            2 * MOST_DIGITS
        ))),
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
            match (Decimal::parse(&a), Decimal::parse(&b)) {
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

/// A JSON number's value whatever its notation: its significant digits, with no zero at
/// either end, and how many of them stand before the decimal point (negative or past their
/// count when the point lies beyond them). Zero has no digits and no sign: PostgreSQL drops the
/// sign of `-0`.
struct Decimal<'a> {
    negative: bool,
    digits: String,
    before: i64,
    /// The mantissa as written, zeros included.
    written: &'a str,
}

impl<'a> Decimal<'a> {
    /// `text` is a JSON number as written (serde_json keeps it so, with `arbitrary_precision`);
    /// `None` when its exponent is past an i64 and its mantissa not zero.
    fn parse(text: &'a str) -> Option<Self> {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (written, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()),
            None => (unsigned, Some(0)),
        };
        let (whole, fraction) = written.split_once('.').unwrap_or((written, ""));
        let all: String = whole.chars().chain(fraction.chars()).collect();
        let leading = all.len() - all.trim_start_matches('0').len();
        let digits = all[leading..].trim_end_matches('0').to_owned();
        if digits.is_empty() {
            return Some(Self {
                negative: false,
                digits,
                before: 0,
                written,
            });
        }
        let before = (whole.len() as i64)
            .saturating_add(exponent?)
            .saturating_sub(leading as i64);
        Some(Self {
            negative: text.starts_with('-'),
            digits,
            before,
            written,
        })
    }

    fn same_value(&self, other: &Decimal<'_>) -> bool {
        (self.negative, &self.digits, self.before) == (other.negative, &other.digits, other.before)
    }
}

/// Whether the number written `text` is within [`MOST_DIGITS`].
fn number_fits(text: &str) -> bool {
    let Some(number) = Decimal::parse(text) else {
        return false;
    };
    let after = (number.digits.len() as i64).saturating_sub(number.before);
    let written = number.written.chars().filter(char::is_ascii_digit).count() as i64;
    number.before <= MOST_DIGITS && after <= MOST_DIGITS && written <= 2 * MOST_DIGITS
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
    fn numbers_within_a_thousand_digits_either_side_are_kept() {
        let wide = format!("1{}", "0".repeat(999));
        let fine = format!("0.{}1", "0".repeat(999));
        for number in [
            "7",
            "-0.0",
            "1E+2",
            "123456789012345678901234567890",
            "1e999",
            "1e-999",
            "12.5e-998",
            "0.5e1000",
            "100e-1002",
            "0e1000",
            "-0.0e-99999999999999999999",
            wide.as_str(),
            fine.as_str(),
        ] {
            assert_eq!(check(&format!(r#"{{"n": {number}}}"#)), Ok(()), "{number}");
        }
    }

    #[test]
    fn numbers_past_a_thousand_digits_either_side_are_refused() {
        let wide = format!("1{}", "0".repeat(1000));
        let fine = format!("0.{}1", "0".repeat(1000));
        let written_long = format!("1.{}", "0".repeat(20_000));
        for number in [
            "1e1000",
            "1e-1001",
            "1e1000000",
            "-1e99999999999999999999",
            "123456789e-140000",
            "0.5e1001",
            "1000e-1004",
            wide.as_str(),
            fine.as_str(),
            written_long.as_str(),
        ] {
            let refused = check(&format!(r#"{{"n": [{{"deep": {number}}}]}}"#));
            assert_eq!(
                refused.unwrap_err().0,
                "numbers must have at most 1000 digits before and after the decimal point, \
                 written in at most 2000",
                "{number}"
            );
        }
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
}
