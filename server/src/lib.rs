//! Livegate: a livestream learning gateway for schools.
//!
//! The vocabulary and the rules that need no I/O (ids, error codes, roles and consent, the
//! signalling protocol, the admission gate, roster files, the text policy) are the crate
//! `livegate_core`; this crate names them there, never through a copy or a re-export. Here the
//! parts that decide things without I/O are [`sfu`] (forwarding); the parts that do I/O are
//! [`media`] (the UDP loop around the `rtc` peer connections), [`lesson`] (one task per live
//! lesson), [`http`] (axum routes, sessions, the WebSocket, the embedded web client and the HTTP
//! status of each error code) and [`store`] (SQLite or PostgreSQL: the directory, consent and
//! the audit chain).

pub mod config;
pub mod http;
pub mod lesson;
pub mod logs;
pub mod media;
pub mod password;
pub mod recording;
pub mod serve;
pub mod sfu;
pub mod store;
