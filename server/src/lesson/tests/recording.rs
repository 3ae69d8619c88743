//! The recorder's health reaches the lesson as a signal, not a poll: a failure is acted on the
//! moment it happens (fail closed), and a lesson with a healthy recorder does no work for it.

use super::*;

/// The lesson's `recording_failed` events, once its writer has written them.
async fn recording_failed_events(f: &Fixture) -> usize {
    let scope = crate::store::log_read::LogScope::School;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = f.store.lesson_log(&school(), &scope, &f.lesson.info.id).await.unwrap();
        let n = log.map_or(0, |l| l.events.iter().filter(|e| e.kind == "recording_failed").count());
        if n > 0 || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A recorder that fails mid-lesson reaches the lesson at once: the teacher hears
/// `recording_unavailable` well within the second a poll would have taken (the lesson has
/// just acted, so a poll would next have looked a whole period later), the pupil is removed
/// with that reason, and the log holds one `recording_failed`.
#[tokio::test]
async fn a_failing_recorder_reaches_the_lesson_at_once() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    saw_join(&mut teacher, &ada).await;
    let recorder = f.lesson.info.recorder.clone().expect("recorded");
    assert!(f.lesson.summary().recording);

    let started = std::time::Instant::now();
    recorder.fail_for_test();
    let unavailable = |m: &ServerMsg| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::RecordingUnavailable,
                ..
            }
        )
    };
    teacher.until("recording_unavailable", unavailable).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(700), "the lesson heard after {took:?}");

    assert_eq!(
        removed_reason(&ada.closed().await),
        Some(ErrorCode::RecordingUnavailable)
    );
    assert!(!f.lesson.summary().recording);
    assert_eq!(recording_failed_events(&f).await, 1);
    // Failing closed does not end the lesson: the teacher stays and is told once.
    send(&f, &teacher, ClientMsg::Hand { raised: true }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!teacher.queued().iter().any(unavailable), "told once");
    assert!(f.lesson.is_live());
    assert_eq!(
        try_join(&f, "ben@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::RecordingUnavailable)
    );
}
