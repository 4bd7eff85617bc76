//! Integration tests: the real server on a loopback port, against SQLite and PostgreSQL.
//!
//! Every test in a `both_backends!` list runs twice, as `sqlite::name` and `postgres::name`.
//! PostgreSQL tests use `TEST_DATABASE_URL`, else `DATABASE_URL`, else the local server on
//! 127.0.0.1:5432, each test in a fresh database. When no server answers they print
//! `SKIPPED` and pass, unless `TEST_REQUIRE_POSTGRES=1` (CI sets it) makes that a failure.

mod harness;

mod access;
mod concurrency;
mod config_docs;
mod events;
mod import;
mod lifecycle;
mod redirect;
mod replicas;
mod urls;
mod users;
