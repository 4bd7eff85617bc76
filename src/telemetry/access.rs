//! What every request leaves behind: a span for anything logged while it runs, the request
//! metrics, and one closing `request finished` line that carries all of its fields.
//!
//! The closing line is written after the span has ended and names every field itself, rather
//! than inheriting them from the span: tracing-subscriber's JSON formatter stores span fields
//! as text and parses them again for each line inside the span, and rewrites them on each
//! `record`, which cost about a quarter of a cached redirect (docs/bottlenecks.md). The span
//! keeps only the request id, enough to tie an error line to its closing line.

use std::{net::SocketAddr, time::Instant};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request},
    http::{HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use metrics::{counter, histogram};
use tracing::{Instrument, Level};

/// What a redirect adds to its closing line, handed over in the response's extensions.
#[derive(Clone, Debug)]
pub struct RedirectNote {
    pub short_code: String,
    /// The cache layer that answered; none when the code was rejected before any lookup.
    pub cache: Option<&'static str>,
}

/// Paths polled by probes and scrapers: logged at DEBUG so they do not drown real traffic.
fn is_probe(route: &str) -> bool {
    matches!(route, "/health" | "/ready" | "/metrics")
}

pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    let request_id = request_id.to_str().unwrap_or("");
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let probe = is_probe(route);
    let span = if probe {
        tracing::debug_span!("request", request_id)
    } else {
        tracing::info_span!("request", request_id)
    };

    let response = next.run(request).instrument(span).await;

    let latency = started.elapsed();
    let status = response.status().as_u16();
    let labels = [
        ("method", method_label(&method).to_owned()),
        ("route", route.to_owned()),
        ("status", status_class(status).to_owned()),
    ];
    counter!("http_requests_total", &labels).increment(1);
    histogram!("http_request_duration_seconds", &labels).record(latency.as_secs_f64());

    let note = response.extensions().get::<RedirectNote>();
    let short_code = note.map(|note| note.short_code.as_str());
    let cache = note.and_then(|note| note.cache);
    let latency_ms = latency.as_secs_f64() * 1000.0;
    macro_rules! finished {
        ($level:expr) => {
            tracing::event!(
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
    if probe {
        finished!(Level::DEBUG);
    } else {
        finished!(Level::INFO);
    }
    response
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
