//! One task per live lesson: who is in it, who waits in its lobby, who may send what, and
//! which streams go where.
//!
//! WebSocket tasks send a lesson [`LessonMsg`]s; the lesson answers each participant through
//! their own bounded outbox, in which the lesson's state (who is here, hands, the lobby,
//! grants) is coalesced ([`outbox`]). The lesson owns its participants' grants and streams and
//! tells the media engine to open and close peer connections; it never touches a packet. A
//! participant whose outbox is full of events is too slow to follow the lesson and is dropped
//! rather than allowed to hold the lesson up; one who sends past their budgets (checked by
//! their socket, `livegate_core::budget`) is removed as a flooder and may not join again for a minute.
//!
//! The task also keeps the admission rules true while the lesson runs: it runs the gate again
//! at every join and whenever the school's directory changes ([`enforce`]), keeps staff who do
//! not teach the class in a lobby until the teacher admits them ([`lobby`]), shapes what each
//! participant sees of the others by pupils' privacy profiles ([`people`]), and ends a lesson
//! whose teacher has been away for the configured time.

mod census;
mod enforce;
pub mod facts;
pub mod gate;
mod journal;
mod journal_writer;
#[cfg(test)]
mod lifecycle_tests;
mod lobby;
mod outbox;
mod people;
mod presence;
mod streams;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use livegate_core::codes::ErrorCode;

use crate::media::{MediaEvent, MediaHandle, StreamKey};
use crate::store::log::EventKind;
use crate::store::{Store, UserRecord};
use livegate_core::admission::Decision;
use livegate_core::ids::{ClassId, LessonId, ParticipantId, SchoolId, StreamId, UserId};
use livegate_core::proto::{ClientMsg, LessonRole, LessonState, LessonSummary, ServerMsg};
use livegate_core::school::PrivacyProfile;

pub use census::Census;
pub use journal::device_summary;
use journal::{Ended, Left};
pub use journal_writer::Flushed;
use journal_writer::Journal;
use lobby::Waiting;
pub use outbox::{Coalesced, Outgoing};
use outbox::{Outbox, Unsent};
use people::{Member, Seat};
pub use presence::Presence;

/// How many events may wait for one participant before they are dropped as too slow (state
/// changes do not count: they are coalesced, see [`outbox`]).
pub const OUTBOX: usize = 256;

/// How long a participant removed for flooding must wait before joining this lesson again.
pub const FLOOD_COOLDOWN: Duration = Duration::from_secs(60);

/// Facts about a lesson that the gate ([`facts`]) reads without asking the task.
#[derive(Debug, Default)]
pub struct Shared {
    pub live: bool,
    pub teacher_present: bool,
    pub removed: HashSet<UserId>,
    /// How many people it holds, by role (`census`).
    pub census: Census,
    /// How many times the gate's facts were gathered for each person: the tests' count of the
    /// gate's runs (one at the ticket, one at the seat).
    #[cfg(test)]
    pub gathered: HashMap<UserId, usize>,
}

/// What everyone may know about a lesson without asking its task.
#[derive(Debug, Clone)]
pub struct LessonInfo {
    pub id: LessonId,
    pub school: SchoolId,
    pub class: ClassId,
    pub class_name: String,
    pub recording_notice: String,
    /// The lesson's recorder; `None` if recording could not start (pupils are then refused).
    pub recorder: Option<crate::recording::LessonRecorder>,
    /// The teacher who started it, and their planned start and end (UTC ms), for the log.
    pub started_by: UserId,
    pub scheduled: Option<(i64, i64)>,
}

/// A way to reach a lesson's task.
#[derive(Clone)]
pub struct LessonHandle {
    pub info: Arc<LessonInfo>,
    pub shared: Arc<Mutex<Shared>>,
    tx: mpsc::Sender<LessonMsg>,
    /// Whether the lesson is live and its teacher in it, for those who wait ([`presence`]).
    presence: Arc<watch::Sender<Presence>>,
    /// Resolves when the lesson's livestream log writer has written its last entry and exited.
    pub log_flushed: Flushed,
}

/// A request to join, from a WebSocket that presented a valid ticket. The lesson runs the
/// gate's second stage itself ([`gate`]) and decides: a seat in the lesson, a place in the
/// lobby, or a refusal.
pub struct JoinRequest {
    pub user: UserRecord,
    /// A summary of the socket's User-Agent header ([`device_summary`]), for the log.
    pub device: String,
    pub outbox: mpsc::Sender<Outgoing>,
    pub reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
}

/// Messages a lesson task handles.
pub enum LessonMsg {
    Join(JoinRequest),
    Client(ParticipantId, ClientMsg),
    Leave(ParticipantId),
    /// The participant's socket counted them past their budgets: remove them as a flooder.
    Flooding(ParticipantId),
    Media(MediaEvent),
    /// The server is stopping: end the lesson now, as the teacher would, with the reason
    /// `server_stopping` (see `app::shutdown`).
    Stop,
}

impl LessonHandle {
    /// A summary for clients.
    pub fn summary(&self) -> LessonSummary {
        let shared = self.shared.lock().expect("lesson lock");
        LessonSummary {
            id: self.info.id.clone(),
            class_id: self.info.class.to_string(),
            class_name: self.info.class_name.clone(),
            state: if shared.live {
                LessonState::Live
            } else {
                LessonState::Ended
            },
            teacher_present: shared.teacher_present,
            recording_notice: self.info.recording_notice.clone(),
            recording: crate::recording::LessonRecorder::healthy(self.info.recorder.as_ref()),
        }
    }

    /// True while the lesson has not ended.
    pub fn is_live(&self) -> bool {
        self.shared.lock().expect("lesson lock").live
    }

    /// Sends a message to the task; false if the lesson has ended.
    pub async fn send(&self, msg: LessonMsg) -> bool {
        self.tx.send(msg).await.is_ok()
    }
}

/// Starts a lesson's task. It subscribes to the store's change announcements before it
/// returns, so no change made after the lesson started goes unchecked. A lesson whose teacher
/// is not connected for `teacher_absent_timeout` (counted from the start, and from whenever the
/// last teacher leaves) ends.
pub fn spawn(info: LessonInfo, media: MediaHandle, store: Store, teacher_absent_timeout: Duration) -> LessonHandle {
    let (tx, rx) = mpsc::channel(1024);
    let (media_tx, media_rx) = mpsc::channel(1024);
    let shared = Arc::new(Mutex::new(Shared {
        live: true,
        ..Default::default()
    }));
    // The log's writer runs beside the task: the task queues entries and never waits for them.
    let (journal, log_flushed) = Journal::start(
        store.clone(),
        info.id.clone(),
        journal_writer::QUEUE,
        journal_writer::BACKOFF,
    );
    let handle = LessonHandle {
        info: Arc::new(info),
        shared,
        tx,
        presence: Arc::new(watch::Sender::new(Presence::started())),
        log_flushed,
    };
    let changes = store.changes();
    let lesson = Lesson {
        handle: handle.clone(),
        media,
        media_tx,
        store,
        members: HashMap::new(),
        lobby: Vec::new(),
        admitted_guests: HashSet::new(),
        refused: HashSet::new(),
        streams: HashMap::new(),
        dropped: Vec::new(),
        flooders: HashMap::new(),
        absent_timeout: teacher_absent_timeout,
        absent_since: Some(Instant::now()),
        recheck_at: None,
        next_beat: Instant::now() + crate::store::log::HEARTBEAT,
        beating: None,
        journal,
        census: Census::default(),
    };
    tokio::spawn(lesson.run(rx, media_rx, changes));
    handle
}

struct Lesson {
    handle: LessonHandle,
    media: MediaHandle,
    media_tx: mpsc::Sender<MediaEvent>,
    store: Store,
    members: HashMap<ParticipantId, Member>,
    /// Staff waiting for the teacher, in order of arrival.
    lobby: Vec<(ParticipantId, Waiting)>,
    /// Guests the teacher admitted: a reconnecting guest does not wait in the lobby again.
    admitted_guests: HashSet<UserId>,
    /// People the teacher refused at the lobby: they cannot knock again in this lesson.
    refused: HashSet<UserId>,
    /// Which participant and stream each media key belongs to.
    streams: HashMap<StreamKey, (ParticipantId, StreamId)>,
    /// Participants whose outbox overflowed, to be removed after the current message.
    dropped: Vec<ParticipantId>,
    /// Users removed for flooding, and when: they may not join again until [`FLOOD_COOLDOWN`].
    flooders: HashMap<UserId, Instant>,
    absent_timeout: Duration,
    /// Since when no teacher has been connected; `None` while one is.
    absent_since: Option<Instant>,
    /// When to try a failed re-check again.
    recheck_at: Option<Instant>,
    /// When to heartbeat the livestream log next.
    next_beat: Instant,
    /// The heartbeat write in flight, if any (it runs beside the task; see `journal_heartbeat`).
    beating: Option<tokio::task::JoinHandle<()>>,
    /// The livestream log's queue to its writer (`journal_writer`); dropped with the task, and
    /// the writer then finishes what is queued.
    journal: Journal,
    /// The counts last put in `Shared` (`census`).
    census: Census,
}

/// What woke the lesson task.
enum Wake {
    Msg(LessonMsg),
    Recheck,
    TeacherAway,
    RecordingFailed,
    Heartbeat,
}

/// Sleeps until `at`, or forever without one.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the recorder fails; never without one.
async fn failure(recorder: Option<&crate::recording::LessonRecorder>) {
    match recorder {
        Some(r) => r.failure().await,
        None => std::future::pending().await,
    }
}

/// An error a client request ends in: the code and, for stream requests, the stream.
type Refusal = (ErrorCode, Option<StreamId>);

impl Lesson {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<LessonMsg>,
        mut media_rx: mpsc::Receiver<MediaEvent>,
        changes: broadcast::Receiver<SchoolId>,
    ) {
        let school = self.handle.info.school.clone();
        let mut changes = Some(changes);
        // The recorder signals a failure (no poll): the lesson fails closed the moment it
        // happens, once; after that it stops listening.
        let mut recorder = self.handle.info.recorder.clone();
        self.journal_start();
        loop {
            let absent_deadline = self.absent_since.map(|t| t + self.absent_timeout);
            let wake = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => Wake::Msg(m),
                    None => break,
                },
                Some(m) = media_rx.recv() => Wake::Msg(LessonMsg::Media(m)),
                () = enforce::next_change(&mut changes, &school) => Wake::Recheck,
                () = until(self.recheck_at) => Wake::Recheck,
                () = until(absent_deadline) => Wake::TeacherAway,
                () = failure(recorder.as_ref()) => Wake::RecordingFailed,
                () = tokio::time::sleep_until(self.next_beat) => Wake::Heartbeat,
            };
            match wake {
                Wake::Msg(LessonMsg::Join(req)) => self.join(req).await,
                Wake::Msg(LessonMsg::Client(from, msg)) => self.client(from, msg).await,
                Wake::Msg(LessonMsg::Leave(who)) => self.leave(&who, Left::Closed).await,
                Wake::Msg(LessonMsg::Flooding(who)) => self.flooding(&who).await,
                Wake::Msg(LessonMsg::Media(event)) => self.media_event(event).await,
                Wake::Msg(LessonMsg::Stop) => {
                    tracing::info!(lesson = %self.handle.info.id, "the server is stopping; ending the lesson");
                    self.end(Ended::ServerStopping).await;
                }
                Wake::Recheck => {
                    // One re-check covers every announcement queued so far.
                    enforce::drain(&mut changes);
                    self.recheck().await;
                }
                Wake::RecordingFailed => {
                    if let Some(r) = recorder.take() {
                        tracing::error!(lesson = %self.handle.info.id, "recording failed; removing pupils (fail closed)");
                        let _ = self.store.fail_recording(&self.handle.info.school, &r.id).await;
                        self.journal_event(EventKind::RecordingFailed, None, None, Some(&r.id));
                        let teachers: Vec<ParticipantId> = self
                            .members
                            .iter()
                            .filter(|(_, m)| m.role == LessonRole::Teacher)
                            .map(|(id, _)| id.clone())
                            .collect();
                        for t in teachers {
                            self.send(&t, ServerMsg::error(ErrorCode::RecordingUnavailable, None));
                        }
                        self.recheck().await;
                    }
                }
                Wake::TeacherAway => {
                    tracing::info!(lesson = %self.handle.info.id, "no teacher for the absence timeout; ending the lesson");
                    self.end(Ended::TeacherAway).await;
                }
                Wake::Heartbeat => {
                    self.journal_heartbeat();
                    self.next_beat = Instant::now() + crate::store::log::HEARTBEAT;
                }
            }
            while let Some(slow) = self.dropped.pop() {
                self.leave(&slow, Left::Slow).await;
            }
            self.take_census();
            if !self.handle.is_live() {
                break;
            }
        }
        tracing::info!(lesson = %self.handle.info.id, "lesson task ended");
    }

    /// Where messages for a participant or a lobby waiter go.
    fn outbox(&self, to: &ParticipantId) -> Option<&Outbox> {
        if let Some(m) = self.members.get(to) {
            return Some(&m.outbox);
        }
        self.lobby.iter().find(|(id, _)| id == to).map(|(_, w)| &w.outbox)
    }

    fn send(&mut self, to: &ParticipantId, msg: ServerMsg) {
        let Some(outbox) = self.outbox(to) else { return };
        let Err(e) = outbox.send(msg) else { return };
        if !self.dropped.contains(to) {
            // Too slow, or already gone: removed after this message; the socket task then
            // sees its outbox close and disconnects.
            if e == Unsent::Full {
                tracing::warn!(participant = %to, "participant outbox full; dropping them");
            }
            self.dropped.push(to.clone());
        }
    }

    /// Sends to every member of the lesson (not the lobby).
    fn broadcast(&mut self, msg: ServerMsg) {
        let ids: Vec<ParticipantId> = self.members.keys().cloned().collect();
        for id in ids {
            self.send(&id, msg.clone());
        }
    }

    fn set_shared(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.handle.shared.lock().expect("lesson lock"));
    }

    /// Keeps `teacher_present` and the absence clock in step with the members.
    fn teachers_changed(&mut self) {
        let present = self.members.values().any(|m| m.role == LessonRole::Teacher);
        self.set_shared(|s| s.teacher_present = present);
        if present {
            self.absent_since = None;
        } else if self.absent_since.is_none() {
            self.absent_since = Some(Instant::now());
        }
        self.publish_presence();
    }

    /// Appends an admission event about `user` to the school's audit chain.
    async fn audit(&self, actor: &UserId, action: &str, user: &UserId, reason: Option<ErrorCode>) {
        let detail = serde_json::json!({
            "lesson": self.handle.info.id,
            "user": user,
            "at": "lesson",
            "reason": reason.map(ErrorCode::as_str),
        });
        if let Err(e) = self
            .store
            .audit(&self.handle.info.school, actor.as_str(), action, detail)
            .await
        {
            tracing::error!(lesson = %self.handle.info.id, error = %e, action, "could not write the audit entry");
        }
    }

    async fn join(&mut self, req: JoinRequest) {
        if self.cooling_down(&req.user.id) {
            self.journal_event(
                EventKind::Refused,
                None,
                Some(&req.user.id),
                Some(ErrorCode::RateLimited.as_str()),
            );
            crate::telemetry::join_refused(ErrorCode::RateLimited);
            let _ = req.reply.send(Err(ErrorCode::RateLimited));
            return;
        }
        // The gate's second stage (the ticket was the first), here in the task, so a
        // directory change announced since the ticket cannot let anyone in. It records its
        // decision: the join's audit entry, and a refusal's log row (`gate`).
        let decision = match gate::run(&self.store, &req.user, &self.handle, gate::Stage::Join).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(lesson = %self.handle.info.id, error = %e, "admission facts unavailable; refusing");
                self.journal_event(EventKind::Refused, None, Some(&req.user.id), Some(e.code().as_str()));
                let _ = req.reply.send(Err(e.code()));
                return;
            }
        };
        let user = req.user.id.clone();
        let role = match decision {
            Decision::Admit(role) => role,
            Decision::Lobby if self.refused.contains(&user) => {
                self.journal_event(
                    EventKind::Refused,
                    None,
                    Some(&user),
                    Some(ErrorCode::RefusedByTeacher.as_str()),
                );
                crate::telemetry::join_refused(ErrorCode::RefusedByTeacher);
                let _ = req.reply.send(Err(ErrorCode::RefusedByTeacher));
                return;
            }
            Decision::Lobby if self.admitted_guests.contains(&user) => LessonRole::Guest,
            Decision::Lobby => {
                self.replace(&user).await;
                self.enter_lobby(req).await;
                return;
            }
            Decision::Refuse(code) => {
                let _ = req.reply.send(Err(code));
                return;
            }
        };
        let privacy = if role == LessonRole::Pupil {
            match self.store.privacy(&user).await {
                Ok(p) => p,
                Err(e) => {
                    // Without the profile the pupil cannot be shown safely: fail closed.
                    tracing::error!(lesson = %self.handle.info.id, error = %e, "privacy profile unavailable; refusing");
                    let _ = req.reply.send(Err(e.code()));
                    return;
                }
            }
        } else {
            PrivacyProfile::default()
        };
        self.replace(&user).await;
        let id = ParticipantId::generate();
        if req.reply.send(Ok(id.clone())).is_err() {
            return; // the socket went away meanwhile
        }
        let seat = Seat {
            user,
            name: req.user.display_name,
            outbox: Outbox::new(req.outbox),
            device: req.device,
        };
        self.seat(id, seat, role, privacy).await;
    }

    /// A second join by the same user (a reconnect) replaces the first, in the lesson or lobby.
    async fn replace(&mut self, user: &UserId) {
        let old: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| &m.user == user)
            .map(|(id, _)| id.clone())
            .chain(
                self.lobby
                    .iter()
                    .filter(|(_, w)| &w.user == user)
                    .map(|(id, _)| id.clone()),
            )
            .collect();
        for id in old {
            self.send(&id, ServerMsg::error(ErrorCode::Replaced, None));
            self.leave(&id, Left::Replaced).await;
        }
    }

    async fn client(&mut self, from: ParticipantId, msg: ClientMsg) {
        if self.in_lobby(&from) {
            // Waiting people may only wait (the socket answers their pings itself).
            self.send(&from, ServerMsg::error(ErrorCode::InLobby, None));
            return;
        }
        let Some(role) = self.members.get(&from).map(|m| m.role) else {
            return;
        };
        let teacher_only = matches!(
            msg,
            ClientMsg::Grant { .. }
                | ClientMsg::Revoke { .. }
                | ClientMsg::Mute { .. }
                | ClientMsg::Remove { .. }
                | ClientMsg::EndLesson
                | ClientMsg::Admit { .. }
                | ClientMsg::Refuse { .. }
                | ClientMsg::LowerHand { .. }
        );
        if teacher_only && role != LessonRole::Teacher {
            self.send(&from, ServerMsg::error(ErrorCode::ForbiddenRole, None));
            return;
        }
        let result = match msg {
            ClientMsg::Join { .. } => Err((ErrorCode::BadMessage, None)),
            ClientMsg::Ping => Ok(()),
            ClientMsg::Publish { stream_id, kind, sdp } => self.publish(&from, stream_id, kind, sdp).await,
            ClientMsg::Unpublish { stream_id } => self.unpublish(&from, &stream_id, true).await,
            ClientMsg::Answer { stream_id, sdp } => self.answer(&from, stream_id, sdp).await,
            ClientMsg::Candidate { stream_id, candidate } => self.candidate(&from, stream_id, candidate).await,
            ClientMsg::Grant { participant_id, media } => self.grant(&from, &participant_id, media, true).await,
            ClientMsg::Revoke { participant_id, media } => self.grant(&from, &participant_id, media, false).await,
            ClientMsg::Mute { participant_id } => self.mute(&from, &participant_id).await,
            ClientMsg::Remove { participant_id } => self.remove(&from, &participant_id).await,
            ClientMsg::Admit { participant_id } => self.admit(&from, &participant_id).await,
            ClientMsg::Refuse { participant_id } => self.refuse(&from, &participant_id).await,
            ClientMsg::EndLesson => {
                self.end(Ended::ByTeacher).await;
                Ok(())
            }
            ClientMsg::Hand { raised } => self.hand(&from, raised),
            ClientMsg::LowerHand { participant_id } => self.lower_hand(&participant_id),
        };
        if let Err((code, stream_id)) = result {
            self.send(&from, ServerMsg::error(code, stream_id));
        }
    }

    fn hand(&mut self, from: &ParticipantId, raised: bool) -> Result<(), Refusal> {
        let member = self.members.get_mut(from).ok_or((ErrorCode::Internal, None))?;
        if member.role == LessonRole::Teacher {
            return Err((ErrorCode::ForbiddenRole, None));
        }
        // A hand raised again changes nothing, so nobody hears of it.
        if std::mem::replace(&mut member.hand, raised) != raised {
            self.announce(from);
        }
        Ok(())
    }

    /// The teacher's `lower_hand`: a pupil's or guest's raised hand goes down (a hand already
    /// down changes nothing, so nobody hears of it).
    fn lower_hand(&mut self, target: &ParticipantId) -> Result<(), Refusal> {
        let member = self
            .members
            .get_mut(target)
            .ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role == LessonRole::Teacher {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        if std::mem::replace(&mut member.hand, false) {
            self.announce(target);
        }
        Ok(())
    }

    /// Whether `user` was removed for flooding less than [`FLOOD_COOLDOWN`] ago.
    fn cooling_down(&mut self, user: &UserId) -> bool {
        self.flooders.retain(|_, since| since.elapsed() < FLOOD_COOLDOWN);
        self.flooders.contains_key(user)
    }

    /// Removes someone whose socket counted them past their budgets (`livegate_core::budget`): they
    /// get `removed` `too_many_messages`, the log records the removal, and they may not join
    /// again for [`FLOOD_COOLDOWN`]. Everyone else only hears that they left.
    async fn flooding(&mut self, who: &ParticipantId) {
        let Some(user) = self.user_of(who) else { return };
        tracing::warn!(lesson = %self.handle.info.id, participant = %who, "too many messages; removing them");
        self.flooders.insert(user.clone(), Instant::now());
        self.journal_event(
            EventKind::Removed,
            None,
            Some(&user),
            Some(ErrorCode::TooManyMessages.as_str()),
        );
        self.send(
            who,
            ServerMsg::Removed {
                reason: ErrorCode::TooManyMessages,
            },
        );
        self.leave(who, Left::Flooding).await;
    }

    /// Takes a pupil or guest out of the lesson for good (they cannot rejoin it).
    async fn remove(&mut self, by: &ParticipantId, target: &ParticipantId) -> Result<(), Refusal> {
        let member = self.members.get(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role == LessonRole::Teacher {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        let user = member.user.clone();
        self.admitted_guests.remove(&user);
        self.set_shared(|s| {
            s.removed.insert(user.clone());
        });
        self.journal_event(EventKind::Removed, self.user_of(by).as_ref(), Some(&user), None);
        self.send(
            target,
            ServerMsg::Removed {
                reason: ErrorCode::RemovedByTeacher,
            },
        );
        self.leave(target, Left::Removed).await;
        Ok(())
    }

    async fn leave(&mut self, who: &ParticipantId, why: Left) {
        if self.in_lobby(who) {
            let user = self.user_of(who);
            self.leave_lobby(who);
            self.journal_event(EventKind::LobbyLeft, None, user.as_ref(), Some(why.as_str()));
            return;
        }
        let Some(member) = self.members.get(who) else { return };
        let published: Vec<StreamId> = member.publishing.keys().cloned().collect();
        for id in published {
            let _ = self.unpublish(who, &id, true).await;
        }
        // Only those who could see them hear that they left.
        let watchers: Vec<ParticipantId> = self
            .members
            .keys()
            .filter(|v| *v != who && self.view_of(who, v).is_some())
            .cloned()
            .collect();
        self.journal_leave(who, why);
        let Some(member) = self.members.remove(who) else { return };
        for r in member.receiving.values() {
            self.streams.remove(&r.key);
            self.media.close(r.key).await;
        }
        if member.role == LessonRole::Teacher {
            self.teachers_changed();
        }
        for w in watchers {
            self.send(
                &w,
                ServerMsg::ParticipantLeft {
                    participant_id: who.clone(),
                },
            );
        }
    }

    async fn end(&mut self, why: Ended) {
        self.journal_end(why);
        let ended = ServerMsg::LessonEnded { reason: why.reason() };
        self.broadcast(ended.clone());
        let waiting: Vec<ParticipantId> = self.lobby.iter().map(|(id, _)| id.clone()).collect();
        for id in waiting {
            self.send(&id, ended.clone());
        }
        let keys: Vec<StreamKey> = self.streams.keys().copied().collect();
        for key in keys {
            self.media.close(key).await;
        }
        self.streams.clear();
        self.members.clear();
        self.lobby.clear();
        self.absent_since = None;
        self.set_shared(|s| {
            s.live = false;
            s.teacher_present = false;
        });
        self.publish_presence();
        if let Some(r) = &self.handle.info.recorder {
            r.send(crate::recording::RecorderMsg::Finish);
        }
    }
}

#[cfg(test)]
mod tests;
