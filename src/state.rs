//! What every request handler shares.

use std::{ops::Deref, sync::Arc};

use crate::config::Secret;
use crate::domain::Origin;
use crate::recorder::ClickQueue;
use crate::redirect::LinkCache;
use crate::store::Store;
use crate::telemetry::Metrics;

/// Cheap to clone: one `Arc` around the shared parts.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub links: LinkCache,
    pub clicks: ClickQueue,
    /// hop's configured public origin; targets on it are refused.
    pub public_origin: Option<Origin>,
    pub debug_cache_header: bool,
    pub metrics: Metrics,
    pub metrics_token: Option<Secret>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
