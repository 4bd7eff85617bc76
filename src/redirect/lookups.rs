//! Database reads of codes that missed both cache layers.
//!
//! Misses that arrive while earlier ones are being read are gathered into one statement: under
//! a flood of uncached codes the database answers dozens of codes per round trip instead of
//! one, and the pool's per-query costs (sqlx checks each connection with a round trip when it
//! is released) are paid once per batch. A lone miss is read at once, never held back to wait
//! for company: batches form only while all [`READERS`] are busy.

use std::{collections::HashMap, future::Future, sync::Arc};

use metrics::counter;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::store::{Resolved, Store, StoreResult};

/// Statements reading codes at the same time. Each holds one pooled connection while it runs,
/// so the rest of the pool stays free for the API and the click writer.
const READERS: usize = 4;
/// Most codes read by one statement.
const MOST_PER_READ: usize = 64;
/// Misses waiting for a reader before callers wait to queue.
const QUEUE: usize = 4096;

type Answer = StoreResult<Option<Resolved>>;

struct Pending {
    code: String,
    reply: oneshot::Sender<Answer>,
}

#[derive(Clone)]
pub struct Lookups {
    queue: mpsc::Sender<Pending>,
}

impl Lookups {
    /// Starts the task that gathers misses and hands them to readers of `store`.
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self::with_reader(move |codes| {
            let store = store.clone();
            async move { store.resolve_many(&codes).await }
        })
    }

    /// Like [`Self::start`], with `read` answering each batch of codes.
    fn with_reader<R, F>(read: R) -> Self
    where
        R: Fn(Arc<[String]>) -> F + Send + Sync + 'static,
        F: Future<Output = StoreResult<Vec<Resolved>>> + Send + 'static,
    {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(gather(read, waiting));
        Self { queue }
    }

    /// The active target of `code`, if any, read from the database.
    pub async fn resolve(&self, code: &str) -> Answer {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            code: code.to_owned(),
            reply,
        };
        // The gathering task ends only with the runtime; until then both ends stay open.
        if self.queue.send(pending).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        answer.await.unwrap_or(Err(sqlx::Error::PoolClosed.into()))
    }
}

/// Takes a free reader, then everything queued (up to [`MOST_PER_READ`]) for it to read.
async fn gather<R, F>(read: R, mut waiting: mpsc::Receiver<Pending>)
where
    R: Fn(Arc<[String]>) -> F,
    F: Future<Output = StoreResult<Vec<Resolved>>> + Send + 'static,
{
    let readers = Arc::new(Semaphore::new(READERS));
    let codes_read = counter!("hop_db_lookups_total");
    let statements = counter!("hop_db_lookup_statements_total");
    loop {
        let Ok(reader) = readers.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MOST_PER_READ);
        if waiting.recv_many(&mut batch, MOST_PER_READ).await == 0 {
            return;
        }
        codes_read.increment(batch.len() as u64);
        statements.increment(1);
        let (codes, replies): (Vec<String>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.code, pending.reply))
            .unzip();
        let codes: Arc<[String]> = codes.into();
        let found = read(codes.clone());
        tokio::spawn(async move {
            answer(codes, replies, found.await);
            drop(reader);
        });
    }
}

/// Hands each caller of a batch its code's answer.
fn answer(
    codes: Arc<[String]>,
    replies: Vec<oneshot::Sender<Answer>>,
    found: StoreResult<Vec<Resolved>>,
) {
    // A caller that went away (its client hung up) needs no answer: sends may fail.
    match found {
        Ok(found) => {
            let by_code: HashMap<Arc<str>, Resolved> = found
                .into_iter()
                .map(|resolved| (resolved.short_code.clone(), resolved))
                .collect();
            for (code, reply) in codes.iter().zip(replies) {
                let _ = reply.send(Ok(by_code.get(code.as_str()).cloned()));
            }
        }
        Err(err) => {
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::StoreError;

    fn target(code: &str, link_id: i64) -> Resolved {
        Resolved {
            link_id,
            user_id: 7,
            short_code: code.into(),
            original_url: format!("https://example.com/{code}").into(),
        }
    }

    /// A reader that records each batch and answers only once `gate` has permits; every code
    /// but `gone` is found, with its batch's number as link id.
    fn gated_reader(
        gate: Arc<Semaphore>,
        batches: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> impl Fn(Arc<[String]>) -> futures::future::BoxFuture<'static, StoreResult<Vec<Resolved>>>
    {
        move |codes| {
            let gate = gate.clone();
            let batches = batches.clone();
            Box::pin(async move {
                let number = {
                    let mut batches = batches.lock().unwrap();
                    batches.push(codes.to_vec());
                    batches.len() as i64
                };
                gate.acquire().await.unwrap().forget();
                Ok(codes
                    .iter()
                    .filter(|code| code.as_str() != "gone")
                    .map(|code| target(code, number))
                    .collect())
            })
        }
    }

    /// Waits for `what` to hold; fails the test after 10 s rather than hang it.
    async fn until(what: impl Fn() -> bool) {
        let waiting = async {
            while !what() {
                tokio::task::yield_now().await;
            }
        };
        let limit = std::time::Duration::from_secs(10);
        tokio::time::timeout(limit, waiting)
            .await
            .expect("condition not reached in 10 s");
    }

    #[tokio::test]
    async fn misses_queued_while_every_reader_is_busy_are_read_together() {
        let gate = Arc::new(Semaphore::new(0));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let lookups = Lookups::with_reader(gated_reader(gate.clone(), batches.clone()));

        // One at a time, so that each is read alone and holds one reader.
        let mut first = Vec::new();
        for n in 0..READERS {
            let lookups = lookups.clone();
            first.push(tokio::spawn(async move {
                lookups.resolve(&format!("first{n}")).await
            }));
            until(|| batches.lock().unwrap().len() == n + 1).await;
        }

        let later = ["a", "gone", "b", "c", "d", "e"];
        let queued: Vec<_> = later
            .into_iter()
            .map(|code| {
                let lookups = lookups.clone();
                tokio::spawn(async move { lookups.resolve(code).await })
            })
            .collect();
        until(|| lookups.queue.capacity() == QUEUE - later.len()).await;
        gate.add_permits(1_000);

        for (n, lookup) in first.into_iter().enumerate() {
            let found = lookup.await.unwrap().unwrap().expect("found");
            assert_eq!(&*found.short_code, format!("first{n}"));
        }
        let mut answers = Vec::new();
        for lookup in queued {
            answers.push(lookup.await.unwrap().unwrap());
        }
        let batches = batches.lock().unwrap().clone();
        assert_eq!(batches.len(), READERS + 1, "{batches:?}");
        assert!(batches[..READERS].iter().all(|batch| batch.len() == 1));
        assert_eq!(batches[READERS], later);
        for (code, answer) in later.iter().zip(answers) {
            match *code {
                "gone" => assert!(answer.is_none()),
                code => {
                    let found = answer.expect(code);
                    assert_eq!(&*found.short_code, code);
                    assert_eq!(found.link_id, READERS as i64 + 1, "read by the fifth batch");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_failed_read_fails_each_of_its_callers() {
        let lookups = Lookups::with_reader(|_| async {
            Err(sqlx::Error::Protocol("server closed".into()).into())
        });
        for code in ["a", "b"] {
            match lookups.resolve(code).await {
                // Each caller has the database's own error, not a rewording of it.
                Err(StoreError::Unavailable(err)) => assert_eq!(
                    err.to_string(),
                    sqlx::Error::Protocol("server closed".into()).to_string()
                ),
                other => panic!("expected unavailable, got {other:?}"),
            }
        }
    }
}
