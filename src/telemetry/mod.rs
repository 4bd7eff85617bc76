//! What operators see: JSON logs with one root span per request (`logs`), and Prometheus
//! metrics (`metrics`).

mod logs;
mod metrics;

pub use self::logs::{init_logging, trace_layer};
pub use self::metrics::{track_requests, Metrics};
