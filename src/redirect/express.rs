//! The express lane: every redirect by `/{code}` is answered in front of the router, and every
//! other request goes on to the router unchanged.
//!
//! A cached redirect is all hop's traffic at its busiest, and the router's generic path cost it
//! more than the redirect itself: the route match and its parameters stored in the request,
//! a boxed clone of every layer's service, a timer for the deadline, the request id set on the
//! request and then copied to the response (docs/bottlenecks.md #16). The lane gives the same
//! answer as the `/{code}` route through the edge (status, headers, click, counters, request
//! metrics and closing line, from the same functions) without those steps. A cache hit waits
//! on nothing, so only a lookup past the in-process cache runs under the request deadline. One
//! difference is kept on purpose: a lookup that runs past the deadline is logged with the code
//! it was for, which the router's deadline, outside the route, cannot know.

use std::{convert::Infallible, net::SocketAddr, task::Poll, time::Duration};

use super::{answer, Layer, PATHS};
use crate::api::add_security_headers;
use crate::domain::ShortCode;
use crate::state::AppState;
use crate::telemetry::{NewRequestId, Route, Visit, REQUEST_ID};
use axum::{
    body::HttpBody,
    extract::{ConnectInfo, Request},
    http::{header::CONTENT_LENGTH, HeaderMap, HeaderValue, Method, Uri},
    response::Response,
    Router,
};
use futures::future::BoxFuture;
use tower::Service;

/// What the lane needs besides the router: the state, and the request deadline of the edge.
#[derive(Clone)]
pub struct LaneSettings {
    pub state: AppState,
    pub deadline: Duration,
}

/// The main listener's service for one connection: the lane, then the router.
#[derive(Clone)]
pub struct ExpressLane {
    settings: LaneSettings,
    router: Router,
    /// The connection's peer, for the closing line and for the router's `ConnectInfo`.
    client: SocketAddr,
}

impl ExpressLane {
    pub fn new(settings: LaneSettings, router: Router, client: SocketAddr) -> Self {
        Self {
            settings,
            router,
            client,
        }
    }
}

impl Service<Request> for ExpressLane {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let lane = self.clone();
        Box::pin(async move {
            // The parts alone, which can be shared across an await (a body cannot).
            let (parts, body) = request.into_parts();
            if let Some(code) = express_code(&parts.method, &parts.uri) {
                return Ok(lane.answer(&parts.method, &parts.headers, code).await);
            }
            let mut request = Request::from_parts(parts, body);
            request.extensions_mut().insert(ConnectInfo(lane.client));
            let mut router = lane.router;
            router.call(request).await
        })
    }
}

impl ExpressLane {
    /// What the `/{code}` route and the edge answer for `code`.
    async fn answer(&self, method: &Method, headers: &HeaderMap, code: &str) -> Response {
        // The client's own id, else a new one, as the router's request-id layer does.
        let request_id = match headers.get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => NewRequestId::header_value(),
        };
        let id = Some(&request_id);
        let visit = Visit::begin(method, Route::Named(PATHS[0]), id, Some(self.client));
        let deadline = Some(self.settings.deadline);
        let state = &self.settings.state;
        let (mut response, layer) = answer(state, method, code, headers, id, deadline).await;
        add_security_headers(&mut response);
        // axum states the length of every body it knows; hyper would leave it out of a HEAD.
        if let Some(length) = response.body().size_hint().exact() {
            response
                .headers_mut()
                .entry(CONTENT_LENGTH)
                .or_insert(HeaderValue::from(length));
        }
        response.headers_mut().insert(REQUEST_ID, request_id);
        visit.end(
            response.status().as_u16(),
            Some(code),
            layer.map(Layer::as_str),
        );
        response
    }
}

/// The code of a request the lane may answer: `GET` or `HEAD` of `/{code}` with a code as a
/// lookup accepts it, written without escapes. A reserved word (`/health`, `/users`, ...) is
/// left to the router, whose own routes for them come first.
fn express_code<'a>(method: &Method, uri: &'a Uri) -> Option<&'a str> {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return None;
    }
    let code = uri.path().strip_prefix('/')?;
    let valid = ShortCode::parse(code).is_ok() && !ShortCode::is_reserved(code);
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(method: Method, path: &str) -> Option<String> {
        let uri: Uri = path.parse().unwrap();
        express_code(&method, &uri).map(str::to_owned)
    }

    #[test]
    fn only_a_get_or_head_of_a_plain_code_takes_the_lane() {
        for (method, path, code) in [
            (Method::GET, "/WqxP6K", Some("WqxP6K")),
            (Method::HEAD, "/WqxP6K?utm=1", Some("WqxP6K")),
            (Method::GET, "/imported_code-2", Some("imported_code-2")),
            (Method::POST, "/WqxP6K", None),
            (Method::DELETE, "/WqxP6K", None),
            (Method::GET, "/", None),
            (Method::GET, "/WqxP6K/", None),
            (Method::GET, "/urls/WqxP6K/redirect", None),
            (Method::GET, "/Wqx%50K", None),
            (Method::GET, "/openapi.json", None),
            (Method::GET, &format!("/{}", "a".repeat(33)), None),
        ] {
            assert_eq!(
                code_of(method.clone(), path).as_deref(),
                code,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_routes_of_hop_itself_are_left_to_the_router() {
        for path in [
            "/health", "/ready", "/metrics", "/users", "/urls", "/events", "/docs",
        ] {
            assert_eq!(code_of(Method::GET, path), None, "{path}");
            assert_eq!(code_of(Method::GET, &path.to_uppercase()), None, "{path}");
        }
    }
}
