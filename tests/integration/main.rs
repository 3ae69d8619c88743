//! The one end-to-end integration-test binary for Livegate. Each test starts its own
//! `livegate demo` server on ephemeral ports (see livegate_tests::Server) and drives it with
//! real HTTP, WebSocket signalling and WebRTC clients. Tests are grouped by topic, one module
//! a file beside this one; the hostile catalogue (`tests/hostile/main.rs`) is built the same way.
//!
//! Run: `cargo build -p livegate -p livegate-recorder && cargo test -p livegate-tests --test integration`
//! (the recording tests run the `livegate-recorder` command too). Environment:
//! `LIVEGATE_BIN` (server binary, default `<repo>/target/debug/livegate`), `LIVEGATE_LOG`
//! (the server's RUST_LOG, default `info`), `LIVEGATE_TEST_LOGS=1` (print every server's log,
//! not only those of failed tests). Needs `ffmpeg` with libvpx and libopus for the test clip.

mod admin;
mod admission;
mod backup;
mod bad_input;
mod deploy;
mod enforcement;
mod failure;
mod grants;
mod http_api;
mod lifecycle;
mod lobby;
mod log;
mod media_flow;
mod metrics;
mod mfa;
mod multinode;
mod operator;
mod privacy;
mod recording;
mod shutdown;
mod sso;
mod streams;
mod upgrade;
