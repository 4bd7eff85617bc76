//! CSV import in the export format of the service hop replaces (see `data/seed/`).
//!
//! Parsing checks each row's shape and reports the bad ones with their line numbers; the
//! store then upserts the good ones by id in one transaction per file, so a file lands whole
//! or not at all and importing it twice changes nothing. `hop import` and `POST /users/bulk`
//! share this code.
//!
//! `hop import` runs as its own process and does not invalidate the link caches of running
//! replicas (it has no Redis connection of its own): a link it changes or deactivates keeps
//! redirecting as cached until its entry expires (`HOP_CACHE_TTL_SECS`) or hop restarts. The
//! import is meant for loading a database before it serves; see the README.

mod cli;
mod csv_rows;

pub use cli::{print_report, print_total, run, FileReport, ImportPaths};
pub use csv_rows::{parse_events, parse_links, parse_users, FileError, Parsed};
