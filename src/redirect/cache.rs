//! Code -> target resolution: the in-process cache, then Redis (when configured), then the
//! database.
//!
//! Found links live for `cache_ttl_secs`, unknown codes for `negative_ttl_secs`, so a flood of
//! random codes reaches the database once per code and period. Concurrent misses of one code
//! share a single load. Every change to a link invalidates it in both layers, on every replica,
//! before the API answers (see `remote.rs`); the TTLs bound staleness should an invalidation
//! ever be lost (Redis down at the moment of the change).

use std::{
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::http::HeaderValue;
use metrics::{counter, Counter};
use moka::{future::Cache, Expiry};

use super::lookups::Lookups;
use super::remote::{RedisLayer, Remote};
use crate::store::{Resolved, Store, StoreError};

/// Which layer answered a lookup; becomes the `cache` span field and the `X-Cache` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Layer {
    Local = 0,
    Redis = 1,
    Database = 2,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Local => "local",
            Layer::Redis => "redis",
            Layer::Database => "database",
        }
    }
}

/// Invalidation generations kept; see [`LinkCache::generation`].
const SLOTS: usize = 64;

/// A link ready to redirect to: the `Location` header is built once, when cached.
#[derive(Debug, Clone)]
pub struct Target {
    pub resolved: Resolved,
    pub location: HeaderValue,
}

/// A cached answer: the target, or "no such active code".
#[derive(Debug, Clone)]
enum Entry {
    Found(Target),
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

/// Counter handles for the hot path, registered once.
#[derive(Clone)]
struct Counters {
    local_hits: Counter,
    local_misses: Counter,
    redis_hits: Counter,
    redis_misses: Counter,
}

#[derive(Clone)]
pub struct LinkCache {
    local: Cache<Arc<str>, Entry>,
    remote: Option<RedisLayer>,
    lookups: Lookups,
    /// Bumped by every invalidation of a code in the slot; a load that straddles one is
    /// repeated, so an answer read before a change is never cached after it. Slots keep the
    /// churn of unrelated codes from making loads repeat.
    generations: Arc<[AtomicU64; SLOTS]>,
    counters: Counters,
}

/// Sizes and lifetimes of the cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    pub capacity: u64,
    pub ttl: Duration,
    pub negative_ttl: Duration,
}

impl LinkCache {
    pub fn new(store: Arc<dyn Store>, settings: CacheSettings, remote: Option<RedisLayer>) -> Self {
        let local = Cache::builder()
            .max_capacity(settings.capacity)
            .expire_after(EntryExpiry {
                found: settings.ttl,
                missing: settings.negative_ttl,
            })
            .build();
        let counters = Counters {
            local_hits: counter!("hop_cache_hits_total", "layer" => "local"),
            local_misses: counter!("hop_cache_misses_total", "layer" => "local"),
            redis_hits: counter!("hop_cache_hits_total", "layer" => "redis"),
            redis_misses: counter!("hop_cache_misses_total", "layer" => "redis"),
        };
        let generations = Arc::new(std::array::from_fn(|_| AtomicU64::new(0)));
        let cache = Self {
            local,
            remote,
            lookups: Lookups::start(store),
            generations,
            counters,
        };
        if let Some(remote) = cache.remote.clone() {
            let listener = cache.clone();
            tokio::spawn(remote.listen(move |code| {
                let cache = listener.clone();
                async move { cache.forget_local(code.as_deref()).await }
            }));
        }
        cache
    }

    /// What the in-process layer knows of `code` (the active target, or that there is none):
    /// `None` when it holds nothing for it, and [`LinkCache::fetch`] is next. Never waits on
    /// I/O and never logs.
    pub async fn cached(&self, code: &str) -> Option<Option<Target>> {
        let entry = self.local.get(code).await?;
        self.counters.local_hits.increment(1);
        Some(entry.into_target())
    }

    /// The active target of a code the in-process layer does not hold, and the layer that knew
    /// it: Redis or the database, one load per code however many ask at once. The answer is
    /// kept in the in-process layer.
    pub async fn fetch(&self, code: &str) -> Result<(Option<Target>, Layer), StoreError> {
        self.counters.local_misses.increment(1);

        let answered_by = AtomicU8::new(Layer::Database as u8);
        let entry = self
            .local
            .try_get_with(Arc::from(code), self.load(code, &answered_by))
            .await
            .map_err(Arc::unwrap_or_clone)?;
        let layer = match answered_by.load(Ordering::Relaxed) {
            1 => Layer::Redis,
            _ => Layer::Database,
        };
        Ok((entry.into_target(), layer))
    }

    /// Returns once every replica has written the clicks it had queued (see
    /// [`RedisLayer::flush_clicks_everywhere`]); without Redis there is no other replica to ask.
    pub async fn flush_clicks_everywhere(&self) {
        if let Some(remote) = &self.remote {
            remote.flush_clicks_everywhere().await;
        }
    }

    /// Forgets `code` here and on every replica before returning.
    pub async fn invalidate(&self, code: &str) {
        self.invalidate_all_of(&[code]).await;
    }

    /// Forgets `codes` here and on every replica before returning, telling the replicas in one
    /// message (a user's deletion takes all of the user's links at once).
    pub async fn invalidate_all_of(&self, codes: &[impl AsRef<str>]) {
        for code in codes {
            self.forget_local(Some(code.as_ref())).await;
        }
        if let Some(remote) = &self.remote {
            remote.invalidate(codes, true).await;
        }
    }

    /// Forgets a code that was just created (a "no such code" may be cached for it). Replicas
    /// are told without waiting: the worst case is a 404 for `negative_ttl_secs`.
    pub async fn forget_new(&self, code: &str) {
        self.forget_local(Some(code)).await;
        if let Some(remote) = &self.remote {
            remote.invalidate(&[code], false).await;
        }
    }

    /// Drops one local entry, or all of them when `code` is `None`.
    async fn forget_local(&self, code: Option<&str>) {
        match code {
            Some(code) => {
                self.generation(code).fetch_add(1, Ordering::SeqCst);
                self.local.invalidate(code).await;
            }
            None => {
                self.generations
                    .iter()
                    .for_each(|slot| _ = slot.fetch_add(1, Ordering::SeqCst));
                self.local.invalidate_all();
            }
        }
    }

    fn generation(&self, code: &str) -> &AtomicU64 {
        // FNV-1a: stable and cheap; the slot only needs to spread codes, not resist attack.
        let hash = code.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.generations[(hash % SLOTS as u64) as usize]
    }

    async fn load(&self, code: &str, answered_by: &AtomicU8) -> Result<Entry, StoreError> {
        loop {
            let generation = self.generation(code);
            let before = generation.load(Ordering::SeqCst);
            let unchanged = || generation.load(Ordering::SeqCst) == before;

            if let Some(remote) = &self.remote {
                if let Some(known) = remote.get(code).await {
                    self.counters.redis_hits.increment(1);
                    if unchanged() {
                        answered_by.store(Layer::Redis as u8, Ordering::Relaxed);
                        return Ok(Entry::from_remote(known));
                    }
                    continue;
                }
                self.counters.redis_misses.increment(1);
            }

            let found = self.lookups.resolve(code).await?;
            if !unchanged() {
                continue;
            }
            let Some(remote) = &self.remote else {
                return Ok(Entry::from_db(found));
            };
            let shared = found.clone().map_or(Remote::Missing, Remote::Found);
            remote.put(code, &shared).await;
            if unchanged() {
                return Ok(Entry::from_db(found));
            }
            // A change arrived while the answer was being shared: take it back and read again.
            remote.delete(&[code]).await;
        }
    }
}

impl Entry {
    fn from_db(found: Option<Resolved>) -> Self {
        found.map_or(Entry::Missing, Entry::found)
    }

    fn from_remote(remote: Remote) -> Self {
        match remote {
            Remote::Found(resolved) => Entry::found(resolved),
            Remote::Missing => Entry::Missing,
        }
    }

    /// A stored target that cannot be a header value (never true of a normalized URL) is
    /// treated as missing rather than served broken.
    fn found(resolved: Resolved) -> Self {
        match HeaderValue::from_str(&resolved.original_url) {
            Ok(location) => Entry::Found(Target { resolved, location }),
            Err(_) => {
                tracing::error!(
                    link_id = resolved.link_id,
                    "stored target is not a header value"
                );
                Entry::Missing
            }
        }
    }

    fn into_target(self) -> Option<Target> {
        match self {
            Entry::Found(target) => Some(target),
            Entry::Missing => None,
        }
    }
}
