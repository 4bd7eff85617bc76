//! An event's `details`: any JSON object that both stores keep exactly as it was sent.

use serde_json::{Map, Value};

use super::Invalid;

/// Most digits a number in details may have before, and after, its decimal point once its
/// exponent is applied. PostgreSQL keeps JSON numbers as `numeric`, which stops at 131,072
/// digits before the point and 16,383 after, and would fail the write; SQLite keeps the text.
/// A bound well inside both refuses `1e1000000` on either store alike.
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
            "numbers must have at most {MOST_DIGITS} digits before and after the decimal point"
        ))),
        _ => Ok(()),
    }
}

/// `text` is a JSON number as written (serde_json keeps it so, with `arbitrary_precision`).
fn number_fits(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>()),
        None => (unsigned, Ok(0)),
    };
    // An exponent past i64 is far past the bound.
    let Ok(exponent) = exponent else {
        return false;
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let before = (whole.len() as i64).saturating_add(exponent);
    let after = (fraction.len() as i64).saturating_sub(exponent);
    before <= MOST_DIGITS && after <= MOST_DIGITS
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
        for number in [
            "1e1000",
            "1e-1001",
            "1e1000000",
            "-1e99999999999999999999",
            "123456789e-140000",
            wide.as_str(),
            fine.as_str(),
        ] {
            let refused = check(&format!(r#"{{"n": [{{"deep": {number}}}]}}"#));
            assert_eq!(
                refused.unwrap_err().0,
                "numbers must have at most 1000 digits before and after the decimal point",
                "{number}"
            );
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
