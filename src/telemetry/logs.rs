use std::{io::IsTerminal, net::SocketAddr, time::Duration};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request},
    http::Response,
};
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, MakeSpan, OnResponse, TraceLayer},
};
use tracing::{field::Empty, Level, Span};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber: JSON lines when stdout is not a terminal (containers, CI,
/// log shippers), readable text when a person is watching. `RUST_LOG` overrides `filter`.
///
/// Lines are written by a background thread, so a request never waits on the write to stdout
/// (measured: the synchronous write halved redirect throughput). The writer blocks rather than
/// drops when its buffer is full: every request keeps its line. Keep the returned guard alive
/// until exit; dropping it flushes what is buffered.
pub fn init_logging(filter: &str) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stdout().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stdout());
    let registry = tracing_subscriber::registry().with(filter);
    let result = if terminal {
        registry
            .with(fmt::layer().compact().with_writer(writer))
            .try_init()
    } else {
        let json = fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer);
        registry.with(json).try_init()
    };
    // A second call (tests start many servers in one process) keeps the first subscriber.
    result.ok().map(|()| guard)
}

/// Failures are not logged here: the error type logs its cause once, with more context.
pub fn trace_layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    DefaultOnRequest,
    Finished,
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(Finished)
        .on_failure(())
}

/// Paths polled by probes and scrapers: logged at DEBUG so they do not drown real traffic.
fn is_probe(route: &str) -> bool {
    matches!(route, "/health" | "/ready" | "/metrics")
}

#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |p| p.as_str());
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        macro_rules! request_span {
            ($level:expr) => {
                tracing::span!(
                    $level,
                    "request",
                    http.method = %request.method(),
                    http.route = route,
                    request_id,
                    client.address = client.map(tracing::field::display),
                    short_code = Empty,
                    cache = Empty,
                )
            };
        }
        if is_probe(route) {
            request_span!(Level::DEBUG)
        } else {
            request_span!(Level::INFO)
        }
    }
}

#[derive(Clone, Copy)]
pub struct Finished;

impl<B> OnResponse<B> for Finished {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        // Status and latency go on this closing line only: recording them on the span too would
        // make the JSON formatter re-parse and rewrite the span's fields (see bottlenecks.md).
        if span
            .metadata()
            .is_some_and(|meta| *meta.level() == Level::DEBUG)
        {
            tracing::debug!(http.status = status, latency_ms, "request finished");
        } else {
            tracing::info!(http.status = status, latency_ms, "request finished");
        }
    }
}
