//! Code -> target resolution through the in-process cache, in front of the database.
//!
//! Found links live for `cache_ttl_secs`, unknown codes for `negative_ttl_secs`, so a flood of
//! random codes reaches the database once per code and period. Concurrent misses of one code
//! share a single database read. Every change to a link invalidates its entry before the API
//! answers; the TTL bounds staleness should an invalidation ever be missed.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use metrics::counter;
use moka::{future::Cache, Expiry};

use crate::store::{Resolved, Store, StoreError};

/// Which layer answered a lookup; becomes the `cache` span field and the `X-Cache` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Local,
    Database,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Local => "local",
            Layer::Database => "database",
        }
    }
}

/// A cached answer: the target, or "no such active code".
#[derive(Debug, Clone)]
enum Entry {
    Found(Resolved),
    Missing,
}

struct EntryExpiry {
    found: Duration,
    missing: Duration,
}

impl Expiry<Arc<str>, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &Arc<str>, entry: &Entry, _: Instant) -> Option<Duration> {
        match entry {
            Entry::Found(_) => Some(self.found),
            Entry::Missing => Some(self.missing),
        }
    }
}

#[derive(Clone)]
pub struct LinkCache {
    local: Cache<Arc<str>, Entry>,
    store: Arc<dyn Store>,
    /// Bumped by every invalidation; a database read that straddles one is repeated, so an
    /// answer read before a change cannot be cached after it.
    generation: Arc<AtomicU64>,
}

impl LinkCache {
    pub fn new(
        store: Arc<dyn Store>,
        capacity: u64,
        ttl: Duration,
        negative_ttl: Duration,
    ) -> Self {
        let local = Cache::builder()
            .max_capacity(capacity)
            .expire_after(EntryExpiry {
                found: ttl,
                missing: negative_ttl,
            })
            .build();
        Self {
            local,
            store,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The active target of `code`, if any, and the layer that knew it.
    pub async fn resolve(&self, code: &str) -> Result<(Option<Resolved>, Layer), StoreError> {
        if let Some(entry) = self.local.get(code).await {
            counter!("hop_cache_hits_total", "layer" => "local").increment(1);
            return Ok((entry.into_target(), Layer::Local));
        }
        counter!("hop_cache_misses_total", "layer" => "local").increment(1);

        let entry = self
            .local
            .try_get_with(Arc::from(code), self.load(code))
            .await
            .map_err(|err| Arc::try_unwrap(err).unwrap_or_else(|shared| shared.shared_copy()))?;
        Ok((entry.into_target(), Layer::Database))
    }

    /// Forgets `code`, so the next redirect reads the database.
    pub async fn invalidate(&self, code: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.local.invalidate(code).await;
    }

    async fn load(&self, code: &str) -> Result<Entry, StoreError> {
        loop {
            let before = self.generation.load(Ordering::SeqCst);
            let found = self.store.resolve(code).await?;
            if self.generation.load(Ordering::SeqCst) == before {
                return Ok(found.map_or(Entry::Missing, Entry::Found));
            }
        }
    }
}

impl Entry {
    fn into_target(self) -> Option<Resolved> {
        match self {
            Entry::Found(target) => Some(target),
            Entry::Missing => None,
        }
    }
}

impl StoreError {
    /// A copy for callers that shared one failed load; the cause stays in the log.
    fn shared_copy(&self) -> StoreError {
        match self {
            StoreError::Unavailable(_) => StoreError::Unavailable(sqlx::Error::PoolTimedOut),
            StoreError::Conflict(message) => StoreError::Conflict(message.clone()),
            StoreError::NotFound(what) => StoreError::NotFound(what),
            StoreError::Database(err) => {
                StoreError::Database(sqlx::Error::Protocol(format!("shared failure: {err}")))
            }
        }
    }
}
