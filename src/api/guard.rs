//! Protections at the edge: security headers on every response, a deadline on every request,
//! and per-client rate limits on the endpoints that write.

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderName, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ApiError;

/// Headers every response carries. hop serves JSON, redirects and one static HTML page with
/// inline styles, so the content policy allows nothing else.
pub const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ),
    (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
];

/// Adds [`SECURITY_HEADERS`] to a response, keeping any a handler set itself.
pub fn add_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// Ends a request that runs past `limit` with a JSON 503, so no client waits forever on a
/// stuck dependency.
pub async fn within_deadline(
    limit: Duration,
    handling: impl Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(limit, handling).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Per-client limits on writes. Reads and redirects are never limited here: the cache absorbs
/// them, and limiting redirects would break links for everyone behind one NAT.
#[derive(Clone)]
pub struct WriteLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Header naming the client when hop sits behind a proxy that sets it.
    client_header: Option<HeaderName>,
}

impl WriteLimiter {
    /// `None` when `per_second` is 0 (limits off).
    pub fn new(per_second: u32, burst: u32, client_header: Option<&str>) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        let limiter = Arc::new(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        ));
        let client_header = client_header.and_then(|name| HeaderName::try_from(name).ok());
        let sweeper = Arc::downgrade(&limiter);
        tokio::spawn(async move {
            // Forget idle clients now and then, so the table does not grow without bound.
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                let Some(limiter) = sweeper.upgrade() else {
                    return;
                };
                limiter.retain_recent();
            }
        });
        Some(Self {
            limiter,
            client_header,
        })
    }

    fn client(&self, request: &Request) -> Option<IpAddr> {
        let forwarded = self.client_header.as_ref().and_then(|name| {
            let value = request.headers().get(name)?.to_str().ok()?;
            value.split(',').next()?.trim().parse().ok()
        });
        forwarded.or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip())
        })
    }
}

pub async fn limit_writes(
    State(limiter): State<Option<WriteLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::DELETE
    );
    if let (true, Some(limiter)) = (writes, &limiter) {
        if let Some(client) = limiter.client(&request) {
            if let Err(not_until) = limiter.limiter.check_key(&client) {
                let clock = governor::clock::DefaultClock::default();
                let wait = not_until.wait_time_from(clock.now());
                return ApiError::TooManyRequests {
                    retry_after: wait.as_secs() + 1,
                }
                .into_response();
            }
        }
    }
    next.run(request).await
}
