//! Unit tests of the lesson task against a real store (in-memory SQLite with the demo seed)
//! and a real media engine on loopback: live enforcement after directory changes, the lobby,
//! privacy profiles from both sides, and the teacher-absence timeout. No WebRTC here: the
//! integration suite (tests/integration) covers media.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::*;
use livegate_core::ids::{ClassId, Email};
use livegate_core::proto::{EndReason, Media, Participant};
use livegate_core::school::{PrivacyProfile, Role};

const WAIT: Duration = Duration::from_secs(2);

fn school() -> SchoolId {
    SchoolId::parse("sch_demo").unwrap()
}

fn class_7a() -> ClassId {
    ClassId::parse("7a").unwrap()
}

struct Fixture {
    store: Store,
    lesson: LessonHandle,
}

async fn fixture(absent: Duration) -> Fixture {
    let store = crate::store::tests::seeded_sqlite().await;
    let media = crate::media::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let info = LessonInfo {
        id: LessonId::generate(),
        school: school(),
        class: class_7a(),
        class_name: "7A Science".into(),
        recording_notice: "recorded".into(),
        recorder: Some(
            crate::recording::test_service()
                .begin(&school(), &format!("rec_{}", livegate_core::ids::random_token(6)), 0)
                .unwrap(),
        ),
        started_by: UserId::parse("usr_teacher").unwrap(),
        scheduled: None,
    };
    let lesson = spawn(info, media, store.clone(), absent);
    Fixture { store, lesson }
}

async fn user(store: &Store, email: &str) -> UserRecord {
    store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// One person's socket, as the lesson sees it (state taken from the outbox's markers at once,
/// as the socket task does).
struct Client {
    id: ParticipantId,
    rx: mpsc::Receiver<Outgoing>,
    ready: std::collections::VecDeque<ServerMsg>,
}

impl Client {
    fn new(id: ParticipantId, rx: mpsc::Receiver<Outgoing>) -> Self {
        Self {
            id,
            rx,
            ready: Default::default(),
        }
    }

    /// The next message; `None` once the outbox has closed.
    async fn recv(&mut self) -> Option<ServerMsg> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            match self.rx.recv().await? {
                Outgoing::Msg(m) => return Some(m),
                Outgoing::State(state) => self.ready.extend(state.take()),
            }
        }
    }

    /// The next message, within [`WAIT`].
    async fn next(&mut self) -> ServerMsg {
        tokio::time::timeout(WAIT, self.recv())
            .await
            .expect("a message in time")
            .expect("outbox open")
    }

    /// Skips messages until one matches.
    async fn until(&mut self, what: &str, f: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.recv()).await {
                Ok(Some(m)) if f(&m) => return m,
                Ok(Some(_)) => {}
                Ok(None) => panic!("outbox closed while waiting for {what}"),
                Err(_) => panic!("no {what} within {WAIT:?}"),
            }
        }
    }

    /// Waits for the outbox to close (the socket would close), returning what came first.
    async fn closed(&mut self) -> Vec<ServerMsg> {
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.recv())
                .await
                .expect("outbox closes in time")
            {
                Some(m) => seen.push(m),
                None => return seen,
            }
        }
    }

    /// Messages already queued.
    fn queued(&mut self) -> Vec<ServerMsg> {
        while let Ok(item) = self.rx.try_recv() {
            match item {
                Outgoing::Msg(m) => self.ready.push_back(m),
                Outgoing::State(state) => self.ready.extend(state.take()),
            }
        }
        self.ready.drain(..).collect()
    }
}

async fn try_join(f: &Fixture, email: &str) -> Result<Client, ErrorCode> {
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let req = JoinRequest {
        user: user(&f.store, email).await,
        device: "test".into(),
        outbox: tx,
        reply,
    };
    assert!(f.lesson.send(LessonMsg::Join(req)).await);
    let id = answer.await.unwrap()?;
    Ok(Client::new(id, rx))
}

async fn join(f: &Fixture, email: &str) -> Client {
    let mut c = try_join(f, email)
        .await
        .unwrap_or_else(|e| panic!("{email} refused: {e:?}"));
    c.until("joined or lobby", |m| {
        matches!(m, ServerMsg::Joined { .. } | ServerMsg::Lobby { .. })
    })
    .await;
    c
}

/// `viewer` reads until it has heard that `who` joined. (A reader who has not, and so still has
/// the join to read, would hear nothing of someone who joins and leaves: state is coalesced.)
async fn saw_join(viewer: &mut Client, who: &Client) {
    let id = who.id.clone();
    viewer
        .until(
            "participant_joined",
            |m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.id == id),
        )
        .await;
}

async fn send(f: &Fixture, from: &Client, msg: ClientMsg) {
    assert!(f.lesson.send(LessonMsg::Client(from.id.clone(), msg)).await);
}

fn removed_reason(msgs: &[ServerMsg]) -> Option<ErrorCode> {
    msgs.iter().find_map(|m| match m {
        ServerMsg::Removed { reason } => Some(*reason),
        _ => None,
    })
}

async fn audited(store: &Store, action: &str, user: &UserId) -> bool {
    let entries = store.audit_entries(&school(), 500).await.unwrap();
    entries
        .iter()
        .any(|e| e.action == action && e.detail.contains(user.as_str()))
}

/// Withdrawing consent removes the pupil at once, with the reason, audited; a classmate and
/// the teacher stay, and the teacher hears that the pupil left.
#[tokio::test]
async fn withdrawn_consent_removes_only_that_pupil() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    saw_join(&mut teacher, &ada).await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    let consent = f.store.consents(&school(), &ada_user.id).await.unwrap().remove(0);
    let started = std::time::Instant::now();
    f.store.withdraw_consent("admin", &school(), &consent.id).await.unwrap();
    let seen = ada.closed().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(removed_reason(&seen), Some(ErrorCode::ConsentWithdrawn), "{seen:?}");
    let ada_id = ada.id.clone();
    teacher
        .until(
            "ada left",
            |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
        )
        .await;
    ben.until(
        "ada left",
        |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
    )
    .await;
    assert!(audited(&f.store, "admission.revoke", &ada_user.id).await);
    // Ben and the teacher are still served.
    send(&f, &ben, ClientMsg::Hand { raised: true }).await;
    teacher
        .until(
            "ben's hand",
            |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.hand_raised),
        )
        .await;
    assert!(removed_reason(&ben.queued()).is_none());
    // She cannot come back.
    assert_eq!(
        try_join(&f, "ada@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::ConsentWithdrawn)
    );
}

/// Roster removal, a removed domain and a disabled account each remove with their own reason.
#[tokio::test]
async fn roster_domain_and_account_changes_remove_with_their_reason() {
    let f = fixture(Duration::from_secs(60)).await;
    let _teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    let mut cara = join(&f, "cara@pupils.demo.sch.uk").await;

    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    f.store
        .remove_member("admin", &school(), &class_7a(), &ada_user.id)
        .await
        .unwrap();
    assert_eq!(removed_reason(&ada.closed().await), Some(ErrorCode::NotOnRoster));

    let ben_user = user(&f.store, "ben@pupils.demo.sch.uk").await;
    f.store
        .update_user("admin", &school(), &ben_user.id, None, Some(true))
        .await
        .unwrap();
    assert_eq!(removed_reason(&ben.closed().await), Some(ErrorCode::AccountDisabled));

    assert!(removed_reason(&cara.queued()).is_none(), "cara is unaffected so far");
    f.store
        .remove_domain("admin", &school(), "pupils.demo.sch.uk")
        .await
        .unwrap();
    assert_eq!(removed_reason(&cara.closed().await), Some(ErrorCode::DomainNotTrusted));
    // The teacher's domain is still trusted: the lesson goes on.
    assert!(f.lesson.summary().teacher_present);
}

/// A teacher taken off the class leaves it; the lesson then ends after the absence timeout.
#[tokio::test]
async fn teacher_taken_off_the_class_is_removed_and_the_lesson_ends() {
    let f = fixture(Duration::from_millis(400)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let rivera = user(&f.store, "teacher@demo.sch.uk").await;
    f.store
        .remove_member("admin", &school(), &class_7a(), &rivera.id)
        .await
        .unwrap();
    assert_eq!(removed_reason(&teacher.closed().await), Some(ErrorCode::NotOnRoster));
    // Ada is not removed for the teacher's absence; the lesson ends for her after the timeout.
    let seen = ada.closed().await;
    assert!(
        seen.iter().any(|m| matches!(
            m,
            ServerMsg::LessonEnded {
                reason: EndReason::TeacherAbsent
            }
        )),
        "{seen:?}"
    );
    assert!(removed_reason(&seen).is_none());
    assert!(!f.lesson.is_live());
}

/// Pupils wait for the teacher; a lesson with no teacher for the timeout ends for everyone,
/// including those in the lobby; a teacher back in time keeps it going.
#[tokio::test]
async fn teacher_absence_gates_pupils_and_ends_the_lesson() {
    let f = fixture(Duration::from_millis(600)).await;
    assert_eq!(
        try_join(&f, "ada@pupils.demo.sch.uk").await.err(),
        Some(ErrorCode::TeacherAbsent)
    );
    let teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut visitor = join(&f, "visitor@partner.sch.uk").await;
    // The teacher leaves and comes back within the timeout: nothing ends.
    assert!(f.lesson.send(LessonMsg::Leave(teacher.id.clone())).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _back = join(&f, "teacher@demo.sch.uk").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(f.lesson.is_live(), "ended although the teacher came back");
    assert!(!ada.queued().iter().any(|m| matches!(
        m,
        ServerMsg::LessonEnded {
            reason: EndReason::TeacherAbsent
        }
    )));
    // Gone for good: the lesson ends within the timeout.
    assert!(f.lesson.send(LessonMsg::Leave(_back.id.clone())).await);
    let started = std::time::Instant::now();
    assert!(ada.closed().await.iter().any(|m| matches!(
        m,
        ServerMsg::LessonEnded {
            reason: EndReason::TeacherAbsent
        }
    )));
    assert!(visitor.closed().await.iter().any(|m| matches!(
        m,
        ServerMsg::LessonEnded {
            reason: EndReason::TeacherAbsent
        }
    )));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "ended early: {:?}",
        started.elapsed()
    );
    assert!(!f.lesson.is_live());
}

fn lobby_ids(m: &ServerMsg) -> Option<Vec<ParticipantId>> {
    match m {
        ServerMsg::LobbyUpdated { waiting } => Some(waiting.iter().map(|w| w.participant_id.clone()).collect()),
        _ => None,
    }
}

/// Staff from a trusted domain wait in the lobby, see nothing, and join as guests when
/// admitted; a refused one is told, disconnected and cannot knock again.
#[tokio::test]
async fn lobby_admit_and_refuse() {
    let f = fixture(Duration::from_secs(60)).await;
    // Waiting before the teacher arrives is allowed; the teacher gets the lobby on joining.
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let req = JoinRequest {
        user: user(&f.store, "visitor@partner.sch.uk").await,
        device: "test".into(),
        outbox: tx,
        reply,
    };
    assert!(f.lesson.send(LessonMsg::Join(req)).await);
    let mut visitor = Client::new(answer.await.unwrap().unwrap(), rx);
    match visitor.next().await {
        ServerMsg::Lobby { participant_id, .. } => assert_eq!(participant_id, visitor.id),
        other => panic!("want lobby, got {other:?}"),
    }
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let m = teacher.until("lobby_updated", |m| lobby_ids(m).is_some()).await;
    assert_eq!(lobby_ids(&m).unwrap(), vec![visitor.id.clone()]);
    if let ServerMsg::LobbyUpdated { waiting } = &m {
        assert_eq!(waiting[0].domain, "partner.sch.uk");
        assert_eq!(waiting[0].role, Role::External);
    }
    // While waiting: nothing but `in_lobby`, and not a pupil's list either.
    send(&f, &visitor, ClientMsg::Hand { raised: true }).await;
    assert!(matches!(
        visitor.next().await,
        ServerMsg::Error {
            code: ErrorCode::InLobby,
            ..
        }
    ));
    // Only the teacher admits.
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    send(
        &f,
        &ada,
        ClientMsg::Admit {
            participant_id: visitor.id.clone(),
        },
    )
    .await;
    ada.until("forbidden_role", |m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::ForbiddenRole,
                ..
            }
        )
    })
    .await;
    send(
        &f,
        &teacher,
        ClientMsg::Admit {
            participant_id: visitor.id.clone(),
        },
    )
    .await;
    match visitor.until("joined", |m| matches!(m, ServerMsg::Joined { .. })).await {
        ServerMsg::Joined {
            participant_id, role, ..
        } => {
            assert_eq!(participant_id, visitor.id);
            assert_eq!(role, LessonRole::Guest);
        }
        _ => unreachable!(),
    }
    teacher
        .until("empty lobby", |m| lobby_ids(m).is_some_and(|w| w.is_empty()))
        .await;
    let visitor_user = user(&f.store, "visitor@partner.sch.uk").await;
    assert!(audited(&f.store, "lobby.admit", &visitor_user.id).await);
    // A guest publishes only with a grant, like a pupil, and may not run the lesson.
    send(&f, &visitor, ClientMsg::EndLesson).await;
    visitor
        .until("forbidden_role", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::ForbiddenRole,
                    ..
                }
            )
        })
        .await;
    send(
        &f,
        &teacher,
        ClientMsg::Grant {
            participant_id: visitor.id.clone(),
            media: Media::Microphone,
        },
    )
    .await;
    visitor
        .until(
            "grants",
            |m| matches!(m, ServerMsg::Grants { grants } if grants == &vec![Media::Microphone]),
        )
        .await;

    // A leader (staff, trusted domain, not this class's teacher) is refused.
    let mut leader = join(&f, "dsl@demo.sch.uk").await;
    teacher
        .until("leader waiting", |m| {
            lobby_ids(m).is_some_and(|w| w == vec![leader.id.clone()])
        })
        .await;
    send(
        &f,
        &teacher,
        ClientMsg::Refuse {
            participant_id: leader.id.clone(),
        },
    )
    .await;
    assert_eq!(
        removed_reason(&leader.closed().await),
        Some(ErrorCode::RefusedByTeacher)
    );
    assert_eq!(
        try_join(&f, "dsl@demo.sch.uk").await.err(),
        Some(ErrorCode::RefusedByTeacher)
    );
    // Unknown or already handled ids are refused plainly.
    send(
        &f,
        &teacher,
        ClientMsg::Admit {
            participant_id: leader.id.clone(),
        },
    )
    .await;
    teacher
        .until("unknown_participant", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::UnknownParticipant,
                    ..
                }
            )
        })
        .await;
    // The admitted guest reconnects straight into the lesson.
    let mut again = try_join(&f, "visitor@partner.sch.uk").await.unwrap();
    assert!(matches!(
        again.next().await,
        ServerMsg::Joined {
            role: LessonRole::Guest,
            ..
        }
    ));
}

/// A guest or waiting person whose domain stops being trusted is removed at once.
#[tokio::test]
async fn lobby_and_guests_are_rechecked() {
    let f = fixture(Duration::from_secs(60)).await;
    let _teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut visitor = join(&f, "visitor@partner.sch.uk").await;
    f.store
        .remove_domain("admin", &school(), "partner.sch.uk")
        .await
        .unwrap();
    assert_eq!(
        removed_reason(&visitor.closed().await),
        Some(ErrorCode::DomainNotTrusted)
    );
    assert_eq!(
        try_join(&f, "visitor@partner.sch.uk").await.err(),
        Some(ErrorCode::DomainNotTrusted)
    );
}

fn find<'a>(list: &'a [Participant], id: &ParticipantId) -> Option<&'a Participant> {
    list.iter().find(|p| &p.id == id)
}

fn joined_list(m: &ServerMsg) -> Vec<Participant> {
    match m {
        ServerMsg::Joined { participants, .. } => participants.clone(),
        _ => panic!("not joined: {m:?}"),
    }
}

/// Privacy profiles from both sides: pupils see the alias and not the hidden pupil, the
/// teacher sees real names and the profile; the camera is never granted nor published.
#[tokio::test]
async fn privacy_profiles_shape_views_and_lock_the_camera() {
    let f = fixture(Duration::from_secs(60)).await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    let cara_user = user(&f.store, "cara@pupils.demo.sch.uk").await;
    let star = PrivacyProfile {
        camera_always_off: true,
        alias: Some("Star".into()),
        hidden_from_pupils: false,
    };
    f.store
        .set_privacy("admin", &school(), &ada_user.id, &star)
        .await
        .unwrap();
    let hidden = PrivacyProfile {
        camera_always_off: false,
        alias: None,
        hidden_from_pupils: true,
    };
    f.store
        .set_privacy("admin", &school(), &cara_user.id, &hidden)
        .await
        .unwrap();

    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let cara = join(&f, "cara@pupils.demo.sch.uk").await;
    let (mut ben, ben_joined) = {
        let mut c = try_join(&f, "ben@pupils.demo.sch.uk").await.unwrap();
        let m = c.next().await;
        (c, joined_list(&m))
    };
    // Ben (a pupil) sees Ada as "Star", without her profile, and does not see Cara at all.
    let seen = find(&ben_joined, &ada.id).expect("ben sees ada");
    assert_eq!(seen.display_name, "Star");
    assert!(seen.privacy.is_none());
    assert!(
        find(&ben_joined, &cara.id).is_none(),
        "a hidden pupil is in a pupil's list"
    );
    assert!(ben_joined
        .iter()
        .all(|p| p.display_name != "Ada" && p.display_name != "Cara"));
    // The teacher saw each of them join under their real names, with the profile.
    let mut names = std::collections::HashMap::new();
    for _ in 0..3 {
        if let ServerMsg::ParticipantJoined { participant } = teacher
            .until("participant_joined", |m| {
                matches!(m, ServerMsg::ParticipantJoined { .. })
            })
            .await
        {
            names.insert(participant.id.clone(), participant);
        }
    }
    assert_eq!(names[&ada.id].display_name, "Ada");
    assert_eq!(names[&ada.id].privacy.as_ref().map(|p| p.camera_always_off), Some(true));
    assert_eq!(names[&cara.id].display_name, "Cara");
    // The camera cannot be granted; the microphone can.
    send(
        &f,
        &teacher,
        ClientMsg::Grant {
            participant_id: ada.id.clone(),
            media: Media::Camera,
        },
    )
    .await;
    teacher
        .until("camera_always_off", |m| {
            matches!(
                m,
                ServerMsg::Error {
                    code: ErrorCode::CameraAlwaysOff,
                    ..
                }
            )
        })
        .await;
    // Her camera publish is refused with the same code, before any SDP is looked at.
    send(
        &f,
        &ada,
        ClientMsg::Publish {
            stream_id: StreamId::parse("cam").unwrap(),
            kind: livegate_core::proto::StreamKind::Camera,
            sdp: "v=0".into(),
        },
    )
    .await;
    let mut ada = ada;
    ada.until("camera_always_off", |m| {
        matches!(
            m,
            ServerMsg::Error {
                code: ErrorCode::CameraAlwaysOff,
                ..
            }
        )
    })
    .await;
    // Cara's hand, raised, reaches the teacher but never Ben.
    send(&f, &cara, ClientMsg::Hand { raised: true }).await;
    teacher.until("cara's hand", |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == cara.id && participant.hand_raised)).await;
    let cara_id = cara.id.clone();
    assert!(ben
        .queued()
        .iter()
        .all(|m| !format!("{m:?}").contains(cara_id.as_str())));
}

/// A profile set during the lesson applies at once: a granted camera is revoked, and pupils'
/// view of the pupil changes (a hidden pupil leaves their list, an alias replaces the name).
#[tokio::test]
async fn privacy_set_mid_lesson_applies_at_once() {
    let f = fixture(Duration::from_secs(60)).await;
    let mut teacher = join(&f, "teacher@demo.sch.uk").await;
    let mut ada = join(&f, "ada@pupils.demo.sch.uk").await;
    let mut ben = join(&f, "ben@pupils.demo.sch.uk").await;
    send(
        &f,
        &teacher,
        ClientMsg::Grant {
            participant_id: ada.id.clone(),
            media: Media::Camera,
        },
    )
    .await;
    ada.until(
        "camera grant",
        |m| matches!(m, ServerMsg::Grants { grants } if grants.contains(&Media::Camera)),
    )
    .await;
    let ada_user = user(&f.store, "ada@pupils.demo.sch.uk").await;
    let profile = PrivacyProfile {
        camera_always_off: true,
        alias: Some("Star".into()),
        hidden_from_pupils: false,
    };
    f.store
        .set_privacy("admin", &school(), &ada_user.id, &profile)
        .await
        .unwrap();
    ada.until(
        "camera revoked",
        |m| matches!(m, ServerMsg::Grants { grants } if !grants.contains(&Media::Camera)),
    )
    .await;
    let ada_id = ada.id.clone();
    ben.until("ada as Star", |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id && participant.display_name == "Star")).await;
    // (The teacher has not read Ada's join yet, so the join comes with her profile in it.)
    teacher.until("ada's profile", |m| matches!(m, ServerMsg::ParticipantJoined { participant } | ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id && participant.display_name == "Ada" && participant.privacy.is_some())).await;
    // Now hidden: Ben is told she left; the teacher still sees her.
    let hidden = PrivacyProfile {
        hidden_from_pupils: true,
        ..profile
    };
    f.store
        .set_privacy("admin", &school(), &ada_user.id, &hidden)
        .await
        .unwrap();
    ben.until(
        "ada gone from the list",
        |m| matches!(m, ServerMsg::ParticipantLeft { participant_id } if *participant_id == ada_id),
    )
    .await;
    teacher.until("ada hidden", |m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == ada_id && participant.privacy.as_ref().is_some_and(|p| p.hidden_from_pupils))).await;
    assert!(
        removed_reason(&ada.queued()).is_none(),
        "a profile does not remove anyone"
    );
}

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
