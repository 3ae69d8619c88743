//! Unit tests of a lesson's lifecycle: it is not live for pupils before its teacher is in it,
//! a teacher who steps out leaves the lesson running (pupils stay and are told, anyone waiting
//! is told the moment the teacher is back), ending is for everyone; and the teacher's hand
//! controls (a hand lowered by the teacher, a hand cleared by a grant).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::*;
use livegate_core::ids::Email;
use livegate_core::proto::{EndReason, Media};

const PATIENCE: Duration = Duration::from_secs(3);

/// A lesson of 7A on the demo store, with the store to find people in.
async fn lesson_7a() -> (Store, LessonHandle) {
    let store = crate::store::tests::seeded_sqlite().await;
    let media = crate::media::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let school = SchoolId::parse("sch_demo").unwrap();
    let recorder = crate::recording::test_service()
        .begin(&school, &format!("rec_{}", livegate_core::ids::random_token(6)), 0)
        .unwrap();
    let info = LessonInfo {
        id: LessonId::generate(),
        school,
        class: ClassId::parse("7a").unwrap(),
        class_name: "7A Science".into(),
        recording_notice: "recorded".into(),
        recorder: Some(recorder),
        started_by: UserId::parse("usr_teacher").unwrap(),
        scheduled: None,
    };
    // A long absence timeout: these tests step out and back without the lesson ending.
    let handle = spawn(info, media, store.clone(), Duration::from_secs(600));
    (store, handle)
}

/// Someone in the lesson: their id and what the lesson sends them, in order.
struct Person {
    id: ParticipantId,
    inbox: mpsc::Receiver<Outgoing>,
    pending: Vec<ServerMsg>,
}

impl Person {
    /// Reads until a message matches `want`, failing after [`PATIENCE`].
    async fn expect(&mut self, what: &str, want: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
        let give_up = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self.pending.iter().position(&want) {
                return self.pending.remove(at);
            }
            self.pending.clear();
            match tokio::time::timeout_at(give_up, self.inbox.recv()).await {
                Ok(Some(Outgoing::Msg(m))) => self.pending.push(m),
                Ok(Some(Outgoing::State(s))) => self.pending.extend(s.take()),
                Ok(None) => panic!("{what}: the outbox closed"),
                Err(_) => panic!("{what}: nothing within {PATIENCE:?}"),
            }
        }
    }
}

/// Asks the lesson to seat `email`; the lesson's answer (an id, or the refusal).
async fn arrive(store: &Store, lesson: &LessonHandle, email: &str) -> Result<Person, ErrorCode> {
    let user = store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .expect("a demo user");
    let (outbox, inbox) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let device = "lifecycle test".to_owned();
    assert!(
        lesson
            .send(LessonMsg::Join(JoinRequest {
                user,
                device,
                outbox,
                reply
            }))
            .await
    );
    let id = answer.await.expect("the lesson answers")?;
    let mut person = Person {
        id,
        inbox,
        pending: Vec::new(),
    };
    person.expect("joined", |m| matches!(m, ServerMsg::Joined { .. })).await;
    Ok(person)
}

async fn say(lesson: &LessonHandle, from: &Person, msg: ClientMsg) {
    assert!(lesson.send(LessonMsg::Client(from.id.clone(), msg)).await);
}

fn hand_of(m: &ServerMsg, who: &ParticipantId) -> Option<bool> {
    match m {
        ServerMsg::ParticipantUpdated { participant } if &participant.id == who => Some(participant.hand_raised),
        _ => None,
    }
}

/// Before its teacher is in it, a started lesson is not open to pupils: they are refused
/// (`teacher_absent`) and the lesson says it has not been opened. The teacher's arrival opens
/// it and is pushed to whoever watches its presence at once.
#[tokio::test]
async fn a_lesson_is_not_live_for_pupils_before_its_teacher_is_in_it() {
    let (store, lesson) = lesson_7a().await;
    let mut watch = lesson.presence();
    let now = *watch.borrow_and_update();
    assert_eq!(
        (now.live, now.teacher_present, now.opened),
        (true, false, false),
        "started, not opened"
    );
    assert!(!lesson.opened());
    assert_eq!(
        arrive(&store, &lesson, "ada@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::TeacherAbsent)
    );
    assert!(!watch.has_changed().unwrap(), "a refused pupil changes nothing");

    let _teacher = arrive(&store, &lesson, "teacher@demo.sch.uk").await.unwrap();
    tokio::time::timeout(PATIENCE, watch.changed()).await.unwrap().unwrap();
    let now = *watch.borrow_and_update();
    assert_eq!((now.live, now.teacher_present, now.opened), (true, true, true));
    assert!(lesson.opened());
    arrive(&store, &lesson, "ada@pupils.demo.sch.uk")
        .await
        .expect("admitted once the teacher is in");
}

/// A teacher who steps out (their socket closes) leaves the lesson live: pupils stay in it and
/// hear that the teacher left, the lesson stays open, a pupil arriving meanwhile is refused
/// `teacher_absent` (and waits), and everyone hears the teacher come back. Ending is different:
/// everyone gets `lesson_ended`, and the presence says the lesson is over.
#[tokio::test]
async fn stepping_out_keeps_the_lesson_and_ending_ends_it() {
    let (store, lesson) = lesson_7a().await;
    let teacher = arrive(&store, &lesson, "teacher@demo.sch.uk").await.unwrap();
    let mut ada = arrive(&store, &lesson, "ada@pupils.demo.sch.uk").await.unwrap();
    let mut watch = lesson.presence();
    watch.borrow_and_update();

    assert!(lesson.send(LessonMsg::Leave(teacher.id.clone())).await);
    let gone = teacher.id.clone();
    ada.expect(
        "the teacher leaving",
        |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == gone),
    )
    .await;
    tokio::time::timeout(PATIENCE, watch.changed()).await.unwrap().unwrap();
    let away = *watch.borrow_and_update();
    assert_eq!((away.live, away.teacher_present, away.opened), (true, false, true));
    assert!(lesson.is_live(), "stepping out does not end the lesson");
    assert_eq!(
        arrive(&store, &lesson, "ben@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::TeacherAbsent),
        "a pupil arriving while the teacher is out waits for them"
    );

    let mut back = arrive(&store, &lesson, "teacher@demo.sch.uk").await.unwrap();
    let back_id = back.id.clone();
    ada.expect(
        "the teacher back",
        |m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.id == back_id),
    )
    .await;
    tokio::time::timeout(PATIENCE, watch.changed()).await.unwrap().unwrap();
    assert!(watch.borrow_and_update().teacher_present);
    let mut ben = arrive(&store, &lesson, "ben@pupils.demo.sch.uk").await.unwrap();

    say(&lesson, &back, ClientMsg::EndLesson).await;
    for who in [&mut ada, &mut ben, &mut back] {
        who.expect("lesson_ended", |m| {
            matches!(
                m,
                ServerMsg::LessonEnded {
                    reason: EndReason::EndedByTeacher
                }
            )
        })
        .await;
    }
    tokio::time::timeout(PATIENCE, watch.changed()).await.unwrap().unwrap();
    let ended = *watch.borrow_and_update();
    assert_eq!((ended.live, ended.teacher_present), (false, false));
    assert!(!lesson.is_live());
}

/// The teacher lowers a raised hand; a pupil cannot lower another's; a grant lowers the hand it
/// answers; the teacher's own hand is not a thing.
#[tokio::test]
async fn the_teacher_lowers_hands_and_a_grant_clears_one() {
    let (store, lesson) = lesson_7a().await;
    let mut teacher = arrive(&store, &lesson, "teacher@demo.sch.uk").await.unwrap();
    let mut ada = arrive(&store, &lesson, "ada@pupils.demo.sch.uk").await.unwrap();
    let ben = arrive(&store, &lesson, "ben@pupils.demo.sch.uk").await.unwrap();
    let ada_id = ada.id.clone();

    say(&lesson, &ada, ClientMsg::Hand { raised: true }).await;
    teacher
        .expect("ada's hand up", |m| hand_of(m, &ada_id) == Some(true))
        .await;
    let lower = ClientMsg::LowerHand {
        participant_id: ada_id.clone(),
    };
    say(&lesson, &ben, lower.clone()).await;
    let mut ben = ben;
    ben.expect("forbidden_role", |m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::ForbiddenRole,
                ..
            }
        )
    })
    .await;
    say(&lesson, &teacher, lower).await;
    teacher
        .expect("ada's hand down", |m| hand_of(m, &ada_id) == Some(false))
        .await;
    ada.expect("ada hears her hand went down", |m| hand_of(m, &ada_id) == Some(false))
        .await;
    let teacher_id = teacher.id.clone();
    say(
        &lesson,
        &teacher,
        ClientMsg::LowerHand {
            participant_id: teacher_id,
        },
    )
    .await;
    teacher
        .expect("unknown_participant", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::UnknownParticipant,
                    ..
                }
            )
        })
        .await;

    say(&lesson, &ada, ClientMsg::Hand { raised: true }).await;
    teacher
        .expect("ada's hand up again", |m| hand_of(m, &ada_id) == Some(true))
        .await;
    say(
        &lesson,
        &teacher,
        ClientMsg::Grant {
            participant_id: ada_id.clone(),
            media: Media::Microphone,
        },
    )
    .await;
    let granted = teacher
        .expect("the grant", |m| {
            matches!(m, ServerMsg::ParticipantUpdated { participant }
                if participant.id == ada_id && participant.grants.contains(&Media::Microphone))
        })
        .await;
    assert_eq!(hand_of(&granted, &ada_id), Some(false), "the grant lowered the hand");
}
