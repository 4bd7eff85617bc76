//! Probes and metrics: `/health` (the process serves HTTP), `/ready` (the database answers),
//! `/metrics` (Prometheus text, optionally behind a bearer token).

use std::time::{Duration, Instant};

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use super::openapi::ErrorBody;
use super::ApiError;
use crate::state::AppState;
use crate::telemetry::causes;

/// How long `/ready` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

pub fn routes(with_metrics: bool) -> Router<AppState> {
    let probes = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready));
    if with_metrics {
        probes.route("/metrics", get(metrics))
    } else {
        probes
    }
}

/// The admin listener's routes.
pub fn admin_routes(state: AppState) -> Router {
    routes(true)
        .fallback(|| async { ApiError::NotFound("no such path".into()) })
        .with_state(state)
}

/// Liveness: answers while the process serves HTTP, whatever the database does.
#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, description = "The process serves HTTP")))]
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: whether this replica can reach its database.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses(
        (status = 200, description = "The database answers"),
        (status = 503, description = "The database does not answer within 1 s", body = ErrorBody),
    ))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let started = Instant::now();
    let answer = tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await;
    metrics::histogram!("hop_db_pool_acquire_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    match answer {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(err)) => not_ready(&causes(&err)),
        Err(_) => not_ready("timed out"),
    }
}

fn not_ready(cause: &str) -> Response {
    tracing::warn!(error = cause, "not ready: database check failed");
    let body = Json(json!({"error": "not ready: the database is not answering"}));
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        body,
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given.and_then(super::auth::bearer_token) != Some(token.expose()) {
            let body = Json(json!({"error": "metrics need Authorization: Bearer <token>"}));
            return (StatusCode::UNAUTHORIZED, body).into_response();
        }
    }
    let text = state.metrics.render(state.store.as_ref(), &state.clicks);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
