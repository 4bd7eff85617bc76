//! hop, a URL shortener run like a production service.
//!
//! A map of the crate, from the edge inwards:
//!
//! - [`server`]: start-up and graceful shutdown; `App::build` wires everything from a
//!   [`config::Config`], `run` serves a bound listener.
//! - [`api`]: the JSON API of the contract (users, urls, events), probes and metrics, the
//!   strict JSON parsing and the one error type of the HTTP edge.
//! - [`redirect`]: the hot path, `GET /{code}`, and the link cache in front of the store.
//! - [`recorder`]: the bounded queue that turns redirects into `click` events in batches.
//! - [`store`]: the [`store::Store`] trait and its SQLite and PostgreSQL backends.
//! - [`domain`]: validated values (short codes, target URLs, emails, usernames, timestamps).
//! - [`import`]: CSV import of the export format, for `hop import` and `POST /users/bulk`.
//! - [`telemetry`]: JSON logs with a span per request, and Prometheus metrics.
//! - [`config`]: layered settings (defaults, TOML file, `HOP_*` environment).

pub mod api;
pub mod config;
pub mod domain;
pub mod import;
pub mod recorder;
pub mod redirect;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
