//! The admission gate: one pure function over a snapshot of facts.
//!
//! It runs when a join ticket is issued and again when the WebSocket joins, so a pupil whose
//! situation changed in between is still refused. Callers gather [`Facts`] from the directory
//! and the live lesson; nothing here reads a clock or a store, so every branch is tested below.
//! Trusted domains and consent arrive with the directory issue as more facts and more reasons.

use crate::error::ErrorCode;
use crate::proto::LessonRole;

/// The user's role in their school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchoolRole {
    Teacher,
    Pupil,
}

/// Everything the gate needs to know, gathered at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub role: SchoolRole,
    /// The user belongs to the school that owns the class.
    pub same_school: bool,
    /// The user teaches this class.
    pub teaches_class: bool,
    /// The user is a pupil on this class's roster.
    pub on_roster: bool,
    /// The lesson has started and not ended.
    pub lesson_live: bool,
    /// The class's teacher is connected to the lesson.
    pub teacher_present: bool,
    /// The teacher removed this user from this lesson.
    pub removed: bool,
}

/// The gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admit(LessonRole),
    Refuse(ErrorCode),
}

/// Decides whether this user may join this lesson now.
pub fn decide(f: &Facts) -> Decision {
    use Decision::*;
    if !f.same_school {
        return Refuse(ErrorCode::WrongSchool);
    }
    if !f.lesson_live {
        return Refuse(ErrorCode::LessonNotLive);
    }
    match f.role {
        SchoolRole::Teacher if f.teaches_class => Admit(LessonRole::Teacher),
        // Staff who do not teach the class wait in a lobby once the directory lands; until
        // then they are refused.
        SchoolRole::Teacher => Refuse(ErrorCode::ForbiddenRole),
        SchoolRole::Pupil if !f.on_roster => Refuse(ErrorCode::NotOnRoster),
        SchoolRole::Pupil if f.removed => Refuse(ErrorCode::RemovedByTeacher),
        SchoolRole::Pupil if !f.teacher_present => Refuse(ErrorCode::TeacherAbsent),
        SchoolRole::Pupil => Admit(LessonRole::Pupil),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pupil() -> Facts {
        Facts {
            role: SchoolRole::Pupil,
            same_school: true,
            teaches_class: false,
            on_roster: true,
            lesson_live: true,
            teacher_present: true,
            removed: false,
        }
    }

    #[test]
    fn every_branch() {
        assert_eq!(decide(&pupil()), Decision::Admit(LessonRole::Pupil));
        let cases = [
            (Facts { same_school: false, ..pupil() }, ErrorCode::WrongSchool),
            (Facts { lesson_live: false, ..pupil() }, ErrorCode::LessonNotLive),
            (Facts { on_roster: false, ..pupil() }, ErrorCode::NotOnRoster),
            (Facts { removed: true, ..pupil() }, ErrorCode::RemovedByTeacher),
            (Facts { teacher_present: false, ..pupil() }, ErrorCode::TeacherAbsent),
            (Facts { role: SchoolRole::Teacher, ..pupil() }, ErrorCode::ForbiddenRole),
        ];
        for (facts, code) in cases {
            assert_eq!(decide(&facts), Decision::Refuse(code), "{facts:?}");
        }
        let teacher = Facts { role: SchoolRole::Teacher, teaches_class: true, teacher_present: false, on_roster: false, ..pupil() };
        assert_eq!(decide(&teacher), Decision::Admit(LessonRole::Teacher));
        assert_eq!(decide(&Facts { lesson_live: false, ..teacher }), Decision::Refuse(ErrorCode::LessonNotLive));
    }

    proptest! {
        /// No input admits a pupil who is off the roster, from another school, removed, or
        /// joining a lesson that is not live or has no teacher.
        #[test]
        fn no_pupil_admitted_without_every_condition(
            same_school: bool, teaches_class: bool, on_roster: bool, lesson_live: bool,
            teacher_present: bool, removed: bool,
        ) {
            let f = Facts { role: SchoolRole::Pupil, same_school, teaches_class, on_roster, lesson_live, teacher_present, removed };
            if decide(&f) == Decision::Admit(LessonRole::Pupil) {
                prop_assert!(same_school && on_roster && lesson_live && teacher_present && !removed);
            }
            prop_assert!(decide(&f) != Decision::Admit(LessonRole::Teacher));
        }
    }
}
