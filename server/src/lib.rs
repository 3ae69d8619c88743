//! Livegate: a livestream learning gateway for schools.
//!
//! The vocabulary and the rules that need no I/O (ids, error codes, roles and consent, the
//! signalling protocol, the admission gate, roster files, the text policy) are the crate
//! `livegate_core`; this crate names them there, never through a copy or a re-export.
//!
//! Layers, each importing only those below it: [`serve`] (the composition root, used by
//! `main.rs` and the bench server) wires everything; [`http`] (the route table, thin handlers,
//! the WebSocket, the embedded web client and the HTTP status of each error code) calls
//! [`app`] (the live school day without HTTP: lessons and the stop flag, admission, sessions
//! and tickets, the graceful shutdown); below it [`lesson`] (one task per live lesson, which
//! gathers its own admission facts), [`recording`], [`media`] (the UDP loop around the `rtc`
//! peer connections, over the sans-IO crate `livegate_sfu`: forwarding, rewriting, VP8, the
//! frame hold and the WebRTC profile every peer shares) and [`store`] (SQLite or PostgreSQL:
//! the directory, consent and the audit chain). Nothing outside `http`, `serve` and `main.rs`
//! imports `http`.

pub mod app;
pub mod config;
pub mod http;
pub mod lesson;
pub mod logs;
pub mod media;
pub mod operator;
pub mod password;
pub mod recording;
pub mod serve;
pub mod store;
pub mod telemetry;
