//! Connections the redirect's lookups keep between statements.
//!
//! sqlx checks every connection with a round trip when it goes back to its pool (a ping it
//! has no setting for). Lookups of uncached codes run one short statement per batch, so that
//! check was a second round trip for each of them, on hop's side and the database's. The
//! lookups therefore keep their few connections out of the pool while they are in steady use.
//! A connection unused for [`CHECKED_RECENTLY`] goes back to the pool (and its check) and is
//! replaced by a fresh one, so one that outlived a database restart is not used blindly; one
//! whose statement failed is dropped by the caller, which returns it to the pool the same way.
//!
//! What this gives up: kept connections count as in use in the pool's metrics, and until they
//! go back the pool has that many fewer for everything else (at most a quarter of it).

use std::{sync::Mutex, time::Instant};

use sqlx::{pool::PoolConnection, Database};

use super::CHECKED_RECENTLY;

/// Connections kept at most: as many as the lookups run statements at once.
const MOST_KEPT: u32 = 4;

pub struct Held<DB: Database> {
    kept: Mutex<Vec<(PoolConnection<DB>, Instant)>>,
    most: usize,
}

impl<DB: Database> Held<DB> {
    /// Keeps at most a quarter of a pool of `pool_size` (none of a pool smaller than four),
    /// so that kept connections never starve the API and the click writer.
    pub fn new(pool_size: u32) -> Self {
        let most = MOST_KEPT.min(pool_size / 4) as usize;
        Self {
            kept: Mutex::new(Vec::with_capacity(most)),
            most,
        }
    }

    /// A kept connection used within [`CHECKED_RECENTLY`], if any; older ones go back to the
    /// pool.
    pub fn take(&self) -> Option<PoolConnection<DB>> {
        let mut stale = Vec::new();
        let fresh = {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            let mut fresh = None;
            while let Some((conn, used)) = kept.pop() {
                if used.elapsed() < CHECKED_RECENTLY {
                    fresh = Some(conn);
                    break;
                }
                stale.push(conn);
            }
            fresh
        };
        // Released outside the lock: a release spawns the pool's check.
        drop(stale);
        fresh
    }

    /// Keeps `conn` for the next lookup, or releases it when enough are kept.
    pub fn keep(&self, conn: PoolConnection<DB>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < self.most {
            kept.push((conn, Instant::now()));
            return;
        }
        drop(kept);
        drop(conn);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::{sqlite::SqlitePoolOptions, Sqlite, SqlitePool};

    use super::*;

    async fn pool() -> SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    /// Waits until the pool holds `idle` idle connections (a release is a spawned task).
    async fn until_idle(pool: &SqlitePool, idle: usize) {
        for _ in 0..1_000 {
            if pool.num_idle() == idle {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("pool has {} idle connections, not {idle}", pool.num_idle());
    }

    #[tokio::test]
    async fn a_quarter_of_the_pool_is_kept_and_the_rest_released() {
        let pool = pool().await;
        let held = Held::<Sqlite>::new(4);
        assert!(held.take().is_none());
        let (first, second) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        held.keep(first);
        held.keep(second);
        until_idle(&pool, 1).await;
        assert!(held.take().is_some(), "one kept");
        assert!(held.take().is_none(), "only one");

        // A pool of three keeps nothing.
        let none = Held::<Sqlite>::new(3);
        none.keep(pool.acquire().await.unwrap());
        assert!(none.take().is_none());
    }

    #[tokio::test]
    async fn a_connection_unused_for_a_second_goes_back_to_the_pool() {
        let pool = pool().await;
        let held = Held::<Sqlite>::new(4);
        held.keep(pool.acquire().await.unwrap());
        until_idle(&pool, 0).await;
        tokio::time::sleep(CHECKED_RECENTLY + Duration::from_millis(50)).await;
        assert!(held.take().is_none());
        until_idle(&pool, 1).await;
    }
}
