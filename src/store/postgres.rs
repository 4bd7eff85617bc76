//! The production backend. One pool serves reads and writes; every connection carries a
//! statement timeout so a stuck query cannot hold a request forever.

use std::{str::FromStr, time::Duration};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, Postgres};

use crate::config::DbSettings;
use crate::store::{ImportTally, LinkRecord, StoreError, StoreResult};

pub struct PgStore {
    read: PgPool,
    write: PgPool,
    /// Connections the redirect's lookups keep between statements.
    held: crate::store::held::Held<sqlx::Postgres>,
}

impl PgStore {
    pub async fn connect(url: &str, settings: &DbSettings) -> anyhow::Result<Self> {
        let timeout = settings.statement_timeout_ms.to_string();
        let options = PgConnectOptions::from_str(url)?
            .application_name("hop")
            // sqlx would log the whole text of slow statements, which for a bulk import is
            // megabytes per line; slowness shows in the request latency metrics instead.
            .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1))
            .options([("statement_timeout", timeout.as_str())]);
        let acquire = Duration::from_millis(settings.acquire_timeout_ms);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .acquire_timeout(acquire)
            // sqlx checks every connection with a round trip when it goes back to the pool
            // and, by default, again when it is taken out: two of the three round trips of a
            // cache miss. The second check is kept only for connections that sat idle long
            // enough for the server to have gone away since the first (a restart, a failover).
            // A connection the server drops less than that after its release still fails the
            // next query on it, a 503 for that one request; the saved round trip is worth it.
            // The database check (every 5 s) releases connections too, so a quiet replica sees
            // this as well: a breaker run measured 1-2 such 503s per restart in that window.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < crate::store::CHECKED_RECENTLY {
                        return Ok(true);
                    }
                    // A connection that fails the check is closed and another one is taken.
                    Ok(conn.ping().await.is_ok())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(anyhow::Error::new);
        let pool = match pool {
            Ok(pool) => pool,
            Err(err) => return Err(Self::why_not(err, &options, acquire).await),
        };
        // sqlx holds a PostgreSQL advisory lock while migrating, so replicas starting together
        // apply each migration once.
        crate::store::migrator(sqlx::migrate!("./migrations/postgres"))
            .run(&pool)
            .await?;
        Ok(Self {
            held: crate::store::held::Held::new(settings.pool_size),
            read: pool.clone(),
            write: pool,
        })
    }

    /// The pool retries failed connections until its acquire timeout and then reports only
    /// that it timed out, the same for a stopped server (refused), a wrong host and a hung
    /// one. One connection of hop's own, no longer than the same timeout, says which.
    async fn why_not(
        err: anyhow::Error,
        options: &PgConnectOptions,
        limit: Duration,
    ) -> anyhow::Error {
        if !matches!(err.downcast_ref(), Some(sqlx::Error::PoolTimedOut)) {
            return err;
        }
        match tokio::time::timeout(limit, PgConnection::connect_with(options)).await {
            Ok(Err(cause)) => anyhow::Error::new(cause).context(err.to_string()),
            _ => err,
        }
    }

    /// The pool this store runs on, for work that only PostgreSQL can do (bulk COPY).
    pub fn pool(&self) -> &PgPool {
        &self.write
    }

    fn stats(&self) -> crate::store::PoolStats {
        let open = self.write.size();
        crate::store::PoolStats {
            open,
            in_use: open.saturating_sub(self.write.num_idle() as u32),
            max: self.write.options().get_max_connections(),
        }
    }

    /// Moves the id sequence past `top` before an import writes, outside its transaction
    /// (sequences are not transactional), so users or links created through the API while the
    /// import runs cannot take ids the import is about to write.
    async fn reserve_ids(pool: &PgPool, table: &str, top: i64) -> StoreResult<()> {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST($1 + 1, (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), \
             (SELECT last_value + is_called::int FROM {table}_id_seq)), false)"
        );
        sqlx::query(&sql).bind(top).execute(pool).await?;
        Ok(())
    }

    /// Rows inserted with explicit ids leave the identity sequence behind; move it past them
    /// (never backwards) so the next row created through the API gets a fresh id.
    async fn after_explicit_ids(
        conn: &mut PgConnection,
        table: &str,
    ) -> crate::store::StoreResult<()> {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             GREATEST((SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), \
             (SELECT last_value + is_called::int FROM {table}_id_seq)), false)"
        );
        sqlx::query(&sql).execute(&mut *conn).await?;
        Ok(())
    }
}

/// Below this many rows the batched path is as fast and simpler to follow.
const COPY_THRESHOLD: usize = 10_000;
/// The advisory lock that large link imports hold for their transaction.
const LINK_IMPORT_LOCK: i64 = i64::from_be_bytes(*b"hop-urls");

impl PgStore {
    /// Large link files go through COPY into a temporary table, then are checked and merged by
    /// set-based statements: several times the speed of batched INSERTs on a million rows.
    async fn import_links_fast(&self, rows: &[LinkRecord]) -> StoreResult<ImportTally> {
        if rows.len() < COPY_THRESHOLD {
            return self.import_links_batched(rows).await;
        }
        let top = rows.iter().map(|row| row.id).max().unwrap_or(0);
        Self::reserve_ids(&self.write, "urls", top).await?;
        let mut tx = self.write.begin().await?;
        // Imports of links take turns: the merge's `INSERT ... WHERE NOT EXISTS` does not see
        // rows another import has written and not committed yet, and would fail the whole file
        // on their ids. One after the other, the second sees the first's links as they are.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LINK_IMPORT_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "CREATE TEMP TABLE staged_urls (line BIGINT, id BIGINT, user_id BIGINT, \
             short_code TEXT, original_url TEXT, title TEXT, is_active BOOLEAN, \
             created_at TIMESTAMP(0), updated_at TIMESTAMP(0)) ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
        copy_links(&mut tx, rows).await?;

        let mut tally = ImportTally::default();
        let missing_users = sqlx::query_as::<_, (i64, i64)>(
            "SELECT s.line, s.user_id FROM staged_urls s \
             WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut turned_away = std::collections::HashSet::with_capacity(missing_users.len());
        for (line, user) in missing_users {
            turned_away.insert(line);
            tally.reject(line as u64, format!("user {user} does not exist"));
        }
        let taken_codes = sqlx::query_as::<_, (i64, i64)>(
            "SELECT s.line, u.id FROM staged_urls s \
             JOIN urls u ON u.short_code = s.short_code AND u.id <> s.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (line, owner) in taken_codes {
            // One reason per line: a row already turned away for its user is not counted twice.
            if !turned_away.contains(&line) {
                tally.reject(line as u64, format!("short_code belongs to link {owner}"));
            }
        }
        let rejected: Vec<i64> = tally.rejected.iter().map(|r| r.line as i64).collect();
        sqlx::query("DELETE FROM staged_urls WHERE line = ANY($1)")
            .bind(&rejected)
            .execute(&mut *tx)
            .await?;

        let (staged, created, unchanged) = sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT count(*), count(*) FILTER (WHERE u.id IS NULL), \
             count(*) FILTER (WHERE u.id IS NOT NULL AND (u.user_id, u.short_code, \
             u.original_url, u.title, u.is_active, u.created_at, u.updated_at) \
             IS NOT DISTINCT FROM (s.user_id, s.short_code, s.original_url, s.title, \
             s.is_active, s.created_at, s.updated_at)) \
             FROM staged_urls s LEFT JOIN urls u ON u.id = s.id",
        )
        .fetch_one(&mut *tx)
        .await?;
        // Changed links first, then the new ones on their own: a plain INSERT of the rows with
        // no link yet is a fifth quicker than one INSERT ... ON CONFLICT DO UPDATE for all
        // (measured on the 1M file: 8.1 s against 9.9 s), which pays for a conflict check
        // per row even into an empty table.
        sqlx::query(
            "UPDATE urls u SET user_id = s.user_id, short_code = s.short_code, \
             original_url = s.original_url, title = s.title, is_active = s.is_active, \
             created_at = s.created_at, updated_at = s.updated_at \
             FROM staged_urls s WHERE u.id = s.id \
             AND (u.user_id, u.short_code, u.original_url, u.title, u.is_active, \
             u.created_at, u.updated_at) IS DISTINCT FROM (s.user_id, s.short_code, \
             s.original_url, s.title, s.is_active, s.created_at, s.updated_at)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO urls (id, user_id, short_code, original_url, title, is_active, \
             created_at, updated_at) \
             SELECT s.id, s.user_id, s.short_code, s.original_url, s.title, s.is_active, \
             s.created_at, s.updated_at FROM staged_urls s \
             WHERE NOT EXISTS (SELECT 1 FROM urls u WHERE u.id = s.id)",
        )
        .execute(&mut *tx)
        .await?;
        Self::after_explicit_ids(&mut tx, "urls").await?;
        tx.commit().await?;
        // Fresh statistics at once: until autovacuum gets round to the table, the planner
        // would take a million-row table for a small one and read all of it to find one page
        // of GET /urls (measured: 200 ms a page instead of a few).
        sqlx::query("ANALYZE urls").execute(&self.write).await?;

        tally.created = created as u64;
        tally.unchanged = unchanged as u64;
        tally.updated = (staged - created - unchanged) as u64;
        tally.rejected.sort_by_key(|r| r.line);
        Ok(tally)
    }
}

/// Streams `rows` into `staged_urls` as CSV, a few thousand rows per message.
async fn copy_links(conn: &mut PgConnection, rows: &[LinkRecord]) -> StoreResult<()> {
    let encode = |err: csv::Error| StoreError::Database(sqlx::Error::Encode(err.into()).into());
    let mut copy = conn
        .copy_in_raw("COPY staged_urls FROM STDIN (FORMAT csv)")
        .await?;
    for chunk in rows.chunks(5_000) {
        let mut csv = csv::Writer::from_writer(Vec::new());
        for row in chunk {
            csv.write_record([
                row.line.to_string().as_str(),
                row.id.to_string().as_str(),
                row.user_id.to_string().as_str(),
                row.short_code.as_str(),
                row.original_url.as_str(),
                row.title.as_deref().unwrap_or(""),
                if row.is_active { "true" } else { "false" },
                row.created_at.to_string().as_str(),
                row.updated_at.to_string().as_str(),
            ])
            .map_err(encode)?;
        }
        let bytes = csv
            .into_inner()
            .map_err(|err| encode(err.into_error().into()))?;
        copy.send(bytes).await?;
    }
    copy.finish().await?;
    Ok(())
}

sql_store!(
    PgStore,
    Postgres,
    "postgres",
    " FOR UPDATE",
    " FOR KEY SHARE"
);
