//! The lesson log's absent list: the class's rostered pupils who never joined, on SQLite
//! always and PostgreSQL when the suite has one.

use crate::store::log::tests::{plain_lesson, seat};
use crate::store::log_read::LogScope;
use crate::store::tests::{demo, stores, uid};
use livegate_core::ids::LessonId;

const T0: i64 = 1_800_000_000_000;

/// 7A's roster is Ada, Ben, Cara, Dev, Eve and Finn. Ada and Ben join (Ben twice), Ms Rivera
/// teaches, Owen (not on the roster) joins as a guest would; Dev's account is then disabled.
/// Absent: Cara, Eve and Finn, by name, and nobody who joined, taught or is not on the roster.
#[tokio::test]
async fn absent_lists_the_rostered_pupils_who_never_joined() {
    for store in stores().await {
        let email = |n: &str| format!("{n}@pupils.demo.sch.uk");
        let rivera = uid(&store, "teacher@demo.sch.uk").await;
        let (ada, ben, dev, owen) = (
            uid(&store, &email("ada")).await,
            uid(&store, &email("ben")).await,
            uid(&store, &email("dev")).await,
            uid(&store, &email("owen")).await,
        );
        let lesson = LessonId::generate();
        store.log_lesson_start(&plain_lesson(&lesson, &rivera)).await.unwrap();
        let read = || async {
            let log = store
                .lesson_log(&demo(), &LogScope::School, &lesson)
                .await
                .unwrap()
                .unwrap();
            log.absent.into_iter().map(|a| (a.name, a.user_id)).collect::<Vec<_>>()
        };
        let names = |absent: Vec<(String, String)>| absent.into_iter().map(|a| a.0).collect::<Vec<_>>();
        assert_eq!(
            names(read().await),
            ["Ada", "Ben", "Cara", "Dev", "Eve", "Finn"],
            "before anyone joins"
        );
        for (id, who, role) in [
            ("p_t", &rivera, "teacher"),
            ("p_a", &ada, "pupil"),
            ("p_b1", &ben, "pupil"),
            ("p_b2", &ben, "pupil"),
            ("p_o", &owen, "guest"),
        ] {
            store.log_join(&seat(&lesson, id, who, role, T0 + 1_000)).await.unwrap();
        }
        store
            .update_user("test", &demo(), &dev, None, Some(true))
            .await
            .unwrap();
        let eve = uid(&store, &email("eve")).await;
        let absent = read().await;
        assert_eq!(absent[1].1, eve.as_str(), "each is named and identified");
        assert_eq!(names(absent), ["Cara", "Eve", "Finn"]);
    }
}
