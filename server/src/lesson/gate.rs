//! The admission gate at the two stages of a join, with its record. A join meets the gate twice:
//! when the join ticket is issued (the pupil's answer over HTTP, `app::Lessons::admit`) and in
//! the lesson task at the moment it seats them (the authority: race-free, and the same task
//! that enforces revocations while the lesson runs). The WebSocket between the two runs no
//! gate of its own: the ticket it redeems already carries the admitted identity, bound to the
//! session and `Origin` that asked for it, for 30 s, once.
//!
//! The home page asks the gate too, before any join ([`preview`]): that answer is recorded
//! nowhere, since nobody asked to join.
//!
//! Each run appends its decision to the audit chain (`admission.admit`, `admission.lobby`,
//! `admission.refuse`, with `at`: the stage). A refusal also goes into the livestream log, and
//! the same refusal repeated is counted on its first event and audited once
//! (`Store::log_refusal`), whichever stage refused.

use serde::Serialize;

use livegate_core::admission::{decide, Decision, Facts};
use livegate_core::ids::{LessonId, UserId};

use super::{facts, LessonHandle};
use crate::store::log::{EventKind, NewEvent};
use crate::store::{self, now_ms, MemberKind, Store, UserRecord};

/// Where in a join the gate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `POST /api/lessons/{id}/ticket`.
    Ticket,
    /// The lesson task, seating the holder of a redeemed ticket.
    Join,
    /// `GET /api/lessons/{id}`: the lesson's page, opened by someone the gate would refuse
    /// (a link to another class's lesson). Only refusals are recorded here.
    Page,
}

impl Stage {
    /// The stage as the audit entry's `at` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ticket => "ticket",
            Stage::Join => "join",
            Stage::Page => "page",
        }
    }
}

/// An admission decision's detail on the audit chain.
#[derive(Serialize)]
struct AuditDetail<'a> {
    lesson: &'a LessonId,
    user: &'a UserId,
    at: &'static str,
    reason: Option<&'static str>,
}

/// Runs the gate for `user` with the lesson's facts now, and records the decision.
pub async fn run(store: &Store, user: &UserRecord, lesson: &LessonHandle, stage: Stage) -> store::Result<Decision> {
    let decision = decide(&facts::gather(store, user, lesson).await?);
    record(store, user, lesson, stage, decision).await?;
    Ok(decision)
}

/// What the gate would decide for `user`, whose own facts are `person` ([`facts::person`]), on
/// a class where they are `membership`, for its live `lesson` or, with none, for one live with
/// its teacher in it. Records nothing: the home page shows it so a pupil who cannot join is
/// told why, and who to ask, before they try (and only trying is a refusal the log keeps).
pub fn preview(
    person: Facts,
    user: &UserId,
    membership: Option<MemberKind>,
    lesson: Option<&LessonHandle>,
) -> Decision {
    let facts = facts::member_of(person, membership);
    decide(&match lesson {
        Some(lesson) => facts::in_lesson(facts, user, lesson),
        None => facts,
    })
}

/// Appends a decision taken at `stage` to the audit chain and, for a refusal, the livestream
/// log. Also used for a refusal the gate did not need to run for: a ticket redeemed for a
/// lesson that has ended meanwhile (`lesson_not_live`).
pub async fn record(
    store: &Store,
    user: &UserRecord,
    lesson: &LessonHandle,
    stage: Stage,
    decision: Decision,
) -> store::Result<()> {
    if let Decision::Refuse(code) = decision {
        crate::telemetry::join_refused(code);
    }
    let (action, reason) = match decision {
        Decision::Admit(_) => ("admission.admit", None),
        Decision::Lobby => ("admission.lobby", None),
        Decision::Refuse(code) => ("admission.refuse", Some(code.as_str())),
    };
    let detail = serde_json::to_value(AuditDetail {
        lesson: &lesson.info.id,
        user: &user.id,
        at: stage.as_str(),
        reason,
    })
    .expect("an audit detail serialises");
    let Some(reason) = reason else {
        return store.audit(&lesson.info.school, user.id.as_str(), action, detail).await;
    };
    let e = NewEvent {
        lesson: lesson.info.id.clone(),
        school: lesson.info.school.clone(),
        at: now_ms(),
        kind: EventKind::Refused,
        actor: None,
        subject: Some(user.id.clone()),
        detail: Some(reason.to_owned()),
    };
    let first = store.log_refusal(&e, user.id.as_str(), action, &detail).await?;
    let (lesson, user, at) = (&lesson.info.id, &user.id, stage.as_str());
    tracing::info!(%lesson, %user, reason, at, repeated = !first, "admission refused");
    Ok(())
}
