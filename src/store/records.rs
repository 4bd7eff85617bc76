//! The rows hop stores and serves, and the inputs that create or change them.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use crate::domain::{timestamp_format, Email, ShortCode, TargetUrl, Timestamp, Username};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    #[serde(with = "timestamp_format")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
        example = "2026-04-03T12:00:00")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Link {
    pub id: i64,
    pub user_id: i64,
    pub short_code: String,
    pub original_url: String,
    pub title: Option<String>,
    pub is_active: bool,
    #[serde(with = "timestamp_format")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
        example = "2026-04-03T12:00:00")]
    pub created_at: Timestamp,
    #[serde(with = "timestamp_format")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
        example = "2026-04-03T12:00:00")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub url_id: i64,
    pub user_id: i64,
    pub event_type: String,
    #[serde(with = "timestamp_format")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
        example = "2026-04-03T12:00:00")]
    #[sqlx(rename = "occurred_at")]
    pub timestamp: Timestamp,
    /// Always a JSON object.
    #[schema(value_type = Object)]
    pub details: Json<Value>,
}

#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
}

#[derive(Debug, Default)]
pub struct UserPatch {
    pub username: Option<Username>,
    pub email: Option<Email>,
}

#[derive(Debug)]
pub struct NewLink {
    pub user_id: i64,
    pub original_url: TargetUrl,
    pub title: Option<String>,
}

/// `title: Some(None)` clears the title.
#[derive(Debug, Default)]
pub struct LinkPatch {
    pub original_url: Option<TargetUrl>,
    pub title: Option<Option<String>>,
    pub is_active: Option<bool>,
}

impl LinkPatch {
    pub fn is_empty(&self) -> bool {
        self.original_url.is_none() && self.title.is_none() && self.is_active.is_none()
    }
}

#[derive(Debug, Default)]
pub struct LinkFilter {
    pub user_id: Option<i64>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Default)]
pub struct EventFilter {
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: Option<String>,
}

#[derive(Debug)]
pub struct NewEvent {
    pub url_id: i64,
    pub user_id: i64,
    pub event_type: String,
    pub details: Value,
}

/// A window of a list ordered by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
    /// Only rows whose id is above this one (0: from the first row).
    pub after: i64,
}

/// Where an active short code leads, and whose link it is. Cheap to clone: the cache hands
/// out copies on every redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub link_id: i64,
    pub user_id: i64,
    pub short_code: Arc<str>,
    pub original_url: Arc<str>,
}

/// One served redirect, waiting to become a `click` event.
#[derive(Debug, Clone)]
pub struct Click {
    pub target: Resolved,
    pub at: Timestamp,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
}

impl Click {
    /// The event's `details` object; the referrer and user agent only when the client sent them.
    pub fn details(&self) -> ClickDetails<'_> {
        ClickDetails {
            original_url: &self.target.original_url,
            referrer: self.referrer.as_deref(),
            short_code: &self.target.short_code,
            user_agent: self.user_agent.as_deref(),
        }
    }
}

/// A click's time as the click writer binds it. sqlx writes a time for SQLite (where times are
/// text) with chrono's formatter, reading the spelling `"%F %T%.f"` anew for every value: about
/// a tenth of what writing a click cost (docs/bottlenecks.md #15). This writes the same text
/// with [`crate::domain::sqlite_text`]. PostgreSQL gets the time itself, as before. Only the
/// click writer uses it: other writes are rare enough for sqlx's own encoding.
#[derive(Debug, Clone, Copy)]
pub struct ClickTime(pub Timestamp);

impl sqlx::Type<sqlx::Sqlite> for ClickTime {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <Timestamp as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for ClickTime {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        sqlx::Encode::<sqlx::Sqlite>::encode(crate::domain::sqlite_text(&self.0), buf)
    }
}

impl sqlx::Type<sqlx::Postgres> for ClickTime {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Timestamp as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for ClickTime {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        sqlx::Encode::<sqlx::Postgres>::encode_by_ref(&self.0, buf)
    }
}

/// A click's `details`, serialized straight from the click without an intermediate map.
/// Fields are in the order a JSON object's keys are stored elsewhere (sorted).
#[derive(Debug, Serialize)]
pub struct ClickDetails<'a> {
    pub original_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<&'a str>,
    pub short_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub open: u32,
    pub in_use: u32,
    pub max: u32,
}

/// A user row of an export file, already checked for shape.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub line: u64,
    pub id: i64,
    pub username: Username,
    pub email: Email,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct LinkRecord {
    pub line: u64,
    pub id: i64,
    pub user_id: i64,
    pub short_code: ShortCode,
    pub original_url: TargetUrl,
    pub title: Option<String>,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct EventRecord {
    pub line: u64,
    pub id: i64,
    pub url_id: i64,
    pub user_id: i64,
    pub event_type: String,
    pub timestamp: Timestamp,
    pub details: Value,
}

/// A row an import refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    pub line: u64,
    pub error: String,
}

/// What an import did with the rows it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportTally {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejected>,
}

impl ImportTally {
    /// Each rejected row as its line and why, in file order.
    pub fn rejections(&self) -> Vec<(u64, &str)> {
        self.rejected
            .iter()
            .map(|row| (row.line, row.error.as_str()))
            .collect()
    }

    pub fn reject(&mut self, line: u64, error: impl Into<String>) {
        self.rejected.push(Rejected {
            line,
            error: error.into(),
        });
    }

    /// Rows that went in or were already there as given.
    pub fn accepted(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }

    pub fn absorb(&mut self, other: ImportTally) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected.extend(other.rejected);
        self.rejected.sort_by_key(|r| r.line);
    }
}

/// An API key as listed; the key itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub scope: String,
    #[serde(with = "timestamp_format")]
    pub created_at: Timestamp,
    #[serde(skip)]
    pub revoked_at: Option<Timestamp>,
}
