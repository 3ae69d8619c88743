//! The lesson's life under pressure: a stopping server, a slow reader and a flooder.

use super::*;

/// The server stopping ends the lesson as the teacher would, with its own reason: members and
/// the lobby get `lesson_ended` with `server_stopping`, the recorder finishes its recording,
/// and the log's writer drains the end (reason `server_stopping`, every session closed).
#[tokio::test]
async fn a_stopping_server_ends_the_lesson_with_its_own_reason() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut visitor = join(&f, "visitor@partner.sch.uk").await;
    assert!(f.lesson.send(LessonMsg::Stop).await);
    let stopping = |m: &ServerMsg| {
        matches!(
            m,
            ServerMsg::LessonEnded {
                reason: EndReason::ServerStopping
            }
        )
    };
    for client in [&mut teacher, &mut ada, &mut visitor] {
        let seen = client.closed().await;
        assert!(seen.iter().any(stopping), "{seen:?}");
    }
    assert!(!f.lesson.is_live());
    let recorder = f.lesson.info.recorder.clone().expect("recorded");
    tokio::time::timeout(WAIT, recorder.finished())
        .await
        .expect("the recorder finishes");
    tokio::time::timeout(WAIT, f.lesson.log_flushed.wait())
        .await
        .expect("the log drains");
    let scope = crate::store::log_read::LogScope::School;
    let log = f
        .store
        .lesson_log(&school(), &scope, &f.lesson.info.id)
        .await
        .unwrap()
        .expect("logged");
    assert_eq!(log.lesson.end_reason.as_deref(), Some("server_stopping"));
    assert_eq!(
        log.sessions.len(),
        2,
        "teacher and Ada (the visitor waited in the lobby)"
    );
    assert!(
        log.sessions
            .iter()
            .all(|s| s.left_reason.as_deref() == Some("lesson_ended") && !s.recovered),
        "{:?}",
        log.sessions
    );
}

/// A classmate who reads nothing while another pupil toggles a hand 3,001 times (sent straight
/// to the lesson, past any socket budget) is not dropped: the toggles fold into the newest
/// state, and when they read they get one update with the hand as it is now, not a backlog.
#[tokio::test]
async fn a_slow_reader_gets_the_latest_state_not_a_backlog() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    for i in 0..3_001 {
        send(&f, &ada, ClientMsg::Hand { raised: i % 2 == 0 }).await;
    }
    // Ada's next request is answered after every toggle was handled.
    send(
        &f,
        &ada,
        ClientMsg::Unpublish {
            stream_id: StreamId::parse("nope").unwrap(),
        },
    )
    .await;
    ada.until("unknown_stream", |m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::UnknownStream,
                ..
            }
        )
    })
    .await;
    let ada_id = ada.id.clone();
    let hands = |msgs: &[ServerMsg]| -> Vec<bool> {
        msgs.iter()
            .filter_map(|m| match m {
                ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id => {
                    Some(participant.hand_raised)
                }
                _ => None,
            })
            .collect()
    };
    let seen = ben.queued();
    assert_eq!(hands(&seen), vec![true], "ben gets the newest hand once: {seen:?}");
    assert!(!seen.iter().any(|m| matches!(m, ServerMsg::Removed { .. })));
    // Ben is still in the lesson: the teacher never heard that he left, and he is served.
    send(&f, &ben, ClientMsg::Hand { raised: true }).await;
    let ben_id = ben.id.clone();
    let someone_left = std::cell::Cell::new(false);
    teacher
        .until("ben's hand", |m| {
            someone_left.set(someone_left.get() || matches!(m, ServerMsg::ParticipantLeft { .. }));
            matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == ben_id && participant.hand_raised)
        })
        .await;
    assert!(!someone_left.get(), "nobody was dropped");
}

/// A participant the socket reports as flooding is removed with `too_many_messages`, the
/// others hear they left, the log records the removal, and they may not join again at once.
#[tokio::test]
async fn a_flooder_is_removed_logged_and_kept_out_for_a_while() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    saw_join(&mut teacher, &ada).await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    assert!(f.lesson.send(LessonMsg::Flooding(ada.id.clone())).await);
    assert_eq!(removed_reason(&ada.closed().await), Some(ErrorCode::TooManyMessages));
    let ada_id = ada.id.clone();
    teacher
        .until(
            "ada left",
            |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
        )
        .await;
    assert_eq!(
        try_join(&f, "ada@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::RateLimited)
    );
    // Ben is not affected.
    join(&f, "ben@pupils.demo.sch.uk").await;
    let scope = crate::store::log_read::LogScope::School;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let log = f
            .store
            .lesson_log(&school(), &scope, &f.lesson.info.id)
            .await
            .unwrap()
            .expect("logged");
        let removed = log.events.iter().any(|e| {
            e.kind == "removed"
                && e.subject_id.as_deref() == Some(ada_user.id.as_str())
                && e.detail.as_deref() == Some("too_many_messages")
        });
        let refused = log
            .events
            .iter()
            .any(|e| e.kind == "refused" && e.detail.as_deref() == Some("rate_limited"));
        let left = log
            .sessions
            .iter()
            .any(|s| s.left_reason.as_deref() == Some("too_many_messages"));
        if removed && refused && left {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log lacks the removal: {:?} {:?}",
            log.events,
            log.sessions
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
