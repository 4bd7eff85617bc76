//! The embedded backend: one SQLite file in WAL mode. Readers share a pool; writes go through
//! a single connection, because SQLite has one writer at a time anyway and a queue in the pool
//! beats "database is locked" errors from transactions racing to upgrade.

use std::{str::FromStr, time::Duration};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, Sqlite, SqliteConnection};

use crate::config::DbSettings;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    /// Connections the redirect's lookups keep between statements.
    held: crate::store::held::Held<sqlx::Sqlite>,
}

/// Pages the WAL may hold before the writer copies them into the database file (SQLite's
/// default is 1,000, 4 MB). The click log's index pages are dirtied again by every batch, and a
/// checkpoint writes each dirty page once whatever the number of commits that changed it: at
/// the default, checkpoints were 30% of the writer's CPU under load. With 16,000 pages the
/// writer spent 13–17 µs per written click instead of 20 (docs/bottlenecks.md, entry 18).
const WAL_CHECKPOINT_PAGES: u32 = 16_000;
/// Size the WAL file is cut back to after a checkpoint has emptied it (SQLite keeps the
/// file at its largest otherwise).
const WAL_KEPT_BYTES: u64 = 64 << 20;

impl SqliteStore {
    pub async fn connect(url: &str, settings: &DbSettings) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
            // See postgres.rs: slow statements show in the latency metrics, not as huge logs.
            .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1))
            .busy_timeout(Duration::from_millis(settings.statement_timeout_ms));
        let acquire = Duration::from_millis(settings.acquire_timeout_ms);

        // The writer keeps 8 MiB of pages, four times SQLite's default: with the click log's
        // three indexes, the default spilled dirty pages to the WAL in the middle of every
        // batch and re-read them from the file. 32 MiB was no faster and cost its 32 MiB of
        // resident memory once the click log had grown. Statement journals (one per statement of a
        // multi-statement transaction) stay in memory instead of a temporary file. Both were
        // found by profiling the click writer (docs/bottlenecks.md).
        let writer_options = options
            .clone()
            .pragma("cache_size", "-8192")
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string())
            .pragma("journal_size_limit", WAL_KEPT_BYTES.to_string());
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(acquire)
            // When a COMMIT fails (disk full, I/O error) SQLite rolls back by itself, sqlx's
            // own ROLLBACK then fails, and sqlx still counts the connection as inside a
            // transaction: the next "transaction" would be a savepoint in a transaction that
            // never commits, and acknowledged writes would vanish. Such a connection is
            // closed instead of reused.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(writer_options)
            .await?;
        crate::store::migrator(sqlx::migrate!("./migrations/sqlite"))
            .run(&write)
            .await?;
        // A file cannot go away like a server: the check sqlx runs before handing out a
        // connection would only cost a round trip to the connection's worker thread.
        let read = SqlitePoolOptions::new()
            .max_connections(settings.pool_size)
            .test_before_acquire(false)
            .acquire_timeout(acquire)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            read,
            write,
            held: crate::store::held::Held::new(settings.pool_size),
        })
    }

    fn stats(&self) -> crate::store::PoolStats {
        let open = self.read.size() + self.write.size();
        let idle = (self.read.num_idle() + self.write.num_idle()) as u32;
        crate::store::PoolStats {
            open,
            in_use: open.saturating_sub(idle),
            max: self.read.options().get_max_connections() + 1,
        }
    }

    /// SQLite has no faster bulk path than batched inserts on its one writer.
    async fn import_links_fast(
        &self,
        rows: &[crate::store::LinkRecord],
    ) -> crate::store::StoreResult<crate::store::ImportTally> {
        self.import_links_batched(rows).await
    }

    /// Nothing to reserve: the one writer connection already keeps API creates out of an
    /// import's transaction.
    async fn reserve_ids(
        _pool: &sqlx::SqlitePool,
        _table: &str,
        _top: i64,
    ) -> crate::store::StoreResult<()> {
        Ok(())
    }

    /// SQLite's AUTOINCREMENT already continues above the largest id ever inserted.
    async fn after_explicit_ids(
        _conn: &mut SqliteConnection,
        _table: &str,
    ) -> crate::store::StoreResult<()> {
        Ok(())
    }
}

// SQLite has no row locks; its single writer connection serializes every change anyway.
sql_store!(SqliteStore, Sqlite, "sqlite", "", "");

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_writer_checkpoints_at_its_own_size_and_cuts_the_wal_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hop.db").display());
        let settings = DbSettings {
            pool_size: 2,
            acquire_timeout_ms: 2_000,
            statement_timeout_ms: 5_000,
        };
        let store = SqliteStore::connect(&url, &settings).await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.write)
            .await
            .unwrap();
        let kept: i64 = sqlx::query_scalar("PRAGMA journal_size_limit")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!((pages, kept), (16_000, 64 * 1024 * 1024));
    }
}
