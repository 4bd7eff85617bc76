use std::sync::{Arc, OnceLock};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::recorder::ClickQueue;
use crate::store::Store;

/// Histogram buckets in seconds, fine below a millisecond where cached redirects live.
const BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide metrics registry and its Prometheus renderer.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: Arc<metrics_process::Collector>,
}

impl Metrics {
    /// Installs the global recorder once per process and describes every hop metric, so
    /// counters are exported (at zero) before anything happens.
    pub fn install() -> Self {
        static INSTALLED: OnceLock<Metrics> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                let handle = PrometheusBuilder::new()
                    .set_buckets(&BUCKETS)
                    .expect("buckets are not empty")
                    .install_recorder()
                    .expect("no other metrics recorder is installed");
                let process = metrics_process::Collector::default();
                process.describe();
                describe_all();
                Metrics {
                    handle,
                    process: Arc::new(process),
                }
            })
            .clone()
    }

    /// The text exposition, with the gauges that are read at scrape time brought up to date.
    pub fn render(&self, store: &dyn Store, clicks: &ClickQueue) -> String {
        let pool = store.pool_stats();
        gauge!("hop_db_pool_connections").set(pool.open);
        gauge!("hop_db_pool_in_use").set(pool.in_use);
        gauge!("hop_db_pool_max").set(pool.max);
        gauge!("hop_recorder_queue_depth").set(clicks.depth() as f64);
        gauge!("hop_recorder_queue_capacity").set(clicks.capacity() as f64);
        self.process.collect();
        self.handle.render()
    }
}

fn describe_all() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests by method, route and status class"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by method, route and status class"
    );
    let counters = [
        ("hop_links_created_total", "Short links created"),
        ("hop_redirects_total", "Redirects served (302)"),
        (
            "hop_redirects_not_found_total",
            "Redirect requests for unknown or inactive codes",
        ),
        (
            "hop_clicks_queued_total",
            "Clicks handed to the event recorder",
        ),
        ("hop_clicks_written_total", "Clicks written to the database"),
        (
            "hop_clicks_dropped_total",
            "Clicks lost: queue full or not writable",
        ),
        (
            "hop_clicks_skipped_total",
            "Clicks not written because their user was deleted meanwhile",
        ),
        ("hop_db_errors_total", "Database calls that failed"),
    ];
    for (name, help) in counters {
        describe_counter!(name, help);
        counter!(name).increment(0);
    }
    describe_counter!(
        "hop_cache_hits_total",
        "Link lookups answered by a cache layer"
    );
    describe_counter!(
        "hop_cache_misses_total",
        "Link lookups a cache layer could not answer"
    );
    for layer in ["local", "redis"] {
        counter!("hop_cache_hits_total", "layer" => layer).increment(0);
        counter!("hop_cache_misses_total", "layer" => layer).increment(0);
    }
    describe_counter!(
        "hop_db_lookups_total",
        "Codes read from the database after missing every cache layer"
    );
    describe_counter!(
        "hop_db_lookup_statements_total",
        "Statements that read those codes (misses arriving together share one)"
    );
    counter!("hop_db_lookups_total").increment(0);
    counter!("hop_db_lookup_statements_total").increment(0);
    describe_gauge!("hop_recorder_queue_depth", "Clicks waiting to be written");
    describe_gauge!(
        "hop_recorder_queue_capacity",
        "Clicks the recorder queue can hold"
    );
    describe_histogram!(
        "hop_recorder_flush_duration_seconds",
        metrics::Unit::Seconds,
        "Time to write one batch of clicks"
    );
    describe_gauge!("hop_db_pool_connections", "Open database connections");
    describe_gauge!("hop_db_pool_in_use", "Database connections checked out");
    describe_gauge!("hop_db_pool_max", "Database connections allowed");
    describe_histogram!(
        "hop_db_pool_acquire_duration_seconds",
        metrics::Unit::Seconds,
        "Time to get a database connection and ping it, sampled by the database check (every \
         5 s) and by each readiness probe"
    );
    describe_gauge!("hop_db_up", "1 when the last database ping succeeded");
    describe_gauge!(
        "hop_redis_up",
        "1 while Redis answers, 0 before it first answers, while hop bypasses it and while \
         its invalidation subscription is down (absent without REDIS_URL)"
    );
    describe_gauge!("hop_build_info", "Version and commit of the running binary");
    let commit = option_env!("HOP_BUILD_COMMIT").unwrap_or("unknown");
    gauge!("hop_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => commit).set(1.0);
}
