//! Whole lists (a list call without `page` or `per_page`), sent as they are read: a few
//! thousand rows at a time by id, each batch serialized and sent before the next is read.
//! Built whole, a million events took about 1 GB of hop's memory for one call (found by a
//! new-user run), which the allocator then kept.

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use futures::{future::BoxFuture, stream};
use serde::Serialize;

use super::ApiError;
use crate::store::{Event, Link, Page, StoreResult, User};

/// Rows read per statement.
const BATCH: i64 = 2_000;

/// A row of a list, ordered by its id.
pub trait Listed: Serialize + Send + 'static {
    fn id(&self) -> i64;
}

impl Listed for User {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Listed for Link {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Listed for Event {
    fn id(&self) -> i64 {
        self.id
    }
}

/// Reads the rows of one page.
pub type ReadPage<T> = Box<dyn Fn(Page) -> BoxFuture<'static, StoreResult<Vec<T>>> + Send>;

/// The page asked for, or with no page the whole list, read [`BATCH`] rows at a time.
pub async fn respond<T: Listed>(
    page: Option<Page>,
    read: ReadPage<T>,
) -> Result<Response, ApiError> {
    match page {
        Some(page) => Ok(Json(read(page).await?).into_response()),
        None => whole_list(read).await,
    }
}

/// The whole list as one JSON array. The first batch is read before the answer starts, so a
/// database that is down still gets its 503; a failure later can only cut the body short,
/// which the client sees as JSON that does not parse (and hop logs).
async fn whole_list<T: Listed>(read: ReadPage<T>) -> Result<Response, ApiError> {
    let first = read(batch_after(0)).await?;
    let state = Some((first, read, true));
    let chunks = stream::unfold(state, |state| async move {
        let (rows, read, opening) = state?;
        let last = rows.last().map(Listed::id);
        let mut bytes = Vec::with_capacity(rows.len() * 200 + 2);
        if opening {
            bytes.push(b'[');
        }
        for (n, row) in rows.iter().enumerate() {
            if n > 0 || (!opening && last.is_some()) {
                bytes.push(b',');
            }
            if let Err(err) = serde_json::to_writer(&mut bytes, row) {
                return Some((Err(std::io::Error::other(err)), None));
            }
        }
        let next = match last {
            Some(last) if rows.len() as i64 == BATCH => match read(batch_after(last)).await {
                Ok(more) => Some((more, read, false)),
                Err(err) => {
                    tracing::error!(
                        error = crate::telemetry::causes(&err),
                        after = last,
                        "whole list cut short"
                    );
                    return Some((Err(std::io::Error::other(err)), None));
                }
            },
            _ => None,
        };
        if next.is_none() {
            bytes.push(b']');
        }
        Some((Ok(Bytes::from(bytes)), next))
    });
    let mut response = Body::from_stream(chunks).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn batch_after(after: i64) -> Page {
    Page {
        limit: BATCH,
        offset: 0,
        after,
    }
}
