//! A scripted lesson read back row by row, and every read scoped by school, teacher and filter.

use super::*;

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
