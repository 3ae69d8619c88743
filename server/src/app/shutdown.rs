//! Graceful shutdown (SIGTERM or Ctrl-C): a deploy or a restart finishes every lesson cleanly
//! instead of leaving it for the next start-up's crash recovery.
//!
//! In order, all within one deadline ([`DEADLINE`]):
//! 1. the server stops taking new work: starting a lesson, a join ticket and a WebSocket join
//!    are refused with `server_stopping` — the flag belongs to the lesson registry
//!    ([`super::lessons::Lessons::stop`]), so a lesson is either started before it (and ended
//!    below) or refused;
//! 2. every live lesson of this server (on PostgreSQL with several nodes, only this node's)
//!    ends as if its teacher had ended it, with the reason `server_stopping`: everyone in it and
//!    in its lobby gets `lesson_ended`, its recorder seals the recording as complete, and its
//!    livestream log writer writes the end and closes every session;
//! 3. the shutdown waits for each lesson's recorder to finish, for its recording to reach the
//!    object store (its row `complete`), and for its log writer to drain; then for the
//!    participants' WebSockets to close (each closes once its lesson's end is sent);
//! 4. the HTTP server stops accepting and finishes its open requests (the caller's part,
//!    `crate::serve::Running::stop`).
//!
//! Every wait is on a signal, never a poll: a recording's row is read again only when the
//! recording service says it stored one ([`StoredSignal`]), and the WebSocket count
//! is a `watch` value that the last socket to close brings to zero.
//!
//! Whatever has not finished by the deadline is named in the [`Report`], and the process exits
//! anyway: a recording sealed but not yet uploaded is uploaded by the next start-up; one not
//! sealed, and log rows not written, are closed by the next start-up's recovery as after a
//! crash (`interrupted`, `server_stopped`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};

use super::App;
use crate::lesson::{LessonHandle, LessonMsg};

/// How long a graceful shutdown may take before the process exits anyway.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How long the shutdown waits before reading a recording's row again after the store failed
/// to answer (the one wait that is not on a signal: a store that is down sends none).
const STORE_RETRY: Duration = Duration::from_millis(500);

/// What a graceful stop waits for: the WebSockets open now, and a count of the recordings the
/// recording service has stored (each one's row then no longer says `recording`).
#[derive(Debug)]
pub struct Gate {
    sockets: watch::Sender<usize>,
    stored: Arc<watch::Sender<u64>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::with_signal().0
    }
}

/// The recording service's side of [`Gate`]: it says when a recording's upload has finished and
/// its row is written, which wakes a shutdown waiting for that recording.
#[derive(Debug, Clone)]
pub struct StoredSignal(Arc<watch::Sender<u64>>);

impl StoredSignal {
    /// A recording was stored (or its row could not be written: either way, read it again).
    pub fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Gate {
    /// A gate, and the signal the recording service's completions are told on.
    pub fn with_signal() -> (Self, StoredSignal) {
        let stored = Arc::new(watch::Sender::new(0));
        (
            Self {
                sockets: watch::Sender::new(0),
                stored: stored.clone(),
            },
            StoredSignal(stored),
        )
    }

    /// WebSockets open now.
    pub fn sockets(&self) -> usize {
        *self.sockets.borrow()
    }
}

/// Counts one open WebSocket for as long as it lives.
pub struct Socket(App);

impl Socket {
    /// Counts a WebSocket from its upgrade; the count drops when this is dropped.
    pub fn open(app: &App) -> Self {
        app.shutdown.sockets.send_modify(|n| *n += 1);
        Self(app.clone())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.0.shutdown.sockets.send_modify(|n| *n -= 1);
    }
}

/// What a shutdown did.
#[derive(Debug, Default)]
pub struct Report {
    /// Lessons that were live when the shutdown began (all told to end).
    pub lessons_ended: usize,
    /// What was left unfinished at the deadline, one line each; empty if everything finished.
    pub unfinished: Vec<String>,
}

/// Steps 1 to 3 of the module's list (the caller stops HTTP).
pub async fn stop_lessons(app: &App, deadline: Instant) -> Report {
    let lessons = app.lessons.stop();
    let live: Vec<&LessonHandle> = lessons.iter().filter(|l| l.is_live()).collect();
    tracing::info!(
        live = live.len(),
        "stopping: new lessons and joins are refused; ending every live lesson"
    );
    for lesson in &live {
        // A lesson that ended meanwhile has no task to tell: nothing to do.
        if timeout_at(deadline, lesson.send(LessonMsg::Stop)).await.is_err() {
            tracing::warn!(lesson = %lesson.info.id, "the lesson did not take the stop message in time");
        }
    }
    let waits = lessons
        .iter()
        .map(|l| finish_lesson(app, l, live.iter().any(|v| v.info.id == l.info.id), deadline));
    let mut unfinished: Vec<String> = futures_util::future::join_all(waits)
        .await
        .into_iter()
        .flatten()
        .collect();
    tracing::info!(
        sockets = app.shutdown.sockets(),
        "lessons finished; waiting for the WebSockets to close"
    );
    if timeout_at(deadline, sockets_closed(app)).await.is_err() {
        unfinished.push(format!("{} WebSocket(s) still open", app.shutdown.sockets()));
    }
    Report {
        lessons_ended: live.len(),
        unfinished,
    }
}

/// Waits for one lesson's recorder, recording row (if it was live at the stop) and log writer;
/// returns what did not finish by the deadline.
async fn finish_lesson(app: &App, lesson: &LessonHandle, was_live: bool, deadline: Instant) -> Vec<String> {
    let id = &lesson.info.id;
    let mut left = Vec::new();
    if let Some(r) = &lesson.info.recorder {
        if timeout_at(deadline, r.finished()).await.is_err() {
            left.push(format!(
                "lesson {id}: recording {} not sealed (the next start-up closes it as interrupted)",
                r.id
            ));
        } else if was_live
            && timeout_at(deadline, recording_stored(app, lesson, &r.id))
                .await
                .is_err()
        {
            left.push(format!(
                "lesson {id}: recording {} sealed but not yet uploaded (the next start-up uploads it)",
                r.id
            ));
        }
    }
    if timeout_at(deadline, lesson.log_flushed.wait()).await.is_err() {
        left.push(format!(
            "lesson {id}: livestream log not fully written (the next start-up closes it as server_stopped)"
        ));
    }
    left
}

/// Resolves once the recording's row has left `recording` (the uploader stored it whole and
/// marked it `complete`), or the row is not there. Reads the row again each time the recording
/// service says it stored a recording.
async fn recording_stored(app: &App, lesson: &LessonHandle, recording: &str) {
    let mut stored = app.shutdown.stored.subscribe();
    loop {
        match app.store.recording(&lesson.info.school, recording).await {
            Ok(row) if row.as_ref().is_none_or(|r| r.status != "recording") => return,
            // The gate keeps a sender as long as the application lives: changed() fails only
            // when none is left, and then nothing will ever be stored.
            Ok(_) => {
                if stored.changed().await.is_err() {
                    return;
                }
            }
            Err(_) => tokio::time::sleep(STORE_RETRY).await,
        }
    }
}

/// Resolves once no WebSocket is open.
async fn sockets_closed(app: &App) {
    let mut open = app.shutdown.sockets.subscribe();
    // Fails only if the sender is gone, when no socket can be counted any more either.
    let _ = open.wait_for(|n| *n == 0).await;
}
