//! The admission gate's facts about one person and one lesson, now: what the store says (roster,
//! trusted domain, consent) and what the lesson itself knows (live, teacher present, removed,
//! recorder healthy). The gate (`livegate_core::admission::decide`) turns them into a decision.
//!
//! It lives with the lesson because the lesson asks it at every join and whenever the directory
//! changes ([`super::enforce`]); the application layer asks it at the ticket. It reads the
//! store and the lesson's [`super::Shared`]; it never imports anything above the lesson.

use livegate_core::admission::Facts;
use livegate_core::ids::{SchoolId, UserId};
use livegate_core::school::{ConsentState, Role};

use super::LessonHandle;
use crate::store::{self, MemberKind, Store, UserRecord};

/// Gathers the gate's facts from the store and the live lesson.
pub async fn gather(store: &Store, user: &UserRecord, lesson: &LessonHandle) -> store::Result<Facts> {
    let membership = store.membership(&lesson.info.class, &user.id).await?;
    let person = person(store, user, &lesson.info.school).await?;
    #[cfg(test)]
    {
        let mut shared = lesson.shared.lock().expect("lesson lock");
        *shared.gathered.entry(user.id.clone()).or_default() += 1;
    }
    Ok(in_lesson(member_of(person, membership), &user.id, lesson))
}

/// The facts about the person alone, for a lesson of `school`: their account, school, trusted
/// domain and consent. The rest is taken as a lesson would be at its best (live, its teacher
/// in it, recording, nobody removed) and the person on no class, until [`member_of`] and
/// [`in_lesson`] say otherwise: the home page asks this once for all of a pupil's classes.
pub async fn person(store: &Store, user: &UserRecord, school: &SchoolId) -> store::Result<Facts> {
    let domain_trusted = store.domain_trusted(&user.school, user.email.domain()).await?;
    let school_disabled = store.school_disabled(school).await?;
    let consent = if user.role == Role::Pupil {
        store.consent_state(&user.school, &user.id).await?
    } else {
        ConsentState::Missing
    };
    Ok(Facts {
        role: user.role,
        account_disabled: user.disabled,
        school_disabled,
        same_school: &user.school == school,
        domain_trusted,
        teaches_class: false,
        on_roster: false,
        consent,
        lesson_live: true,
        teacher_present: true,
        removed: false,
        recording_ok: true,
    })
}

/// The person's facts with their place on the class (`None`: not on it).
pub fn member_of(facts: Facts, membership: Option<MemberKind>) -> Facts {
    Facts {
        teaches_class: membership == Some(MemberKind::Teacher),
        on_roster: membership == Some(MemberKind::Pupil),
        ..facts
    }
}

/// The facts with what the live lesson knows now: live, teacher present, whether it removed
/// `user`, recording.
pub fn in_lesson(facts: Facts, user: &UserId, lesson: &LessonHandle) -> Facts {
    let shared = lesson.shared.lock().expect("lesson lock");
    Facts {
        lesson_live: shared.live,
        teacher_present: shared.teacher_present,
        removed: shared.removed.contains(user),
        recording_ok: crate::recording::LessonRecorder::healthy(lesson.info.recorder.as_ref()),
        ..facts
    }
}
