//! Validated values. Each type's constructor is the only way in, so code past the HTTP and CSV
//! edges never sees an unchecked string.

mod details;
mod email;
mod short_code;
mod target_url;
mod time;
mod username;

pub use details::{check_details, same_details};
pub use email::Email;
pub use short_code::ShortCode;
pub use target_url::{Origin, TargetUrl};
pub use time::{
    monotonic_millis, now, parse_csv_timestamp, sqlite_text, timestamp_format, Timestamp,
};
pub use username::Username;

/// Longest link title accepted, in characters, through the API and from an import alike.
pub const MAX_TITLE_CHARS: usize = 500;

/// Why a value was refused, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}
