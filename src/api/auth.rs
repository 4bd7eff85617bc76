//! API keys. When at least one key exists, the API asks for `Authorization: Bearer <key>`
//! with a scope that covers the call: `read` for GETs, `write` for changes, `admin` for bulk
//! imports (each scope includes the ones before it). Redirects, probes, `/metrics` (it has
//! its own token) and the API description stay open. Until the first key is created, hop
//! stays open as the contract demands, and says so in its log at start; revoking every key
//! does not reopen it.
//!
//! Keys are random 40-character tokens; only their SHA-256 is stored, which is enough for
//! secrets of that entropy (a slow password hash protects guessable secrets, not these).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rand::{distr::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::store::Store;

/// How often the key ring is reloaded, so `hop keys create|revoke` reach running replicas.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// A new key: the token to hand out once, and the hash to store.
pub fn new_key() -> (String, String) {
    let secret: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let token = format!("hop_{secret}");
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The active keys' hashes and scopes, reloaded in the background.
#[derive(Clone, Default)]
pub struct KeyRing {
    keys: Arc<RwLock<Keys>>,
}

#[derive(Default)]
struct Keys {
    /// Hashes of the keys that are not revoked.
    active: HashMap<String, Scope>,
    /// Whether any key was ever created: until then the API is open.
    enforced: bool,
}

impl KeyRing {
    /// Loads the keys now and keeps them fresh; warns when the API is open.
    pub async fn load(store: Arc<dyn Store>) -> Self {
        let ring = Self::default();
        ring.reload(store.as_ref()).await;
        if ring.is_open() {
            tracing::warn!("no API keys configured: the API is open to every client");
        }
        let background = ring.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            loop {
                every.tick().await;
                background.reload(store.as_ref()).await;
            }
        });
        ring
    }

    async fn reload(&self, store: &dyn Store) {
        match store.key_hashes().await {
            Ok(rows) => {
                let enforced = !rows.is_empty();
                let active = rows
                    .into_iter()
                    .filter(|(_, _, revoked)| !revoked)
                    .filter_map(|(hash, scope, _)| Some((hash, Scope::parse(&scope)?)))
                    .collect();
                *self
                    .keys
                    .write()
                    .unwrap_or_else(|poison| poison.into_inner()) = Keys { active, enforced };
            }
            // Keep the last known keys: an outage must not open the API.
            Err(err) => tracing::warn!(error = %err, "api keys not reloaded"),
        }
    }

    fn is_open(&self) -> bool {
        !self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .enforced
    }

    fn scope_of(&self, token: &str) -> Option<Scope> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        keys.active.get(&hash(token)).copied()
    }
}

/// What a call needs; `None` for the routes that are always open.
fn needed(method: &Method, route: &str) -> Option<Scope> {
    let api = route == "/users/bulk"
        || route.starts_with("/users")
        || (route.starts_with("/urls") && !route.ends_with("/redirect"))
        || route.starts_with("/events");
    match (api, route, method) {
        (false, _, _) => None,
        (true, "/users/bulk", _) => Some(Scope::Admin),
        (true, _, &Method::GET | &Method::HEAD) => Some(Scope::Read),
        (true, _, _) => Some(Scope::Write),
    }
}

pub async fn require_key(State(ring): State<KeyRing>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let need = route
        .as_deref()
        .and_then(|route| needed(request.method(), route));
    let (Some(need), false) = (need, ring.is_open()) else {
        return next.run(request).await;
    };
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token)
        .filter(|token| !token.is_empty());
    match token.map(|token| ring.scope_of(token.trim())) {
        None => ApiError::Unauthorized.into_response(),
        Some(None) => ApiError::UnknownKey.into_response(),
        Some(Some(have)) if have < need => ApiError::Forbidden(need.as_str()).into_response(),
        Some(Some(_)) => next.run(request).await,
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer\tabc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn scopes_grow_read_write_admin() {
        assert!(Scope::Read < Scope::Write && Scope::Write < Scope::Admin);
    }

    #[test]
    fn redirects_probes_and_docs_need_no_key() {
        for route in [
            "/{code}",
            "/{code}/",
            "/urls/{code}/redirect",
            "/health",
            "/metrics",
            "/openapi.json",
        ] {
            assert_eq!(needed(&Method::GET, route), None, "{route}");
        }
    }

    #[test]
    fn reads_need_read_changes_need_write_and_bulk_needs_admin() {
        assert_eq!(needed(&Method::GET, "/urls/{id}"), Some(Scope::Read));
        assert_eq!(needed(&Method::POST, "/urls"), Some(Scope::Write));
        assert_eq!(needed(&Method::DELETE, "/users/{id}"), Some(Scope::Write));
        assert_eq!(needed(&Method::POST, "/users/bulk"), Some(Scope::Admin));
    }

    #[test]
    fn a_new_key_is_hashed_and_never_equal_to_its_hash() {
        let (token, stored) = new_key();
        assert!(token.starts_with("hop_") && token.len() == 44);
        assert_eq!(stored, hash(&token));
        assert_eq!(stored.len(), 64);
    }
}
