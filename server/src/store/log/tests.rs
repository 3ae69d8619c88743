//! The livestream log's store tests, on SQLite always and PostgreSQL when the suite has one:
//! a scripted lesson read back row by row, reconnects merged, recovery after a crash, notes
//! append-only and audited, concerns listed, and every read scoped by school and teacher.

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

#[tokio::test]
async fn a_scripted_lesson_reads_back_row_by_row() {
    for store in stores().await {
        let lesson = scripted(&store).await;
        store
            .log_lesson_end(&demo(), &lesson, T0 + 60_000, "ended_by_teacher")
            .await
            .unwrap();
        // Leaving twice, or after the end, changes nothing.
        store
            .log_leave(
                &demo(),
                &lesson,
                &ParticipantId::parse("p_b").unwrap(),
                T0 + 70_000,
                "left",
            )
            .await
            .unwrap();
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (log.lesson.ended_at, log.lesson.end_reason.as_deref()),
            (Some(T0 + 60_000), Some("ended_by_teacher"))
        );
        assert_eq!(log.lesson.scheduled_start, Some(T0 - 60_000));
        let events: Vec<(i64, &str, Option<&str>, Option<&str>)> = log
            .events
            .iter()
            .map(|e| {
                (
                    e.at - T0,
                    e.kind.as_str(),
                    e.subject_name.as_deref(),
                    e.detail.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            events,
            vec![
                (0, "lesson_started", None, None),
                (1_000, "admitted", Some("Ms Rivera"), Some("teacher")),
                (2_000, "admitted", Some("Ada"), Some("pupil")),
                (3_000, "refused", Some("Eve"), Some("consent_missing")),
                (10_000, "admitted", Some("Ada"), Some("pupil")),
                (10_000, "left", Some("Ada"), Some("reconnected")),
                (11_000, "admitted", Some("Ben"), Some("pupil")),
                (20_000, "removed", Some("Ben"), None),
                (20_000, "left", Some("Ben"), Some("removed_by_teacher")),
                (60_000, "lesson_ended", None, Some("ended_by_teacher")),
            ]
        );
        let sessions: Vec<(&str, i64, Option<i64>, Option<&str>)> = log
            .sessions
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.joined_at - T0,
                    s.left_at.map(|l| l - T0),
                    s.left_reason.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            sessions,
            vec![
                ("p_t", 1_000, Some(60_000), Some("lesson_ended")),
                ("p_a1", 2_000, Some(10_000), Some("reconnected")),
                ("p_a2", 10_000, Some(60_000), Some("lesson_ended")),
                ("p_b", 11_000, Some(20_000), Some("removed_by_teacher")),
            ]
        );
        let merged = intervals(&log.sessions, T0 + 99_000);
        let iv: Vec<(Option<&str>, i64, i64, usize, bool)> = merged
            .iter()
            .map(|i| (i.name.as_deref(), i.joined_at - T0, i.seconds, i.sessions, i.recovered))
            .collect();
        assert_eq!(
            iv,
            vec![
                (Some("Ms Rivera"), 1_000, 59, 1, false),
                (Some("Ada"), 2_000, 58, 2, false),
                (Some("Ben"), 11_000, 9, 1, false)
            ]
        );
        assert_eq!(log.sessions[1].device, "Firefox 128 on Linux");
        assert_eq!(
            (log.sessions[1].consent.as_str(), log.sessions[1].conduct_version),
            ("current", Some(1))
        );
    }
}

#[tokio::test]
async fn recovery_closes_what_a_crash_left_open_at_the_last_heartbeat() {
    for store in stores().await {
        let lesson = scripted(&store).await;
        // A lesson still heartbeating (another node's) is not touched.
        let live = scripted(&store).await;
        store.log_heartbeat(&live, T0 + 50_000).await.unwrap();
        assert_eq!(store.recover_log(T0 + 40_000).await.unwrap(), 1);
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (log.lesson.ended_at, log.lesson.end_reason.as_deref()),
            (Some(T0 + 25_000), Some("server_stopped"))
        );
        let open: Vec<(&str, Option<i64>, bool)> = log
            .sessions
            .iter()
            .map(|s| (s.id.as_str(), s.left_at.map(|l| l - T0), s.recovered))
            .collect();
        assert_eq!(
            open,
            vec![
                ("p_t", Some(25_000), true),
                ("p_a1", Some(10_000), false),
                ("p_a2", Some(25_000), true),
                ("p_b", Some(20_000), false)
            ]
        );
        assert_eq!(
            log.events.last().map(|e| (e.kind.as_str(), e.at - T0)),
            Some(("lesson_ended", 25_000))
        );
        let still = store
            .lesson_log(&demo(), &LogScope::School, &live)
            .await
            .unwrap()
            .unwrap();
        assert!(still.lesson.ended_at.is_none() && still.sessions.iter().any(|s| s.left_at.is_none()));
        assert_eq!(store.recover_log(T0 + 40_000).await.unwrap(), 0, "once");
    }
}

#[tokio::test]
async fn notes_are_append_only_audited_and_concerns_are_listed_at_once() {
    for store in stores().await {
        let lesson = scripted(&store).await;
        let rivera = uid(&store, "teacher@demo.sch.uk").await;
        for bad in ["", "   ", &"x".repeat(MAX_NOTE + 1)] {
            assert!(matches!(
                store
                    .add_note(note(&demo(), &lesson, &rivera, T0, NoteCategory::Behaviour, bad, None))
                    .await,
                Err(StoreError::Text(_))
            ));
        }
        let other = SchoolId::parse("sch_other").unwrap();
        assert!(matches!(
            store
                .add_note(note(&other, &lesson, &rivera, T0, NoteCategory::Concern, "text", None))
                .await,
            Err(StoreError::NotFound)
        ));
        let first = store
            .add_note(note(
                &demo(),
                &lesson,
                &rivera,
                T0 + 30_000,
                NoteCategory::Concern,
                "Ben showed something worrying",
                None,
            ))
            .await
            .unwrap();
        let concerns = store.concerns(&demo()).await.unwrap();
        assert_eq!(concerns.len(), 1);
        assert_eq!(
            (
                concerns[0].note.id.as_str(),
                concerns[0].recording_id.as_deref(),
                concerns[0].class_name.as_str()
            ),
            (first.as_str(), Some("rec_x"), "7A Science")
        );
        assert!(store.concerns(&other).await.unwrap().is_empty());
        assert!(matches!(
            store
                .add_note(note(
                    &demo(),
                    &lesson,
                    &rivera,
                    T0,
                    NoteCategory::Behaviour,
                    "fix",
                    Some("note_nope")
                ))
                .await,
            Err(StoreError::Invalid(_))
        ));
        let fix = store
            .add_note(note(
                &demo(),
                &lesson,
                &rivera,
                T0 + 40_000,
                NoteCategory::Behaviour,
                "Correction: it was Ben's brother",
                Some(&first),
            ))
            .await
            .unwrap();
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        let notes: Vec<(&str, &str, Option<&str>)> = log
            .notes
            .iter()
            .map(|n| (n.id.as_str(), n.category.as_str(), n.corrects.as_deref()))
            .collect();
        assert_eq!(
            notes,
            vec![
                (first.as_str(), "concern", None),
                (fix.as_str(), "behaviour", Some(first.as_str()))
            ]
        );
        let audit = store.audit_entries(&demo(), 10_000).await.unwrap();
        assert_eq!(audit.iter().filter(|e| e.action == "log.note").count(), 2);
        assert!(
            audit.iter().all(|e| !e.detail.contains("worrying")),
            "the note's words stay out of the audit chain"
        );
        store.verify_audit().await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn reads_are_scoped_by_school_teacher_and_filter() {
    for store in stores().await {
        let lesson = scripted(&store).await;
        let (rivera, okafor) = (
            uid(&store, "teacher@demo.sch.uk").await,
            uid(&store, "teacher2@demo.sch.uk").await,
        );
        let ids = |rows: Vec<crate::store::log_read::LessonRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let all = LogFilter::default();
        assert_eq!(
            ids(store.log_lessons(&demo(), &LogScope::School, &all).await.unwrap()),
            vec![lesson.to_string()]
        );
        assert_eq!(
            ids(store
                .log_lessons(&demo(), &LogScope::Teacher(rivera.clone()), &all)
                .await
                .unwrap()),
            vec![lesson.to_string()]
        );
        assert!(
            store
                .log_lessons(&demo(), &LogScope::Teacher(okafor.clone()), &all)
                .await
                .unwrap()
                .is_empty(),
            "8b's teacher"
        );
        assert!(store
            .lesson_log(&demo(), &LogScope::Teacher(okafor), &lesson)
            .await
            .unwrap()
            .is_none());
        let other = SchoolId::parse("sch_other").unwrap();
        assert!(store
            .log_lessons(&other, &LogScope::School, &all)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .lesson_log(&other, &LogScope::School, &lesson)
            .await
            .unwrap()
            .is_none());
        let by = |f: LogFilter| {
            let store = store.clone();
            async move { store.log_lessons(&demo(), &LogScope::School, &f).await.unwrap().len() }
        };
        let ben = uid(&store, "ben@pupils.demo.sch.uk").await.to_string();
        let eve = uid(&store, "eve@pupils.demo.sch.uk").await.to_string();
        let zoe = uid(&store, "zoe@pupils.demo.sch.uk").await.to_string();
        assert_eq!(
            by(LogFilter {
                pupil_id: Some(ben),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            by(LogFilter {
                pupil_id: Some(eve),
                ..Default::default()
            })
            .await,
            1,
            "a refusal counts as being in the lesson's log"
        );
        assert_eq!(
            by(LogFilter {
                pupil_id: Some(zoe),
                ..Default::default()
            })
            .await,
            0
        );
        assert_eq!(
            by(LogFilter {
                class_id: Some("8b".into()),
                ..Default::default()
            })
            .await,
            0
        );
        assert_eq!(
            by(LogFilter {
                from: Some(T0 + 1),
                ..Default::default()
            })
            .await,
            0
        );
        assert_eq!(
            by(LogFilter {
                from: Some(T0),
                to: Some(T0 + 1),
                ..Default::default()
            })
            .await,
            1
        );
    }
}

#[tokio::test]
async fn time_zone_is_a_checked_audited_setting() {
    for store in stores().await {
        let admin = uid(&store, "admin@demo.sch.uk").await;
        assert_eq!(store.school(&demo()).await.unwrap().unwrap().time_zone, "Europe/London");
        for bad in ["", "Mars/Olympus", &"x".repeat(100)] {
            assert!(
                matches!(
                    store.set_time_zone(&demo(), &admin, bad).await,
                    Err(StoreError::Invalid(_))
                ),
                "{bad}"
            );
        }
        store.set_time_zone(&demo(), &admin, "Europe/Dublin").await.unwrap();
        assert_eq!(store.school(&demo()).await.unwrap().unwrap().time_zone, "Europe/Dublin");
    }
}

#[tokio::test]
async fn a_refusal_may_be_logged_before_the_lesson_row() {
    for store in stores().await {
        // The ticket route can refuse someone before the new lesson's task has written its row.
        let lesson = LessonId::generate();
        let eve = uid(&store, "eve@pupils.demo.sch.uk").await;
        store
            .log_event(&ev(
                &lesson,
                T0,
                EventKind::Refused,
                None,
                Some(&eve),
                Some("teacher_absent"),
            ))
            .await
            .unwrap();
        let l = plain_lesson(&lesson, &uid(&store, "teacher@demo.sch.uk").await);
        store.log_lesson_start(&l).await.unwrap();
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        let kinds: Vec<&str> = log.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["refused", "lesson_started"]);
    }
}

/// What a lesson's events read back as: (ms after `T0`, kind, subject's name, detail).
async fn events_of(store: &Store, lesson: &LessonId) -> Vec<(i64, String, Option<String>, Option<String>)> {
    let log = store
        .lesson_log(&demo(), &LogScope::School, lesson)
        .await
        .unwrap()
        .unwrap();
    log.events
        .into_iter()
        .map(|e| (e.at - T0, e.kind, e.subject_name, e.detail))
        .collect()
}

fn owned(rows: &[(i64, &str, Option<&str>, Option<&str>)]) -> Vec<(i64, String, Option<String>, Option<String>)> {
    rows.iter()
        .map(|(at, k, s, d)| (*at, k.to_string(), s.map(Into::into), d.map(Into::into)))
        .collect()
}

#[tokio::test]
async fn events_and_notes_are_listed_by_when_they_happened_not_when_written() {
    for store in stores().await {
        let (rivera, ada, eve) = (
            uid(&store, "teacher@demo.sch.uk").await,
            uid(&store, "ada@pupils.demo.sch.uk").await,
            uid(&store, "eve@pupils.demo.sch.uk").await,
        );
        let lesson = LessonId::generate();
        let l = plain_lesson(&lesson, &rivera);
        store.log_lesson_start(&l).await.unwrap();
        // During an outage the ticket route refuses Eve at +30 s and writes it at once; the
        // lesson's queued backlog (+10 s to +25 s) is written after it.
        store
            .log_event(&ev(
                &lesson,
                T0 + 30_000,
                EventKind::Refused,
                None,
                Some(&eve),
                Some("consent_missing"),
            ))
            .await
            .unwrap();
        store
            .log_join(&seat(&lesson, "p_a", &ada, "pupil", T0 + 10_000))
            .await
            .unwrap();
        store
            .log_event(&ev(
                &lesson,
                T0 + 20_000,
                EventKind::Granted,
                Some(&rivera),
                Some(&ada),
                Some("microphone"),
            ))
            .await
            .unwrap();
        store
            .log_event(&ev(
                &lesson,
                T0 + 20_000,
                EventKind::Muted,
                Some(&rivera),
                Some(&ada),
                None,
            ))
            .await
            .unwrap();
        store
            .log_leave(
                &demo(),
                &lesson,
                &ParticipantId::parse("p_a").unwrap(),
                T0 + 25_000,
                "left",
            )
            .await
            .unwrap();
        // Retried writes whose first commit went through are not listed twice.
        store.log_lesson_start(&l).await.unwrap();
        store
            .log_join(&seat(&lesson, "p_a", &ada, "pupil", T0 + 10_000))
            .await
            .unwrap();
        store
            .log_event(&ev(
                &lesson,
                T0 + 20_000,
                EventKind::Granted,
                Some(&rivera),
                Some(&ada),
                Some("microphone"),
            ))
            .await
            .unwrap();
        store
            .log_lesson_end(&demo(), &lesson, T0 + 40_000, "ended_by_teacher")
            .await
            .unwrap();
        let want = [
            (0, "lesson_started", None, None),
            (10_000, "admitted", Some("Ada"), Some("pupil")),
            (20_000, "granted", Some("Ada"), Some("microphone")),
            (20_000, "muted", Some("Ada"), None), // a tie: in the order written
            (25_000, "left", Some("Ada"), Some("left")),
            (30_000, "refused", Some("Eve"), Some("consent_missing")),
            (40_000, "lesson_ended", None, Some("ended_by_teacher")),
        ];
        assert_eq!(events_of(&store, &lesson).await, owned(&want));
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.sessions.len(), 1, "the join written twice is one connection");
        // Notes too: one written later about an earlier moment is listed before.
        let late = store
            .add_note(note(
                &demo(),
                &lesson,
                &rivera,
                T0 + 35_000,
                NoteCategory::Technical,
                "sound dropped",
                None,
            ))
            .await
            .unwrap();
        let early = store
            .add_note(note(
                &demo(),
                &lesson,
                &rivera,
                T0 + 15_000,
                NoteCategory::Behaviour,
                "Ada helped",
                None,
            ))
            .await
            .unwrap();
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            log.notes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            vec![early.as_str(), late.as_str()]
        );
    }
}

#[tokio::test]
async fn recovery_closes_at_the_latest_time_the_log_knows() {
    for store in stores().await {
        let lesson = scripted(&store).await; // last heartbeat at +25 s
        let (rivera, ada, cara, eve) = (
            uid(&store, "teacher@demo.sch.uk").await,
            uid(&store, "ada@pupils.demo.sch.uk").await,
            uid(&store, "cara@pupils.demo.sch.uk").await,
            uid(&store, "eve@pupils.demo.sch.uk").await,
        );
        // Written in the seconds between the last heartbeat and the crash.
        store
            .log_event(&ev(
                &lesson,
                T0 + 27_000,
                EventKind::Granted,
                Some(&rivera),
                Some(&ada),
                Some("camera"),
            ))
            .await
            .unwrap();
        store
            .log_join(&seat(&lesson, "p_c", &cara, "pupil", T0 + 28_000))
            .await
            .unwrap();
        store
            .log_event(&ev(
                &lesson,
                T0 + 29_000,
                EventKind::Refused,
                None,
                Some(&eve),
                Some("consent_missing"),
            ))
            .await
            .unwrap();
        assert_eq!(store.recover_log(T0 + 40_000).await.unwrap(), 1);
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (log.lesson.ended_at, log.lesson.end_reason.as_deref()),
            (Some(T0 + 29_000), Some("server_stopped"))
        );
        let closed: Vec<(&str, Option<i64>, Option<&str>, bool)> = log
            .sessions
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.left_at.map(|l| l - T0),
                    s.left_reason.as_deref(),
                    s.recovered,
                )
            })
            .collect();
        assert_eq!(
            closed,
            vec![
                ("p_t", Some(27_000), Some("server_stopped"), true), // she granted at +27 s
                ("p_a1", Some(10_000), Some("reconnected"), false),
                ("p_a2", Some(27_000), Some("server_stopped"), true), // granted to at +27 s
                ("p_b", Some(20_000), Some("removed_by_teacher"), false),
                ("p_c", Some(28_000), Some("server_stopped"), true), // joined after the heartbeat
            ]
        );
        let tail: Vec<(i64, &str)> = log
            .events
            .iter()
            .rev()
            .take(2)
            .map(|e| (e.at - T0, e.kind.as_str()))
            .collect();
        assert_eq!(
            tail,
            vec![(29_000, "lesson_ended"), (29_000, "refused")],
            "the recovered end is listed last"
        );
        for s in &log.sessions {
            let own = log
                .events
                .iter()
                .filter(|e| e.subject_id.as_deref() == Some(s.user_id.as_str()) && e.kind != "left")
                .map(|e| e.at)
                .max();
            assert!(
                s.left_at >= own.filter(|_| s.recovered) && s.left_at <= log.lesson.ended_at,
                "{s:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_late_leave_or_end_after_recovery_changes_nothing() {
    for store in stores().await {
        let lesson = scripted(&store).await;
        assert_eq!(store.recover_log(T0 + 40_000).await.unwrap(), 1);
        let before = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        // The writer retried after a long outage: the leaves and the end reach the store after
        // the sweep closed the lesson, one earlier and one later than the recovered end.
        let (a2, t) = (
            ParticipantId::parse("p_a2").unwrap(),
            ParticipantId::parse("p_t").unwrap(),
        );
        store
            .log_leave(&demo(), &lesson, &a2, T0 + 22_000, "left")
            .await
            .unwrap();
        store
            .log_leave(&demo(), &lesson, &t, T0 + 50_000, "left")
            .await
            .unwrap();
        store.log_heartbeat(&lesson, T0 + 55_000).await.unwrap();
        store
            .log_lesson_end(&demo(), &lesson, T0 + 60_000, "ended_by_teacher")
            .await
            .unwrap();
        store
            .log_lesson_end(&demo(), &lesson, T0 + 21_000, "teacher_absent")
            .await
            .unwrap();
        let after = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after, before);
        assert_eq!(store.recover_log(i64::MAX).await.unwrap(), 0, "nothing is open again");
    }
}

#[test]
fn the_sweep_holds_off_until_the_database_has_been_back_long_enough() {
    let now = T0 + 100_000;
    assert_eq!(sweep_cutoff(now, Some(i64::MIN)), now - STALE_MS, "never down");
    assert_eq!(sweep_cutoff(now, None), i64::MIN, "still unreachable");
    assert_eq!(
        sweep_cutoff(now, Some(now - 5_000)),
        i64::MIN,
        "back 5 s ago: live lessons have not beaten yet"
    );
    assert_eq!(sweep_cutoff(now, Some(now - STALE_MS)), now - STALE_MS);
}

/// The same refusal again and again is one event with a count, audited once; another reason,
/// or anything else about the person in between, starts a new event. Refusals arriving
/// together (many nodes' connections on PostgreSQL) still count on one event.
#[tokio::test]
async fn a_repeated_refusal_is_one_event_with_a_count_and_one_audit_entry() {
    for store in stores().await {
        let lesson = LessonId::generate();
        store
            .log_lesson_start(&plain_lesson(&lesson, &uid(&store, "teacher@demo.sch.uk").await))
            .await
            .unwrap();
        let eve = uid(&store, "eve@pupils.demo.sch.uk").await;
        let refuse = |at: i64, reason: &'static str| {
            let (store, e) = (
                store.clone(),
                ev(&lesson, at, EventKind::Refused, None, Some(&eve), Some(reason)),
            );
            let detail = serde_json::json!({"lesson": lesson, "user": eve, "reason": reason});
            async move {
                store
                    .log_refusal(&e, "usr_eve", "admission.refuse", &detail)
                    .await
                    .unwrap()
            }
        };
        let audited = |store: Store| async move {
            store
                .audit_entries(&demo(), 100_000)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.action == "admission.refuse")
                .count()
        };
        let before = audited(store.clone()).await;
        assert!(refuse(T0 + 1_000, "consent_missing").await, "the first begins an event");
        let mut tries = Vec::new();
        for i in 0..50 {
            tries.push(tokio::spawn(refuse(T0 + 2_000 + i, "consent_missing")));
        }
        for t in tries {
            assert!(!t.await.unwrap(), "the same refusal again is counted, not written");
        }
        assert_eq!(audited(store.clone()).await, before + 1, "audited once");
        assert!(
            refuse(T0 + 3_000, "not_on_roster").await,
            "another reason is another event"
        );
        store
            .log_join(&seat(&lesson, "p_eve", &eve, "pupil", T0 + 4_000))
            .await
            .unwrap();
        assert!(
            refuse(T0 + 5_000, "not_on_roster").await,
            "after she was seated, a new event"
        );
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        let refusals: Vec<(i64, &str, i64, Option<i64>)> = log
            .events
            .iter()
            .filter(|e| e.kind == "refused")
            .map(|e| {
                (
                    e.at - T0,
                    e.detail.as_deref().unwrap_or(""),
                    e.count,
                    e.last_at.map(|t| t - T0),
                )
            })
            .collect();
        assert_eq!(
            refusals,
            vec![
                (1_000, "consent_missing", 51, Some(2_049)),
                (3_000, "not_on_roster", 1, None),
                (5_000, "not_on_roster", 1, None)
            ]
        );
        assert_eq!(audited(store.clone()).await, before + 3);
        assert!(log
            .events
            .iter()
            .filter(|e| e.kind != "refused")
            .all(|e| e.count == 1 && e.last_at.is_none()));
    }
}
