//! Requests gathered into batches for a store that answers many as cheaply as one: the
//! database (one statement for many codes) and Redis (one `MGET`, one pipeline of `SET`s).
//!
//! A few workers run at a time. While all of them are busy, requests queue, and the next free
//! worker takes everything that waited (up to a limit) in one call. A lone request is handed
//! over at once, never held back to wait for company, so batching costs nothing when there is
//! nothing to batch.

use std::{future::Future, sync::Arc};

use tokio::sync::{mpsc, oneshot, Semaphore};

/// Requests waiting for a worker before callers wait to queue.
const QUEUE: usize = 4096;

struct Pending<I, O> {
    item: I,
    reply: oneshot::Sender<O>,
}

pub struct Gather<I, O> {
    queue: mpsc::Sender<Pending<I, O>>,
}

impl<I, O> Clone for Gather<I, O> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Gather<I, O> {
    /// Starts the task that hands batches of at most `most` requests to `work`, `workers` of
    /// them at a time. `work` answers every request of its batch, in order.
    pub fn start<W, F>(workers: usize, most: usize, work: W) -> Self
    where
        W: Fn(Vec<I>) -> F + Send + 'static,
        F: Future<Output = Vec<O>> + Send + 'static,
    {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(gather(workers, most, work, waiting));
        Self { queue }
    }

    /// The answer to `item`; `None` only once the gathering task is gone (the runtime is
    /// shutting down).
    pub async fn ask(&self, item: I) -> Option<O> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Pending { item, reply }).await.ok()?;
        answer.await.ok()
    }

    /// Requests waiting for a worker.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        QUEUE - self.queue.capacity()
    }
}

async fn gather<I, O, W, F>(
    workers: usize,
    most: usize,
    work: W,
    mut waiting: mpsc::Receiver<Pending<I, O>>,
) where
    I: Send + 'static,
    O: Send + 'static,
    W: Fn(Vec<I>) -> F,
    F: Future<Output = Vec<O>> + Send + 'static,
{
    let free = Arc::new(Semaphore::new(workers));
    loop {
        let Ok(worker) = free.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(most);
        if waiting.recv_many(&mut batch, most).await == 0 {
            return;
        }
        let (items, replies): (Vec<I>, Vec<_>) = batch
            .into_iter()
            .map(|pending| (pending.item, pending.reply))
            .unzip();
        let answers = work(items);
        tokio::spawn(async move {
            // A caller that went away (its client hung up) needs no answer: sends may fail.
            for (reply, answer) in replies.into_iter().zip(answers.await) {
                let _ = reply.send(answer);
            }
            drop(worker);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

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
    async fn requests_queued_while_every_worker_is_busy_are_handed_over_together() {
        const WORKERS: usize = 2;
        let gate = Arc::new(Semaphore::new(0));
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let (held, seen) = (gate.clone(), batches.clone());
        // Doubles each number once the gate lets the batch through.
        let gather = Gather::start(WORKERS, 4, move |items: Vec<u32>| {
            let (gate, seen) = (held.clone(), seen.clone());
            async move {
                seen.lock().unwrap().push(items.clone());
                gate.acquire().await.unwrap().forget();
                items.into_iter().map(|n| n * 2).collect::<Vec<_>>()
            }
        });

        // One at a time, so that each is handed over alone and holds one worker.
        let mut first = Vec::new();
        for n in 0..WORKERS as u32 {
            let gather = gather.clone();
            first.push(tokio::spawn(async move { gather.ask(n).await }));
            until(|| batches.lock().unwrap().len() == n as usize + 1).await;
        }
        let later: Vec<_> = (10..16)
            .map(|n| {
                let gather = gather.clone();
                tokio::spawn(async move { gather.ask(n).await })
            })
            .collect();
        until(|| gather.waiting() == 6).await;
        gate.add_permits(1_000);

        for (n, asked) in first.into_iter().enumerate() {
            assert_eq!(asked.await.unwrap(), Some(n as u32 * 2));
        }
        for (n, asked) in (10..16).zip(later) {
            assert_eq!(asked.await.unwrap(), Some(n * 2));
        }
        // Six waited while both workers were busy: the next batches take four, then two.
        let batches = batches.lock().unwrap().clone();
        assert_eq!(
            batches,
            vec![vec![0], vec![1], vec![10, 11, 12, 13], vec![14, 15]]
        );
    }
}
