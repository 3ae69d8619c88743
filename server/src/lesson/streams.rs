//! Streams in a lesson: publishing (only what the sender may send), offering every stream to
//! every other member, answers and candidates, grants and their revocation, and streams that
//! end because a peer connection went away.

use livegate_core::codes::ErrorCode;

use super::people::{Published, Receiving};
use super::{Lesson, Refusal};
use crate::media::{check_offer, MediaEvent, Tap};
use crate::recording::{RecorderMsg, StreamSource as RecordedSource};
use crate::store::log::EventKind;
use livegate_core::ids::{ParticipantId, Redacted, StreamId};
use livegate_core::proto::{CandidateInit, LessonRole, Media, ServerMsg, StreamKind};
use livegate_sfu::TrackKind;

/// Who the recording says published a stream: the person (one timeline per person and kind
/// across rejoins) and the name others see in the lesson, a pupil's alias where one is set.
fn recorded_source(member: &super::people::Member, kind: StreamKind) -> RecordedSource {
    RecordedSource {
        person: member.user.clone(),
        role: member.role,
        kind,
        name: Redacted(member.privacy.alias.clone().unwrap_or_else(|| member.name.clone())),
        alias: member.privacy.alias.is_some(),
    }
}

impl Lesson {
    pub(super) async fn publish(
        &mut self,
        from: &ParticipantId,
        stream_id: StreamId,
        kind: StreamKind,
        sdp: String,
    ) -> Result<(), Refusal> {
        let fail = |code| (code, Some(stream_id.clone()));
        let member = self.members.get(from).ok_or(fail(ErrorCode::Internal))?;
        if member.uses(&stream_id) {
            return Err(fail(ErrorCode::DuplicateStream));
        }
        // A privacy profile overrides any grant: this pupil's camera never goes out.
        if kind == StreamKind::Camera && member.privacy.camera_always_off {
            return Err(fail(ErrorCode::CameraAlwaysOff));
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
        let recorder = self.handle.info.recorder.clone();
        if let Some(r) = &recorder {
            r.send(RecorderMsg::StreamStarted {
                stream: key,
                video: summary.video,
                audio: summary.audio,
                source: Some(recorded_source(member, kind)),
            });
        }
        let tap = recorder.clone().map(|r| Box::new(r) as Box<dyn Tap>);
        let answer = match self.media.publish(key, sdp, summary, self.media_tx.clone(), tap).await {
            Ok(answer) => answer,
            Err(code) => {
                if let Some(r) = &recorder {
                    r.send(RecorderMsg::StreamEnded(key));
                }
                return Err(fail(code));
            }
        };
        let Some(member) = self.members.get_mut(from) else {
            self.media.close(key).await;
            return Ok(());
        };
        member
            .publishing
            .insert(stream_id.clone(), Published { key, kind, summary });
        self.streams.insert(key, (from.clone(), stream_id.clone()));
        self.send(
            from,
            ServerMsg::Answer {
                stream_id: stream_id.clone(),
                sdp: answer,
            },
        );
        self.announce(from);
        let others: Vec<ParticipantId> = self.members.keys().filter(|id| *id != from).cloned().collect();
        for other in others {
            self.offer_stream(&other, from, &stream_id).await;
        }
        Ok(())
    }

    /// Opens a receive peer for `to` carrying `publisher`'s stream and sends its offer.
    pub(super) async fn offer_stream(&mut self, to: &ParticipantId, publisher: &ParticipantId, source: &StreamId) {
        let Some(p) = self.members.get(publisher).and_then(|m| m.publishing.get(source)) else {
            return;
        };
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
        member.receiving.insert(
            stream_id.clone(),
            Receiving {
                key,
                publisher: publisher.clone(),
                source: source.clone(),
            },
        );
        self.streams.insert(key, (to.clone(), stream_id.clone()));
        self.send(
            to,
            ServerMsg::Offer {
                stream_id,
                publisher_id: publisher.clone(),
                kind,
                sdp: offer,
            },
        );
    }

    pub(super) async fn answer(
        &mut self,
        from: &ParticipantId,
        stream_id: StreamId,
        sdp: String,
    ) -> Result<(), Refusal> {
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

    pub(super) async fn candidate(
        &mut self,
        from: &ParticipantId,
        stream_id: StreamId,
        candidate: Option<CandidateInit>,
    ) -> Result<(), Refusal> {
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
    pub(super) async fn unpublish(
        &mut self,
        publisher: &ParticipantId,
        stream_id: &StreamId,
        by_client: bool,
    ) -> Result<(), Refusal> {
        let published = self
            .members
            .get_mut(publisher)
            .and_then(|m| m.publishing.remove(stream_id))
            .ok_or((ErrorCode::UnknownStream, Some(stream_id.clone())))?;
        self.streams.remove(&published.key);
        self.media.close(published.key).await;
        if let Some(r) = &self.handle.info.recorder {
            r.send(RecorderMsg::StreamEnded(published.key));
        }
        if !by_client {
            self.send(
                publisher,
                ServerMsg::StreamEnded {
                    stream_id: stream_id.clone(),
                },
            );
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

    /// The teacher's `grant` or `revoke`, for a pupil or a guest.
    pub(super) async fn grant(
        &mut self,
        by: &ParticipantId,
        target: &ParticipantId,
        media: Media,
        allow: bool,
    ) -> Result<(), Refusal> {
        let member = self.members.get(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role == LessonRole::Teacher {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        if allow && media == Media::Camera && member.privacy.camera_always_off {
            return Err((ErrorCode::CameraAlwaysOff, None));
        }
        let subject = member.user.clone();
        // A grant answers a raised hand: the hand goes down with it.
        if allow {
            if let Some(m) = self.members.get_mut(target) {
                m.hand = false;
            }
        }
        self.set_grant(target, media, allow).await;
        self.announce(target);
        let kind = if allow { EventKind::Granted } else { EventKind::Revoked };
        self.journal_event(
            kind,
            self.user_of(by).as_ref(),
            Some(&subject),
            Some(super::journal::media_name(media)),
        );
        Ok(())
    }

    /// Changes a grant, tells its holder, and ends at once every stream that relied on a
    /// grant now gone.
    pub(super) async fn set_grant(&mut self, target: &ParticipantId, media: Media, allow: bool) {
        let Some(member) = self.members.get_mut(target) else {
            return;
        };
        if allow {
            member.grants.insert(media);
        } else {
            member.grants.remove(&media);
        }
        let grants = member.grants.iter().copied().collect();
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
    }

    pub(super) async fn mute(&mut self, by: &ParticipantId, target: &ParticipantId) -> Result<(), Refusal> {
        let member = self.members.get(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        if member.role == LessonRole::Teacher {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        let subject = member.user.clone();
        let ids: Vec<StreamId> = member.publishing.keys().cloned().collect();
        for id in ids {
            let _ = self.unpublish(target, &id, false).await;
        }
        self.journal_event(EventKind::Muted, self.user_of(by).as_ref(), Some(&subject), None);
        Ok(())
    }

    pub(super) async fn media_event(&mut self, event: MediaEvent) {
        let MediaEvent::Gone(key) = event else { return };
        let Some((owner, stream_id)) = self.streams.remove(&key) else {
            return;
        };
        let Some(member) = self.members.get_mut(&owner) else {
            return;
        };
        if member.publishing.contains_key(&stream_id) {
            let _ = self.unpublish(&owner, &stream_id, false).await;
        } else if member.receiving.remove(&stream_id).is_some() {
            self.send(&owner, ServerMsg::StreamEnded { stream_id });
        }
    }
}
