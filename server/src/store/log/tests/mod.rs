//! The livestream log's store tests, on SQLite always and PostgreSQL when the suite has one:
//! a scripted lesson read back row by row, reconnects merged, recovery after a crash, notes
//! append-only and audited, concerns listed, and every read scoped by school and teacher. This
//! file holds the scripted lesson and the row builders the topic files below share.

mod notes;
mod reads;
mod recovery;
mod refusals;

use super::*;
use crate::store::log_read::{intervals, LogFilter, LogScope};
use crate::store::tests::{demo, stores};
use livegate_core::ids::{ClassId, Email};

/// A note to add, its fields in order.
fn note<'a>(
    school: &'a SchoolId,
    lesson: &'a LessonId,
    author: &'a UserId,
    at: i64,
    category: NoteCategory,
    body: &'a str,
    corrects: Option<&'a str>,
) -> NewNote<'a> {
    NewNote {
        school,
        lesson,
        author,
        at,
        category,
        body,
        corrects,
    }
}

async fn uid(store: &Store, email: &str) -> UserId {
    store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}

const T0: i64 = 1_800_000_000_000;

fn ev(
    lesson: &LessonId,
    at: i64,
    kind: EventKind,
    actor: Option<&UserId>,
    subject: Option<&UserId>,
    detail: Option<&str>,
) -> NewEvent {
    NewEvent {
        lesson: lesson.clone(),
        school: demo(),
        at,
        kind,
        actor: actor.cloned(),
        subject: subject.cloned(),
        detail: detail.map(Into::into),
    }
}

pub(crate) fn seat(lesson: &LessonId, id: &str, user: &UserId, role: &'static str, at: i64) -> NewSession {
    NewSession {
        id: ParticipantId::parse(id).unwrap(),
        lesson: lesson.clone(),
        school: demo(),
        user: user.clone(),
        role,
        at,
        consent: if role == "pupil" { "current" } else { "not_required" },
        conduct_version: (role == "pupil").then_some(1),
        device: "Firefox 128 on Linux".into(),
    }
}

/// A lesson of 7a started by `teacher` at `T0`, unplanned and unrecorded.
pub(crate) fn plain_lesson(lesson: &LessonId, teacher: &UserId) -> NewLesson {
    NewLesson {
        id: lesson.clone(),
        school: demo(),
        class: ClassId::parse("7a").unwrap(),
        class_name: "7A Science".into(),
        started_by: teacher.clone(),
        recording_id: None,
        scheduled: None,
        at: T0,
    }
}

/// A lesson of 7a started by Ms Rivera at `T0`: Ada joins, reconnects and stays; Ben is
/// removed; Eve is refused. Returns the lesson id.
async fn scripted(store: &Store) -> LessonId {
    let (rivera, ada, ben, eve) = (
        uid(store, "teacher@demo.sch.uk").await,
        uid(store, "ada@pupils.demo.sch.uk").await,
        uid(store, "ben@pupils.demo.sch.uk").await,
        uid(store, "eve@pupils.demo.sch.uk").await,
    );
    let lesson = LessonId::generate();
    let l = NewLesson {
        id: lesson.clone(),
        school: demo(),
        class: ClassId::parse("7a").unwrap(),
        class_name: "7A Science".into(),
        started_by: rivera.clone(),
        recording_id: Some("rec_x".into()),
        scheduled: Some((T0 - 60_000, T0 + 3_600_000)),
        at: T0,
    };
    store.log_lesson_start(&l).await.unwrap();
    store
        .log_join(&seat(&lesson, "p_t", &rivera, "teacher", T0 + 1_000))
        .await
        .unwrap();
    store
        .log_join(&seat(&lesson, "p_a1", &ada, "pupil", T0 + 2_000))
        .await
        .unwrap();
    store
        .log_event(&ev(
            &lesson,
            T0 + 3_000,
            EventKind::Refused,
            None,
            Some(&eve),
            Some("consent_missing"),
        ))
        .await
        .unwrap();
    // Ada reconnects: the new connection replaces the old one.
    store
        .log_join(&seat(&lesson, "p_a2", &ada, "pupil", T0 + 10_000))
        .await
        .unwrap();
    store
        .log_leave(
            &demo(),
            &lesson,
            &ParticipantId::parse("p_a1").unwrap(),
            T0 + 10_000,
            "reconnected",
        )
        .await
        .unwrap();
    store
        .log_join(&seat(&lesson, "p_b", &ben, "pupil", T0 + 11_000))
        .await
        .unwrap();
    store
        .log_event(&ev(
            &lesson,
            T0 + 20_000,
            EventKind::Removed,
            Some(&rivera),
            Some(&ben),
            None,
        ))
        .await
        .unwrap();
    store
        .log_leave(
            &demo(),
            &lesson,
            &ParticipantId::parse("p_b").unwrap(),
            T0 + 20_000,
            "removed_by_teacher",
        )
        .await
        .unwrap();
    store.log_heartbeat(&lesson, T0 + 25_000).await.unwrap();
    lesson
}
