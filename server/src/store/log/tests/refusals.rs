//! Refusals: logged before the lesson row if need be, and a repeated one counted on one event.

use super::*;

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
