//! The one end-to-end integration-test binary for Livegate. Each test starts its own
//! `livegate demo` server on ephemeral ports (see livegate_tests::Server) and drives it with
//! real HTTP, WebSocket signalling and WebRTC clients. Tests are grouped by topic below.
//!
//! Run: `cargo build -p livegate && cargo test -p livegate-tests`. Environment:
//! `LIVEGATE_BIN` (server binary, default `<repo>/target/debug/livegate`), `LIVEGATE_LOG`
//! (the server's RUST_LOG, default `info`), `LIVEGATE_TEST_LOGS=1` (print every server's log,
//! not only those of failed tests). Needs `ffmpeg` with libvpx and libopus for the test clip.

#[path = "integration/admin.rs"]
mod admin;
#[path = "integration/admission.rs"]
mod admission;
#[path = "integration/bad_input.rs"]
mod bad_input;
#[path = "integration/enforcement.rs"]
mod enforcement;
#[path = "integration/failure.rs"]
mod failure;
#[path = "integration/grants.rs"]
mod grants;
#[path = "integration/http_api.rs"]
mod http_api;
#[path = "integration/lifecycle.rs"]
mod lifecycle;
#[path = "integration/lobby.rs"]
mod lobby;
#[path = "integration/log.rs"]
mod log;
#[path = "integration/media_flow.rs"]
mod media_flow;
#[path = "integration/multinode.rs"]
mod multinode;
#[path = "integration/privacy.rs"]
mod privacy;
#[path = "integration/recording.rs"]
mod recording;
#[path = "integration/shutdown.rs"]
mod shutdown;
#[path = "integration/streams.rs"]
mod streams;
