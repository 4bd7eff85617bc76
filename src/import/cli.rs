//! `hop import`: the three export files in order (users, links, events), with a progress
//! display on a terminal and a summary at the end.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::csv_rows::{parse_events, parse_links, parse_users, Parsed};
use crate::store::{ImportTally, Store};

/// The files to import; any may be left out.
#[derive(Debug, Default)]
pub struct ImportPaths {
    pub users: Option<PathBuf>,
    pub urls: Option<PathBuf>,
    pub events: Option<PathBuf>,
}

impl ImportPaths {
    /// `users.csv`, `urls.csv` and `events.csv` in `dir`, those that exist.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        if dir.is_file() {
            anyhow::bail!(
                "{} is a file: name its folder, or the file with --users, --urls or --events",
                dir.display()
            );
        }
        if !dir.is_dir() {
            anyhow::bail!("{} is not a directory", dir.display());
        }
        let pick = |name: &str| Some(dir.join(name)).filter(|path| path.is_file());
        let paths = Self {
            users: pick("users.csv"),
            urls: pick("urls.csv"),
            events: pick("events.csv"),
        };
        if paths.users.is_none() && paths.urls.is_none() && paths.events.is_none() {
            anyhow::bail!(
                "{} holds none of users.csv, urls.csv, events.csv",
                dir.display()
            );
        }
        Ok(paths)
    }
}

/// What one file's import did.
#[derive(Debug)]
pub struct FileReport {
    pub name: String,
    pub rows_read: u64,
    pub tally: ImportTally,
    pub elapsed: Duration,
}

/// Imports the files and returns one report per file, handing each to `done` as soon as its
/// file is committed. Rejected rows do not stop the import; a file that cannot be read at all,
/// or a database failure, does (that file is rolled back, the files before it stay).
pub async fn run(
    store: &dyn Store,
    paths: &ImportPaths,
    mut done: impl FnMut(&FileReport),
) -> anyhow::Result<Vec<FileReport>> {
    let mut reports = Vec::new();
    if let Some(path) = &paths.users {
        let parsed = read(path, parse_users)?;
        let step = Step::start(path, parsed.records.len());
        let stored = store.import_users(&parsed.records).await;
        reports.push(step.finish(parsed.rows_read, parsed.tally, stored)?);
        done(&reports[reports.len() - 1]);
    }
    if let Some(path) = &paths.urls {
        let parsed = read(path, parse_links)?;
        let step = Step::start(path, parsed.records.len());
        let stored = store.import_links(&parsed.records).await;
        reports.push(step.finish(parsed.rows_read, parsed.tally, stored)?);
        done(&reports[reports.len() - 1]);
    }
    if let Some(path) = &paths.events {
        let parsed = read(path, parse_events)?;
        let step = Step::start(path, parsed.records.len());
        let stored = store.import_events(&parsed.records).await;
        reports.push(step.finish(parsed.rows_read, parsed.tally, stored)?);
        done(&reports[reports.len() - 1]);
    }
    Ok(reports)
}

/// Prints what one file's import did, with each rejected row.
pub fn print_report(report: &FileReport) {
    let tally = &report.tally;
    println!(
        "{:<12} read {:>8}  created {:>8}  updated {:>8}  unchanged {:>8}  rejected {:>6}  \
         ({:.2}s)",
        report.name,
        report.rows_read,
        tally.created,
        tally.updated,
        tally.unchanged,
        tally.rejected.len(),
        report.elapsed.as_secs_f64(),
    );
    for (line, error) in tally.rejections() {
        println!("  {} line {line}: {error}", report.name);
    }
}

/// Says so plainly when the whole import changed nothing.
pub fn print_total(reports: &[FileReport]) {
    let changed: u64 = reports
        .iter()
        .map(|r| r.tally.created + r.tally.updated)
        .sum();
    if changed == 0 {
        println!("nothing changed: every valid row was already imported as it is");
    }
}

/// Reads and parses a whole file. The file's bytes and its parsed rows are in memory together
/// for a moment (about 500 MB at the peak for a million links): the store's import methods
/// take a whole file's rows, so streaming them would change both backends' imports.
fn read<T, E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
    parse: impl Fn(&[u8]) -> Result<Parsed<T>, E>,
) -> anyhow::Result<Parsed<T>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes).with_context(|| format!("{} was not imported", path.display()))
}

/// One file being written: a spinner on a terminal, and the clock for the report.
struct Step {
    name: String,
    started: Instant,
    progress: ProgressBar,
}

impl Step {
    fn start(path: &Path, rows: usize) -> Self {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let progress = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar.set_message(format!("{name}: writing {rows} rows in one transaction"));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            name,
            started: Instant::now(),
            progress,
        }
    }

    fn finish(
        self,
        rows_read: u64,
        parse_tally: ImportTally,
        stored: crate::store::StoreResult<ImportTally>,
    ) -> anyhow::Result<FileReport> {
        self.progress.finish_and_clear();
        let mut tally = stored.with_context(|| format!("{} was rolled back", self.name))?;
        tally.absorb(parse_tally);
        Ok(FileReport {
            name: self.name,
            rows_read,
            tally,
            elapsed: self.started.elapsed(),
        })
    }
}
