//! What every request handler shares.

use std::{ops::Deref, sync::Arc, time::Duration};

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

    /// Returns once the clicks served so far are written: those queued here, and on the
    /// other replicas when they share Redis. Reads of the event log wait for this so that
    /// they see every click served before them; writes of other events wait for it so that
    /// their ids come after those clicks, and a link's history lists a click before the
    /// change that followed it. With Redis this replica hears its own request too and
    /// flushes twice (one more marker through its queue): kept, since a replica
    /// re-subscribing to Redis would otherwise not flush its own clicks.
    pub async fn write_served_clicks(&self) {
        tokio::join!(self.clicks.flush(), self.links.flush_clicks_everywhere());
    }

    /// [`Self::write_served_clicks`] before a write of an event, for at most
    /// [`CHANGE_FLUSH_WAIT`]: while the database is down the write fails anyway, and it must
    /// still answer its 503 about as fast as every other write.
    pub async fn write_served_clicks_before_change(&self) {
        if tokio::time::timeout(CHANGE_FLUSH_WAIT, self.write_served_clicks())
            .await
            .is_err()
        {
            tracing::warn!("queued clicks not written before a change; it goes first");
        }
    }
}

/// How long a change waits for the clicks served before it.
const CHANGE_FLUSH_WAIT: Duration = Duration::from_millis(500);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
