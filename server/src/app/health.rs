//! Whether this server is alive and ready to take work, for a load balancer, systemd or an
//! orchestrator (`GET /healthz`, `GET /readyz`): ready means the database answers, the object
//! store answers, the media engine still owns its socket, and no graceful stop has begun. Each
//! check is bounded by [`CHECK_TIMEOUT`], so a hung dependency makes the answer "not ready"
//! rather than no answer. Nothing personal is read or returned.

use std::time::Duration;

use super::Livegate;

/// The longest one readiness check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What each readiness check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The database answered a query.
    pub store: bool,
    /// The recording object store answered (a missing probe object counts as an answer).
    pub objects: bool,
    /// The media engine is running, with its UDP socket bound.
    pub media: bool,
    /// A graceful stop has begun: new work is refused.
    pub stopping: bool,
}

impl Readiness {
    /// True when every check passed and the server is not stopping.
    pub fn ready(&self) -> bool {
        self.store && self.objects && self.media && !self.stopping
    }
}

impl Livegate {
    /// Runs the readiness checks, the database and the object store at the same time.
    pub async fn readiness(&self) -> Readiness {
        let store = tokio::time::timeout(CHECK_TIMEOUT, self.store.ping());
        let objects = async {
            match &self.recordings {
                Some(r) => tokio::time::timeout(CHECK_TIMEOUT, r.objects_reachable())
                    .await
                    .unwrap_or(false),
                None => false,
            }
        };
        let (store, objects) = tokio::join!(store, objects);
        Readiness {
            store: matches!(store, Ok(Ok(()))),
            objects,
            media: self.media.is_running(),
            stopping: self.lessons.is_stopping(),
        }
    }
}
