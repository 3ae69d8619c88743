//! The admission gate's facts about one person and one lesson, now: what the store says (roster,
//! trusted domain, consent) and what the lesson itself knows (live, teacher present, removed,
//! recorder healthy). The gate (`livegate_core::admission::decide`) turns them into a decision.
//!
//! It lives with the lesson because the lesson asks it at every join and whenever the directory
//! changes ([`super::enforce`]); the application layer asks it at the ticket. It reads the
//! store and the lesson's [`super::Shared`]; it never imports anything above the lesson.

use livegate_core::admission::Facts;
use livegate_core::school::{ConsentState, Role};

use super::LessonHandle;
use crate::store::{self, MemberKind, Store, UserRecord};

/// Gathers the gate's facts from the store and the live lesson.
pub async fn gather(store: &Store, user: &UserRecord, lesson: &LessonHandle) -> store::Result<Facts> {
    let membership = store.membership(&lesson.info.class, &user.id).await?;
    let domain_trusted = store.domain_trusted(&user.school, user.email.domain()).await?;
    let school_disabled = store.school_disabled(&lesson.info.school).await?;
    let consent = if user.role == Role::Pupil {
        store.consent_state(&user.school, &user.id).await?
    } else {
        ConsentState::Missing
    };
    #[cfg(test)]
    {
        let mut shared = lesson.shared.lock().expect("lesson lock");
        *shared.gathered.entry(user.id.clone()).or_default() += 1;
    }
    let shared = lesson.shared.lock().expect("lesson lock");
    Ok(Facts {
        role: user.role,
        account_disabled: user.disabled,
        school_disabled,
        same_school: user.school == lesson.info.school,
        domain_trusted,
        teaches_class: membership == Some(MemberKind::Teacher),
        on_roster: membership == Some(MemberKind::Pupil),
        consent,
        lesson_live: shared.live,
        teacher_present: shared.teacher_present,
        removed: shared.removed.contains(&user.id),
        recording_ok: crate::recording::LessonRecorder::healthy(lesson.info.recorder.as_ref()),
    })
}
