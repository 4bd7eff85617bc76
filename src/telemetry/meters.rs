//! The two request metrics, `http_requests_total` and `http_request_duration_seconds`, with
//! their handles kept per route, method and status class.
//!
//! `counter!(name, &labels)` builds a labelled key (a vector of labels, the route copied) and
//! finds it in the registry on every call: in a cached redirect that was about as much work as
//! the cache lookup, the click hand-over and the response together (docs/bottlenecks.md #12).
//! The handles are registered once, on a combination's first request, and used from then on.

use std::{
    collections::HashMap,
    sync::{LazyLock, RwLock},
};

use axum::http::Method;
use metrics::{counter, histogram, Counter, Histogram, SharedString};

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

struct Meters {
    requests: Counter,
    latency: Histogram,
}

impl Meters {
    fn record(&self, seconds: f64) {
        self.requests.increment(1);
        self.latency.record(seconds);
    }
}

/// Each route's handles, indexed by method and status class.
type RouteMeters = [Option<Meters>; METHODS.len() * CLASSES.len()];

/// Routes are a fixed set (templates, "unmatched"), so this stays small.
static BY_ROUTE: LazyLock<RwLock<HashMap<Box<str>, RouteMeters>>> = LazyLock::new(Default::default);

/// Counts one request and records its latency in seconds.
pub fn record(method: &Method, route: &str, status: u16, seconds: f64) {
    let slot = method_index(method) * CLASSES.len() + class_index(status);
    {
        // A poisoned lock only means another request panicked mid-insert; the map is intact.
        let known = BY_ROUTE
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(meters) = known.get(route).and_then(|slots| slots[slot].as_ref()) {
            return meters.record(seconds);
        }
    }
    let mut known = BY_ROUTE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let slots = known
        .entry(route.into())
        .or_insert_with(|| std::array::from_fn(|_| None));
    slots[slot]
        .get_or_insert_with(|| {
            let labels = [
                (
                    "method",
                    SharedString::const_str(METHODS[slot / CLASSES.len()]),
                ),
                ("route", SharedString::from_owned(route.to_owned())),
                (
                    "status",
                    SharedString::const_str(CLASSES[slot % CLASSES.len()]),
                ),
            ];
            Meters {
                requests: counter!("http_requests_total", &labels),
                latency: histogram!("http_request_duration_seconds", &labels),
            }
        })
        .record(seconds);
}

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::PATCH => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

fn class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}
