//! What operators see: JSON logs (`logs`), one span, metrics and closing line per request
//! (`access`), and Prometheus metrics (`metrics`).

mod access;
mod logs;
mod meters;
mod metrics;

pub use self::access::{
    observe, request_id_text, request_span, NewRequestId, RedirectNote, Route, Visit, REQUEST_ID,
};
pub use self::logs::{causes, init_logging, LogStream};
pub use self::metrics::Metrics;
