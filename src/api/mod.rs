//! The JSON API of `../shared/contract/API.md`: one module per resource, the strict body and
//! query parsing they share, and the error type every handler returns.

mod error;
mod events;
pub mod json;
pub mod openapi;
mod ops;
mod params;
mod urls;
mod users;

use axum::{extract::DefaultBodyLimit, middleware, Router};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub use error::ApiError;
pub use ops::admin_routes;

use crate::state::AppState;
use crate::telemetry;

/// Largest request body, except for CSV uploads.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest CSV upload to `/users/bulk`.
pub const UPLOAD_LIMIT: usize = 16 * 1024 * 1024;

/// Every route of the main listener, with its middleware. Does no I/O, so tests can drive it
/// directly. `with_metrics` is false when `/metrics` moved to the admin listener.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    Router::new()
        .merge(users::routes())
        .merge(urls::routes())
        .merge(events::routes())
        .merge(crate::redirect::routes())
        .merge(ops::routes(with_metrics))
        .merge(openapi::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(telemetry::track_requests))
        .layer(telemetry::trace_layer())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
