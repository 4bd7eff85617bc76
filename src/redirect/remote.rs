//! The Redis layer: a cache shared by all replicas, and the bus that carries invalidations
//! between them.
//!
//! Redis is an accelerator, never a dependency: every call has a short timeout, and a circuit
//! breaker stops hop from paying that timeout on every request while Redis is down or slow.
//! Until the first connection succeeds (or while it is broken) the layer answers "don't know"
//! and hop serves from its own cache and the database.
//!
//! Invalidation: the replica that changed links deletes their Redis entries and publishes their
//! codes, in one message with a fresh nonce, on the channel of its Redis database
//! (`hop:invalidate:<db>`: channels are shared by every database of a Redis server, and the
//! acknowledgements are counted in the publisher's database). Every replica (itself included)
//! drops its local entries and increments `hop:ack:<nonce>`; the publisher waits, briefly,
//! until as many acks as `PUBLISH` reported receivers have arrived, so a change has reached
//! every replica before the API call that made it returns. It then does it all once more (see
//! `invalidate_together`). The same channel carries requests to write queued clicks (a
//! reader of events on another replica waits for them). A replica whose subscription breaks
//! clears its whole local cache when it resubscribes, since it may have missed messages.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use redis::{aio::ConnectionManager, AsyncCommands, Client};
use tokio::sync::OnceCell;

use super::gather::Gather;
use crate::recorder::ClickQueue;
use crate::store::Resolved;

/// Codes announced in one invalidation message at most: a user's deletion can take many links.
const CODES_PER_MESSAGE: usize = 1_000;
/// Batches of lookups in flight at once. Writes go one batch at a time, in the order they
/// were asked for (see [`RedisLayer::acknowledge`]).
const READS_IN_FLIGHT: usize = 2;
const WRITES_IN_FLIGHT: usize = 1;
/// Most commands in one batch.
const MOST_PER_BATCH: usize = 64;
/// Longest wait for one Redis command on the request path.
const CALL_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest wait for publishing an invalidation: rarer than lookups and worth more patience.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for every other replica to write its queued clicks for a reader of events. A
/// healthy replica answers within one batch's commit; a hung one (stopped, not yet restarted)
/// would make every read wait this long, so it is shorter than a replica's wait for its own
/// writer (3 s, `recorder::FLUSH_WAIT`).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// The word after the nonce that asks replicas to write their queued clicks instead of
/// naming codes to forget (codes never hold `!`).
const FLUSH_CLICKS: &str = "!clicks";
/// Longest wait for every replica to acknowledge an invalidation.
const ACK_TIMEOUT: Duration = Duration::from_millis(500);
/// Consecutive failures that open the breaker, and how long it then stays open.
const BREAKER_THRESHOLD: u32 = 3;
const BREAKER_OPEN: Duration = Duration::from_secs(5);

/// What Redis knows of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Found(Resolved),
    Missing,
}

#[derive(Clone)]
pub struct RedisLayer {
    client: Client,
    commands: Commands,
    /// Lookups and stores of entries, gathered into one `MGET` or one pipeline of `SET`s
    /// while earlier ones are in flight: one round trip, and one read and write for Redis, for
    /// the many misses of a flood of uncached codes.
    reads: Gather<String, Option<String>>,
    writes: Gather<Write, ()>,
    found_ttl: u64,
    missing_ttl: u64,
    /// The pub/sub channel of invalidations, named after the Redis database: another deployment
    /// on another database of the same server neither hears them nor is waited for.
    channel: Arc<str>,
    /// Codes changed while Redis could not be told: their shared entries may still hold the old
    /// answer, which a replica would read back after it clears its own cache on reconnecting.
    /// Deleted and announced once Redis answers again (at most [`UNPUBLISHED_MAX`] kept; past
    /// that the entries' TTL is the only bound).
    unpublished: Arc<Mutex<HashSet<String>>>,
    /// This replica's click queue, written out when another replica asks (see
    /// [`RedisLayer::flush_clicks_everywhere`]).
    clicks: ClickQueue,
}

const UNPUBLISHED_MAX: usize = 10_000;

impl RedisLayer {
    /// Connects in the background: hop starts whether or not Redis answers yet.
    pub fn connect(
        url: &str,
        found_ttl: Duration,
        missing_ttl: Duration,
        clicks: ClickQueue,
    ) -> anyhow::Result<Self> {
        let client = Client::open(url)?;
        let channel = format!("hop:invalidate:{}", client.get_connection_info().redis.db);
        let commands = Commands {
            connection: Arc::new(OnceCell::new()),
            breaker: Arc::new(Breaker::default()),
            known_down: Arc::default(),
        };
        let layer = Self {
            client,
            channel: channel.into(),
            reads: Gather::start(READS_IN_FLIGHT, MOST_PER_BATCH, {
                let commands = commands.clone();
                move |keys| commands.clone().read(keys)
            }),
            writes: Gather::start(WRITES_IN_FLIGHT, MOST_PER_BATCH, {
                let commands = commands.clone();
                move |writes| commands.clone().write(writes)
            }),
            commands,
            found_ttl: found_ttl.as_secs().max(1),
            missing_ttl: missing_ttl.as_secs().max(1),
            unpublished: Arc::default(),
            clicks,
        };
        // Down until connected: a Redis that is not there at start shows as 0, not as nothing.
        metrics::gauge!("hop_redis_up").set(0.0);
        tokio::spawn(layer.clone().keep_connecting());
        tokio::spawn(layer.clone().watch_for_return());
        Ok(layer)
    }

    async fn keep_connecting(self) {
        let mut pause = Duration::from_millis(100);
        loop {
            // The manager's own retries: at its defaults (delays of 1 s, then 100 times the
            // last, capped at 60 s, six times) a Redis that was down at start was reported only
            // after about five minutes, and one that came back waited up to a minute to be used.
            // Two quick retries here; this loop logs and tries again.
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_number_of_retries(2)
                .set_factor(2)
                .set_max_delay(2_000)
                .set_connection_timeout(Duration::from_secs(1))
                // The per-call limits below are shorter for lookups; this is the longest.
                .set_response_timeout(PUBLISH_TIMEOUT);
            match ConnectionManager::new_with_config(self.client.clone(), config).await {
                Ok(manager) => {
                    let _ = self.commands.connection.set(manager);
                    metrics::gauge!("hop_redis_up").set(1.0);
                    tracing::info!("redis connected");
                    return;
                }
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        address = %self.client.get_connection_info().addr,
                        "redis not reachable, serving without it"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// What Redis has for `code`, or `None` when it has nothing or could not be asked.
    pub async fn get(&self, code: &str) -> Option<Remote> {
        // Down or broken: answered at once, without queueing behind other lookups.
        self.commands.usable()?;
        let raw = self.reads.ask(key(code)).await.flatten()?;
        decode(code, &raw)
    }

    /// Stores what the database said about `code`.
    pub async fn put(&self, code: &str, value: &Remote) {
        let (value, ttl) = match value {
            Remote::Found(target) => (encode(target), self.found_ttl),
            Remote::Missing => ("-".to_owned(), self.missing_ttl),
        };
        if self.commands.usable().is_some() {
            let key = key(code);
            self.writes.ask(Write::Entry { key, value, ttl }).await;
        }
    }

    /// Deletes the shared entries of `codes` and tells every replica to drop its own; waits for
    /// their acknowledgements when `wait` is set.
    pub async fn invalidate(&self, codes: &[impl AsRef<str>], wait: bool) {
        for codes in codes.chunks(CODES_PER_MESSAGE) {
            self.invalidate_together(codes, wait).await;
        }
    }

    async fn invalidate_together(&self, codes: &[impl AsRef<str>], wait: bool) {
        let Some((nonce, receivers)) = self.announce(codes).await else {
            return;
        };
        if !wait || receivers == 0 {
            return;
        }
        self.await_acks(nonce, receivers, ACK_TIMEOUT, "invalidation")
            .await;
        // Twice. A replica that read the database just before the change may have stored the
        // old answer in Redis after the first delete (every such write reaches Redis before
        // that replica's ack, so before this point), and a replica that had already forgotten
        // the code may have read it back from there meanwhile and kept it. The second delete
        // and announcement take both back; no old answer can be stored after it.
        if let Some((nonce, receivers)) = self.announce(codes).await {
            self.await_acks(nonce, receivers, ACK_TIMEOUT, "invalidation")
                .await;
        }
    }

    /// Deletes the shared entries of `codes` and publishes them; the message's nonce and how
    /// many replicas heard it, or `None` (the codes kept for later) when Redis did not answer.
    async fn announce(&self, codes: &[impl AsRef<str>]) -> Option<(u64, u64)> {
        let nonce: u64 = rand::random();
        let mut message = nonce.to_string();
        for code in codes {
            message.push(' ');
            message.push_str(code.as_ref());
        }
        let keys: Vec<String> = codes.iter().map(|code| key(code.as_ref())).collect();
        let channel = self.channel.clone();
        let known_down = self.commands.known_down();
        let receivers: Option<u64> = self
            .commands
            .call_despite_breaker(|mut c| async move {
                let (_, receivers): ((), u64) = redis::pipe()
                    .del(keys)
                    .publish(&*channel, message)
                    .query_async(&mut c)
                    .await?;
                Ok(receivers)
            })
            .await;
        if receivers.is_none() {
            // Once Redis is known to be down, one line per change would flood the log; the
            // breaker's lines and `hop_redis_up` say it, and the codes are announced later.
            if known_down {
                tracing::debug!(
                    short_code = codes[0].as_ref(),
                    "invalidation kept for later: redis down"
                );
            } else {
                tracing::warn!(
                    short_code = codes[0].as_ref(),
                    codes = codes.len(),
                    "invalidation not published: redis unavailable"
                );
            }
            let mut unpublished = self.unpublished.lock().unwrap_or_else(|e| e.into_inner());
            for code in codes {
                if unpublished.len() < UNPUBLISHED_MAX {
                    unpublished.insert(code.as_ref().to_owned());
                }
            }
        }
        Some(nonce).zip(receivers)
    }

    /// Returns once every replica listening has written the clicks it had queued, or after
    /// [`FLUSH_TIMEOUT`]: a click is visible in `GET /events` right after its redirect, on
    /// whichever replica answers the read. Each replica, this one included, flushes its queue
    /// when the message arrives and then acknowledges it, as for an invalidation.
    ///
    /// What this cannot promise: `PUBLISH` counts the replicas subscribed at that moment, so
    /// one whose subscription is being re-established (100 ms after a dropped connection, a
    /// few seconds after a Redis restart) is neither asked nor waited for, and its queued
    /// clicks may be missing from that read. Redis offers no list of who should be listening;
    /// a registry of replicas with heartbeats would, at the cost of a replica's death counting
    /// as a missing acknowledgement.
    pub async fn flush_clicks_everywhere(&self) {
        let nonce: u64 = rand::random();
        let message = format!("{nonce} {FLUSH_CLICKS}");
        let channel = self.channel.clone();
        let known_down = self.commands.known_down();
        // Despite the breaker, like invalidations: lookups that timed out a moment ago must
        // not leave readers blind to the other replicas' clicks for the breaker's 5 s.
        let receivers: Option<u64> = self
            .commands
            .call_despite_breaker(|mut c| async move { c.publish(&*channel, message).await })
            .await;
        match receivers {
            Some(0) => {}
            Some(receivers) => {
                self.await_acks(nonce, receivers, FLUSH_TIMEOUT, "click flush")
                    .await;
            }
            // Only this replica's own clicks (flushed by the caller) are sure.
            None if known_down => {
                tracing::debug!("other replicas not asked for their clicks: redis down");
            }
            None => tracing::warn!("other replicas not asked for their clicks: redis unavailable"),
        }
    }

    /// Removes the shared entries of `codes`.
    pub async fn delete(&self, codes: &[impl AsRef<str>]) {
        let keys: Vec<String> = codes.iter().map(|code| key(code.as_ref())).collect();
        let _: Option<()> = self
            .commands
            .call(|mut c| async move { c.del(keys).await })
            .await;
    }

    async fn await_acks(&self, nonce: u64, expected: u64, limit: Duration, what: &'static str) {
        let ack = format!("hop:ack:{nonce}");
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_micros(200);
        loop {
            let key = ack.clone();
            // Like the announcement and the acks themselves, despite the breaker: lookups
            // timing out on a starved machine must not make every change wait out the limit.
            let acks: Option<Option<u64>> = self
                .commands
                .call_despite_breaker(|mut c| async move { c.get(key).await })
                .await;
            if acks.flatten().unwrap_or(0) >= expected {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(expected, what, "not every replica acknowledged in time");
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Listens for invalidations for as long as the process lives, calling `drop_local` with
    /// each code, or with `None` when messages may have been missed.
    pub async fn listen<F, Fut>(self, drop_local: F)
    where
        F: Fn(Option<String>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let mut pause = Duration::from_millis(100);
        loop {
            if let Ok(mut pubsub) = self.client.get_async_pubsub().await {
                if pubsub.subscribe(&*self.channel).await.is_ok() {
                    pause = Duration::from_millis(100);
                    metrics::gauge!("hop_redis_up").set(1.0);
                    drop_local(None).await;
                    tokio::spawn(self.clone().publish_missed());
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(text) = message.get_payload::<String>() else {
                            continue;
                        };
                        let mut words = text.split(' ');
                        let Some(nonce) = words.next() else {
                            continue;
                        };
                        let mut words = words.peekable();
                        if words.peek() == Some(&FLUSH_CLICKS) {
                            // Not waited for here: invalidations behind it go on meanwhile.
                            let (layer, nonce) = (self.clone(), nonce.to_owned());
                            tokio::spawn(async move {
                                layer.clicks.flush().await;
                                layer.acknowledge(&nonce).await;
                            });
                            continue;
                        }
                        for code in words {
                            drop_local(Some(code.to_owned())).await;
                        }
                        self.acknowledge(nonce).await;
                    }
                    metrics::gauge!("hop_redis_up").set(0.0);
                    tracing::warn!("redis invalidation subscription lost, resubscribing");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// Deletes and announces the codes changed while Redis was away, a few times over while
    /// the command connection comes back after the subscription did.
    async fn publish_missed(self) {
        for _ in 0..5 {
            if !self.publish_unpublished().await {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// While Redis is down or has changes to be told, asks it once a second whether it
    /// answers (a `PING` of 50 ms), and when it does, closes the breaker at once and announces
    /// the codes changed meanwhile. [`Self::publish_missed`] announces them when the
    /// subscription comes back; this also covers a Redis that stopped answering without
    /// dropping its connections (overloaded, or stopped and resumed), after which nobody
    /// subscribes again and the other replicas keep serving those links from their own caches.
    /// Requests do not wait for the question: their calls skip Redis until it is answered.
    async fn watch_for_return(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let waiting = !self
                .unpublished
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty();
            let down = self.commands.known_down() || self.commands.breaker.is_open();
            if !waiting && !down {
                continue;
            }
            // Asked even when nothing waits, so that a replica idle since the outage closes
            // its breaker (and uses Redis for lookups again) within a second of its return.
            let answering = self.commands.ping().await;
            if answering && waiting {
                self.publish_unpublished().await;
            }
        }
    }

    /// One announcement of the codes kept while Redis could not be told (those it still cannot
    /// be told are kept again); false when there were none. Nothing is tried while Redis is
    /// known to be down: the watcher's `PING` announces them once it answers.
    async fn publish_unpublished(&self) -> bool {
        if self.commands.known_down() {
            return true;
        }
        let codes: Vec<String> = {
            let mut unpublished = self.unpublished.lock().unwrap_or_else(|e| e.into_inner());
            unpublished.drain().collect()
        };
        if codes.is_empty() {
            return false;
        }
        tracing::info!(
            codes = codes.len(),
            "announcing changes made while redis was away"
        );
        self.invalidate(&codes, false).await;
        true
    }

    /// Counts this replica's acknowledgement of the invalidation `nonce`.
    ///
    /// The acknowledgement goes behind the entries this replica is storing: an entry read from
    /// the database before the change must reach Redis before the publisher, counting acks,
    /// deletes the code's entry a second time.
    async fn acknowledge(&self, nonce: &str) {
        let key = format!("hop:ack:{nonce}");
        self.writes.ask(Write::Ack { key }).await;
    }
}

/// Commands to Redis, each under a timeout and the circuit breaker.
#[derive(Clone)]
struct Commands {
    connection: Arc<OnceCell<ConnectionManager>>,
    breaker: Arc<Breaker>,
    /// Set when a call despite the breaker fails while the breaker is open: Redis is down, not
    /// hiccuping. Such calls then give up at once, until Redis answers a call again (the
    /// watcher's `PING` once a second, [`RedisLayer::watch_for_return`]).
    known_down: Arc<AtomicBool>,
}

/// A write on the shared cache, sent in order with the others.
enum Write {
    /// An entry to store: key, value and lifetime in seconds.
    Entry {
        key: String,
        value: String,
        ttl: u64,
    },
    /// The acknowledgement of an invalidation (its counter's key).
    Ack { key: String },
}

impl Commands {
    /// A connection when Redis is usable now: connected and the breaker closed.
    fn usable(&self) -> Option<ConnectionManager> {
        if self.breaker.is_open() {
            return None;
        }
        self.connection.get().cloned()
    }

    /// Runs one command under the timeout and the breaker; `None` when Redis did not answer.
    async fn call<T, F>(&self, command: impl FnOnce(ConnectionManager) -> F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.usable()?;
        self.attempt(connection, CALL_TIMEOUT, command).await
    }

    /// Like [`Self::call`] but tried even while the breaker is open, with more patience:
    /// invalidations are rare, and one skipped because Redis had a hiccup seconds ago would
    /// leave other replicas serving a changed link until its TTL runs out.
    ///
    /// One such call that fails with the breaker open shows Redis down, not hiccuping: the
    /// next ones give up at once instead of each holding its request for up to a second,
    /// until Redis answers again. What they could not announce is announced then.
    async fn call_despite_breaker<T, F>(
        &self,
        command: impl FnOnce(ConnectionManager) -> F,
    ) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection.get().cloned()?;
        if self.known_down() {
            return None;
        }
        let answer = self.attempt(connection, PUBLISH_TIMEOUT, command).await;
        if answer.is_none() && self.breaker.is_open() {
            self.known_down.store(true, Ordering::Relaxed);
        }
        answer
    }

    /// Whether calls despite the breaker are skipped: see `known_down`.
    fn known_down(&self) -> bool {
        self.known_down.load(Ordering::Relaxed)
    }

    /// Whether Redis answers a `PING` now, asked whatever the breaker says; an answer closes
    /// the breaker and ends `known_down`.
    async fn ping(&self) -> bool {
        let Some(connection) = self.connection.get().cloned() else {
            return false;
        };
        let ping = |mut c: ConnectionManager| async move {
            redis::cmd("PING").query_async::<()>(&mut c).await
        };
        self.attempt(connection, CALL_TIMEOUT, ping).await.is_some()
    }

    async fn attempt<T, F>(
        &self,
        connection: ConnectionManager,
        limit: Duration,
        command: impl FnOnce(ConnectionManager) -> F,
    ) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(limit, command(connection)).await {
            Ok(Ok(value)) => {
                self.breaker.succeeded();
                self.known_down.store(false, Ordering::Relaxed);
                Some(value)
            }
            Ok(Err(err)) => {
                self.breaker.failed();
                tracing::debug!(error = %err, "redis call failed");
                None
            }
            Err(_) => {
                self.breaker.failed();
                tracing::debug!("redis call timed out");
                None
            }
        }
    }

    /// The values of `keys`, in order; all `None` when Redis did not answer.
    async fn read(self, keys: Vec<String>) -> Vec<Option<String>> {
        let asked = keys.len();
        let values: Option<Vec<Option<String>>> =
            self.call(|mut c| async move { c.mget(keys).await }).await;
        match values {
            Some(values) if values.len() == asked => values,
            _ => vec![None; asked],
        }
    }

    /// Sends `writes` in one pipeline, in order; despite the breaker when it holds an
    /// acknowledgement, which a publisher waits for.
    async fn write(self, writes: Vec<Write>) -> Vec<()> {
        let count = writes.len();
        let mut pipe = redis::pipe();
        let mut acks = false;
        for write in writes {
            match write {
                Write::Entry { key, value, ttl } => pipe.set_ex(key, value, ttl).ignore(),
                Write::Ack { key } => {
                    acks = true;
                    pipe.incr(&key, 1).ignore().expire(&key, 10).ignore()
                }
            };
        }
        let send = |mut c: ConnectionManager| async move { pipe.query_async(&mut c).await };
        let _: Option<()> = match acks {
            true => self.call_despite_breaker(send).await,
            false => self.call(send).await,
        };
        vec![(); count]
    }
}

fn key(code: &str) -> String {
    format!("hop:link:{code}")
}

/// `link_id user_id url`: the URL goes last, so it may hold anything but a newline.
fn encode(target: &Resolved) -> String {
    format!(
        "{} {} {}",
        target.link_id, target.user_id, target.original_url
    )
}

fn decode(code: &str, raw: &str) -> Option<Remote> {
    if raw == "-" {
        return Some(Remote::Missing);
    }
    let mut parts = raw.splitn(3, ' ');
    let link_id = parts.next()?.parse().ok()?;
    let user_id = parts.next()?.parse().ok()?;
    let url = parts.next()?;
    Some(Remote::Found(Resolved {
        link_id,
        user_id,
        short_code: code.into(),
        original_url: url.into(),
    }))
}

/// Opens after [`BREAKER_THRESHOLD`] failures in a row; after [`BREAKER_OPEN`] it lets calls
/// through again, and one success closes it.
#[derive(Default)]
struct Breaker {
    failures: AtomicU32,
    /// Milliseconds since `epoch()` until which the breaker is open; 0 when closed.
    open_until: AtomicU64,
}

impl Breaker {
    fn is_open(&self) -> bool {
        let until = self.open_until.load(Ordering::Relaxed);
        until != 0 && crate::domain::monotonic_millis() < until
    }

    fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        if self.open_until.swap(0, Ordering::Relaxed) != 0 {
            metrics::gauge!("hop_redis_up").set(1.0);
            tracing::info!("redis answering again: circuit breaker closed");
        }
    }

    fn failed(&self) {
        if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= BREAKER_THRESHOLD {
            let until = crate::domain::monotonic_millis() + BREAKER_OPEN.as_millis() as u64;
            if self.open_until.swap(until, Ordering::Relaxed) == 0 {
                metrics::gauge!("hop_redis_up").set(0.0);
                tracing::warn!("redis circuit breaker open: bypassing redis for 5 s");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_survives_encoding_with_spaces_in_the_url() {
        let target = Resolved {
            link_id: 7,
            user_id: 3,
            short_code: "abc123".into(),
            original_url: "https://x.io/a b".into(),
        };
        assert_eq!(
            decode("abc123", &encode(&target)),
            Some(Remote::Found(target))
        );
        assert_eq!(decode("abc123", "-"), Some(Remote::Missing));
        assert_eq!(decode("abc123", "garbage"), None);
    }

    #[test]
    fn the_breaker_opens_after_three_failures_and_closes_on_success() {
        let breaker = Breaker::default();
        breaker.failed();
        breaker.failed();
        assert!(!breaker.is_open());
        breaker.failed();
        assert!(breaker.is_open());
        breaker.succeeded();
        assert!(!breaker.is_open());
    }
}
