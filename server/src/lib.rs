//! Livegate: a livestream learning gateway for schools.
//!
//! The crate is split so the parts that decide things have no I/O: [`sfu`] (forwarding),
//! [`admission`] (who may join), [`proto`] (the wire). The parts that do I/O are [`media`] (the
//! UDP loop around the `rtc` peer connections), [`lesson`] (one task per live lesson) and
//! [`http`] (axum routes, sessions, the WebSocket, the embedded web client) and [`store`]
//! (SQLite or PostgreSQL: the directory, consent and the audit chain).

pub mod config;
pub mod http;
pub mod lesson;
pub mod logs;
pub mod media;
pub mod password;
pub mod recording;
pub mod sfu;
pub mod store;

// Moved to livegate-core; re-exported so the old paths keep working.
pub use livegate_core::{admission, budget, ids, proto, roster_csv, text};
