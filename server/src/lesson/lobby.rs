//! The lobby (policy 40.4.3): staff from the school's trusted domains who do not teach the
//! class wait here, connected but receiving nothing of the lesson, until a teacher of the
//! class admits them as a guest or refuses them. Nobody off the trusted domains reaches it:
//! the gate refuses them first, and a directory change that makes a waiting person
//! inadmissible removes them from the lobby like anyone else.

use livegate_core::codes::ErrorCode;

use super::outbox::Outbox;
use super::people::Seat;
use super::{JoinRequest, Lesson, Refusal};
use crate::store::log::EventKind;
use livegate_core::ids::{ParticipantId, UserId};
use livegate_core::proto::{LessonRole, LobbyEntry, ServerMsg};
use livegate_core::school::{PrivacyProfile, Role};

/// Someone waiting to be let in.
pub(super) struct Waiting {
    pub user: UserId,
    pub name: String,
    pub role: Role,
    pub domain: String,
    pub outbox: Outbox,
    pub device: String,
}

impl Lesson {
    pub(super) fn in_lobby(&self, id: &ParticipantId) -> bool {
        self.lobby.iter().any(|(w, _)| w == id)
    }

    /// Puts a gated staff member in the lobby and tells them and the teachers.
    pub(super) async fn enter_lobby(&mut self, req: JoinRequest) {
        let id = ParticipantId::generate();
        if req.reply.send(Ok(id.clone())).is_err() {
            return;
        }
        let waiting = Waiting {
            user: req.user.id.clone(),
            name: req.user.display_name.clone(),
            role: req.user.role,
            domain: req.user.email.domain().to_owned(),
            outbox: Outbox::new(req.outbox),
            device: req.device,
        };
        self.journal_event(EventKind::LobbyWaiting, None, Some(&waiting.user), None);
        self.lobby.push((id.clone(), waiting));
        tracing::info!(lesson = %self.handle.info.id, participant = %id, "waiting in the lobby");
        self.send(
            &id,
            ServerMsg::Lobby {
                participant_id: id.clone(),
                lesson: self.handle.summary(),
            },
        );
        self.lobby_changed();
    }

    pub(super) fn lobby_entries(&self) -> Vec<LobbyEntry> {
        self.lobby
            .iter()
            .map(|(id, w)| LobbyEntry {
                participant_id: id.clone(),
                display_name: w.name.clone(),
                role: w.role,
                domain: w.domain.clone(),
            })
            .collect()
    }

    /// Sends the lobby as it is now to every teacher in the lesson.
    pub(super) fn lobby_changed(&mut self) {
        let waiting = self.lobby_entries();
        let teachers: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| m.role == LessonRole::Teacher)
            .map(|(id, _)| id.clone())
            .collect();
        for t in teachers {
            self.send(
                &t,
                ServerMsg::LobbyUpdated {
                    waiting: waiting.clone(),
                },
            );
        }
    }

    fn take_waiting(&mut self, id: &ParticipantId) -> Option<Waiting> {
        let at = self.lobby.iter().position(|(w, _)| w == id)?;
        Some(self.lobby.remove(at).1)
    }

    /// Someone left the lobby (their socket closed, or they were replaced or removed).
    pub(super) fn leave_lobby(&mut self, id: &ParticipantId) {
        if self.take_waiting(id).is_some() {
            self.lobby_changed();
        }
    }

    /// The teacher's `admit`: the waiting person joins as a guest, keeping their participant id.
    pub(super) async fn admit(&mut self, by: &ParticipantId, target: &ParticipantId) -> Result<(), Refusal> {
        let waiting = self.take_waiting(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        let teacher = self
            .members
            .get(by)
            .map(|m| m.user.clone())
            .ok_or((ErrorCode::Internal, None))?;
        self.admitted_guests.insert(waiting.user.clone());
        self.audit(&teacher, "lobby.admit", &waiting.user, None).await;
        self.journal_event(EventKind::LobbyAdmitted, Some(&teacher), Some(&waiting.user), None);
        let seat = Seat {
            user: waiting.user,
            name: waiting.name,
            outbox: waiting.outbox,
            device: waiting.device,
        };
        self.seat(target.clone(), seat, LessonRole::Guest, PrivacyProfile::default())
            .await;
        self.lobby_changed();
        Ok(())
    }

    /// The teacher's `refuse`: the waiting person is told and disconnected, and may not knock
    /// again in this lesson.
    pub(super) async fn refuse(&mut self, by: &ParticipantId, target: &ParticipantId) -> Result<(), Refusal> {
        if !self.in_lobby(target) {
            return Err((ErrorCode::UnknownParticipant, None));
        }
        let teacher = self
            .members
            .get(by)
            .map(|m| m.user.clone())
            .ok_or((ErrorCode::Internal, None))?;
        self.send(
            target,
            ServerMsg::Removed {
                reason: ErrorCode::RefusedByTeacher,
            },
        );
        let waiting = self.take_waiting(target).ok_or((ErrorCode::UnknownParticipant, None))?;
        // Dropping the outbox closes their socket once the `removed` above is delivered.
        self.refused.insert(waiting.user.clone());
        self.audit(
            &teacher,
            "lobby.refuse",
            &waiting.user,
            Some(ErrorCode::RefusedByTeacher),
        )
        .await;
        self.journal_event(
            EventKind::LobbyRefused,
            Some(&teacher),
            Some(&waiting.user),
            Some(ErrorCode::RefusedByTeacher.as_str()),
        );
        self.lobby_changed();
        Ok(())
    }
}
