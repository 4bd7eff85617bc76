//! Settings, layered: built-in defaults, then an optional TOML file (`HOP_CONFIG`), then
//! `HOP_*` environment variables, plus the conventional `DATABASE_URL` and `REDIS_URL`.
//! Unknown keys are errors, so a typo in a variable name stops start-up instead of being
//! silently ignored. Every setting is listed in `docs/configuration.md`.

use std::{fmt, net::SocketAddr, path::Path};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

/// hop's whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the main listener.
    pub listen: SocketAddr,
    /// When set, `/metrics`, `/health` and `/ready` are served here as well.
    pub admin_listen: Option<SocketAddr>,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// `sqlite://path` or `postgres://...`; unset means `sqlite://hop.db`.
    pub database_url: Option<Secret>,
    /// Shared cache and invalidation bus; unset means the in-process cache alone.
    pub redis_url: Option<Secret>,
    /// The public base URL short links are shared under, e.g. `https://hop.example`.
    pub public_url: Option<url::Url>,
    /// Log filter in `tracing` syntax; `RUST_LOG` wins when set.
    pub log: String,
    pub db_pool_size: u32,
    pub db_acquire_timeout_ms: u64,
    pub db_statement_timeout_ms: u64,
    /// Entries of the in-process link cache.
    pub cache_capacity: u64,
    pub cache_ttl_secs: u64,
    /// How long an unknown code is remembered as unknown.
    pub negative_ttl_secs: u64,
    /// Clicks that may wait for the database; also the most a crash can lose.
    pub click_queue: usize,
    /// Clicks written per transaction.
    pub click_batch: usize,
    /// Longest a click waits in the queue for others to share its write, in milliseconds.
    pub click_linger_ms: u64,
    /// How long a stopping hop waits for in-flight requests before it closes them.
    pub shutdown_grace_secs: u64,
    /// Writes (POST/PUT/DELETE) per second per client; 0 turns the limit off.
    pub rate_limit_per_sec: u32,
    /// Writes a client may send in a burst above the rate.
    pub rate_limit_burst: u32,
    /// A header holding the client address (`x-forwarded-for`), trusted only when set: use it
    /// behind a proxy that overwrites it.
    pub client_ip_header: Option<String>,
    /// Longest a request may run before hop answers 503.
    pub request_timeout_secs: u64,
    /// Adds an `X-Cache` header to redirects, naming the layer that answered.
    pub debug_cache_header: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: None,
            metrics_token: None,
            database_url: None,
            redis_url: None,
            public_url: None,
            log: "info".into(),
            db_pool_size: 16,
            db_acquire_timeout_ms: 2_000,
            db_statement_timeout_ms: 5_000,
            cache_capacity: 100_000,
            cache_ttl_secs: 60,
            negative_ttl_secs: 5,
            click_queue: 10_000,
            click_batch: 2_000,
            click_linger_ms: 20,
            shutdown_grace_secs: 20,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            client_ip_header: None,
            request_timeout_secs: 10,
            debug_cache_header: false,
        }
    }
}

impl Config {
    /// Reads the layers in order. `HOP_CONFIG` names the optional file.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Ok(path) = std::env::var("HOP_CONFIG") {
            figment = figment.merge(Toml::file_exact(Path::new(&path)));
        }
        figment
            // `cargo run` hands the program the variables build.rs set, HOP_BUILD_COMMIT too.
            .merge(Env::prefixed("HOP_").ignore(&["config", "build_commit"]))
            .merge(Env::raw().only(&["database_url", "redis_url"]))
            .extract()
            .map_err(Box::new)
    }

    /// Reads just a TOML file over the defaults, for checking shipped examples.
    pub fn from_toml_file(path: &Path) -> Result<Self, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file_exact(path))
            .extract()
            .map_err(Box::new)
    }

    /// The environment variable that sets each key, for the documentation check.
    pub fn variable_names() -> Vec<String> {
        let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
        let keys = defaults
            .as_object()
            .map(|map| map.keys().cloned().collect::<Vec<_>>());
        keys.unwrap_or_default()
            .into_iter()
            .map(|key| match key.as_str() {
                "database_url" | "redis_url" => key.to_uppercase(),
                _ => format!("HOP_{}", key.to_uppercase()),
            })
            .collect()
    }

    pub fn db(&self) -> DbSettings {
        DbSettings {
            pool_size: self.db_pool_size.max(1),
            acquire_timeout_ms: self.db_acquire_timeout_ms,
            statement_timeout_ms: self.db_statement_timeout_ms,
        }
    }
}

/// What the store needs to know to open its pool.
///
/// The statement timeout suits requests; batch commands (`hop import`, `hop migrate`) use
/// [`DbSettings::for_batch_work`], whose single statements may rightly run for minutes.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub pool_size: u32,
    pub acquire_timeout_ms: u64,
    pub statement_timeout_ms: u64,
}

impl DbSettings {
    /// The same pool with a statement timeout of 30 minutes.
    pub fn for_batch_work(mut self) -> Self {
        self.statement_timeout_ms = 30 * 60 * 1000;
        self
    }
}

impl Default for DbSettings {
    fn default() -> Self {
        Config::default().db()
    }
}

/// A value that must never reach a log: its `Debug` prints a mask.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_debug_output() {
        let config = Config {
            database_url: Some(Secret::new("postgres://hop:hunter2@db/hop")),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("Secret(****)"));
    }

    #[test]
    fn every_key_has_a_variable_name() {
        let names = Config::variable_names();
        assert!(names.contains(&"HOP_LISTEN".to_string()));
        assert!(names.contains(&"DATABASE_URL".to_string()));
        assert!(names.contains(&"HOP_CLICK_LINGER_MS".to_string()));
        assert_eq!(names.len(), 22);
    }

    #[test]
    fn an_unknown_key_in_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hop.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nlisten_port = 1\n").unwrap();
        let err = Config::from_toml_file(&path).unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
    }
}
