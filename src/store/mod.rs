//! Persistence. [`Store`] is the one seam between the service and its database; the SQL
//! behind it is written once (`sql.rs`) and compiled for each backend, which differ only in
//! how they connect, migrate and number ids (`sqlite.rs`, `postgres.rs`).

#[macro_use]
mod sql;
mod error;
mod held;
mod postgres;
mod records;
mod sqlite;

use anyhow::Context;
use async_trait::async_trait;

pub use error::{is_conflict, is_storage_full, worth_waiting_for, StoreError, StoreResult};
pub use postgres::PgStore;
pub use records::*;
pub use sqlite::SqliteStore;

use crate::config::DbSettings;

/// How long a pooled PostgreSQL connection counts as checked: sqlx checks each one with a
/// round trip when it is released, and hop checks it again before use only when it has been
/// idle for longer than this.
pub const CHECKED_RECENTLY: std::time::Duration = std::time::Duration::from_secs(1);

/// Everything hop asks of its database. Implementations keep every rule that needs more than
/// one statement (uniqueness checks, the events hop records itself) inside one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs and metrics.
    fn backend(&self) -> &'static str;

    /// One round trip, to tell whether the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Open connections and those checked out right now.
    fn pool_stats(&self) -> PoolStats;

    /// Creates a user, or returns the existing one when username and email both match it
    /// (the `bool` says whether a row was created).
    async fn create_user(&self, new: &NewUser) -> StoreResult<(User, bool)>;
    async fn list_users(&self, page: Option<Page>) -> StoreResult<Vec<User>>;
    async fn get_user(&self, id: i64) -> StoreResult<Option<User>>;
    async fn update_user(&self, id: i64, patch: &UserPatch) -> StoreResult<User>;
    /// Deletes a user with their events; their links become tombstones so that the codes are
    /// never handed out again. Returns those codes, for cache invalidation.
    async fn delete_user(&self, id: i64) -> StoreResult<Vec<String>>;

    /// Creates a link under a fresh short code and records its `created` event.
    async fn create_link(&self, new: &NewLink) -> StoreResult<Link>;
    async fn list_links(&self, filter: &LinkFilter, page: Option<Page>) -> StoreResult<Vec<Link>>;
    async fn get_link(&self, id: i64) -> StoreResult<Option<Link>>;
    /// Applies the changed fields and records one `updated` event per changed field.
    async fn update_link(&self, id: i64, patch: &LinkPatch) -> StoreResult<Link>;
    /// Turns the link into a tombstone and records its `deleted` event.
    async fn delete_link(&self, id: i64) -> StoreResult<Link>;
    /// The targets of those of `codes` that name an active, undeleted link, in no particular
    /// order: the redirect path's one indexed read, shared by the misses that arrive together.
    async fn resolve_many(&self, codes: &[String]) -> StoreResult<Vec<Resolved>>;

    async fn list_events(
        &self,
        filter: &EventFilter,
        page: Option<Page>,
    ) -> StoreResult<Vec<Event>>;
    async fn create_event(&self, new: &NewEvent) -> StoreResult<Event>;
    /// Writes a batch of clicks; returns how many were written. Clicks whose link or user
    /// vanished meanwhile are skipped, not allowed to sink the batch.
    async fn record_clicks(&self, clicks: &[Click]) -> StoreResult<u64>;

    /// Stores a key's hash under a name and scope.
    async fn create_key(&self, name: &str, scope: &str, hash: &str) -> StoreResult<ApiKey>;
    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>>;
    async fn revoke_key(&self, id: i64) -> StoreResult<ApiKey>;
    /// `(hash, scope, revoked)` of every key ever created.
    async fn key_hashes(&self) -> StoreResult<Vec<(String, String, bool)>>;

    /// Each import runs in one transaction: the file lands whole or not at all.
    async fn import_users(&self, rows: &[UserRecord]) -> StoreResult<ImportTally>;
    async fn import_links(&self, rows: &[LinkRecord]) -> StoreResult<ImportTally>;
    async fn import_events(&self, rows: &[EventRecord]) -> StoreResult<ImportTally>;
}

/// Migrations are additive, so an older hop runs fine on a newer schema: a rollback must not
/// stop at "a migration is missing" because the newer release applied one it does not know.
pub(crate) fn migrator(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    migrator.set_ignore_missing(true);
    migrator
}

/// Connects to the database `url` names (`sqlite:`/`postgres:`; none means `hop.db` in the
/// working directory) and applies pending migrations.
pub async fn connect(url: Option<&str>, settings: &DbSettings) -> anyhow::Result<Box<dyn Store>> {
    let url = url.unwrap_or("sqlite://hop.db");
    if url.trim().is_empty() {
        anyhow::bail!(
            "DATABASE_URL is set but empty: unset it for the embedded sqlite://hop.db, or give a \
             sqlite:// or postgres:// address"
        )
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url, settings)
            .await
            .with_context(|| format!("PostgreSQL at {}", server_of(url)))?;
        Ok(Box::new(store))
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let store = SqliteStore::connect(url, settings)
            .await
            .with_context(|| format!("SQLite file {path}"))?;
        Ok(Box::new(store))
    } else {
        anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
    }
}

/// Where a PostgreSQL address points (`host:port/database`), without its user or password, for
/// an error that must say which server did not answer.
fn server_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{}:{}{}",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(5432),
            parsed.path()
        ),
        Err(_) => "an address that does not parse".to_owned(),
    }
}
