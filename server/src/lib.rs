//! Livegate: a livestream learning gateway for schools.
//!
//! The crate is split so the parts that decide things have no I/O: `livegate_sfu` (forwarding),
//! [`admission`] (who may join), [`proto`] (the wire). The parts that do I/O are [`media`] (the
//! UDP loop around the `rtc` peer connections), [`lesson`] (one task per live lesson) and
//! [`http`] (axum routes, sessions, the WebSocket, the embedded web client) and [`store`]
//! (SQLite or PostgreSQL: the directory, consent and the audit chain).

pub mod admission;
pub mod budget;
pub mod config;
pub mod error;
pub mod http;
pub mod ids;
pub mod lesson;
pub mod logs;
pub mod media;
pub mod password;
pub mod proto;
pub mod recording;
pub mod roster_csv;
pub mod store;
pub mod text;
