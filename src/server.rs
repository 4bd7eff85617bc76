//! Start-up and shutdown. [`App::build`] wires the parts together from a [`Config`];
//! [`run`] serves a bound listener until the shutdown future resolves, then drains requests
//! and writes the queued clicks. Tests bind port 0 and call the same two functions.

use std::{
    convert::Infallible,
    future::{ready, Future},
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{serve::IncomingStream, Router};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tower::service_fn;

use crate::api;
use crate::config::Config;
use crate::domain::Origin;
use crate::recorder::{Batching, Recorder};
use crate::redirect::{CacheSettings, ExpressLane, LaneSettings, LinkCache, RedisLayer};
use crate::state::{AppState, Shared};
use crate::store::{self, Store};
use crate::telemetry::{causes, Metrics};

/// How often the background check updates `hop_db_up`.
const DB_CHECK_EVERY: Duration = Duration::from_secs(5);
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a starting hop waits for its database before giving up.
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// A wired service, ready to serve.
pub struct App {
    state: AppState,
    recorder: Recorder,
    db_check: JoinHandle<()>,
    grace: Duration,
    edge: api::EdgeSettings,
}

impl App {
    /// Connects the store (running migrations), starts the click recorder and the database
    /// check, and builds the shared state.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let url = config.database_url.as_ref().map(|url| url.expose());
        let store: Arc<dyn Store> = Arc::from(connect_patiently(url, config).await?);
        tracing::info!(backend = store.backend(), "database ready");

        let metrics = Metrics::install();
        let batching = Batching {
            size: config.click_batch,
            linger: Duration::from_millis(config.click_linger_ms),
        };
        let recorder = Recorder::spawn(store.clone(), config.click_queue, batching);
        let settings = CacheSettings {
            capacity: config.cache_capacity,
            ttl: Duration::from_secs(config.cache_ttl_secs),
            negative_ttl: Duration::from_secs(config.negative_ttl_secs),
        };
        let remote = match &config.redis_url {
            Some(url) => Some(
                RedisLayer::connect(
                    url.expose(),
                    settings.ttl,
                    settings.negative_ttl,
                    recorder.queue(),
                )
                .context("REDIS_URL is not a valid Redis URL")?,
            ),
            None => None,
        };
        let links = LinkCache::new(store.clone(), settings, remote);
        let state = AppState::new(Shared {
            store: store.clone(),
            links,
            clicks: recorder.queue(),
            public_origin: config.public_url.as_ref().and_then(Origin::from_url),
            debug_cache_header: config.debug_cache_header,
            metrics,
            metrics_token: config.metrics_token.clone(),
        });
        Ok(Self {
            state,
            recorder,
            db_check: tokio::spawn(check_database(store.clone())),
            grace: Duration::from_secs(config.shutdown_grace_secs),
            edge: api::EdgeSettings {
                with_metrics: config.admin_listen.is_none(),
                request_timeout: Duration::from_secs(config.request_timeout_secs.max(1)),
                write_limiter: api::WriteLimiter::new(
                    config.rate_limit_per_sec,
                    config.rate_limit_burst,
                    config.client_ip_header.as_deref(),
                ),
                keys: api::auth::KeyRing::load(store.clone()).await,
            },
        })
    }

    /// The main listener's routes.
    pub fn router(&self) -> Router {
        api::router(self.state.clone(), self.edge.clone())
    }
}

/// Connects, retrying for up to [`CONNECT_PATIENCE`] while the database is unavailable:
/// replicas often start while their database is still coming up or failing over. A mistake
/// in the configuration (see [`store::worth_waiting_for`]) stops hop at once.
async fn connect_patiently(url: Option<&str>, config: &Config) -> anyhow::Result<Box<dyn Store>> {
    let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
    let mut pause = Duration::from_millis(500);
    loop {
        match store::connect(url, &config.db()).await {
            Ok(store) => return Ok(store),
            Err(err)
                if store::worth_waiting_for(&err)
                    && tokio::time::Instant::now() + pause < deadline =>
            {
                tracing::warn!(
                    error = causes(err.as_ref()),
                    "database not reachable yet, retrying"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(err) => return Err(err.context("cannot open the database")),
        }
    }
}

/// The least time queued clicks get to be written when hop stops.
const CLICK_WAIT_AT_LEAST: Duration = Duration::from_secs(3);

/// Serves until `shutdown` resolves, then stops accepting, gives in-flight requests up to the
/// configured grace period, writes every queued click and returns.
pub async fn run(
    app: App,
    listener: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let lane = LaneSettings {
        state: app.state.clone(),
        deadline: app.edge.request_timeout,
    };
    let main = serve(listener, app.router(), Some(lane), stopping.clone());
    let admin =
        admin.map(|admin| serve(admin, api::admin_routes(app.state.clone()), None, stopping));
    let mut servers = tokio::spawn(async move {
        match admin {
            Some(admin) => tokio::try_join!(main, admin).map(|_| ()),
            None => main.await,
        }
    });

    let mut stopping_since = None;
    let served = tokio::select! {
        served = &mut servers => served,
        () = shutdown => {
            stopping_since = Some(Instant::now());
            tracing::info!(grace_secs = app.grace.as_secs(), "shutting down");
            let _ = stop.send(true);
            match tokio::time::timeout(app.grace, &mut servers).await {
                Ok(served) => served,
                Err(_) => {
                    tracing::warn!("grace period over, closing the remaining connections");
                    servers.abort();
                    Ok(Ok(()))
                }
            }
        }
    };

    app.db_check.abort();
    // Queued clicks get what is left of the grace period, and a few seconds at least.
    let left = stopping_since.map_or(app.grace, |since| app.grace.saturating_sub(since.elapsed()));
    app.recorder.shutdown(left.max(CLICK_WAIT_AT_LEAST)).await;
    tracing::info!("stopped");
    served.context("server task failed")?
}

/// Serves `router` on `listener`, behind the redirect's express lane when `express` holds its
/// settings (the main listener), until `stopping` turns true.
async fn serve(
    listener: TcpListener,
    router: Router,
    express: Option<LaneSettings>,
    mut stopping: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(address = %address, "listening");
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let served = match express {
        Some(lane) => {
            let per_connection = service_fn(move |stream: IncomingStream<'_, TcpListener>| {
                let client = *stream.remote_addr();
                ready(Ok::<_, Infallible>(ExpressLane::new(
                    lane.clone(),
                    router.clone(),
                    client,
                )))
            });
            axum::serve(listener, per_connection)
                .with_graceful_shutdown(stopped)
                .await
        }
        None => {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(stopped)
                .await
        }
    };
    served.with_context(|| format!("serving on {address} failed"))
}

/// Keeps `hop_db_up` current, for the alert that pages when the database goes away, and samples
/// `hop_db_pool_acquire_duration_seconds`.
async fn check_database(store: Arc<dyn Store>) {
    let mut every = tokio::time::interval(DB_CHECK_EVERY);
    loop {
        every.tick().await;
        let started = std::time::Instant::now();
        let failure = match tokio::time::timeout(DB_CHECK_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(causes(&err)),
            Err(_) => Some(format!(
                "no answer within {} ms",
                DB_CHECK_TIMEOUT.as_millis()
            )),
        };
        let up = failure.is_none();
        // A sample of the pool's wait, kept whether or not anything polls /ready.
        metrics::histogram!("hop_db_pool_acquire_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("hop_db_up").set(if up { 1.0 } else { 0.0 });
        if let Some(error) = failure {
            metrics::counter!("hop_db_errors_total").increment(1);
            tracing::warn!(error, "database check failed");
        }
    }
}
