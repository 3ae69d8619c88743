//! Graceful shutdown (SIGTERM or Ctrl-C): a deploy or a restart finishes every lesson cleanly
//! instead of leaving it for the next start-up's crash recovery.
//!
//! In order, all within one deadline ([`DEADLINE`]):
//! 1. the server stops taking new work: starting a lesson, a join ticket and a WebSocket join
//!    are refused with `server_stopping` (503) — the flag is set under the lessons' lock, so a
//!    lesson is either started before it (and ended below) or refused;
//! 2. every live lesson of this server (on PostgreSQL with several nodes, only this node's)
//!    ends as if its teacher had ended it, with the reason `server_stopping`: everyone in it and
//!    in its lobby gets `lesson_ended`, its recorder seals the recording as complete, and its
//!    livestream log writer writes the end and closes every session;
//! 3. the shutdown waits for each lesson's recorder to finish, for its recording to reach the
//!    object store (its row `complete`), and for its log writer to drain; then for the
//!    participants' WebSockets to close (each closes once its lesson's end is sent);
//! 4. the HTTP server stops accepting and finishes its open requests.
//!
//! Whatever has not finished by the deadline is named in the [`Report`], and the process exits
//! anyway: a recording sealed but not yet uploaded is uploaded by the next start-up; one not
//! sealed, and log rows not written, are closed by the next start-up's recovery as after a
//! crash (`interrupted`, `server_stopped`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use livegate_core::codes::ErrorCode;

use super::App;
use crate::lesson::{LessonHandle, LessonMsg};

/// How long a graceful shutdown may take before the process exits anyway.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often the shutdown looks again at what it waits for in the database or on sockets.
const POLL: Duration = Duration::from_millis(50);

/// Whether the server is stopping, and how many WebSockets are open.
#[derive(Debug, Default)]
pub struct Gate {
    stopping: AtomicBool,
    sockets: AtomicUsize,
}

impl Gate {
    /// True once a shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Refuses new work (lessons, tickets, joins) once a shutdown has begun.
    pub fn check(&self) -> Result<(), ErrorCode> {
        if self.is_stopping() {
            Err(ErrorCode::ServerStopping)
        } else {
            Ok(())
        }
    }

    /// WebSockets open now.
    pub fn sockets(&self) -> usize {
        self.sockets.load(Ordering::SeqCst)
    }
}

/// Counts one open WebSocket for as long as it lives.
pub struct Socket(App);

impl Socket {
    /// Counts a WebSocket from its upgrade; the count drops when this is dropped.
    pub fn open(app: &App) -> Self {
        app.shutdown.sockets.fetch_add(1, Ordering::SeqCst);
        Self(app.clone())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.0.shutdown.sockets.fetch_sub(1, Ordering::SeqCst);
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

/// Sets the stopping flag and returns every lesson this server runs (live or recently ended).
/// Under the lessons' lock, so no lesson starts unseen after it.
fn begin(app: &App) -> Vec<LessonHandle> {
    let lessons = app.lessons.lock().expect("lessons lock");
    app.shutdown.stopping.store(true, Ordering::SeqCst);
    lessons.values().cloned().collect()
}

/// Steps 1 to 3 of the module's list (the caller stops HTTP).
pub(crate) async fn stop_lessons(app: &App, deadline: Instant) -> Report {
    let lessons = begin(app);
    let live: Vec<&LessonHandle> = lessons.iter().filter(|l| l.is_live()).collect();
    tracing::info!(live = live.len(), "stopping: new lessons and joins are refused; ending every live lesson");
    for lesson in &live {
        // A lesson that ended meanwhile has no task to tell: nothing to do.
        if timeout_at(deadline, lesson.send(LessonMsg::Stop)).await.is_err() {
            tracing::warn!(lesson = %lesson.info.id, "the lesson did not take the stop message in time");
        }
    }
    let waits = lessons.iter().map(|l| finish_lesson(app, l, live.iter().any(|v| v.info.id == l.info.id), deadline));
    let mut unfinished: Vec<String> = futures_util::future::join_all(waits).await.into_iter().flatten().collect();
    tracing::info!(sockets = app.shutdown.sockets(), "lessons finished; waiting for the WebSockets to close");
    if timeout_at(deadline, sockets_closed(app)).await.is_err() {
        unfinished.push(format!("{} WebSocket(s) still open", app.shutdown.sockets()));
    }
    Report { lessons_ended: live.len(), unfinished }
}

/// Waits for one lesson's recorder, recording row (if it was live at the stop) and log writer;
/// returns what did not finish by the deadline.
async fn finish_lesson(app: &App, lesson: &LessonHandle, was_live: bool, deadline: Instant) -> Vec<String> {
    let id = &lesson.info.id;
    let mut left = Vec::new();
    if let Some(r) = &lesson.info.recorder {
        if timeout_at(deadline, r.finished()).await.is_err() {
            left.push(format!("lesson {id}: recording {} not sealed (the next start-up closes it as interrupted)", r.id));
        } else if was_live && timeout_at(deadline, recording_stored(app, lesson, &r.id)).await.is_err() {
            left.push(format!("lesson {id}: recording {} sealed but not yet uploaded (the next start-up uploads it)", r.id));
        }
    }
    if timeout_at(deadline, lesson.log_flushed.wait()).await.is_err() {
        left.push(format!("lesson {id}: livestream log not fully written (the next start-up closes it as server_stopped)"));
    }
    left
}

/// Resolves once the recording's row has left `recording` (the uploader stored it whole and
/// marked it `complete`), or the row is not there.
async fn recording_stored(app: &App, lesson: &LessonHandle, recording: &str) {
    loop {
        match app.store.recording(&lesson.info.school, recording).await {
            Ok(row) if row.as_ref().is_none_or(|r| r.status != "recording") => return,
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// Resolves once no WebSocket is open.
async fn sockets_closed(app: &App) {
    while app.shutdown.sockets() > 0 {
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};

    use super::super::tests::{app, call, code, sign_in};
    use super::*;

    /// Once stopping, new lessons and tickets are refused with `server_stopping` (503); the live
    /// lesson ends; and a recording that cannot reach the store in time is named as unfinished
    /// at the deadline (this test's service never marks one `complete`).
    #[tokio::test]
    async fn stopping_refuses_new_work_ends_lessons_and_names_what_is_left() {
        let app = app().await;
        let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
        let (status, body) = call(&app, Method::POST, "/api/lessons", Some(&teacher), r#"{"class_id":"7a"}"#).await;
        assert_eq!(status, StatusCode::CREATED);
        let lesson = body["lesson"]["id"].as_str().unwrap().to_owned();
        let report = stop_lessons(&app, Instant::now() + Duration::from_millis(700)).await;
        assert_eq!(report.lessons_ended, 1);
        assert_eq!(report.unfinished.len(), 1, "{:?}", report.unfinished);
        assert!(report.unfinished[0].contains("not yet uploaded"), "{:?}", report.unfinished);
        let (status, body) = call(&app, Method::GET, &format!("/api/lessons/{lesson}"), Some(&teacher), "").await;
        assert_eq!((status, body["lesson"]["state"].as_str()), (StatusCode::OK, Some("ended")));
        let refusals = [
            (Method::POST, "/api/lessons".to_owned(), r#"{"class_id":"7a"}"#),
            (Method::POST, format!("/api/lessons/{lesson}/ticket"), ""),
        ];
        for (method, path, body) in refusals {
            let (status, body) = call(&app, method, &path, Some(&teacher), body).await;
            assert_eq!((status, code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "server_stopping"), "{path}");
            assert_eq!(body["error"]["message"], "Livegate is restarting; try again in a minute.");
        }
        assert!(app.lessons.lock().unwrap().len() == 1, "no lesson started after the stop");
    }
}
