//! The `hop` command: wiring only. See the crate docs of `hop` for the map.

use std::{io::Read, io::Write, net::TcpStream, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use hop::{config::Config, import, server, store};

#[derive(Parser)]
#[command(
    name = "hop",
    version,
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
    /// Exit 0 when the service at URL answers its health check (for container probes).
    Healthcheck {
        #[arg(default_value = "127.0.0.1:8080")]
        address: String,
    },
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
    hop::telemetry::init_logging(&config.log);
    match execute(cli.command, config).await {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "hop failed");
            eprintln!("hop: {err:#}");
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
            store::connect(database_url.as_deref(), &config.db()).await?;
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
                None => import::ImportPaths {
                    users,
                    urls,
                    events,
                },
            };
            let store = store::connect(database_url.as_deref(), &config.db()).await?;
            let reports = import::run(store.as_ref(), &paths).await?;
            import::print_summary(&reports);
            if reports
                .iter()
                .any(|report| !report.tally.rejected.is_empty())
            {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Healthcheck { .. } => unreachable!("handled before configuration"),
    }
    Ok(ExitCode::SUCCESS)
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
        _ => ExitCode::FAILURE,
    }
}
