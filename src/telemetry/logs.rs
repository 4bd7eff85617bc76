use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Lines waiting for the writer thread before a request waits for it. The library's default
/// (128,000) let a burst hold about 40 MiB of lines in memory; 8,192 lines are a few
/// milliseconds of the busiest load measured, and about 3 MiB.
const LINES_BUFFERED: usize = 8_192;
/// Bytes the writer thread gathers before a write to stdout. It writes whatever it holds as
/// soon as no line is waiting, so a quiet service still shows each line at once; under load,
/// one write carries many lines instead of one (stdout alone writes line by line).
const WRITE_BUFFER: usize = 64 * 1024;

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
        .buffered_lines_limit(LINES_BUFFERED)
        .finish(BufWriter::with_capacity(WRITE_BUFFER, std::io::stdout()));
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

/// An error and its causes as one log field, `outer: inner: ...`. A cause whose text the link
/// before it already ends with is left out: sqlx writes its inner error into its own message
/// and gives it as the cause too, which `{:#}` prints twice ("error returned from database:
/// X: X").
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut last = text.clone();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !last.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        last = part;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::causes;

    #[test]
    fn a_cause_already_in_its_errors_text_is_written_once() {
        let io = std::io::Error::other("expected to read 5 bytes, got 0 bytes at EOF");
        let store = crate::store::StoreError::from(sqlx::Error::Io(io));
        let err = anyhow::Error::new(store);
        assert_eq!(
            causes(err.as_ref()),
            "database unavailable: error communicating with database: \
             expected to read 5 bytes, got 0 bytes at EOF"
        );
        let wrapped =
            anyhow::Error::new(std::io::Error::other("disk full")).context("cannot write");
        assert_eq!(causes(wrapped.as_ref()), "cannot write: disk full");
    }
}
