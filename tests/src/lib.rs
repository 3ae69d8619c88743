//! Test harness for Livegate's end-to-end tests: starts the `livegate` binary, talks HTTP and
//! WebSocket signalling (server/PROTOCOL.md) and runs real WebRTC publishers and subscribers
//! (webrtc 0.21.1) against its single media port. The tests themselves live in `tests/`.

pub mod api;
pub mod garage;
pub mod media;
pub mod participant;
pub mod postgres;
pub mod recorder_cost;
pub mod recording;
pub mod relay;
pub mod rtc_client;
pub mod seed;
pub mod server;
pub mod signal;

pub use api::{Api, HttpError, Ticket};
pub use participant::{Lesson, Participant};
pub use rtc_client::{Publisher, RxStats, Subscription};
pub use server::Server;
pub use signal::{CloseInfo, Conn};

use std::future::Future;
use std::time::Duration;

/// The hard limit for one test: no test may take longer than this.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// Runs a test body under [`TEST_LIMIT`], turning an error or a timeout into a panic.
pub async fn run_test<F>(name: &str, body: F)
where
    F: Future<Output = anyhow::Result<()>>,
{
    run_test_within(name, TEST_LIMIT, body).await
}

/// Like [`run_test`] with a longer limit, for tests that must let time pass (the recording
/// tests: a lesson of several seconds, a storage outage of 30).
pub async fn run_test_within<F>(name: &str, limit: Duration, body: F)
where
    F: Future<Output = anyhow::Result<()>>,
{
    match tokio::time::timeout(limit, body).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{name} failed: {e:#}"),
        Err(_) => panic!("{name} timed out after {limit:?}"),
    }
}
