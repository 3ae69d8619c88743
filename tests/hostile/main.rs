//! The hostile-input catalogue (issue 7, reliability.md section 7 G1): every named test here is
//! one hostile case. Each asserts the exact stable error code (or, for raw UDP, that the server
//! answers nothing), that no media byte reached the hostile peer (per-participant byte
//! counters on the client side), and that a normal pupil in the same lesson kept receiving.
//!
//! Most cases share one server and one live lesson (`fixture::Shared`: Ms Rivera publishing
//! her camera to 7a, Dev as the control pupil, Mr Teacher2's 8b lesson) so the catalogue runs
//! in a few minutes on two cores; a case that changes the lesson itself starts its own server.
//! Hostile actors that need a legitimate pupil account get a fresh one (`Shared::fresh_pupil`),
//! so cases never replace each other's sockets. README.md lists every case.
//!
//! Run: `cargo build -p livegate -p livegate-recorder && cargo test -p livegate-tests --test hostile`.

mod catalogue;
mod fixture;
mod flood;
mod identity;
mod privilege;
mod signalling;
mod sso;
mod storage;
mod transport;
mod web;
