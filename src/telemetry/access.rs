//! What every request leaves behind: a span for anything logged while it runs, the request
//! metrics, and one closing `request finished` line that carries all of its fields.
//!
//! The closing line is written after the span has ended and names every field itself, rather
//! than inheriting them from the span: tracing-subscriber's JSON formatter stores span fields
//! as text and parses them again for each line inside the span, and rewrites them on each
//! `record`, which cost about a quarter of a cached redirect (docs/bottlenecks.md). The span
//! keeps only the request id, enough to tie an error line to its closing line.
//!
//! A redirect that found its link (3xx) closes at DEBUG under the target [`REDIRECT_TARGET`]:
//! it is already recorded as a click event and counted in the metrics, and the line cost about
//! a quarter of a cached redirect's CPU (docs/bottlenecks.md #10). Redirects that fail (404,
//! 503) close at INFO like every other request.

use std::{net::SocketAddr, time::Instant};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request},
    http::{HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use metrics::{counter, histogram, SharedString};
use tracing::{Instrument, Level};

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
    // Static labels are not copied, and the route is shared by both metrics rather than copied
    // for each.
    let labels = [
        ("method", SharedString::const_str(method_label(&method))),
        ("route", SharedString::from_owned(route.to_owned())),
        ("status", SharedString::const_str(status_class(status))),
    ];
    counter!("http_requests_total", &labels).increment(1);
    histogram!("http_request_duration_seconds", &labels).record(latency.as_secs_f64());

    let note = response.extensions().get::<RedirectNote>();
    let short_code = note.map(|note| note.short_code.as_str());
    let cache = note.and_then(|note| note.cache);
    let latency_ms = latency.as_secs_f64() * 1000.0;
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
    if probe {
        finished!(module_path!(), Level::DEBUG);
    } else if short_code.is_some() && (300..400).contains(&status) {
        finished!(REDIRECT_TARGET, Level::DEBUG);
    } else {
        finished!(module_path!(), Level::INFO);
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
