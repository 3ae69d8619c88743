//! Recovery after a crash: what was left open is closed at the latest time the log knows,
//! and a late leave or end changes nothing.

use super::*;

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
