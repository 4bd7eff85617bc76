//! What every request leaves behind: a span for anything logged while it runs, the request
//! metrics, and one closing `request finished` line that carries all of its fields.
//!
//! The closing line is written after the span has ended and names every field itself, rather
//! than inheriting them from the span: tracing-subscriber's JSON formatter stores span fields
//! as text and parses them again for each line inside the span, and rewrites them on each
//! `record`, which cost about a quarter of a cached redirect (docs/bottlenecks.md). The span
//! keeps only the request id, enough to tie an error line to its closing line. A redirect
//! opens it only around a lookup past the in-process cache (docs/bottlenecks.md #12).
//!
//! A redirect that found its link (3xx) closes at DEBUG under the target [`REDIRECT_TARGET`]:
//! it is already recorded as a click event and counted in the metrics, and the line cost about
//! a quarter of a cached redirect's CPU (docs/bottlenecks.md #10). Redirects that fail (404,
//! 503) and unknown paths close at INFO like every other request, up to
//! [`FAILED_LOOKUP_LINES_PER_SEC`] a second.

use std::{
    borrow::Cow,
    future::Future,
    net::SocketAddr,
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request},
    http::{HeaderValue, Method},
    response::Response,
};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::{Instrument, Level, Span};
use uuid::Uuid;

use super::meters;

/// Closing lines of failed redirects and unknown paths written per second, at most. A flood
/// of made-up codes costs a client one request line each; logged in full, one client filled
/// 255 MB of log in 10 s (a new-user run). The rest are counted, and the count is logged
/// when the next second's first line is (the request metrics count every one of them).
const FAILED_LOOKUP_LINES_PER_SEC: u32 = 100;

static FAILED_LOOKUPS: LineBudget = LineBudget::new(FAILED_LOOKUP_LINES_PER_SEC);

/// A budget of log lines per second, shared by every request without a lock.
struct LineBudget {
    per_sec: u32,
    /// The second the budget is counting, from the process's start.
    second: AtomicU64,
    used: AtomicU32,
    skipped: AtomicU64,
}

impl LineBudget {
    const fn new(per_sec: u32) -> Self {
        Self {
            per_sec,
            second: AtomicU64::new(0),
            used: AtomicU32::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    /// Whether one more line fits this second's budget; reports the lines of the seconds
    /// before that did not.
    fn admit(&self) -> bool {
        self.admit_in(crate::domain::monotonic_millis() / 1000)
    }

    fn admit_in(&self, now: u64) -> bool {
        let second = self.second.load(Ordering::Relaxed);
        if now != second
            && self
                .second
                .compare_exchange(second, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.used.store(0, Ordering::Relaxed);
            let skipped = self.skipped.swap(0, Ordering::Relaxed);
            if skipped > 0 {
                tracing::warn!(
                    skipped,
                    per_sec = self.per_sec,
                    "failed redirect and unknown path lines not logged"
                );
            }
        }
        if self.used.fetch_add(1, Ordering::Relaxed) < self.per_sec {
            true
        } else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// What a redirect adds to its closing line, handed over in the response's extensions.
#[derive(Clone, Debug)]
pub struct RedirectNote {
    pub short_code: String,
    /// The cache layer that answered; none when the code was rejected before any lookup.
    pub cache: Option<&'static str>,
}

/// The log target of successful redirects' closing lines, to turn them on without turning on
/// every DEBUG line: `HOP_LOG=info,hop::access::redirect=debug`.
pub const REDIRECT_TARGET: &str = "hop::access::redirect";

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Makes the id of a request that came without one: a random UUID from the thread's generator.
/// The router's request-id layer and the redirect's express lane both use it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NewRequestId;

impl NewRequestId {
    pub fn header_value() -> HeaderValue {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let text = Uuid::new_v4().hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(text).expect("a UUID is a header value")
    }
}

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        Some(RequestId::new(Self::header_value()))
    }
}

/// The span of a request: lines logged while it runs carry its id.
pub fn request_span(request_id: &str) -> Span {
    clipped_span(&clipped(request_id))
}

/// [`request_span`] for an id already clipped.
fn clipped_span(request_id: &str) -> Span {
    tracing::info_span!("request", request_id)
}

/// The most of a client's own text (its request id, the code it asked for) that a log line
/// repeats, in bytes: far more than any valid code or generated id, and far less than a
/// client can send (a path of 60 KB would otherwise be logged as a line of 60 KB).
const LOGGED_TEXT_MAX: usize = 128;

/// `text`, or its first [`LOGGED_TEXT_MAX`] bytes (to a character boundary) and its length.
fn clipped<'a>(text: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
    let text = text.into();
    if text.len() <= LOGGED_TEXT_MAX {
        return text;
    }
    let cut = (0..=LOGGED_TEXT_MAX)
        .rev()
        .find(|&at| text.is_char_boundary(at))
        .unwrap_or(0);
    Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len()))
}

/// A request id as text for the log: bytes that are not visible ASCII (a client's own id may
/// hold any) are read as UTF-8, or replaced, rather than losing the whole id from the log.
pub fn request_id_text(value: &HeaderValue) -> Cow<'_, str> {
    match value.to_str() {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

/// Paths polled by probes and scrapers: logged at DEBUG so they do not drown real traffic.
fn is_probe(route: &str) -> bool {
    matches!(route, "/health" | "/ready" | "/metrics")
}

/// Runs `handle` on the request inside the request's span, then records its metrics and
/// writes its closing line.
pub async fn observe<Handling>(
    request: Request,
    handle: impl FnOnce(Request) -> Handling,
) -> Response
where
    Handling: Future<Output = Response>,
{
    let route = match request.extensions().get::<MatchedPath>() {
        Some(matched) => Route::Matched(matched.clone()),
        None => Route::Named("unmatched"),
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let visit = Visit::begin(
        request.method(),
        route,
        request.headers().get(REQUEST_ID),
        client,
    );
    let request_id = visit.request_id();
    // A redirect opens the span itself, around the one part of it that logs about the request
    // (a lookup past the in-process cache; the click queue's drop report is the recorder's):
    // on a cache hit the span, its field formatted as JSON at creation,
    // cost about a tenth of the redirect (docs/bottlenecks.md #12).
    let span = if visit.is_probe() || crate::redirect::PATHS.contains(&visit.route.as_str()) {
        tracing::debug_span!("request", request_id = &*request_id)
    } else {
        clipped_span(&request_id)
    };
    drop(request_id);

    let response = handle(request).instrument(span).await;

    let note = response.extensions().get::<RedirectNote>();
    visit.end(
        response.status().as_u16(),
        note.map(|note| note.short_code.as_str()),
        note.and_then(|note| note.cache),
    );
    response
}

/// The route a request's metrics and closing line name.
pub enum Route {
    /// The router's template for it.
    Matched(MatchedPath),
    /// A route known without the router: the redirect's express lane, or "unmatched".
    Named(&'static str),
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Self::Matched(matched) => matched.as_str(),
            Self::Named(name) => name,
        }
    }
}

/// A request from its start: what its metrics and closing line need once it is answered.
pub struct Visit {
    started: Instant,
    method: Method,
    route: Route,
    request_id: HeaderValue,
    client: Option<SocketAddr>,
}

impl Visit {
    /// Starts the clock on a request (a missing id is logged as "").
    pub fn begin(
        method: &Method,
        route: Route,
        request_id: Option<&HeaderValue>,
        client: Option<SocketAddr>,
    ) -> Self {
        Self {
            started: Instant::now(),
            method: method.clone(),
            route,
            request_id: request_id.cloned().unwrap_or(HeaderValue::from_static("")),
            client,
        }
    }

    /// The request id as logged: readable, and clipped.
    fn request_id(&self) -> Cow<'_, str> {
        clipped(request_id_text(&self.request_id))
    }

    fn is_probe(&self) -> bool {
        is_probe(self.route.as_str())
    }

    /// Records the request's metrics and writes its closing line. A redirect names the code
    /// it was asked for and the cache layer that answered.
    pub fn end(self, status: u16, short_code: Option<&str>, cache: Option<&'static str>) {
        let latency = self.started.elapsed();
        let route = self.route.as_str();
        meters::record(&self.method, route, status, latency.as_secs_f64());

        let short_code = short_code.map(clipped);
        let short_code = short_code.as_deref();
        let request_id = self.request_id();
        let request_id = &*request_id;
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let method = &self.method;
        let client = self.client;
        macro_rules! finished {
            ($target:expr, $level:expr) => {
                tracing::event!(
                    target: $target,
                    $level,
                    http.method = %method,
                    http.route = route,
                    http.status = status,
                    latency_ms,
                    request_id,
                    client.address = client.map(tracing::field::display),
                    short_code,
                    cache,
                    "request finished"
                )
            };
        }
        if is_probe(route) {
            finished!(module_path!(), Level::DEBUG);
        } else if short_code.is_some() && (300..400).contains(&status) {
            finished!(REDIRECT_TARGET, Level::DEBUG);
        } else if short_code.is_none() && route != "unmatched" {
            finished!(module_path!(), Level::INFO);
        } else if FAILED_LOOKUPS.admit() {
            finished!(module_path!(), Level::INFO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_budget_admits_its_lines_each_second_and_counts_the_rest() {
        let budget = LineBudget::new(3);
        let first: Vec<bool> = (0..5).map(|_| budget.admit_in(0)).collect();
        assert_eq!(first, [true, true, true, false, false]);
        assert_eq!(budget.skipped.load(Ordering::Relaxed), 2);
        assert!(budget.admit_in(1), "a new second, a new budget");
        assert_eq!(
            budget.skipped.load(Ordering::Relaxed),
            0,
            "reported and reset"
        );
    }
}
