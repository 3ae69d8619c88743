//! One task per live lesson: who is in it, who may send what, and which streams go where.
//!
//! WebSocket tasks send a lesson [`LessonMsg`]s; the lesson answers each participant through
//! their own bounded outbox. The lesson owns its participants' grants and streams and tells
//! the media engine to open and close peer connections; it never touches a packet. A
//! participant whose outbox is full is too slow to follow the lesson and is dropped rather
//! than allowed to hold the lesson up.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::error::ErrorCode;
use crate::ids::{ClassId, LessonId, ParticipantId, SchoolId, StreamId, UserId};
use crate::media::{check_offer, MediaEvent, MediaHandle, OfferSummary, StreamKey};
use crate::proto::{ClientMsg, LessonRole, LessonState, LessonSummary, Media, Participant, ServerMsg, StreamKind};
use crate::sfu::TrackKind;

/// How many messages may wait for one participant before they are dropped as too slow.
pub const OUTBOX: usize = 256;

/// Facts about a lesson that the HTTP side reads without asking the task.
#[derive(Debug, Default)]
pub struct Shared {
    pub live: bool,
    pub teacher_present: bool,
    pub removed: HashSet<UserId>,
}

/// What everyone may know about a lesson without asking its task.
#[derive(Debug, Clone)]
pub struct LessonInfo {
    pub id: LessonId,
    pub school: SchoolId,
    pub class: ClassId,
    pub class_name: String,
    pub recording_notice: String,
}

/// A way to reach a lesson's task.
#[derive(Clone)]
pub struct LessonHandle {
    pub info: Arc<LessonInfo>,
    pub shared: Arc<Mutex<Shared>>,
    tx: mpsc::Sender<LessonMsg>,
}

/// A request to join, from a WebSocket that presented a valid ticket.
pub struct JoinRequest {
    pub user: UserId,
    pub display_name: String,
    pub role: LessonRole,
    pub outbox: mpsc::Sender<ServerMsg>,
    pub reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
}

/// Messages a lesson task handles.
pub enum LessonMsg {
    Join(JoinRequest),
    Client(ParticipantId, ClientMsg),
    Leave(ParticipantId),
    Media(MediaEvent),
}

impl LessonHandle {
    /// A summary for clients.
    pub fn summary(&self) -> LessonSummary {
        let shared = self.shared.lock().expect("lesson lock");
        LessonSummary {
            id: self.info.id.clone(),
            class_id: self.info.class.to_string(),
            class_name: self.info.class_name.clone(),
            state: if shared.live { LessonState::Live } else { LessonState::Ended },
            teacher_present: shared.teacher_present,
            recording_notice: self.info.recording_notice.clone(),
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

/// Starts a lesson's task.
pub fn spawn(info: LessonInfo, media: MediaHandle) -> LessonHandle {
    let (tx, rx) = mpsc::channel(1024);
    let (media_tx, media_rx) = mpsc::channel(1024);
    let shared = Arc::new(Mutex::new(Shared { live: true, ..Default::default() }));
    let handle = LessonHandle { info: Arc::new(info), shared: shared.clone(), tx };
    let lesson = Lesson { handle: handle.clone(), media, media_tx, members: HashMap::new(), streams: HashMap::new(), dropped: Vec::new() };
    tokio::spawn(lesson.run(rx, media_rx));
    handle
}

struct Published {
    key: StreamKey,
    kind: StreamKind,
    summary: OfferSummary,
}

struct Receiving {
    key: StreamKey,
    publisher: ParticipantId,
    source: StreamId,
}

struct Member {
    user: UserId,
    name: String,
    role: LessonRole,
    outbox: mpsc::Sender<ServerMsg>,
    grants: BTreeSet<Media>,
    hand: bool,
    publishing: HashMap<StreamId, Published>,
    receiving: HashMap<StreamId, Receiving>,
}

impl Member {
    fn view(&self, id: &ParticipantId) -> Participant {
        let mut publishing: Vec<StreamKind> = self.publishing.values().map(|p| p.kind).collect();
        publishing.sort_by_key(|k| *k as u8);
        Participant {
            id: id.clone(),
            display_name: self.name.clone(),
            role: self.role,
            grants: self.grants.iter().copied().collect(),
            hand_raised: self.hand,
            publishing,
        }
    }

    fn uses(&self, id: &StreamId) -> bool {
        self.publishing.contains_key(id) || self.receiving.contains_key(id)
    }
}

struct Lesson {
    handle: LessonHandle,
    media: MediaHandle,
    media_tx: mpsc::Sender<MediaEvent>,
    members: HashMap<ParticipantId, Member>,
    /// Which participant and stream each media key belongs to.
    streams: HashMap<StreamKey, (ParticipantId, StreamId)>,
    /// Participants whose outbox overflowed, to be removed after the current message.
    dropped: Vec<ParticipantId>,
}

impl Lesson {
    async fn run(mut self, mut rx: mpsc::Receiver<LessonMsg>, mut media_rx: mpsc::Receiver<MediaEvent>) {
        loop {
            let msg = tokio::select! {
                m = rx.recv() => m,
                m = media_rx.recv() => m.map(LessonMsg::Media),
            };
            let Some(msg) = msg else { break };
            match msg {
                LessonMsg::Join(req) => self.join(req).await,
                LessonMsg::Client(from, msg) => self.client(from, msg).await,
                LessonMsg::Leave(who) => self.leave(&who).await,
                LessonMsg::Media(event) => self.media_event(event).await,
            }
            while let Some(slow) = self.dropped.pop() {
                self.leave(&slow).await;
            }
            if !self.handle.is_live() {
                break;
            }
        }
        tracing::info!(lesson = %self.handle.info.id, "lesson task ended");
    }

    fn send(&mut self, to: &ParticipantId, msg: ServerMsg) {
        let Some(m) = self.members.get(to) else { return };
        let Err(e) = m.outbox.try_send(msg) else { return };
        if !self.dropped.contains(to) {
            // Too slow, or already gone: removed after this message; the socket task then
            // sees its outbox close and disconnects.
            if matches!(e, mpsc::error::TrySendError::Full(_)) {
                tracing::warn!(participant = %to, "participant outbox full; dropping them");
            }
            self.dropped.push(to.clone());
        }
    }

    fn broadcast(&mut self, except: Option<&ParticipantId>, msg: ServerMsg) {
        let ids: Vec<ParticipantId> = self.members.keys().filter(|id| Some(*id) != except).cloned().collect();
        for id in ids {
            self.send(&id, msg.clone());
        }
    }

    fn announce(&mut self, who: &ParticipantId) {
        if let Some(view) = self.members.get(who).map(|m| m.view(who)) {
            self.broadcast(None, ServerMsg::ParticipantUpdated { participant: view });
        }
    }

    fn set_shared(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.handle.shared.lock().expect("lesson lock"));
    }

    async fn join(&mut self, req: JoinRequest) {
        {
            let shared = self.handle.shared.lock().expect("lesson lock");
            if shared.removed.contains(&req.user) {
                let _ = req.reply.send(Err(ErrorCode::RemovedByTeacher));
                return;
            }
        }
        // A second join by the same user (a reconnect) replaces the first.
        let old: Vec<ParticipantId> =
            self.members.iter().filter(|(_, m)| m.user == req.user).map(|(id, _)| id.clone()).collect();
        for id in old {
            self.send(&id, ServerMsg::error(ErrorCode::Replaced, None));
            self.leave(&id).await;
        }
        let id = ParticipantId::generate();
        let member = Member {
            user: req.user,
            name: req.display_name,
            role: req.role,
            outbox: req.outbox,
            grants: BTreeSet::new(),
            hand: false,
            publishing: HashMap::new(),
            receiving: HashMap::new(),
        };
        let view = member.view(&id);
        self.members.insert(id.clone(), member);
        if req.role == LessonRole::Teacher {
            self.set_shared(|s| s.teacher_present = true);
        }
        let _ = req.reply.send(Ok(id.clone()));
        let participants = self.members.iter().map(|(pid, m)| m.view(pid)).collect();
        let joined = ServerMsg::Joined {
            participant_id: id.clone(),
            role: req.role,
            lesson: self.handle.summary(),
            participants,
            grants: Vec::new(),
        };
        self.send(&id, joined);
        self.broadcast(Some(&id), ServerMsg::ParticipantJoined { participant: view });
        // Everything already being published is offered to the newcomer.
        let sources: Vec<(ParticipantId, StreamId)> = self
            .members
            .iter()
            .filter(|(pid, _)| **pid != id)
            .flat_map(|(pid, m)| m.publishing.keys().map(move |s| (pid.clone(), s.clone())))
            .collect();
        for (publisher, stream) in sources {
            self.offer_stream(&id, &publisher, &stream).await;
        }
    }

    async fn client(&mut self, from: ParticipantId, msg: ClientMsg) {
        let Some(role) = self.members.get(&from).map(|m| m.role) else { return };
        let teacher_only = matches!(
            msg,
            ClientMsg::Grant { .. } | ClientMsg::Revoke { .. } | ClientMsg::Mute { .. } | ClientMsg::Remove { .. } | ClientMsg::EndLesson
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
            ClientMsg::Grant { participant_id, media } => self.grant(&participant_id, media, true).await,
            ClientMsg::Revoke { participant_id, media } => self.grant(&participant_id, media, false).await,
            ClientMsg::Mute { participant_id } => self.mute(&participant_id).await,
            ClientMsg::Remove { participant_id } => self.remove(&participant_id).await,
            ClientMsg::EndLesson => {
                self.end().await;
                Ok(())
            }
            ClientMsg::Hand { raised } => {
                if role == LessonRole::Pupil {
                    if let Some(m) = self.members.get_mut(&from) {
                        m.hand = raised;
                    }
                    self.announce(&from);
                    Ok(())
                } else {
                    Err((ErrorCode::ForbiddenRole, None))
                }
            }
        };
        if let Err((code, stream_id)) = result {
            self.send(&from, ServerMsg::error(code, stream_id));
        }
    }

    async fn publish(&mut self, from: &ParticipantId, stream_id: StreamId, kind: StreamKind, sdp: String) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let fail = |code| (code, Some(stream_id.clone()));
        let member = self.members.get(from).ok_or(fail(ErrorCode::Internal))?;
        if member.uses(&stream_id) {
            return Err(fail(ErrorCode::DuplicateStream));
        }
        let may = |m: Media| member.role == LessonRole::Teacher || member.grants.contains(&m);
        let wanted_video = match kind {
            StreamKind::Camera => Media::Camera,
            StreamKind::Screen => Media::Screen,
            StreamKind::Microphone => Media::Microphone,
        };
        // Refuse before parsing anything: a pupil without the grant gets nothing built.
        if !may(wanted_video) {
            return Err(fail(ErrorCode::NotGranted));
        }
        let summary = check_offer(kind, &sdp).map_err(fail)?;
        if summary.audio && !may(Media::Microphone) {
            return Err(fail(ErrorCode::NotGranted));
        }
        let key = self.media.new_key();
        let answer = self.media.publish(key, sdp, self.media_tx.clone()).await.map_err(fail)?;
        let Some(member) = self.members.get_mut(from) else {
            self.media.close(key).await;
            return Ok(());
        };
        member.publishing.insert(stream_id.clone(), Published { key, kind, summary });
        self.streams.insert(key, (from.clone(), stream_id.clone()));
        self.send(from, ServerMsg::Answer { stream_id: stream_id.clone(), sdp: answer });
        self.announce(from);
        let others: Vec<ParticipantId> = self.members.keys().filter(|id| *id != from).cloned().collect();
        for other in others {
            self.offer_stream(&other, from, &stream_id).await;
        }
        Ok(())
    }

    /// Opens a receive peer for `to` carrying `publisher`'s stream and sends its offer.
    async fn offer_stream(&mut self, to: &ParticipantId, publisher: &ParticipantId, source: &StreamId) {
        let Some(p) = self.members.get(publisher).and_then(|m| m.publishing.get(source)) else { return };
        let (source_key, kind) = (p.key, p.kind);
        let mut kinds = Vec::new();
        if p.summary.video {
            kinds.push(TrackKind::Video);
        }
        if p.summary.audio {
            kinds.push(TrackKind::Audio);
        }
        let key = self.media.new_key();
        let offer = match self.media.receive(key, source_key, kinds, self.media_tx.clone()).await {
            Ok(offer) => offer,
            Err(code) => {
                tracing::warn!(?code, "could not open a receive stream");
                return;
            }
        };
        let Some(member) = self.members.get_mut(to) else {
            self.media.close(key).await;
            return;
        };
        let stream_id = StreamId::generate();
        member.receiving.insert(stream_id.clone(), Receiving { key, publisher: publisher.clone(), source: source.clone() });
        self.streams.insert(key, (to.clone(), stream_id.clone()));
        self.send(to, ServerMsg::Offer { stream_id, publisher_id: publisher.clone(), kind, sdp: offer });
    }

    async fn answer(&mut self, from: &ParticipantId, stream_id: StreamId, sdp: String) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let key = self
            .members
            .get(from)
            .and_then(|m| m.receiving.get(&stream_id))
            .map(|r| r.key)
            .ok_or((ErrorCode::UnknownStream, Some(stream_id.clone())))?;
        if sdp.len() > crate::media::MAX_SDP_BYTES {
            return Err((ErrorCode::BadSdp, Some(stream_id)));
        }
        self.media.answer(key, sdp).await.map_err(|c| (c, Some(stream_id)))
    }

    async fn candidate(&mut self, from: &ParticipantId, stream_id: StreamId, candidate: Option<crate::proto::CandidateInit>) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let member = self.members.get(from).ok_or((ErrorCode::Internal, None))?;
        let key = member
            .publishing
            .get(&stream_id)
            .map(|p| p.key)
            .or_else(|| member.receiving.get(&stream_id).map(|r| r.key))
            .ok_or((ErrorCode::UnknownStream, Some(stream_id.clone())))?;
        if let Some(c) = candidate.filter(|c| !c.candidate.is_empty() && c.candidate.len() < 1024) {
            self.media.candidate(key, c).await;
        }
        Ok(())
    }

    /// Ends a published stream everywhere. `by_client`: the publisher asked (no notice to them).
    async fn unpublish(&mut self, publisher: &ParticipantId, stream_id: &StreamId, by_client: bool) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let published = self
            .members
            .get_mut(publisher)
            .and_then(|m| m.publishing.remove(stream_id))
            .ok_or((ErrorCode::UnknownStream, Some(stream_id.clone())))?;
        self.streams.remove(&published.key);
        self.media.close(published.key).await;
        if !by_client {
            self.send(publisher, ServerMsg::StreamEnded { stream_id: stream_id.clone() });
        }
        let mut ended = Vec::new();
        for (pid, m) in self.members.iter_mut() {
            let ids: Vec<StreamId> = m
                .receiving
                .iter()
                .filter(|(_, r)| &r.publisher == publisher && &r.source == stream_id)
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                if let Some(r) = m.receiving.remove(&id) {
                    ended.push((pid.clone(), id, r.key));
                }
            }
        }
        for (pid, id, key) in ended {
            self.streams.remove(&key);
            self.media.close(key).await;
            self.send(&pid, ServerMsg::StreamEnded { stream_id: id });
        }
        self.announce(publisher);
        Ok(())
    }

    async fn grant(&mut self, target: &ParticipantId, media: Media, allow: bool) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let member = self.members.get_mut(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role != LessonRole::Pupil {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        if allow {
            member.grants.insert(media);
        } else {
            member.grants.remove(&media);
        }
        let grants = member.grants.iter().copied().collect();
        // A revoked grant ends every stream that relied on it, at once.
        let stale: Vec<StreamId> = member
            .publishing
            .iter()
            .filter(|(_, p)| {
                let needs_video = match p.kind {
                    StreamKind::Camera => Some(Media::Camera),
                    StreamKind::Screen => Some(Media::Screen),
                    StreamKind::Microphone => None,
                };
                needs_video.is_some_and(|m| !member.grants.contains(&m))
                    || (p.summary.audio && !member.grants.contains(&Media::Microphone))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            let _ = self.unpublish(target, &id, false).await;
        }
        self.send(target, ServerMsg::Grants { grants });
        self.announce(target);
        Ok(())
    }

    async fn mute(&mut self, target: &ParticipantId) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let member = self.members.get(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role != LessonRole::Pupil {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        let ids: Vec<StreamId> = member.publishing.keys().cloned().collect();
        for id in ids {
            let _ = self.unpublish(target, &id, false).await;
        }
        Ok(())
    }

    async fn remove(&mut self, target: &ParticipantId) -> Result<(), (ErrorCode, Option<StreamId>)> {
        let member = self.members.get(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role != LessonRole::Pupil {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        let user = member.user.clone();
        self.set_shared(|s| {
            s.removed.insert(user);
        });
        self.send(target, ServerMsg::Removed { reason: ErrorCode::RemovedByTeacher });
        self.leave(target).await;
        Ok(())
    }

    async fn leave(&mut self, who: &ParticipantId) {
        let Some(member) = self.members.get(who) else { return };
        let role = member.role;
        let published: Vec<StreamId> = member.publishing.keys().cloned().collect();
        for id in published {
            let _ = self.unpublish(who, &id, true).await;
        }
        let Some(member) = self.members.remove(who) else { return };
        for r in member.receiving.values() {
            self.streams.remove(&r.key);
            self.media.close(r.key).await;
        }
        if role == LessonRole::Teacher && !self.members.values().any(|m| m.role == LessonRole::Teacher) {
            self.set_shared(|s| s.teacher_present = false);
        }
        self.broadcast(None, ServerMsg::ParticipantLeft { participant_id: who.clone() });
    }

    async fn end(&mut self) {
        self.broadcast(None, ServerMsg::LessonEnded);
        let keys: Vec<StreamKey> = self.streams.keys().copied().collect();
        for key in keys {
            self.media.close(key).await;
        }
        self.streams.clear();
        self.members.clear();
        self.set_shared(|s| {
            s.live = false;
            s.teacher_present = false;
        });
    }

    async fn media_event(&mut self, event: MediaEvent) {
        let MediaEvent::Gone(key) = event else { return };
        let Some((owner, stream_id)) = self.streams.remove(&key) else { return };
        let Some(member) = self.members.get_mut(&owner) else { return };
        if member.publishing.contains_key(&stream_id) {
            let _ = self.unpublish(&owner, &stream_id, false).await;
        } else if member.receiving.remove(&stream_id).is_some() {
            self.send(&owner, ServerMsg::StreamEnded { stream_id });
        }
    }
}
