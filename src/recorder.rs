//! The click recorder: redirects hand their click to a bounded queue and answer at once; one
//! background task drains the queue in batches, one multi-row insert per batch.
//!
//! The queue's capacity is the most clicks a crash can lose, and the one knob that trades
//! memory for tolerance of a slow database: when it is full a click is dropped and counted
//! (`hop_clicks_dropped_total`), never waited for. A reader that must see every click served
//! so far calls [`ClickQueue::flush`], which queues a marker behind them and waits for it.

use std::{sync::Arc, time::Duration};

use metrics::{counter, histogram};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::Instant,
};

use crate::store::{Click, Store, StoreError};

/// How long a reader waits for queued clicks before it reads what is there.
const FLUSH_WAIT: Duration = Duration::from_secs(3);
/// Attempts at writing one batch while the database is unavailable, and the pause between.
const WRITE_ATTEMPTS: u32 = 5;
const RETRY_PAUSE: Duration = Duration::from_millis(200);

enum Message {
    Click(Click),
    Flush(oneshot::Sender<()>),
}

/// The sending side, cloned into every request handler.
#[derive(Clone)]
pub struct ClickQueue {
    sender: mpsc::Sender<Message>,
}

/// The running recorder; [`Recorder::shutdown`] writes what is left and stops it.
pub struct Recorder {
    queue: ClickQueue,
    task: JoinHandle<()>,
}

impl Recorder {
    pub fn spawn(store: Arc<dyn Store>, capacity: usize, batch: usize) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let task = tokio::spawn(drain(store, receiver, batch.max(1)));
        Self {
            queue: ClickQueue { sender },
            task,
        }
    }

    pub fn queue(&self) -> ClickQueue {
        self.queue.clone()
    }

    /// Writes every queued click, then ends the task. Handlers still holding a queue keep
    /// it open, so the drain is awaited through a flush rather than channel closure.
    pub async fn shutdown(self) {
        self.queue.flush().await;
        self.task.abort();
        let _ = self.task.await;
    }
}

impl ClickQueue {
    /// Queues a click without waiting; a full queue drops it and counts the drop.
    pub fn push(&self, click: Click) {
        match self.sender.try_send(Message::Click(click)) {
            Ok(()) => counter!("hop_clicks_queued_total").increment(1),
            Err(_) => {
                counter!("hop_clicks_dropped_total").increment(1);
                tracing::warn!("click queue full, click dropped");
            }
        }
    }

    /// Returns once every click queued before this call has been written (or given up on),
    /// or after [`FLUSH_WAIT`] when the database is too slow for that.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        let queued = async {
            if self.sender.send(Message::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        };
        if tokio::time::timeout(FLUSH_WAIT, queued).await.is_err() {
            tracing::warn!("click flush timed out; reading without the newest clicks");
        }
    }

    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.sender.max_capacity()
    }
}

async fn drain(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>, batch: usize) {
    let mut messages = Vec::with_capacity(batch);
    let mut clicks = Vec::with_capacity(batch);
    let mut waiters = Vec::new();
    while receiver.recv_many(&mut messages, batch).await > 0 {
        for message in messages.drain(..) {
            match message {
                Message::Click(click) => clicks.push(click),
                Message::Flush(done) => waiters.push(done),
            }
        }
        if !clicks.is_empty() {
            write_batch(store.as_ref(), &clicks).await;
            clicks.clear();
        }
        for done in waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes one batch, retrying while the database is unavailable; what cannot be written is
/// counted as dropped.
async fn write_batch(store: &dyn Store, clicks: &[Click]) {
    let started = Instant::now();
    for attempt in 1..=WRITE_ATTEMPTS {
        match store.record_clicks(clicks).await {
            Ok(written) => {
                histogram!("hop_recorder_flush_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                counter!("hop_clicks_written_total").increment(written);
                counter!("hop_clicks_dropped_total").increment(clicks.len() as u64 - written);
                return;
            }
            Err(StoreError::Unavailable(err)) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(error = %err, attempt, "click batch not written, retrying");
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
            }
            Err(err) => {
                counter!("hop_db_errors_total").increment(1);
                counter!("hop_clicks_dropped_total").increment(clicks.len() as u64);
                tracing::error!(error = %err, clicks = clicks.len(), "click batch dropped");
                return;
            }
        }
    }
}
