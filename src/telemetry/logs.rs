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

/// Where log lines go: `hop serve` writes them to stdout, where a container's logs are read;
/// the one-off commands (`migrate`, `import`, `keys`) to stderr, so that their stdout holds only
/// what they print for a script to read (a new key, an import's counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// Installs the global subscriber: JSON lines when the stream is not a terminal (containers,
/// CI, log shippers), readable text when a person is watching. `RUST_LOG` overrides `filter`.
/// PostgreSQL's notices (sqlx logs each at INFO, among them one on every start: "relation
/// _sqlx_migrations already exists, skipping") are shown from WARN unless `filter` names them.
///
/// Lines are written by a background thread, so a request never waits on the write
/// (measured: the synchronous write halved redirect throughput). The writer blocks rather than
/// drops when its buffer is full: every request keeps its line. Keep the returned guard alive
/// until exit; dropping it flushes what is buffered.
pub fn init_logging(filter: &str, stream: LogStream) -> Option<WorkerGuard> {
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    if !filter.to_string().contains(NOTICES) {
        filter = filter.add_directive(format!("{NOTICES}=warn").parse().expect("a directive"));
    }
    let (terminal, output): (bool, Box<dyn std::io::Write + Send>) = match stream {
        LogStream::Stdout => (std::io::stdout().is_terminal(), Box::new(std::io::stdout())),
        LogStream::Stderr => (std::io::stderr().is_terminal(), Box::new(std::io::stderr())),
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LINES_BUFFERED)
        .finish(BufWriter::with_capacity(WRITE_BUFFER, output));
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

/// The log target of PostgreSQL's notices.
const NOTICES: &str = "sqlx::postgres::notice";

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
