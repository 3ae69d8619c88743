//! `GET /api/lessons/{id}/presence`: a Server-Sent Events stream that tells a waiting page
//! whether the lesson is live and its teacher in it, at once and at every change.
//!
//! A pupil who arrives before the teacher (or while the teacher has stepped out) is refused a
//! ticket with `teacher_absent`; their page then opens this stream and joins the moment an
//! event says `teacher_present`, so they are moved in by the server's push, not by polling.
//! Only people the teacher's arrival would let in may watch it (any other refusal of the gate is
//! answered at once, with its code, and not logged: the ticket logs it). Each stream is
//! bounded: it ends with the lesson, and after [`STREAM_LIFETIME`] (the browser's
//! `EventSource` opens it again by itself, after the `retry` the stream names).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::watch;

use livegate_core::admission::{decide, Decision};
use livegate_core::codes::ErrorCode;

use super::error::ApiError;
use super::CurrentUser;
use crate::app::App;
use crate::lesson::Presence;

/// How long one stream lasts before the browser must open it again.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// How long the browser waits before opening a closed stream again.
const RETRY: Duration = Duration::from_secs(2);

/// A comment this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One `presence` event's data.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PresenceBody {
    /// False once the lesson has ended: the stream then ends too.
    pub live: bool,
    /// True while the class's teacher is in the lesson: a waiting pupil joins now.
    pub teacher_present: bool,
}

impl From<Presence> for PresenceBody {
    fn from(p: Presence) -> Self {
        Self {
            live: p.live,
            teacher_present: p.teacher_present,
        }
    }
}

/// `GET /api/lessons/{id}/presence`
pub async fn watch(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let lesson = app.visible_lesson(&user, &id)?;
    let facts = app.facts(&user, &lesson).await?;
    // Only someone the teacher's arrival would let in may wait for it: any other refusal of the
    // gate (not on the roster, no consent...) is answered now, as the ticket would answer it.
    if let Decision::Refuse(code) = decide(&facts) {
        if code != ErrorCode::TeacherAbsent {
            return Err(code.into());
        }
    }
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    Ok(Sse::new(events(lesson.presence(), deadline)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The current presence first, then every change, until the lesson ends or `deadline`.
fn events(
    rx: watch::Receiver<Presence>,
    deadline: tokio::time::Instant,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // `Some(rx)` while the stream goes on; the first value is sent without waiting.
    stream::unfold((Some(rx), true), move |(rx, first)| async move {
        let mut rx = rx?;
        if !first {
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                // The lesson's task is gone, or the stream has lasted long enough.
                Ok(Err(_)) | Err(_) => return None,
            }
        }
        let now = *rx.borrow_and_update();
        let event = Event::default()
            .event("presence")
            .retry(RETRY)
            .json_data(PresenceBody::from(now))
            .unwrap_or_else(|_| Event::default().comment("unserialisable"));
        let next = now.live.then_some(rx);
        Some((Ok(event), (next, false)))
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::super::tests::{app, call, sign_in};
    use super::*;
    use crate::lesson::{JoinRequest, LessonMsg};
    use livegate_core::ids::{Email, LessonId, ParticipantId};
    use livegate_core::proto::ClientMsg;

    const PATIENCE: Duration = Duration::from_secs(3);

    /// Opens the stream as `cookie`: the status and the body to read events from.
    async fn open(app: &App, lesson: &str, cookie: &str) -> (StatusCode, Body) {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/lessons/{lesson}/presence"))
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap();
        let res = super::super::router(app.clone()).oneshot(req).await.unwrap();
        (res.status(), res.into_body())
    }

    /// The data of the next `presence` event (keep-alive comments are skipped).
    async fn next_event(body: &mut Body) -> Option<serde_json::Value> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, body.frame())
                .await
                .expect("an event in time")?;
            let bytes = frame.unwrap().into_data().unwrap_or_default();
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data:")) {
                assert!(text.contains("event: presence"), "{text}");
                return Some(serde_json::from_str(data.trim()).unwrap());
            }
        }
    }

    /// Seats the demo teacher in the lesson, as their socket would.
    async fn teacher_joins(
        app: &App,
        lesson: &LessonId,
    ) -> (ParticipantId, tokio::sync::mpsc::Receiver<crate::lesson::Outgoing>) {
        let handle = app.lessons.get(lesson).unwrap();
        let user = app
            .store
            .user_by_email(&Email::parse("teacher@demo.sch.uk").unwrap())
            .await
            .unwrap()
            .unwrap();
        let (outbox, rx) = tokio::sync::mpsc::channel(64);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let device = "test".to_owned();
        let req = JoinRequest {
            user,
            device,
            outbox,
            reply,
        };
        assert!(handle.send(LessonMsg::Join(req)).await);
        (answer.await.unwrap().unwrap(), rx)
    }

    /// A pupil who arrives first is refused a ticket and watches the lesson instead: the stream
    /// says at once that the teacher is not there, and pushes the teacher's arrival; the
    /// lesson is not on the pupil's home page until then. Someone off the class's roster may
    /// not watch it. Ending the lesson ends the stream.
    #[tokio::test]
    async fn a_waiting_pupil_is_told_the_moment_the_teacher_arrives() {
        let app = app().await;
        let teacher = sign_in(&app, "teacher@demo.sch.uk", "demo-teacher").await;
        let ada = sign_in(&app, "ada@pupils.demo.sch.uk", "demo-pupil").await;
        let owen = sign_in(&app, "owen@pupils.demo.sch.uk", "demo-pupil").await;
        let id = crate::http::tests::start_7a(&app, &teacher).await;
        let live_of = |me: &serde_json::Value| {
            me["classes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "7a")
                .unwrap()["live_lesson_id"]
                .clone()
        };
        let (_, me) = call(&app, Method::GET, "/api/me", Some(&ada), "").await;
        assert!(
            live_of(&me).is_null(),
            "not live for pupils before the teacher is in: {me}"
        );
        let (_, me) = call(&app, Method::GET, "/api/me", Some(&teacher), "").await;
        assert_eq!(live_of(&me), id.as_str(), "the teacher can go back to it");
        assert_eq!(me["recording_ready"], true, "the demo school's key is there: {me}");
        assert!(me["recording_notice"].as_str().unwrap().len() > 20, "{me}");

        // Only those the teacher's arrival would let in may wait for it.
        let eve = sign_in(&app, "eve@pupils.demo.sch.uk", "demo-pupil").await;
        for (who, code) in [(&owen, "not_on_roster"), (&eve, "consent_missing")] {
            let (status, body) = open(&app, &id, who).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{code}");
            let body = body.collect().await.unwrap().to_bytes();
            assert!(String::from_utf8_lossy(&body).contains(code), "{code}");
        }
        let (status, _) = open(&app, "les_nosuchlesson", &ada).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, mut events) = open(&app, &id, &ada).await;
        assert_eq!(status, StatusCode::OK);
        let first = next_event(&mut events).await.unwrap();
        assert_eq!(first, serde_json::json!({"live": true, "teacher_present": false}));
        let lesson = LessonId::parse(&id).unwrap();
        let (participant, _teacher_rx) = teacher_joins(&app, &lesson).await;
        let pushed = next_event(&mut events).await.unwrap();
        assert_eq!(pushed, serde_json::json!({"live": true, "teacher_present": true}));
        let (_, me) = call(&app, Method::GET, "/api/me", Some(&ada), "").await;
        assert_eq!(
            live_of(&me),
            id.as_str(),
            "live for pupils once the teacher is in: {me}"
        );

        // The teacher ends it: the stream says so and ends.
        let handle = app.lessons.get(&lesson).unwrap();
        assert!(handle.send(LessonMsg::Client(participant, ClientMsg::EndLesson)).await);
        let ended = next_event(&mut events).await.unwrap();
        assert_eq!(ended, serde_json::json!({"live": false, "teacher_present": false}));
        assert!(
            next_event(&mut events).await.is_none(),
            "the stream ends with the lesson"
        );
    }
}
