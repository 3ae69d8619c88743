//! Unit tests of the lesson task against a real store (in-memory SQLite with the demo seed)
//! and a real media engine on loopback: live enforcement after directory changes, the lobby,
//! privacy profiles from both sides, and the teacher-absence timeout. No WebRTC here: the
//! integration suite (tests/integration) covers media. This file holds the fixture and the
//! client helpers every topic file below shares.

mod enforce;
mod lifecycle;
mod lobby;
mod privacy;
mod recording;

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
