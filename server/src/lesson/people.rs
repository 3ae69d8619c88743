//! The people in a lesson and what each of them may see of the others.
//!
//! A pupil's privacy profile (policy 40.8) shapes every participant view the lesson sends. The
//! teacher sees everyone by their real name, with the profile. A pupil sees themself in full.
//! Other pupils and guests see an aliased pupil only by the alias, do not see a pupil hidden
//! from pupils in any list (nor hear that they joined or left), and never learn that a profile
//! exists. Guests are staff from elsewhere, so they get the pupils' view, not the teacher's.

use std::collections::{BTreeSet, HashMap};

use super::outbox::Outbox;
use super::Lesson;
use crate::media::{OfferSummary, StreamKey};
use livegate_core::ids::{ParticipantId, StreamId, UserId};
use livegate_core::proto::{LessonRole, Media, Participant, PrivacyView, ServerMsg, StreamKind};
use livegate_core::school::PrivacyProfile;

pub(super) struct Published {
    pub key: StreamKey,
    pub kind: StreamKind,
    pub summary: OfferSummary,
}

pub(super) struct Receiving {
    pub key: StreamKey,
    pub publisher: ParticipantId,
    pub source: StreamId,
}

/// Who is taking a seat: enough to build a [`Member`].
pub(super) struct Seat {
    pub user: UserId,
    pub name: String,
    pub outbox: Outbox,
    /// A summary of their browser and system, for the livestream log.
    pub device: String,
}

pub(super) struct Member {
    pub user: UserId,
    pub name: String,
    pub role: LessonRole,
    pub outbox: Outbox,
    pub grants: BTreeSet<Media>,
    pub hand: bool,
    pub publishing: HashMap<StreamId, Published>,
    pub receiving: HashMap<StreamId, Receiving>,
    /// A pupil's privacy profile; the default for everyone else.
    pub privacy: PrivacyProfile,
}

/// How a viewer sees a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sight {
    /// Themself.
    Own,
    /// The class's teacher.
    Teacher,
    /// A pupil or a guest looking at someone else.
    Classmate,
}

impl Member {
    /// This member as a viewer with `sight` sees them; `None` if hidden from that viewer.
    pub fn view(&self, id: &ParticipantId, sight: Sight) -> Option<Participant> {
        let p = &self.privacy;
        if sight == Sight::Classmate && p.hidden_from_pupils {
            return None;
        }
        let display_name = match (sight, &p.alias) {
            (Sight::Classmate, Some(alias)) => alias.clone(),
            _ => self.name.clone(),
        };
        let privacy = (sight != Sight::Classmate && *p != PrivacyProfile::default()).then(|| PrivacyView {
            camera_always_off: p.camera_always_off,
            alias: p.alias.clone(),
            hidden_from_pupils: p.hidden_from_pupils,
        });
        let mut publishing: Vec<StreamKind> = self.publishing.values().map(|p| p.kind).collect();
        publishing.sort_by_key(|k| *k as u8);
        Some(Participant {
            id: id.clone(),
            display_name,
            role: self.role,
            grants: self.grants.iter().copied().collect(),
            hand_raised: self.hand,
            publishing,
            privacy,
        })
    }

    pub fn uses(&self, id: &StreamId) -> bool {
        self.publishing.contains_key(id) || self.receiving.contains_key(id)
    }
}

/// Each member's view of one participant, keyed by viewer.
type Views = Vec<(ParticipantId, Option<Participant>)>;

impl Lesson {
    /// How `viewer` sees `subject`, if `viewer` is a member.
    fn sight(&self, viewer: &ParticipantId, subject: &ParticipantId) -> Option<Sight> {
        let role = self.members.get(viewer)?.role;
        Some(if viewer == subject {
            Sight::Own
        } else if role == LessonRole::Teacher {
            Sight::Teacher
        } else {
            Sight::Classmate
        })
    }

    /// `subject` as `viewer` sees them; `None` if either is gone or `subject` is hidden.
    pub(super) fn view_of(&self, subject: &ParticipantId, viewer: &ParticipantId) -> Option<Participant> {
        self.members.get(subject)?.view(subject, self.sight(viewer, subject)?)
    }

    /// The participant list `viewer` may see.
    pub(super) fn participants_for(&self, viewer: &ParticipantId) -> Vec<Participant> {
        self.members.keys().filter_map(|id| self.view_of(id, viewer)).collect()
    }

    /// Every member's current view of `subject`.
    fn views_of(&self, subject: &ParticipantId) -> Views {
        self.members
            .keys()
            .map(|v| (v.clone(), self.view_of(subject, v)))
            .collect()
    }

    /// Tells everyone who can see `who` how they look now.
    pub(super) fn announce(&mut self, who: &ParticipantId) {
        for (viewer, view) in self.views_of(who) {
            if let Some(participant) = view {
                self.send(&viewer, ServerMsg::ParticipantUpdated { participant });
            }
        }
    }

    /// Tells each member what changed about `who` since `before`: they appeared, vanished
    /// (a profile now hides them) or look different.
    fn announce_change(&mut self, who: &ParticipantId, before: Views) {
        let before: HashMap<ParticipantId, Option<Participant>> = before.into_iter().collect();
        for (viewer, now) in self.views_of(who) {
            let was = before.get(&viewer).cloned().flatten();
            let msg = match (was, now) {
                (None, Some(participant)) => ServerMsg::ParticipantJoined { participant },
                (Some(_), None) => ServerMsg::ParticipantLeft {
                    participant_id: who.clone(),
                },
                (Some(old), Some(participant)) if old != participant => ServerMsg::ParticipantUpdated { participant },
                _ => continue,
            };
            self.send(&viewer, msg);
        }
    }

    /// Seats someone in the lesson: `joined` to them, `participant_joined` to whoever may see
    /// them, the lobby to a teacher, and an offer of every stream already published.
    pub(super) async fn seat(&mut self, id: ParticipantId, seat: Seat, role: LessonRole, privacy: PrivacyProfile) {
        self.journal_seat(&id, &seat, role);
        let member = Member {
            user: seat.user,
            name: seat.name,
            role,
            outbox: seat.outbox,
            grants: BTreeSet::new(),
            hand: false,
            publishing: HashMap::new(),
            receiving: HashMap::new(),
            privacy,
        };
        self.members.insert(id.clone(), member);
        if role == LessonRole::Teacher {
            self.teachers_changed();
        }
        let joined = ServerMsg::Joined {
            participant_id: id.clone(),
            role,
            lesson: self.handle.summary(),
            participants: self.participants_for(&id),
            grants: Vec::new(),
        };
        self.send(&id, joined);
        if role == LessonRole::Teacher && !self.lobby.is_empty() {
            let waiting = self.lobby_entries();
            self.send(&id, ServerMsg::LobbyUpdated { waiting });
        }
        let others: Vec<ParticipantId> = self.members.keys().filter(|v| **v != id).cloned().collect();
        for viewer in others {
            if let Some(participant) = self.view_of(&id, &viewer) {
                self.send(&viewer, ServerMsg::ParticipantJoined { participant });
            }
        }
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

    /// Applies a pupil's new privacy profile at once: a camera the profile forbids is revoked
    /// and its stream closed, and everyone's view of the pupil changes to match.
    pub(super) async fn apply_privacy(&mut self, who: &ParticipantId, profile: PrivacyProfile) {
        let Some(member) = self.members.get(who) else { return };
        if member.privacy == profile {
            return;
        }
        let before = self.views_of(who);
        let lock_camera = profile.camera_always_off && member.grants.contains(&Media::Camera);
        if let Some(member) = self.members.get_mut(who) {
            member.privacy = profile;
        }
        if lock_camera {
            self.set_grant(who, Media::Camera, false).await;
        }
        self.announce_change(who, before);
    }
}
