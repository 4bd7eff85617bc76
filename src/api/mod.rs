//! The JSON API of `../shared/contract/API.md`: one module per resource, the strict body and
//! query parsing they share, and the error type every handler returns.

pub mod auth;
mod error;
mod events;
mod guard;
pub mod json;
mod listing;
pub mod openapi;
mod ops;
mod params;
mod urls;
mod users;

use std::time::Duration;

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    middleware::{self, Next},
    response::Response,
    Router,
};
use tower::ServiceBuilder;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

pub use error::ApiError;
pub use ops::admin_routes;

use crate::state::AppState;
use crate::telemetry;

/// Largest request body, except for CSV uploads.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest CSV upload to `/users/bulk`.
pub const UPLOAD_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) use guard::add_security_headers;
pub use guard::WriteLimiter;

/// How the edge treats requests.
#[derive(Clone)]
pub struct EdgeSettings {
    /// False when `/metrics` moved to the admin listener.
    pub with_metrics: bool,
    pub request_timeout: Duration,
    pub write_limiter: Option<WriteLimiter>,
    pub keys: auth::KeyRing,
}

/// Every route of the main listener, with its middleware. Does no I/O, so tests can drive it
/// directly.
///
/// Keys and write limits guard the JSON API only: redirects, probes and the API description
/// are public and never write, so they skip those two layers (a cached redirect is cheap
/// enough that each layer shows in its profile).
pub fn router(state: AppState, edge: EdgeSettings) -> Router {
    let with_metrics = edge.with_metrics;
    let resources = Router::new()
        .merge(users::routes())
        .merge(urls::routes())
        .merge(events::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // The key is checked first (outermost), so requests without one never use up a
        // client's write allowance.
        .layer(middleware::from_fn_with_state(
            edge.write_limiter,
            guard::limit_writes,
        ))
        .layer(middleware::from_fn_with_state(edge.keys, auth::require_key));
    // The edge layers are one stack under a single `Router::layer`: each `layer` call boxes
    // every route's service again, a clone and an allocation per request (docs/bottlenecks.md).
    // Listed outermost first.
    let edge_layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(telemetry::NewRequestId))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn_with_state(
            edge.request_timeout,
            edge_of,
        ));
    Router::new()
        .merge(resources)
        .merge(crate::redirect::routes())
        .merge(ops::routes(with_metrics))
        .merge(openapi::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(edge_layers)
        .with_state(state)
}

/// What every request passes through, as one middleware: its span, metrics and closing line,
/// the deadline, the security headers (outermost first). One `from_fn` layer rather than three:
/// each costs a boxed future and a clone of the inner service per request (docs/bottlenecks.md
/// #12).
async fn edge_of(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    telemetry::observe(request, |request| async move {
        let mut response = guard::within_deadline(limit, next.run(request)).await;
        guard::add_security_headers(&mut response);
        response
    })
    .await
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
