//! The click recorder: redirects hand their click to a bounded queue and answer at once; one
//! background task drains the queue in batches, one multi-row insert per batch.
//!
//! The queue's capacity is the most clicks a crash can lose, and the one knob that trades
//! memory for tolerance of a slow database: when it is full a click is dropped and counted
//! (`hop_clicks_dropped_total`), never waited for. A reader that must see every click served
//! so far calls [`ClickQueue::flush`], which queues a marker behind them and waits for it.
//!
//! A batch is written when it is full, when its oldest click has waited `linger`, or at once
//! when a reader is waiting: under load this turns thousands of one-click commits into a few
//! large ones (measured: most of the database's CPU per click was commit and WAL overhead).

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use metrics::{counter, histogram};
use tokio::{
    sync::{mpsc, oneshot, Notify},
    task::JoinHandle,
    time::Instant,
};

use crate::store::{Click, Store, StoreError};

/// How often drops of clicks are logged (with their count), while there are any.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long a reader waits for queued clicks before it reads what is there.
const FLUSH_WAIT: Duration = Duration::from_secs(3);
/// How long one batch is retried while the database is unavailable, by time rather than by
/// attempts: a database that refuses connections fails each attempt at once, and five quick
/// attempts gave up on a batch two seconds into an outage.
const WRITE_PATIENCE: Duration = Duration::from_secs(12);
/// The pause after the first failed attempt, growing by as much after each, up to the longest.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);

enum Message {
    Click(Click),
    Flush(oneshot::Sender<()>),
}

/// How the writer groups clicks.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Most clicks in one statement.
    pub size: usize,
    /// Longest a click waits for others to share its write.
    pub linger: Duration,
}

/// The sending side, cloned into every request handler.
#[derive(Clone)]
pub struct ClickQueue {
    sender: mpsc::Sender<Message>,
    /// Cuts the writer's linger short when a reader waits.
    reader_waiting: Arc<Notify>,
    drops: Arc<DropReport>,
    /// Clicks accepted and neither written nor counted as dropped yet.
    pending: Arc<AtomicUsize>,
}

/// The running recorder; [`Recorder::shutdown`] writes what is left and stops it.
pub struct Recorder {
    queue: ClickQueue,
    task: JoinHandle<()>,
    reporter: JoinHandle<()>,
}

impl Recorder {
    pub fn spawn(store: Arc<dyn Store>, capacity: usize, batching: Batching) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let queue = ClickQueue {
            sender,
            reader_waiting: Arc::new(Notify::new()),
            drops: Arc::default(),
            pending: Arc::default(),
        };
        let batching = Batching {
            size: batching.size.max(1),
            ..batching
        };
        let task = tokio::spawn(drain(store, receiver, batching, queue.clone()));
        let reporter = tokio::spawn(report_drops(queue.drops.clone()));
        Self {
            queue,
            task,
            reporter,
        }
    }

    pub fn queue(&self) -> ClickQueue {
        self.queue.clone()
    }

    /// Writes every queued click, waiting at most `wait` (the writer keeps retrying while
    /// the database is away), then ends the task. Clicks still unwritten then are counted as
    /// dropped and logged, never lost silently. Handlers still holding a queue keep it open,
    /// so the drain is awaited through a flush rather than channel closure.
    /// Returns how many clicks were given up.
    pub async fn shutdown(self, wait: Duration) -> usize {
        if !self.queue.flush_within(wait).await {
            tracing::warn!(
                wait_secs = wait.as_secs(),
                "click writer still busy at shutdown"
            );
        }
        self.task.abort();
        let _ = self.task.await;
        self.reporter.abort();
        let lost = self.queue.pending.swap(0, Ordering::Relaxed);
        if lost > 0 {
            counter!("hop_clicks_dropped_total").increment(lost as u64);
            tracing::error!(clicks = lost, "clicks not written before shutdown");
        }
        self.queue.drops.report();
        lost
    }
}

impl ClickQueue {
    /// Queues a click without waiting; a full queue drops it and counts the drop.
    pub fn push(&self, click: Click) {
        match self.sender.try_send(Message::Click(click)) {
            Ok(()) => {
                self.pending.fetch_add(1, Ordering::Relaxed);
                counter!("hop_clicks_queued_total").increment(1);
            }
            Err(_) => {
                counter!("hop_clicks_dropped_total").increment(1);
                self.drops.note();
            }
        }
    }

    /// Returns once every click queued before this call has been written (or given up on),
    /// or after [`FLUSH_WAIT`] when the database is too slow for that.
    pub async fn flush(&self) {
        if !self.flush_within(FLUSH_WAIT).await {
            tracing::warn!("click flush timed out; reading without the newest clicks");
        }
    }

    /// Whether every click queued before the call was handled within `limit`.
    async fn flush_within(&self, limit: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let queued = async {
            if self.sender.send(Message::Flush(done)).await.is_ok() {
                self.reader_waiting.notify_one();
                let _ = wait.await;
            }
        };
        tokio::time::timeout(limit, queued).await.is_ok()
    }

    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.sender.max_capacity()
    }
}

/// Drops are logged once a second, with how many there were: a full queue under a flood
/// would otherwise add a log line to every request it already cannot record. A task of their
/// own logs them, so neither a request (whose id the line would carry, though it counts the
/// drops of all of them) nor a writer stuck on the database holds the count back.
#[derive(Default)]
struct DropReport {
    unreported: AtomicU64,
}

impl DropReport {
    fn note(&self) {
        self.unreported.fetch_add(1, Ordering::Relaxed);
    }

    /// Logs the drops not reported yet, if any.
    fn report(&self) {
        let dropped = self.unreported.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "click queue full, clicks dropped");
        }
    }
}

/// Reports drops every second until the recorder stops (which reports the last ones).
async fn report_drops(drops: Arc<DropReport>) {
    let mut every = tokio::time::interval(DROP_REPORT_EVERY);
    loop {
        every.tick().await;
        drops.report();
    }
}

async fn drain(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<Message>,
    batching: Batching,
    queue: ClickQueue,
) {
    let mut messages = Vec::with_capacity(batching.size);
    let mut clicks = Vec::with_capacity(batching.size);
    let mut waiters = Vec::new();
    while receiver.recv_many(&mut messages, batching.size).await > 0 {
        let reader = messages.iter().any(|m| matches!(m, Message::Flush(_)));
        if !reader && messages.len() < batching.size && !batching.linger.is_zero() {
            let until = Instant::now() + batching.linger;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = queue.reader_waiting.notified() => {}
                }
                while messages.len() < batching.size {
                    match receiver.try_recv() {
                        Ok(message) => messages.push(message),
                        Err(_) => break,
                    }
                }
                // Only a reader's marker, a full batch or the time ends the wait: a wake-up
                // kept from a reader whose marker was taken before (while the writer was not
                // waiting) must not cut every next linger short.
                let reader = messages.iter().any(|m| matches!(m, Message::Flush(_)));
                if reader || messages.len() >= batching.size || Instant::now() >= until {
                    break;
                }
            }
        }
        for message in messages.drain(..) {
            match message {
                Message::Click(click) => clicks.push(click),
                Message::Flush(done) => waiters.push(done),
            }
        }
        if !clicks.is_empty() {
            write_batch(store.as_ref(), &clicks).await;
            queue.pending.fetch_sub(clicks.len(), Ordering::Relaxed);
            clicks.clear();
        }
        for done in waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes one batch, retrying while the database is unavailable; what cannot be written is
/// counted as dropped. Clicks of a user deleted since they were served are skipped, as the
/// deletion would have removed them, and counted apart so that they do not read as lost.
async fn write_batch(store: &dyn Store, clicks: &[Click]) {
    let started = Instant::now();
    for attempt in 1.. {
        match store.record_clicks(clicks).await {
            Ok(written) => {
                histogram!("hop_recorder_flush_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                counter!("hop_clicks_written_total").increment(written);
                let skipped = clicks.len() as u64 - written;
                if skipped > 0 {
                    // Not lost: their user was deleted, and the user's events with them.
                    counter!("hop_clicks_skipped_total").increment(skipped);
                    tracing::info!(clicks = skipped, "clicks of a deleted user not written");
                }
                return;
            }
            Err(StoreError::Unavailable(err)) if started.elapsed() < WRITE_PATIENCE => {
                tracing::warn!(error = %err, attempt, "click batch not written, retrying");
                tokio::time::sleep((RETRY_PAUSE * attempt).min(RETRY_PAUSE_MAX)).await;
            }
            Err(err) => {
                counter!("hop_db_errors_total").increment(1);
                counter!("hop_clicks_dropped_total").increment(clicks.len() as u64);
                tracing::error!(
                    error = crate::telemetry::causes(&err),
                    clicks = clicks.len(),
                    "click batch dropped"
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbSettings;
    use crate::domain::{now, Email, TargetUrl, Username};
    use crate::store::{EventFilter, NewLink, NewUser, Resolved};

    /// A fresh SQLite store with one user and one link, and a click on that link.
    async fn store_with_link(dir: &tempfile::TempDir) -> (Arc<dyn Store>, Click) {
        let url = format!("sqlite://{}", dir.path().join("recorder.db").display());
        let settings = DbSettings {
            pool_size: 2,
            acquire_timeout_ms: 2_000,
            statement_timeout_ms: 5_000,
        };
        let store: Arc<dyn Store> = crate::store::connect(Some(&url), &settings)
            .await
            .unwrap()
            .into();
        let new_user = NewUser {
            username: Username::parse("ada").unwrap(),
            email: Email::parse("ada@example.com").unwrap(),
        };
        let (user, _) = store.create_user(&new_user).await.unwrap();
        let link = store
            .create_link(&NewLink {
                user_id: user.id,
                original_url: TargetUrl::parse("https://example.com/a", &[]).unwrap(),
                title: None,
            })
            .await
            .unwrap();
        let click = Click {
            target: Resolved {
                link_id: link.id,
                user_id: user.id,
                short_code: link.short_code.as_str().into(),
                original_url: link.original_url.as_str().into(),
            },
            at: now(),
            referrer: None,
            user_agent: Some("test".into()),
        };
        (store, click)
    }

    /// A recorder over a fresh store with one link, and a click on that link.
    async fn recorder_with(
        dir: &tempfile::TempDir,
        size: usize,
        linger: Duration,
    ) -> (Arc<dyn Store>, Click, Recorder) {
        let (store, click) = store_with_link(dir).await;
        let recorder = Recorder::spawn(store.clone(), 100, Batching { size, linger });
        (store, click, recorder)
    }

    async fn clicks_stored(store: &dyn Store) -> usize {
        let filter = EventFilter {
            event_type: Some("click".into()),
            ..EventFilter::default()
        };
        store.list_events(&filter, None).await.unwrap().len()
    }

    /// Polls until `want` clicks are stored, for at most five seconds.
    async fn wait_for_clicks(store: &dyn Store, want: usize) -> usize {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let stored = clicks_stored(store).await;
            if stored >= want || Instant::now() > until {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_reader_does_not_wait_for_the_linger() {
        let dir = tempfile::tempdir().unwrap();
        let (store, click, recorder) = recorder_with(&dir, 100, Duration::from_secs(600)).await;
        let queue = recorder.queue();
        queue.push(click.clone());
        queue.push(click);
        // Let the writer take the clicks and start lingering before the reader arrives.
        tokio::time::sleep(Duration::from_millis(50)).await;

        let started = Instant::now();
        queue.flush().await;
        assert!(
            started.elapsed() < FLUSH_WAIT,
            "the flush cut the linger short"
        );
        assert_eq!(clicks_stored(store.as_ref()).await, 2);
        assert_eq!(recorder.shutdown(Duration::from_secs(5)).await, 0);
    }

    #[tokio::test]
    async fn a_read_while_the_writer_is_idle_does_not_cut_the_next_linger_short() {
        let dir = tempfile::tempdir().unwrap();
        let linger = Duration::from_secs(1);
        let (store, click, recorder) = recorder_with(&dir, 100, linger).await;
        // Nothing queued: the marker is taken at once, and the wake-up meant for a lingering
        // writer is kept for the next wait.
        recorder.queue().flush().await;
        recorder.queue().push(click);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(clicks_stored(store.as_ref()).await, 0, "still lingering");
        assert_eq!(wait_for_clicks(store.as_ref(), 1).await, 1);
    }

    #[tokio::test]
    async fn a_lone_click_is_written_once_it_has_lingered() {
        let dir = tempfile::tempdir().unwrap();
        let (store, click, recorder) = recorder_with(&dir, 100, Duration::from_millis(50)).await;
        recorder.queue().push(click);
        assert_eq!(wait_for_clicks(store.as_ref(), 1).await, 1);
        assert_eq!(recorder.shutdown(Duration::from_secs(5)).await, 0);
    }

    #[tokio::test]
    async fn a_full_batch_is_written_without_lingering() {
        let dir = tempfile::tempdir().unwrap();
        let (store, click, recorder) = recorder_with(&dir, 3, Duration::from_secs(600)).await;
        let queue = recorder.queue();
        for _ in 0..3 {
            queue.push(click.clone());
        }
        assert_eq!(wait_for_clicks(store.as_ref(), 3).await, 3);
        assert_eq!(recorder.shutdown(Duration::from_secs(5)).await, 0);
    }

    #[tokio::test]
    async fn clicks_the_database_cannot_take_before_shutdown_are_counted_lost() {
        use sqlx::{Connection, Executor};

        let dir = tempfile::tempdir().unwrap();
        let (store, click, recorder) = recorder_with(&dir, 100, Duration::ZERO).await;
        // Another connection holds SQLite's write lock, so the writer waits on it.
        let url = format!("sqlite://{}", dir.path().join("recorder.db").display());
        let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
        blocker.execute("BEGIN IMMEDIATE").await.unwrap();
        for _ in 0..3 {
            recorder.queue().push(click.clone());
        }

        assert_eq!(recorder.shutdown(Duration::from_millis(300)).await, 3);
        blocker.execute("ROLLBACK").await.unwrap();
        assert_eq!(clicks_stored(store.as_ref()).await, 0);
    }

    #[tokio::test]
    async fn a_batch_larger_than_one_statement_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (store, click) = store_with_link(&dir).await;
        // 234 = 2 statements of 100, 3 of 10 and 4 of 1.
        let clicks = vec![click; 234];
        assert_eq!(store.record_clicks(&clicks).await.unwrap(), 234);
        assert_eq!(clicks_stored(store.as_ref()).await, 234);
    }

    /// Drops are logged by their own task within a second: neither a batch written nor a
    /// click after them is needed (a writer stuck on the database wrote none).
    #[tokio::test]
    async fn drops_are_reported_within_a_second_without_the_writer() {
        let drops = Arc::new(DropReport::default());
        let reporter = tokio::spawn(report_drops(drops.clone()));
        tokio::task::yield_now().await;
        for _ in 0..5 {
            drops.note();
        }
        assert_eq!(
            drops.unreported.load(Ordering::Relaxed),
            5,
            "noting logs nothing"
        );
        tokio::time::sleep(DROP_REPORT_EVERY + Duration::from_millis(200)).await;
        assert_eq!(
            drops.unreported.load(Ordering::Relaxed),
            0,
            "one line took all five"
        );
        reporter.abort();
    }
}
