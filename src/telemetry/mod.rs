//! What operators see: JSON logs (`logs`), one span, metrics and closing line per request
//! (`access`), and Prometheus metrics (`metrics`).

mod access;
mod logs;
mod metrics;

pub use self::access::{observe, RedirectNote};
pub use self::logs::init_logging;
pub use self::metrics::Metrics;
