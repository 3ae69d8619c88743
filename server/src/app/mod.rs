//! The live school day, with no HTTP types: the state and the rules that the routes, the
//! WebSocket and the shutdown share. [`Livegate`] holds the configuration, the store, the media
//! engine, the recording service and the day's moving parts:
//!
//! - [`lessons`]: the lesson registry and the stop flag as one type, so a lesson is either
//!   started before a stop (and ended by it) or refused; starting a lesson with its recording,
//!   and admission with its audit and livestream-log entries;
//! - [`access`]: authenticators, session policy, sign-in limits and join tickets;
//! - [`shutdown`]: the graceful stop, which waits on signals (a recording stored, the last
//!   WebSocket closed), never on polls;
//! - the leaders' recording views (`crate::recording::playback::Views`).
//!
//! What may never come in here: the web framework, HTTP status codes, headers or cookies (the
//! `http` layer above turns requests into calls here and [`AppError`]s into answers), and
//! nothing of the `http` or `serve` modules, which sit above it. Below it sit `lesson`,
//! `recording`, `media` and `store`; `livegate_core` is everyone's.

pub mod access;
mod budget;
pub mod health;
pub mod lessons;
pub mod metrics;
pub mod notify;
pub mod shutdown;
pub mod sso;

use std::sync::Arc;

use livegate_core::codes::ErrorCode;

use crate::config::Config;
use crate::media::MediaHandle;
use crate::recording::playback::Views;
use crate::recording::Recordings;
use crate::store::{Store, StoreError};
use access::{Sessions, Tickets};
use lessons::Lessons;

/// Everything the school day shares: what the HTTP handlers and the WebSocket receive.
pub struct Livegate {
    pub config: Config,
    pub store: Store,
    pub sessions: Sessions,
    pub tickets: Tickets,
    pub media: MediaHandle,
    /// The lessons of this server, and whether it is stopping.
    pub lessons: Lessons,
    /// The recording service; `None` only if it could not start (lessons then fail closed).
    pub recordings: Option<Arc<Recordings>>,
    /// Leaders' outstanding recording views.
    pub views: Views,
    /// What a graceful stop waits for: open WebSockets, and recordings reaching the store.
    pub shutdown: shutdown::Gate,
    /// Sign-in with the school's Microsoft or Google account.
    pub sso: sso::Sso,
}

/// The shared state as the handlers receive it.
pub type App = Arc<Livegate>;

impl Livegate {
    /// The application over `store`, with sessions, tickets and sign-in limits from `config`.
    /// `shutdown` is the gate the recording service's completions are signalled on.
    pub fn new(
        config: Config,
        store: Store,
        media: MediaHandle,
        recordings: Option<Arc<Recordings>>,
        shutdown: shutdown::Gate,
    ) -> App {
        let sso = sso::Sso::from_config(&config);
        Arc::new(Self {
            sso,
            sessions: Sessions::new(&config.accounts),
            tickets: Tickets::with_lifetime(config.ticket_lifetime()),
            config,
            store,
            media,
            lessons: Lessons::default(),
            recordings,
            views: Views::default(),
            shutdown,
        })
    }
}

/// Where a one-time set-password link (an invite or a reset) leads, relative to the server's
/// origin: the token sits in the fragment, which browsers never send to a server or put in a
/// `Referer`. The superuser's page and the operator's `livegate school add` hand out the same.
pub fn set_password_path(token: &str) -> String {
    format!("/#/set-password?token={token}")
}

/// Why the school day refused or failed a request: a refusal with its stable code, or the store
/// (kept whole, so the layer above can log its cause and choose `store_unavailable` or
/// `internal`).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("refused: {}", .0.as_str())]
    Refused(ErrorCode),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        Self::Refused(code)
    }
}

impl AppError {
    /// The stable code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused(code) => *code,
            Self::Store(e) => e.code(),
        }
    }
}
