//! The hot path: `GET /{code}` (and `/urls/{code}/redirect`) answers 302 from the link cache
//! and hands the click to the recorder's queue. It never waits on a database write, and on a
//! cache hit it does not touch the database at all.

mod cache;
mod express;
mod gather;
mod lookups;
mod remote;

use std::time::Duration;

use axum::{
    extract::{rejection::PathRejection, Path, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics::counter;
use tracing::Instrument;

pub use cache::{CacheSettings, Layer, LinkCache, Target};
pub use express::{ExpressLane, LaneSettings};
pub use remote::RedisLayer;

use crate::api::ApiError;
use crate::domain::{now, ShortCode};
use crate::state::AppState;
use crate::store::Click;
use crate::telemetry::{self, RedirectNote, REQUEST_ID};

/// Longest referrer or user agent kept in a click's details, in bytes.
const MAX_HEADER_KEPT: usize = 512;
/// Headers of a redirect: Location, Cache-Control, X-Cache, X-Request-Id and the edge's five
/// security headers.
const HEADERS_SENT: usize = 9;

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

/// The redirect routes; the edge opens no span for them (see [`telemetry::observe`]).
/// A trailing slash is tolerated: `/{code}/` redirects like `/{code}`.
pub const PATHS: [&str; 3] = ["/{code}", "/{code}/", "/urls/{code}/redirect"];

pub fn routes() -> Router<AppState> {
    let [short, slashed, by_path] = PATHS;
    Router::new()
        .route(short, get(follow))
        .route(slashed, get(follow))
        .route(by_path, get(follow_by_path))
}

/// Follows a short code to its link's target and records a click.
#[utoipa::path(get, path = "/{code}", tag = "redirect",
    params(("code" = String, Path, description = "Short code, matched exactly")),
    responses(RedirectResponses))]
pub(crate) async fn follow(
    State(state): State<AppState>,
    code: Result<Path<String>, PathRejection>,
    // The whole request rather than a `HeaderMap` extractor, which copies every header.
    request: Request,
) -> Response {
    // A path that does not decode to text (`/%FF`) names no link.
    let Ok(Path(code)) = code else {
        counter!("hop_redirects_not_found_total").increment(1);
        return ApiError::not_found("short link").into_response();
    };
    let (mut response, layer) = if ShortCode::parse(&code).is_ok() {
        let headers = request.headers();
        // The edge holds the request's deadline.
        answer(
            &state,
            request.method(),
            &code,
            headers,
            headers.get(REQUEST_ID),
            None,
        )
        .await
    } else {
        counter!("hop_redirects_not_found_total").increment(1);
        (ApiError::not_found("short link").into_response(), None)
    };
    response.extensions_mut().insert(RedirectNote {
        short_code: code,
        cache: layer.map(Layer::as_str),
    });
    response
}

/// The redirect for a well-formed `code`, and the cache layer that resolved it (none when the
/// lookup failed). A lookup past the in-process cache runs in the span of `request_id`, under
/// `deadline` when one is given (a 503 when it passes); a cache hit waits on nothing and sets
/// no timer.
async fn answer(
    state: &AppState,
    method: &Method,
    code: &str,
    headers: &HeaderMap,
    request_id: Option<&HeaderValue>,
    deadline: Option<Duration>,
) -> (Response, Option<Layer>) {
    let (target, layer) = match state.links.cached(code).await {
        Some(target) => (target, Layer::Local),
        None => {
            let request_id = request_id.map(telemetry::request_id_text);
            let further = look_further(state, code, request_id.as_deref().unwrap_or(""));
            let resolved = match deadline {
                None => further.await,
                Some(limit) => match tokio::time::timeout(limit, further).await {
                    Ok(resolved) => resolved,
                    Err(_) => Err(ApiError::Timeout.into_response()),
                },
            };
            match resolved {
                Ok(found) => found,
                Err(response) => return (response, None),
            }
        }
    };
    (respond(state, method, headers, target, layer), Some(layer))
}

/// Resolves a code the in-process cache does not hold, through Redis and the database; what
/// the client gets when that fails (a 503).
///
/// Past the in-process cache a lookup can log (Redis or the database failing), so it and the
/// error it may end in run in the request's span. Opened only here, the span costs a cache hit
/// nothing.
async fn look_further(
    state: &AppState,
    code: &str,
    request_id: &str,
) -> Result<(Option<Target>, Layer), Response> {
    let span = telemetry::request_span(request_id);
    match state.links.fetch(code).instrument(span.clone()).await {
        Ok(found) => Ok(found),
        Err(err) => Err(span.in_scope(|| ApiError::from(err).into_response())),
    }
}

/// The answer for a code resolved to `target` (none: unknown, inactive or deleted) by `layer`:
/// a 302 that records a click, or a 404.
fn respond(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    target: Option<Target>,
    layer: Layer,
) -> Response {
    let Some(Target { resolved, location }) = target else {
        counter!("hop_redirects_not_found_total").increment(1);
        return ApiError::not_found("short link").into_response();
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
    // Room for every header the edge adds too, so the map is sized once.
    out.reserve(HEADERS_SENT);
    out.insert(header::LOCATION, location);
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=0"),
    );
    if state.debug_cache_header {
        out.insert("x-cache", HeaderValue::from_static(layer.as_str()));
    }
    response
}

/// Follows a short code under the API's path, like GET /{code}.
#[utoipa::path(get, path = "/urls/{code}/redirect", tag = "redirect",
    params(("code" = String, Path, description = "Short code, matched exactly")),
    responses(RedirectResponses))]
pub(crate) async fn follow_by_path(
    state: State<AppState>,
    code: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    follow(state, code, request).await
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
