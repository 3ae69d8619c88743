//! Livegate's vocabulary and the rules that need no I/O: what the server, the test harness, the
//! load generator and the fuzz targets all speak.
//!
//! - [`ids`]: identifiers and personal values as types that check themselves when built.
//! - [`codes`]: the stable error codes and their sentences, shared by HTTP and the WebSocket.
//! - [`school`]: roles, consent states and privacy profiles.
//! - [`proto`]: the signalling messages, frozen by `golden/protocol-v1.jsonl`, and the HTTP
//!   bodies clients read ([`proto::http`], frozen by `golden/http-v1.jsonl`).
//! - [`admission`]: the gate that decides who may join a lesson.
//! - [`budget`]: what one participant may send on the signalling socket.
//! - [`roster_csv`]: roster files as a school's MIS exports them.
//! - [`roster_columns`]: which column of an MIS export holds which roster field.
//! - [`text`]: the one policy for text that people write.
//! - [`webmail`]: public webmail domains, which a school trusts only when it confirms.
//!
//! **What may never come in here.** No tokio, sqlx or axum, and nothing else that does I/O: no
//! socket, file, database, lock or channel, and no clock (a rule that needs the time takes it as
//! an argument, as [`budget`] does). No HTTP either: a code's status belongs to the server's
//! `http` layer, a role's column to its store. The only randomness is drawing fresh ids
//! ([`ids::random_token`]). Everything here is a plain value or a pure function, so every rule
//! is tested on its own and in virtual time, and any crate can depend on this one without
//! pulling in the server. `cargo tree -p livegate-core -e normal` shows what it links.

pub mod admission;
pub mod budget;
pub mod codes;
pub mod ids;
pub mod proto;
pub mod roster_columns;
pub mod roster_csv;
pub mod school;
pub mod text;
pub mod webmail;
