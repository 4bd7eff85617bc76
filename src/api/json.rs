//! Strict JSON input. The contract wants exact types (`5.0` is not an integer, `"true"` not a
//! boolean), trimmed strings, and a 400 for any body that is not a JSON object, whatever the
//! `Content-Type` says. serde's derive is more lenient than that in places and cannot say
//! which fields were wrong all at once, so bodies are read as a map and fields taken one by
//! one through [`Fields`].

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, FromRequest, Request},
    http::StatusCode,
};
use serde_json::{Map, Value};

use super::ApiError;
use crate::domain::check_details;

/// A request body that parsed as a JSON object.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::bad_request("request body must be a JSON object")),
            Err(_) if bytes.iter().all(u8::is_ascii_whitespace) => Err(ApiError::bad_request(
                "request body must be a JSON object; it was empty",
            )),
            Err(err) => Err(ApiError::bad_request(format!(
                "request body is not valid JSON: {err}"
            ))),
        }
    }
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::bad_request("request body could not be read")
    }
}

/// A field that may be absent, explicitly null, or set.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Set(T),
}

/// Takes typed fields out of a JSON object, collecting every problem before failing.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    problems: BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a JsonObject) -> Self {
        Self {
            object: &object.0,
            problems: BTreeMap::new(),
        }
    }

    /// Notes a problem with `key` found by later validation.
    pub fn problem(&mut self, key: &str, what: impl Into<String>) {
        self.problems
            .entry(key.to_owned())
            .or_insert_with(|| what.into());
    }

    /// Whether none of `keys` is present: an update that changes nothing.
    pub fn has_none_of(&self, keys: &[&str]) -> bool {
        keys.iter().all(|key| !self.object.contains_key(*key))
    }

    /// A trimmed string; an empty one counts as null.
    pub fn string(&mut self, key: &str) -> Field<String> {
        match self.object.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::String(text)) if text.contains('\0') => {
                self.problem(key, "must not contain NUL characters");
                Field::Absent
            }
            Some(Value::String(text)) if text.trim().is_empty() => Field::Null,
            Some(Value::String(text)) => Field::Set(text.trim().to_owned()),
            Some(_) => {
                self.problem(key, "must be a string");
                Field::Absent
            }
        }
    }

    /// A string that must be present and non-empty.
    pub fn required_string(&mut self, key: &str) -> Option<String> {
        match self.string(key) {
            Field::Set(text) => Some(text),
            Field::Absent if self.problems.contains_key(key) => None,
            _ => {
                self.problem(key, "is required");
                None
            }
        }
    }

    /// A string that may be absent but, when present, must be a non-empty string.
    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.string(key) {
            Field::Set(text) => Some(text),
            Field::Null => {
                self.problem(key, "must be a non-empty string");
                None
            }
            Field::Absent => None,
        }
    }

    /// An integer: `5.0`, `"5"` and `true` are refused.
    pub fn integer(&mut self, key: &str) -> Field<i64> {
        match self.object.get(key) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(Value::Number(n)) if n.is_i64() => Field::Set(n.as_i64().unwrap_or_default()),
            Some(_) => {
                self.problem(key, "must be an integer");
                Field::Absent
            }
        }
    }

    pub fn required_integer(&mut self, key: &str) -> Option<i64> {
        match self.integer(key) {
            Field::Set(n) => Some(n),
            Field::Absent if self.problems.contains_key(key) => None,
            _ => {
                self.problem(key, "is required");
                None
            }
        }
    }

    /// A boolean: `"true"` and `1` are refused.
    pub fn optional_boolean(&mut self, key: &str) -> Option<bool> {
        match self.object.get(key) {
            None => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(_) => {
                self.problem(key, "must be true or false");
                None
            }
        }
    }

    /// An event's `details`: a JSON object both stores keep as sent ([`check_details`]); null
    /// counts as absent.
    pub fn optional_details(&mut self, key: &str) -> Option<Map<String, Value>> {
        match self.object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => match check_details(map) {
                Ok(()) => Some(map.clone()),
                Err(why) => {
                    self.problem(key, why.0);
                    None
                }
            },
            Some(_) => {
                self.problem(key, "must be a JSON object");
                None
            }
        }
    }

    /// Fails with every problem noted so far.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => JsonObject(map),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn integers_refuse_floats_strings_and_booleans() {
        let body = object(json!({"a": 5.0, "b": "5", "c": true, "d": 5}));
        let mut fields = Fields::new(&body);
        assert_eq!(fields.integer("a"), Field::Absent);
        assert_eq!(fields.integer("b"), Field::Absent);
        assert_eq!(fields.integer("c"), Field::Absent);
        assert_eq!(fields.integer("d"), Field::Set(5));
        let err = fields.finish().unwrap_err();
        assert_eq!(err.to_string(), "invalid fields: a, b, c");
    }

    #[test]
    fn strings_are_trimmed_and_blank_ones_are_missing() {
        let body = object(json!({"name": "  ada ", "blank": "   ", "number": 7}));
        let mut fields = Fields::new(&body);
        assert_eq!(fields.required_string("name").as_deref(), Some("ada"));
        assert_eq!(fields.required_string("blank"), None);
        assert_eq!(fields.required_string("number"), None);
        match fields.finish().unwrap_err() {
            ApiError::BadRequest { details, .. } => {
                assert_eq!(details["blank"], "is required");
                assert_eq!(details["number"], "must be a string");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn nul_characters_are_refused_in_strings_and_objects() {
        let body = object(json!({"a": "x\0y", "d": {"k": ["ok", "n\0"]}}));
        let mut fields = Fields::new(&body);
        assert_eq!(fields.string("a"), Field::Absent);
        assert_eq!(fields.optional_details("d"), None);
        assert_eq!(
            fields.finish().unwrap_err().to_string(),
            "invalid fields: a, d"
        );
    }

    #[test]
    fn booleans_refuse_strings_and_numbers() {
        let body = object(json!({"a": "true", "b": 1, "c": false}));
        let mut fields = Fields::new(&body);
        assert_eq!(fields.optional_boolean("a"), None);
        assert_eq!(fields.optional_boolean("b"), None);
        assert_eq!(fields.optional_boolean("c"), Some(false));
        assert!(fields.finish().is_err());
    }
}
