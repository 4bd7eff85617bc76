//! The production backend. One pool serves reads and writes; every connection carries a
//! statement timeout so a stuck query cannot hold a request forever.

use std::{str::FromStr, time::Duration};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres};

use crate::config::DbSettings;

pub struct PgStore {
    read: PgPool,
    write: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, settings: &DbSettings) -> anyhow::Result<Self> {
        let timeout = settings.statement_timeout_ms.to_string();
        let options = PgConnectOptions::from_str(url)?
            .application_name("hop")
            .options([("statement_timeout", timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
            .connect_with(options)
            .await?;
        // sqlx holds a PostgreSQL advisory lock while migrating, so replicas starting together
        // apply each migration once.
        crate::store::migrator(sqlx::migrate!("./migrations/postgres"))
            .run(&pool)
            .await?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
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

    /// Rows inserted with explicit ids leave the identity sequence behind; move it past them
    /// so the next row created through the API gets a fresh id.
    async fn after_explicit_ids(
        conn: &mut PgConnection,
        table: &str,
    ) -> crate::store::StoreResult<()> {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
        );
        sqlx::query(&sql).execute(&mut *conn).await?;
        Ok(())
    }
}

sql_store!(PgStore, Postgres, "postgres");
