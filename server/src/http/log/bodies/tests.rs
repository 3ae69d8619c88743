//! Freezes the log's answers and audit details: one example of each body, on the London clock
//! across the autumn clock change, compared with `server/golden/log-bodies.jsonl`.

use super::*;
use crate::http::api::audit_detail;
use crate::http::tests::Golden;

/// 2026-10-25 00:30 UTC: 01:30 BST, half an hour before the clocks go back.
const AUTUMN: i64 = 1_792_888_200_000;
const MIN: i64 = 60_000;

fn lesson(ended: bool) -> LessonRow {
    LessonRow {
        id: "les_1".into(),
        class_id: "7a".into(),
        class_name: "7A Science".into(),
        started_by: "usr_teacher".into(),
        started_by_name: Some("Ms Hopper".into()),
        recording_id: Some("rec_1".into()),
        recording_status: Some("complete".into()),
        scheduled_start: Some(AUTUMN),
        scheduled_end: None,
        started_at: AUTUMN,
        ended_at: ended.then_some(AUTUMN + 60 * MIN),
        end_reason: ended.then(|| "ended_by_teacher".into()),
        last_seen: AUTUMN + 60 * MIN,
    }
}

fn note() -> NoteRow {
    NoteRow {
        id: "note_1".into(),
        lesson_id: "les_1".into(),
        author_id: "usr_teacher".into(),
        author_name: Some("Ms Hopper".into()),
        at: AUTUMN + 10 * MIN,
        category: "concern".into(),
        body: "Ada seemed upset.".into(),
        corrects: None,
    }
}

fn interval() -> Interval {
    Interval {
        user_id: "usr_ada".into(),
        name: Some("Ada Lovelace".into()),
        role: "pupil".into(),
        joined_at: AUTUMN + MIN,
        left_at: Some(AUTUMN + 50 * MIN),
        seconds: 2_930,
        end: Some("lesson_ended".into()),
        recovered: false,
        consent: "current".into(),
        conduct_version: Some(1),
        device: "phone".into(),
        sessions: 2,
    }
}

fn log_body(clock: &Clock) -> LessonLogBody {
    let session = SessionRow {
        id: "ses_1".into(),
        user_id: "usr_ada".into(),
        name: Some("Ada Lovelace".into()),
        role: "pupil".into(),
        joined_at: AUTUMN + MIN,
        left_at: None,
        left_reason: None,
        last_seen: AUTUMN + 50 * MIN,
        recovered: false,
        consent: "current".into(),
        conduct_version: Some(1),
        device: "phone".into(),
    };
    let event = EventRow {
        at: AUTUMN + 2 * MIN,
        kind: "refused".into(),
        actor_id: None,
        actor_name: None,
        subject_id: Some("usr_ben".into()),
        subject_name: Some("Ben".into()),
        detail: Some("consent_missing".into()),
        count: 3,
        last_at: Some(AUTUMN + 40 * MIN),
    };
    LessonLogBody {
        time_zone: clock.zone.clone(),
        lesson: LessonView::new(&lesson(true), clock),
        counts: Counts {
            teachers: vec!["Ms Hopper".into()],
            pupils_present: 1,
            refusals: 3,
            lobby_admissions: 0,
            removals: 0,
            notes: 1,
            concerns: 1,
        },
        intervals: vec![IntervalView::new(interval(), clock)],
        sessions: vec![SessionView::new(&session, clock)],
        events: vec![EventView::new(&event, clock)],
        notes: vec![NoteView::new(&note(), clock)],
        absent: vec![crate::store::log_read::Absentee {
            user_id: "usr_cara".into(),
            name: "Cara".into(),
        }],
    }
}

#[test]
fn log_bodies_are_frozen() {
    let clock = Clock::new("Europe/London");
    let mut g = Golden::default();
    let list = LessonList {
        time_zone: clock.zone.clone(),
        lessons: vec![LessonView::new(&lesson(false), &clock)],
    };
    g.add("GET /api/log/lessons", &list);
    g.add("GET /api/log/lessons/{lesson_id}", &log_body(&clock));
    let added = NoteAdded {
        note: NoteRef {
            id: "note_1".into(),
            at: AUTUMN,
            category: NoteCategory::Concern,
        },
    };
    g.add("POST /api/log/lessons/{lesson_id}/notes", &added);
    let attendance = Attendance {
        time_zone: clock.zone.clone(),
        pupil: PupilRef {
            id: UserId::parse("usr_ada").unwrap(),
            display_name: "Ada Lovelace".into(),
        },
        total_seconds: 2_930,
        lessons: vec![AttendedLesson {
            lesson: LessonView::new(&lesson(true), &clock),
            present: true,
            seconds: 2_930,
            intervals: vec![IntervalView::new(interval(), &clock)],
            refusals: vec!["teacher_absent".into()],
        }],
    };
    g.add("GET /api/log/pupils/{user_id}/attendance", &attendance);
    let concern = ConcernRow {
        note: note(),
        class_name: "7A Science".into(),
        lesson_started_at: AUTUMN,
        recording_id: Some("rec_1".into()),
    };
    let concerns = ConcernList {
        time_zone: clock.zone.clone(),
        concerns: vec![ConcernView::new(&concern, &clock)],
    };
    g.add("GET /api/log/concerns", &concerns);
    let zones = TimeZones {
        time_zone: clock.zone.clone(),
        zones: vec!["Europe/Dublin".into(), "Europe/London".into()],
    };
    g.add("GET /api/admin/time-zone", &zones);
    g.check("log-bodies.jsonl");
}

/// The audit details of readings and exports keep the shape the chain has always stored.
#[test]
fn reading_audit_details_name_what_was_read() {
    let query = LogQuery {
        class_id: Some("7a".into()),
        from_date: Some("2026-10-25".into()),
        ..LogQuery::default()
    };
    let pupil = UserId::parse("usr_ada").unwrap();
    assert_eq!(
        detail(&Reading::List(&query)),
        r#"{"list":{"class_id":"7a","from_date":"2026-10-25"}}"#
    );
    assert_eq!(detail(&Reading::Lesson("les_1")), r#"{"lesson":"les_1"}"#);
    assert_eq!(detail(&Reading::Pupil(&pupil)), r#"{"pupil":"usr_ada"}"#);
    assert_eq!(detail(&Reading::Concerns(true)), r#"{"concerns":true}"#);
    let export = Export {
        export: "intervals",
        filter: &query,
    };
    assert_eq!(
        detail(&export),
        r#"{"export":"intervals","filter":{"class_id":"7a","from_date":"2026-10-25"}}"#
    );
}

/// A detail as the audit chain stores it.
fn detail(d: &impl Serialize) -> String {
    audit_detail(d).unwrap().to_string()
}
