use std::collections::HashMap;

use serde_json::Value;

use crate::domain::{
    check_details, parse_csv_timestamp, Email, ShortCode, TargetUrl, Username, MAX_TITLE_CHARS,
};
use crate::store::{EventRecord, ImportTally, LinkRecord, UserRecord};

/// A problem with the file as a whole: nothing of it is imported.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not CSV text: {0}")]
    NotCsv(String),
    #[error("wrong header: expected columns {expected}, found {found}")]
    Header { expected: String, found: String },
}

/// The rows that passed the shape checks, and a tally holding the ones that did not.
#[derive(Debug, Default)]
pub struct Parsed<T> {
    pub records: Vec<T>,
    pub tally: ImportTally,
    pub rows_read: u64,
}

pub fn parse_users(bytes: &[u8]) -> Result<Parsed<UserRecord>, FileError> {
    let mut emails: HashMap<String, u64> = HashMap::new();
    parse(
        bytes,
        &["id", "username", "email", "created_at"],
        |line, row| {
            let record = UserRecord {
                line,
                id: positive_id(row.get(0), "id")?,
                username: Username::parse(row.get(1)).map_err(|e| format!("username {e}"))?,
                email: Email::parse(row.get(2)).map_err(|e| format!("email {e}"))?,
                created_at: parse_csv_timestamp(row.get(3))
                    .map_err(|e| format!("created_at: {e}"))?,
            };
            if let Some(first) = emails.insert(record.email.key(), line) {
                return Err(format!("email repeats the row on line {first}"));
            }
            Ok((record.id, record))
        },
    )
}

pub fn parse_links(bytes: &[u8]) -> Result<Parsed<LinkRecord>, FileError> {
    let mut codes: HashMap<String, u64> = HashMap::new();
    let columns = [
        "id",
        "user_id",
        "short_code",
        "original_url",
        "title",
        "is_active",
        "created_at",
        "updated_at",
    ];
    parse(bytes, &columns, |line, row| {
        let title = row.get(4);
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(format!(
                "title must be at most {MAX_TITLE_CHARS} characters"
            ));
        }
        if ShortCode::is_reserved(row.get(2)) {
            return Err(format!(
                "short_code '{}' is one of hop's own paths",
                row.get(2)
            ));
        }
        let record = LinkRecord {
            line,
            id: positive_id(row.get(0), "id")?,
            user_id: positive_id(row.get(1), "user_id")?,
            short_code: ShortCode::parse(row.get(2)).map_err(|e| format!("short_code {e}"))?,
            original_url: TargetUrl::parse(row.get(3), &[])
                .map_err(|e| format!("original_url {e}"))?,
            title: (!title.is_empty()).then(|| title.to_owned()),
            is_active: flag(row.get(5))?,
            created_at: parse_csv_timestamp(row.get(6)).map_err(|e| format!("created_at: {e}"))?,
            updated_at: parse_csv_timestamp(row.get(7)).map_err(|e| format!("updated_at: {e}"))?,
        };
        if record.updated_at < record.created_at {
            return Err("updated_at is before created_at".into());
        }
        if let Some(first) = codes.insert(record.short_code.as_str().to_owned(), line) {
            return Err(format!("short_code repeats the row on line {first}"));
        }
        Ok((record.id, record))
    })
}

pub fn parse_events(bytes: &[u8]) -> Result<Parsed<EventRecord>, FileError> {
    let columns = [
        "id",
        "url_id",
        "user_id",
        "event_type",
        "timestamp",
        "details",
    ];
    parse(bytes, &columns, |line, row| {
        let event_type = row.get(3);
        if event_type.is_empty() {
            return Err("event_type is required".into());
        }
        let details = match row.get(5) {
            "" => Value::Object(Default::default()),
            raw => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(map)) => match check_details(&map) {
                    Ok(()) => Value::Object(map),
                    Err(why) => return Err(format!("details {why}")),
                },
                Ok(_) => return Err("details must be a JSON object".into()),
                Err(err) => return Err(format!("details is not valid JSON: {err}")),
            },
        };
        let record = EventRecord {
            line,
            id: positive_id(row.get(0), "id")?,
            url_id: positive_id(row.get(1), "url_id")?,
            user_id: positive_id(row.get(2), "user_id")?,
            event_type: event_type.to_owned(),
            timestamp: parse_csv_timestamp(row.get(4)).map_err(|e| format!("timestamp: {e}"))?,
            details,
        };
        Ok((record.id, record))
    })
}

/// One data row, its fields looked up by the header's column order.
struct Row<'a> {
    fields: &'a csv::StringRecord,
    columns: &'a [usize],
}

impl Row<'_> {
    /// The trimmed value of the `n`th expected column.
    fn get(&self, n: usize) -> &str {
        self.fields.get(self.columns[n]).unwrap_or("").trim()
    }
}

/// Reads `bytes` as CSV with the `expected` columns (in any order; extra ones are ignored)
/// and turns each row into a record with `convert`, which returns the row's id. A row that
/// fails, or repeats an id, goes to the tally with its line number.
fn parse<T>(
    bytes: &[u8],
    expected: &[&str],
    mut convert: impl FnMut(u64, &Row<'_>) -> Result<(i64, T), String>,
) -> Result<Parsed<T>, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The csv crate counts a CRLF file's lines one short; LF endings keep line numbers true.
    let unix;
    let bytes = if bytes.windows(2).any(|pair| pair == b"\r\n") {
        unix = without_carriage_returns(bytes);
        unix.as_slice()
    } else {
        bytes
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let columns = header_columns(&mut reader, expected)?;

    let mut parsed = Parsed {
        records: Vec::new(),
        tally: ImportTally::default(),
        rows_read: 0,
    };
    let mut ids: HashMap<i64, u64> = HashMap::new();
    let mut fields = csv::StringRecord::new();
    loop {
        let after_previous = reader.position().line();
        let line = match reader.read_record(&mut fields) {
            Ok(false) => break,
            Ok(true) => fields.position().map_or(after_previous, |at| at.line()),
            Err(err) => {
                parsed.rows_read += 1;
                let line = err.position().map_or(after_previous, |at| at.line());
                parsed.tally.reject(line, row_error(&err));
                continue;
            }
        };
        parsed.rows_read += 1;
        let width = header_width(&mut reader);
        if fields.len() != width {
            let end = reader.position().line();
            let why = if end > line + 1 {
                format!("a quote opened here is not closed: lines {line} to {end} were not read")
            } else {
                format!("expected {width} fields, found {}", fields.len())
            };
            parsed.tally.reject(line, why);
            continue;
        }
        match convert(
            line,
            &Row {
                fields: &fields,
                columns: &columns,
            },
        ) {
            Ok((id, record)) => {
                if let Some(first) = ids.insert(id, line) {
                    parsed
                        .tally
                        .reject(line, format!("duplicate id {id}, first on line {first}"));
                } else {
                    parsed.records.push(record);
                }
            }
            Err(why) => parsed.tally.reject(line, why),
        }
    }
    Ok(parsed)
}

/// `bytes` with every CR that precedes an LF removed.
fn without_carriage_returns(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (at, &byte) in bytes.iter().enumerate() {
        if !(byte == b'\r' && bytes.get(at + 1) == Some(&b'\n')) {
            out.push(byte);
        }
    }
    out
}

fn header_width(reader: &mut csv::Reader<&[u8]>) -> usize {
    reader.headers().map_or(0, |headers| headers.len())
}

/// Where each expected column sits in the header.
fn header_columns(
    reader: &mut csv::Reader<&[u8]>,
    expected: &[&str],
) -> Result<Vec<usize>, FileError> {
    let headers = reader
        .headers()
        .map_err(|err| FileError::NotCsv(row_error(&err)))?
        .clone();
    let found: Vec<&str> = headers.iter().map(str::trim).collect();
    let columns: Option<Vec<usize>> = expected
        .iter()
        .map(|name| found.iter().position(|have| have == name))
        .collect();
    columns.ok_or_else(|| FileError::Header {
        expected: expected.join(","),
        found: clip(&found.join(",")),
    })
}

fn row_error(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        _ => format!("the row could not be read: {err}"),
    }
}

/// The largest id an import may write. Ids above it would leave the id sequences no room for
/// rows created afterwards (2^63 - 1 would stop every later create); 10^15 is far beyond any
/// real export and still exact in a JavaScript number.
const MAX_IMPORTED_ID: i64 = 1_000_000_000_000_000;

fn positive_id(raw: &str, column: &str) -> Result<i64, String> {
    match raw.parse::<i64>() {
        Ok(id) if (1..=MAX_IMPORTED_ID).contains(&id) => Ok(id),
        _ => Err(format!(
            "{column} must be an integer from 1 to 10^15, found '{}'",
            clip(raw)
        )),
    }
}

/// At most 40 characters of a bad value, for error messages.
fn clip(raw: &str) -> String {
    match raw.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &raw[..end]),
        None => raw.to_owned(),
    }
}

fn flag(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("is_active must be True or False, found '{raw}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS_HEADER: &str = "id,username,email,created_at\n";

    fn users(body: &str) -> Parsed<UserRecord> {
        parse_users(format!("{USERS_HEADER}{body}").as_bytes()).unwrap()
    }

    fn lines(parsed: &Parsed<UserRecord>) -> Vec<u64> {
        parsed.tally.rejected.iter().map(|r| r.line).collect()
    }

    #[test]
    fn good_rows_become_records() {
        let parsed =
            users("1,ada,ada@x.io,2025-01-02 03:04:05\n2,bob,bob@x.io,2025-01-02 03:04:05\n");
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.records[1].username.as_str(), "bob");
        assert_eq!(parsed.rows_read, 2);
        assert!(parsed.tally.rejected.is_empty());
    }

    #[test]
    fn a_bom_and_crlf_endings_are_accepted() {
        let file = "\u{feff}id,username,email,created_at\r\n1,ada,ada@x.io,2025-01-02 03:04:05\r\n";
        let parsed = parse_users(file.as_bytes()).unwrap();
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(
            parsed.records[0].created_at.to_string(),
            "2025-01-02 03:04:05"
        );
    }

    #[test]
    fn a_missing_column_a_bad_id_and_a_duplicate_are_rejected_by_line() {
        let parsed = users(
            "1,ada,ada@x.io,2025-01-02 03:04:05\n\
             2,bob,2025-01-02 03:04:05\n\
             x,cy,cy@x.io,2025-01-02 03:04:05\n\
             1,dee,dee@x.io,2025-01-02 03:04:05\n",
        );
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(lines(&parsed), vec![3, 4, 5]);
        assert_eq!(parsed.tally.rejected[0].error, "expected 4 fields, found 3");
        assert_eq!(
            parsed.tally.rejected[2].error,
            "duplicate id 1, first on line 2"
        );
    }

    #[test]
    fn an_unterminated_quote_is_reported_not_swallowed_silently() {
        let parsed = users(
            "1,\"ada,ada@x.io,2025-01-02 03:04:05\n\
             2,bob,bob@x.io,2025-01-02 03:04:05\n\
             3,cy,cy@x.io,2025-01-02 03:04:05\n",
        );
        assert!(parsed.records.is_empty());
        assert_eq!(lines(&parsed), vec![2]);
    }

    /// What the API refuses, an import refuses too, row by row.
    #[test]
    fn links_with_a_route_as_code_a_long_title_or_an_edit_before_creation_are_rejected() {
        let long = "t".repeat(MAX_TITLE_CHARS + 1);
        let file = format!(
            "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n\
             1,1,Users,https://x.io/a,,True,2025-01-02 03:04:05,2025-01-02 03:04:05\n\
             2,1,abc2,https://x.io/b,{long},True,2025-01-02 03:04:05,2025-01-02 03:04:05\n\
             3,1,abc3,https://x.io/c,,True,2025-01-02 03:04:05,2025-01-02 03:04:04\n\
             4,1,abc4,https://x.io/d,{},True,2025-01-02 03:04:05,2025-01-02 03:04:05\n",
            "t".repeat(MAX_TITLE_CHARS)
        );
        let parsed = parse_links(file.as_bytes()).unwrap();
        assert_eq!(
            parsed.tally.rejections(),
            [
                (2, "short_code 'Users' is one of hop's own paths"),
                (3, "title must be at most 500 characters"),
                (4, "updated_at is before created_at"),
            ]
        );
        assert_eq!(
            parsed.records.len(),
            1,
            "the title of 500 characters is kept"
        );
    }

    #[test]
    fn a_wrong_header_rejects_the_whole_file() {
        let err = parse_users(b"id,name,mail\n1,a,b\n").unwrap_err();
        assert!(matches!(err, FileError::Header { .. }), "{err}");
    }

    #[test]
    fn event_details_must_be_an_object_both_stores_keep_as_written() {
        let file = "id,url_id,user_id,event_type,timestamp,details\n\
                    1,1,1,created,2025-01-02 03:04:05,\"{\"\"a\"\":1}\"\n\
                    2,1,1,created,2025-01-02 03:04:05,\"[1]\"\n\
                    3,1,1,created,2025-01-02 03:04:05,\"{\"\"n\"\":1e100}\"\n\
                    4,1,1,created,2025-01-02 03:04:05,\"{\"\"k\"\":\"\"a\\u0000\"\"}\"\n\
                    5,1,1,created,2025-01-02 03:04:05,\"{\"\"n\"\":123456789012345678901234}\"\n";
        let parsed = parse_events(file.as_bytes()).unwrap();
        let kept: Vec<String> = parsed
            .records
            .iter()
            .map(|r| r.details.to_string())
            .collect();
        assert_eq!(kept, [r#"{"a":1}"#, r#"{"n":123456789012345678901234}"#]);
        assert_eq!(
            parsed.tally.rejections(),
            [
                (3, "details must be a JSON object"),
                (
                    4,
                    "details numbers must have at most 100 digits when written without an exponent"
                ),
                (5, "details must not contain NUL characters"),
            ]
        );
    }

    #[test]
    fn link_flags_are_true_or_false_in_any_case() {
        assert_eq!(flag("True"), Ok(true));
        assert_eq!(flag("false"), Ok(false));
        assert!(flag("yes").is_err());
    }
}
