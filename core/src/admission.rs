//! The admission gate: one pure function over a snapshot of facts.
//!
//! It runs when a join ticket is issued, again when the WebSocket joins, and again for every
//! member of a live lesson whenever the school's directory changes (consent withdrawn, roster
//! or domain removed, account disabled), so nobody stays in a lesson the rules no longer allow.
//! Callers gather [`Facts`] from the store and the live lesson; nothing here reads a clock or
//! a database, so every branch is tested below.

use crate::codes::ErrorCode;
use crate::proto::LessonRole;
use crate::school::{ConsentState, Role};

/// Everything the gate needs to know, gathered at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub role: Role,
    pub account_disabled: bool,
    /// The operator disabled the lesson's school (`livegate school disable`): nobody is let in.
    pub school_disabled: bool,
    /// The user belongs to the school that owns the class.
    pub same_school: bool,
    /// The user's email domain is one of the school's trusted domains.
    pub domain_trusted: bool,
    /// The user teaches this class.
    pub teaches_class: bool,
    /// The user is a pupil on this class's roster.
    pub on_roster: bool,
    /// The pupil's code-of-conduct consent.
    pub consent: ConsentState,
    /// The lesson has started and not ended.
    pub lesson_live: bool,
    /// A teacher of the class is connected to the lesson.
    pub teacher_present: bool,
    /// The teacher removed this user from this lesson.
    pub removed: bool,
    /// The lesson is being recorded (Appendix D): without it no pupil is admitted.
    pub recording_ok: bool,
}

/// The gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Join now, with this role.
    Admit(LessonRole),
    /// Staff who do not teach the class wait for the teacher to admit them.
    Lobby,
    /// Not allowed, for this reason.
    Refuse(ErrorCode),
}

/// Decides whether this user may join this lesson now.
pub fn decide(f: &Facts) -> Decision {
    use Decision::*;
    if f.school_disabled {
        return Refuse(ErrorCode::SchoolDisabled);
    }
    if f.account_disabled {
        return Refuse(ErrorCode::AccountDisabled);
    }
    if !f.same_school {
        return Refuse(ErrorCode::WrongSchool);
    }
    // Nobody outside the trusted domains gets in, not even to the lobby.
    if !f.domain_trusted {
        return Refuse(ErrorCode::DomainNotTrusted);
    }
    if !f.lesson_live {
        return Refuse(ErrorCode::LessonNotLive);
    }
    if f.removed {
        return Refuse(ErrorCode::RemovedByTeacher);
    }
    if f.role.is_staff() {
        return if f.teaches_class && f.role == Role::Teacher {
            Admit(LessonRole::Teacher)
        } else {
            Lobby
        };
    }
    if !f.on_roster {
        return Refuse(ErrorCode::NotOnRoster);
    }
    match f.consent {
        ConsentState::Current => {}
        ConsentState::Missing => return Refuse(ErrorCode::ConsentMissing),
        ConsentState::Withdrawn => return Refuse(ErrorCode::ConsentWithdrawn),
        ConsentState::OptedOut => return Refuse(ErrorCode::ConsentOptedOut),
    }
    if !f.recording_ok {
        return Refuse(ErrorCode::RecordingUnavailable);
    }
    if !f.teacher_present {
        return Refuse(ErrorCode::TeacherAbsent);
    }
    Admit(LessonRole::Pupil)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pupil() -> Facts {
        Facts {
            role: Role::Pupil,
            account_disabled: false,
            school_disabled: false,
            same_school: true,
            domain_trusted: true,
            teaches_class: false,
            on_roster: true,
            consent: ConsentState::Current,
            lesson_live: true,
            teacher_present: true,
            removed: false,
            recording_ok: true,
        }
    }

    #[test]
    fn every_branch() {
        assert_eq!(decide(&pupil()), Decision::Admit(LessonRole::Pupil));
        let cases = [
            (
                Facts {
                    school_disabled: true,
                    account_disabled: true,
                    role: Role::Teacher,
                    teaches_class: true,
                    ..pupil()
                },
                ErrorCode::SchoolDisabled,
            ),
            (
                Facts {
                    account_disabled: true,
                    ..pupil()
                },
                ErrorCode::AccountDisabled,
            ),
            (
                Facts {
                    same_school: false,
                    ..pupil()
                },
                ErrorCode::WrongSchool,
            ),
            (
                Facts {
                    domain_trusted: false,
                    ..pupil()
                },
                ErrorCode::DomainNotTrusted,
            ),
            (
                Facts {
                    lesson_live: false,
                    ..pupil()
                },
                ErrorCode::LessonNotLive,
            ),
            (
                Facts {
                    removed: true,
                    ..pupil()
                },
                ErrorCode::RemovedByTeacher,
            ),
            (
                Facts {
                    on_roster: false,
                    ..pupil()
                },
                ErrorCode::NotOnRoster,
            ),
            (
                Facts {
                    consent: ConsentState::Missing,
                    ..pupil()
                },
                ErrorCode::ConsentMissing,
            ),
            (
                Facts {
                    consent: ConsentState::Withdrawn,
                    ..pupil()
                },
                ErrorCode::ConsentWithdrawn,
            ),
            (
                Facts {
                    consent: ConsentState::OptedOut,
                    ..pupil()
                },
                ErrorCode::ConsentOptedOut,
            ),
            (
                Facts {
                    teacher_present: false,
                    ..pupil()
                },
                ErrorCode::TeacherAbsent,
            ),
            (
                Facts {
                    recording_ok: false,
                    ..pupil()
                },
                ErrorCode::RecordingUnavailable,
            ),
        ];
        for (facts, code) in cases {
            assert_eq!(decide(&facts), Decision::Refuse(code), "{facts:?}");
        }
        let teacher = Facts {
            role: Role::Teacher,
            teaches_class: true,
            on_roster: false,
            teacher_present: false,
            consent: ConsentState::Missing,
            ..pupil()
        };
        assert_eq!(decide(&teacher), Decision::Admit(LessonRole::Teacher));
        assert_eq!(
            decide(&Facts {
                lesson_live: false,
                ..teacher
            }),
            Decision::Refuse(ErrorCode::LessonNotLive)
        );
        assert_eq!(
            decide(&Facts {
                domain_trusted: false,
                ..teacher
            }),
            Decision::Refuse(ErrorCode::DomainNotTrusted)
        );
        for role in [Role::Teacher, Role::Leader, Role::Superuser, Role::External] {
            let staff = Facts {
                role,
                teaches_class: false,
                ..teacher
            };
            assert_eq!(
                decide(&staff),
                Decision::Lobby,
                "{role:?} who does not teach the class waits"
            );
        }
        // Only a teacher role teaches, even if a membership row says otherwise.
        assert_eq!(
            decide(&Facts {
                role: Role::External,
                ..teacher
            }),
            Decision::Lobby
        );
    }

    fn any_consent() -> impl Strategy<Value = ConsentState> {
        prop_oneof![
            Just(ConsentState::Current),
            Just(ConsentState::Missing),
            Just(ConsentState::Withdrawn),
            Just(ConsentState::OptedOut)
        ]
    }

    proptest! {
        /// No input admits a pupil who lacks any of roster, trusted domain and current consent
        /// (or is disabled, from another school, removed, or joining a lesson not live or
        /// without its teacher); and no pupil is ever admitted as a teacher or sent to a lobby.
        #[test]
        fn no_pupil_admitted_without_every_condition(
            account_disabled: bool, school_disabled: bool, same_school: bool, domain_trusted: bool, teaches_class: bool,
            on_roster: bool, consent in any_consent(), lesson_live: bool, teacher_present: bool, removed: bool, recording_ok: bool,
        ) {
            let f = Facts { role: Role::Pupil, account_disabled, school_disabled, same_school, domain_trusted, teaches_class, on_roster, consent, lesson_live, teacher_present, removed, recording_ok };
            let d = decide(&f);
            if d == Decision::Admit(LessonRole::Pupil) {
                prop_assert!(on_roster && domain_trusted && consent == ConsentState::Current);
                prop_assert!(!account_disabled && !school_disabled && same_school && lesson_live && teacher_present && !removed && recording_ok);
            }
            prop_assert!(d != Decision::Admit(LessonRole::Teacher) && d != Decision::Lobby);
        }
    }
}
