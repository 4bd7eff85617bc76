//! The hot path: `GET /{code}` (and `/urls/{code}/redirect`) answers 302 from the link cache
//! and hands the click to the recorder's queue. It never waits on a database write, and on a
//! cache hit it does not touch the database at all.

mod cache;
mod lookups;
mod remote;

use axum::{
    extract::{rejection::PathRejection, Path, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics::counter;

pub use cache::{CacheSettings, Layer, LinkCache, Target};
pub use remote::RedisLayer;

use crate::api::ApiError;
use crate::domain::{now, ShortCode};
use crate::state::AppState;
use crate::store::Click;
use crate::telemetry::RedirectNote;

/// Longest referrer or user agent kept in a click's details, in bytes.
const MAX_HEADER_KEPT: usize = 512;

/// What both redirect paths answer, for the API description.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum RedirectResponses {
    /// To the link's target (Location); records a click unless the method is HEAD.
    #[response(status = 302)]
    Found,
    /// Unknown, inactive or deleted code.
    #[response(status = 404)]
    NotFound(#[to_schema] crate::api::openapi::ErrorBody),
    /// Not cached and the database is not answering.
    #[response(status = 503)]
    Unavailable(#[to_schema] crate::api::openapi::ErrorBody),
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{code}", get(follow))
        // A trailing slash is tolerated: `/{code}/` redirects like `/{code}`.
        .route("/{code}/", get(follow))
        .route("/urls/{code}/redirect", get(follow_by_path))
}

#[utoipa::path(get, path = "/{code}", tag = "redirect",
    params(("code" = String, Path, description = "Short code, matched exactly")),
    responses(RedirectResponses))]
pub(crate) async fn follow(
    State(state): State<AppState>,
    method: Method,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    // A path that does not decode to text (`/%FF`) names no link.
    let Ok(Path(code)) = code else {
        counter!("hop_redirects_not_found_total").increment(1);
        return ApiError::not_found("short link").into_response();
    };
    let (answer, layer) = answer(&state, &method, &code, &headers).await;
    let mut response = answer.into_response();
    response.extensions_mut().insert(RedirectNote {
        short_code: code,
        cache: layer.map(Layer::as_str),
    });
    response
}

/// The redirect itself, and the cache layer that resolved the code (none for a malformed one).
async fn answer(
    state: &AppState,
    method: &Method,
    code: &str,
    headers: &HeaderMap,
) -> (Result<Response, ApiError>, Option<Layer>) {
    if ShortCode::parse(code).is_err() {
        counter!("hop_redirects_not_found_total").increment(1);
        return (Err(ApiError::not_found("short link")), None);
    }

    let (target, layer) = match state.links.resolve(code).await {
        Ok(found) => found,
        Err(err) => return (Err(err.into()), None),
    };
    let Some(Target { resolved, location }) = target else {
        counter!("hop_redirects_not_found_total").increment(1);
        return (Err(ApiError::not_found("short link")), Some(layer));
    };

    // HEAD answers like GET but is not a visit.
    if method != Method::HEAD {
        state.clicks.push(Click {
            target: resolved,
            at: now(),
            referrer: header_text(headers, header::REFERER),
            user_agent: header_text(headers, header::USER_AGENT),
        });
    }
    counter!("hop_redirects_total").increment(1);

    let mut response = StatusCode::FOUND.into_response();
    let out = response.headers_mut();
    out.insert(header::LOCATION, location);
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=0"),
    );
    if state.debug_cache_header {
        out.insert("x-cache", HeaderValue::from_static(layer.as_str()));
    }
    (Ok(response), Some(layer))
}

/// `GET /urls/{code}/redirect`: the same redirect under the API's path.
#[utoipa::path(get, path = "/urls/{code}/redirect", tag = "redirect",
    params(("code" = String, Path, description = "Short code, matched exactly")),
    responses(RedirectResponses))]
pub(crate) async fn follow_by_path(
    state: State<AppState>,
    method: Method,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    follow(state, method, code, headers).await
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let mut end = text.len().min(MAX_HEADER_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}
