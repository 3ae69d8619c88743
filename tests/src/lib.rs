//! Test harness for Livegate's end-to-end tests: starts the `livegate` binary, talks HTTP and
//! WebSocket signalling (server/PROTOCOL.md) and runs real WebRTC publishers and subscribers
//! (webrtc 0.21.1) against its single media port. The tests themselves live in `integration/`
//! and `hostile/`, one test binary each.

pub mod api;
pub mod garage;
pub mod media;
pub mod mfa;
pub mod oidc_provider;
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
pub async fn run_test<F>(body: F)
where
    F: Future<Output = anyhow::Result<()>>,
{
    run_test_within(TEST_LIMIT, body).await
}

/// Like [`run_test`] with a longer limit, for tests that must let time pass (the recording
/// tests: a lesson of several seconds, a storage outage of 30).
pub async fn run_test_within<F>(limit: Duration, body: F)
where
    F: Future<Output = anyhow::Result<()>>,
{
    match tokio::time::timeout(limit, body).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{} failed: {e:#}", test_name()),
        Err(_) => panic!("{} timed out after {limit:?}", test_name()),
    }
}

/// The running test's name (`grants::pupil_without_grant_cannot_publish`): libtest runs each
/// test on a thread named after it, and the test body is polled on that thread (`block_on`),
/// so no test has to spell its own name again.
pub fn test_name() -> String {
    std::thread::current().name().unwrap_or("the test").to_string()
}
