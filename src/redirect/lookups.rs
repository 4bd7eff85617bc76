//! Database reads of codes that missed both cache layers.
//!
//! Misses that arrive while earlier ones are being read are gathered into one statement
//! ([`Gather`]): under a flood of uncached codes the database answers dozens of codes per round
//! trip instead of one, and the pool's per-query costs (sqlx checks each connection with a
//! round trip when it is released) are paid once per batch.

use std::{collections::HashMap, future::Future, sync::Arc};

use metrics::counter;

use super::gather::Gather;
use crate::store::{Resolved, Store, StoreResult};

/// Statements reading codes at the same time. Each holds one pooled connection while it runs,
/// so the rest of the pool stays free for the API and the click writer.
const READERS: usize = 4;
/// Most codes read by one statement.
const MOST_PER_READ: usize = 64;

type Answer = StoreResult<Option<Resolved>>;

#[derive(Clone)]
pub struct Lookups {
    reads: Gather<String, Answer>,
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
        let codes_read = counter!("hop_db_lookups_total");
        let statements = counter!("hop_db_lookup_statements_total");
        let reads = Gather::start(READERS, MOST_PER_READ, move |codes: Vec<String>| {
            codes_read.increment(codes.len() as u64);
            statements.increment(1);
            let codes: Arc<[String]> = codes.into();
            let found = read(codes.clone());
            async move { answer(&codes, found.await) }
        });
        Self { reads }
    }

    /// The active target of `code`, if any, read from the database.
    pub async fn resolve(&self, code: &str) -> Answer {
        // The gathering task ends only with the runtime.
        let gone = || Err(sqlx::Error::PoolClosed.into());
        self.reads.ask(code.to_owned()).await.unwrap_or_else(gone)
    }
}

/// Each code's answer, in the order of `codes`, from what one statement found.
fn answer(codes: &[String], found: StoreResult<Vec<Resolved>>) -> Vec<Answer> {
    match found {
        Ok(found) => {
            let by_code: HashMap<Arc<str>, Resolved> = found
                .into_iter()
                .map(|resolved| (resolved.short_code.clone(), resolved))
                .collect();
            codes
                .iter()
                .map(|code| Ok(by_code.get(code.as_str()).cloned()))
                .collect()
        }
        Err(err) => codes.iter().map(|_| Err(err.clone())).collect(),
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn each_code_of_a_batch_gets_its_own_answer() {
        let codes: Vec<String> = ["a", "gone", "b", "a"].map(String::from).into();
        let answers = answer(&codes, Ok(vec![target("b", 2), target("a", 1)]));
        let ids: Vec<Option<i64>> = answers
            .into_iter()
            .map(|answer| answer.unwrap().map(|found| found.link_id))
            .collect();
        assert_eq!(ids, [Some(1), None, Some(2), Some(1)]);
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
