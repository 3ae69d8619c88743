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

/// The same refusal again and again is one event with a count, audited once; another reason
/// starts a new event, and the first reason again after it (or after a join) counts on the
/// first event: one per person, reason and lesson. Refusals arriving together (many nodes'
/// connections on PostgreSQL) still count on one event.
#[tokio::test]
async fn a_repeated_refusal_is_one_event_with_a_count_and_one_audit_entry() {
    for store in stores().await {
        let lesson = started(&store).await;
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
            !refuse(T0 + 5_000, "not_on_roster").await,
            "after she was seated, the same reason still counts on its first event"
        );
        assert!(
            !refuse(T0 + 6_000, "consent_missing").await,
            "the first reason again, after another, counts on its first event"
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
                (1_000, "consent_missing", 52, Some(6_000)),
                (3_000, "not_on_roster", 2, Some(5_000)),
            ]
        );
        assert_eq!(audited(store.clone()).await, before + 2);
        assert!(log
            .events
            .iter()
            .filter(|e| e.kind != "refused")
            .all(|e| e.count == 1 && e.last_at.is_none()));
    }
}

/// A pupil whose reason alternates (A, B, A, B: consent withdrawn and granted again between
/// tries, or the lesson's page and its ticket refusing for different reasons) is one event per
/// reason, however the reasons interleave, each counting its own attempts.
#[tokio::test]
async fn alternating_reasons_are_one_event_per_reason() {
    for store in stores().await {
        let lesson = started(&store).await;
        let (eve, ben) = (
            uid(&store, "eve@pupils.demo.sch.uk").await,
            uid(&store, "ben@pupils.demo.sch.uk").await,
        );
        let reasons = [
            "consent_missing",
            "not_on_roster",
            "consent_missing",
            "not_on_roster",
            "consent_missing",
        ];
        let mut began = Vec::new();
        for (i, reason) in reasons.iter().enumerate() {
            for who in [&eve, &ben] {
                let e = ev(
                    &lesson,
                    T0 + 1_000 * i as i64,
                    EventKind::Refused,
                    None,
                    Some(who),
                    Some(reason),
                );
                let detail = serde_json::json!({"lesson": lesson, "user": who, "reason": reason});
                let first = store
                    .log_refusal(&e, who.as_str(), "admission.refuse", &detail)
                    .await
                    .unwrap();
                if who == &eve {
                    began.push(first);
                }
            }
        }
        assert_eq!(began, vec![true, true, false, false, false]);
        let log = store
            .lesson_log(&demo(), &LogScope::School, &lesson)
            .await
            .unwrap()
            .unwrap();
        let mut rows: Vec<(String, &str, i64)> = log
            .events
            .iter()
            .filter(|e| e.kind == "refused")
            .map(|e| {
                (
                    e.subject_id.clone().unwrap_or_default(),
                    e.detail.as_deref().unwrap_or(""),
                    e.count,
                )
            })
            .collect();
        rows.sort();
        assert_eq!(rows.len(), 4, "two people, two reasons each: {rows:?}");
        let counts: Vec<(&str, i64)> = rows.iter().map(|r| (r.1, r.2)).collect();
        assert_eq!(
            counts.iter().filter(|c| **c == ("consent_missing", 3)).count(),
            2,
            "{counts:?}"
        );
        assert_eq!(
            counts.iter().filter(|c| **c == ("not_on_roster", 2)).count(),
            2,
            "{counts:?}"
        );
    }
}

/// A new lesson of the demo teacher, its log opened.
async fn started(store: &Store) -> LessonId {
    let lesson = LessonId::generate();
    store
        .log_lesson_start(&plain_lesson(&lesson, &uid(store, "teacher@demo.sch.uk").await))
        .await
        .unwrap();
    lesson
}
