//! Notes: append-only and audited, concerns listed at once, and events and notes ordered by
//! when they happened.

use super::*;

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
