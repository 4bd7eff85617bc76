//! The `hop` command: wiring only. See the crate docs of `hop` for the map.

use std::{io::Read, io::Write, net::TcpStream, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use hop::api::auth::Scope;
use hop::config::{Config, DbSettings};
use hop::store::ApiKey;
use hop::telemetry::LogStream;
use hop::{import, server, store};

#[derive(Parser)]
#[command(
    name = "hop",
    // The commit too (build.rs), so a benchmark report or a bug report names the exact build.
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("HOP_BUILD_COMMIT"), ")"),
    about = "A URL shortener run like a production service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and redirects (runs pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import users, urls and events CSV files (ids kept; safe to repeat).
    Import {
        /// A folder holding users.csv, urls.csv and/or events.csv.
        dir: Option<PathBuf>,
        #[arg(long)]
        users: Option<PathBuf>,
        #[arg(long)]
        urls: Option<PathBuf>,
        #[arg(long)]
        events: Option<PathBuf>,
    },
    /// Manage API keys (once one exists, the API requires a key).
    Keys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Exit 0 when the service at ADDRESS (host:port, e.g. 127.0.0.1:8080) answers its health
    /// check (for container probes); otherwise say why and exit 1.
    Healthcheck {
        #[arg(default_value = "127.0.0.1:8080")]
        address: String,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create a key and print it (it is shown only this once).
    Create {
        /// Who or what the key is for.
        #[arg(long)]
        name: String,
        /// read, write or admin (each includes the ones before it).
        #[arg(long, default_value = "write")]
        scope: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id; running replicas stop accepting it within 5 s.
    Revoke { id: i64 },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Healthcheck { address } = &cli.command {
        return healthcheck(address);
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("hop: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    let stream = match cli.command {
        Command::Serve => LogStream::Stdout,
        _ => LogStream::Stderr,
    };
    let _log_writer = hop::telemetry::init_logging(&config.log, stream);
    match execute(cli.command, config).await {
        Ok(code) => code,
        Err(err) => {
            let causes = hop::telemetry::causes(err.as_ref());
            // The server's log goes to stdout, where collectors read it; a one-off command's
            // log shares stderr with this line, and would say the same thing twice there.
            if stream == LogStream::Stdout {
                tracing::error!(error = causes, "hop failed");
            }
            eprintln!("hop: {causes}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    let database_url = config
        .database_url
        .as_ref()
        .map(|url| url.expose().to_owned());
    match command {
        Command::Serve => {
            let listener = TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let admin = match config.admin_listen {
                Some(address) => Some(TcpListener::bind(address).await?),
                None => None,
            };
            let app = server::App::build(&config).await?;
            server::run(app, listener, admin, shutdown_signal()).await?;
        }
        Command::Migrate => {
            open(database_url.as_deref(), &config.db().for_batch_work()).await?;
            println!("migrations applied");
        }
        Command::Import {
            dir,
            users,
            urls,
            events,
        } => {
            let paths = match dir {
                Some(dir) => import::ImportPaths::from_dir(&dir)?,
                None if users.is_none() && urls.is_none() && events.is_none() => {
                    anyhow::bail!(
                        "nothing to import: name a directory (hop import DIR) or files \
                         (--users, --urls, --events)"
                    )
                }
                None => import::ImportPaths {
                    users,
                    urls,
                    events,
                },
            };
            let store = open(database_url.as_deref(), &config.db().for_batch_work()).await?;
            let reports = import::run(store.as_ref(), &paths, import::print_report).await?;
            import::print_total(&reports);
            if reports
                .iter()
                .any(|report| !report.tally.rejected.is_empty())
            {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Keys { action } => {
            let store = open(database_url.as_deref(), &config.db()).await?;
            manage_keys(store.as_ref(), action).await?;
        }
        Command::Healthcheck { .. } => unreachable!("handled before configuration"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The store for a one-off command: no waiting for a database that is not there (that is for
/// `serve`), and a failure that says what could not be done before why.
async fn open(url: Option<&str>, settings: &DbSettings) -> anyhow::Result<Box<dyn store::Store>> {
    store::connect(url, settings)
        .await
        .context("cannot open the database")
}

async fn manage_keys(store: &dyn store::Store, action: KeyAction) -> anyhow::Result<()> {
    match action {
        KeyAction::Create { name, scope } => {
            let Some(scope) = Scope::parse(&scope) else {
                anyhow::bail!("--scope must be read, write or admin");
            };
            let (token, hash) = hop::api::auth::new_key();
            let key = store.create_key(name.trim(), scope.as_str(), &hash).await?;
            println!("created key {} ({}, scope {})", key.id, key.name, key.scope);
            println!("{token}");
            eprintln!("store it now: hop keeps only its hash and cannot show it again");
        }
        KeyAction::List => {
            let keys = store.list_keys().await?;
            if keys.is_empty() {
                eprintln!("no API keys: the API is open to every client");
            }
            for key in keys {
                let state = key
                    .revoked_at
                    .map_or("active".to_owned(), |at| format!("revoked {at}"));
                println!(
                    "{:>4}  {:<24} {:<6} created {}  {state}",
                    key.id, key.name, key.scope, key.created_at
                );
            }
        }
        KeyAction::Revoke { id } => {
            let known = store
                .list_keys()
                .await?
                .into_iter()
                .find(|key| key.id == id);
            if let Some(ApiKey {
                name,
                revoked_at: Some(at),
                ..
            }) = known
            {
                // Revoking twice is not an error: the key stays revoked as of the first time.
                println!("key {id} ({name}) was already revoked {at}");
            } else {
                let key = store.revoke_key(id).await?;
                println!("revoked key {} ({})", key.id, key.name);
            }
        }
    }
    Ok(())
}

/// Resolves on SIGTERM (how orchestrators stop containers) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A minimal HTTP/1.0 GET of `/health`: distroless images have no curl, and a client crate
/// would be a heavy dependency for one request.
fn healthcheck(address: &str) -> ExitCode {
    let check = || -> std::io::Result<bool> {
        let addr = address.parse().map_err(std::io::Error::other)?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        Ok(reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200"))
    };
    match check() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("hop healthcheck: {address} answered, but not 200 OK");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("hop healthcheck: {address} (host:port): {err}");
            ExitCode::FAILURE
        }
    }
}
