//! Live enforcement (design rule 1): whenever the store announces a change to the school's
//! directory (consent withdrawn or opted out, a pupil taken off the roster, a trusted domain
//! removed, an account disabled, a privacy profile set), the lesson runs the admission gate
//! again for everyone in it and in its lobby. Anyone the gate now refuses is removed at once
//! with the gate's reason and their streams closed, and the revocation goes on the audit chain.
//! Pupils who stay get their current privacy profile applied.
//!
//! A school the operator has disabled (`livegate school disable`, perhaps from another process:
//! the store follows the audit chain for that) ends the lesson itself, for everyone at once,
//! rather than removing each person and leaving an empty lesson live until the teacher-absent
//! timeout.
//!
//! Whether the teacher happens to be connected is not a directory change, so the re-check
//! treats the teacher as present: pupils are not thrown out while their teacher reconnects.

use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Instant;

use livegate_core::codes::ErrorCode;

use super::journal::Left;
use super::Lesson;
use crate::store::log::EventKind;
use livegate_core::admission::Decision;
use livegate_core::ids::{ParticipantId, SchoolId, UserId};
use livegate_core::proto::{LessonRole, ServerMsg};
use livegate_core::school::PrivacyProfile;

/// How soon a re-check that could not read the store is tried again.
const RETRY: Duration = Duration::from_millis(500);

/// Waits for an announcement that concerns `school`. A receiver that fell behind has missed
/// some, so it asks for a re-check too; once the store is gone it waits forever.
pub(super) async fn next_change(changes: &mut Option<broadcast::Receiver<SchoolId>>, school: &SchoolId) {
    loop {
        let Some(rx) = changes.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Ok(s) if &s == school => return,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => *changes = None,
        }
    }
}

/// Discards announcements already queued: the re-check about to run covers them.
pub(super) fn drain(changes: &mut Option<broadcast::Receiver<SchoolId>>) {
    let Some(rx) = changes.as_mut() else { return };
    loop {
        match rx.try_recv() {
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(TryRecvError::Empty | TryRecvError::Closed) => return,
        }
    }
}

/// What the re-check concluded for one person.
enum Verdict {
    /// They stay; a pupil's current privacy profile comes along.
    Keep(Option<PrivacyProfile>),
    /// They go, for this reason.
    Remove(ErrorCode),
}

impl Lesson {
    /// Runs the gate again for every member and everyone in the lobby.
    pub(super) async fn recheck(&mut self) {
        self.recheck_at = None;
        match self.store.school_disabled(&self.handle.info.school).await {
            Ok(true) => {
                tracing::info!(lesson = %self.handle.info.id, "the school was disabled; ending the lesson");
                self.end(super::journal::Ended::SchoolDisabled).await;
                return;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(lesson = %self.handle.info.id, error = %e, "re-check could not read the store; retrying");
                self.recheck_at = Some(Instant::now() + RETRY);
                return;
            }
        }
        let people: Vec<(ParticipantId, UserId, Option<LessonRole>)> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.user.clone(), Some(m.role)))
            .chain(self.lobby.iter().map(|(id, w)| (id.clone(), w.user.clone(), None)))
            .collect();
        for (id, user, role) in people {
            match self.verdict(&user, role).await {
                Ok(Verdict::Keep(Some(profile))) => self.apply_privacy(&id, profile).await,
                Ok(Verdict::Keep(None)) => {}
                Ok(Verdict::Remove(code)) => self.revoke(&id, &user, code).await,
                Err(e) => {
                    // Nobody is removed on a guess; the whole check runs again shortly. (Stop
                    // here: with the database down each further read would wait for it too,
                    // holding up the lesson's task.)
                    tracing::error!(lesson = %self.handle.info.id, error = %e, "re-check could not read the store; retrying");
                    self.recheck_at = Some(Instant::now() + RETRY);
                    return;
                }
            }
        }
    }

    /// The gate's answer for someone already present as `role` (`None`: in the lobby).
    async fn verdict(&self, user: &UserId, role: Option<LessonRole>) -> crate::store::Result<Verdict> {
        let Some(record) = self.store.user(user).await? else {
            return Ok(Verdict::Remove(ErrorCode::AccountDisabled));
        };
        let mut facts = super::facts::gather(&self.store, &record, &self.handle).await?;
        facts.teacher_present = true;
        let keep = match (role, livegate_core::admission::decide(&facts)) {
            (_, Decision::Refuse(code)) => return Ok(Verdict::Remove(code)),
            (Some(LessonRole::Teacher), Decision::Admit(LessonRole::Teacher)) => true,
            (Some(LessonRole::Pupil), Decision::Admit(LessonRole::Pupil)) => true,
            // A guest or a waiting person who now teaches the class may stay as they are.
            (Some(LessonRole::Guest) | None, Decision::Lobby | Decision::Admit(LessonRole::Teacher)) => true,
            // A teacher taken off the class is no longer on its roster.
            (Some(LessonRole::Teacher), Decision::Lobby) => return Ok(Verdict::Remove(ErrorCode::NotOnRoster)),
            _ => false,
        };
        if !keep {
            // Their role at the school changed under them (a pupil became staff, or back).
            return Ok(Verdict::Remove(ErrorCode::ForbiddenRole));
        }
        let profile = match role {
            Some(LessonRole::Pupil) => Some(self.store.privacy(user).await?),
            _ => None,
        };
        Ok(Verdict::Keep(profile))
    }

    /// Removes someone the gate no longer admits, then records why.
    async fn revoke(&mut self, id: &ParticipantId, user: &UserId, code: ErrorCode) {
        tracing::info!(lesson = %self.handle.info.id, participant = %id, %user, reason = code.as_str(), "admission revoked");
        self.journal_event(EventKind::AdmissionRevoked, None, Some(user), Some(code.as_str()));
        self.send(id, ServerMsg::Removed { reason: code });
        self.leave(id, Left::Gate(code)).await;
        self.audit(user, "admission.revoke", user, Some(code)).await;
    }
}
