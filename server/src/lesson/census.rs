//! How many people a lesson holds, by role, for the operator's metrics: kept in the lesson's
//! [`super::Shared`] by its task after each thing it handles, so a scrape reads every lesson
//! without asking (or waiting for) any task. Counts only: no one is named.

use livegate_core::proto::LessonRole;

use super::Lesson;

/// A lesson's people now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    pub teachers: u64,
    pub pupils: u64,
    pub guests: u64,
    /// Staff waiting in the lobby.
    pub waiting: u64,
}

impl Census {
    /// Each role with its count, as the `role` label names it.
    pub fn by_role(&self) -> [(LessonRole, u64); 3] {
        [
            (LessonRole::Teacher, self.teachers),
            (LessonRole::Pupil, self.pupils),
            (LessonRole::Guest, self.guests),
        ]
    }

    /// Adds another lesson's counts.
    pub fn add(&mut self, other: &Census) {
        self.teachers += other.teachers;
        self.pupils += other.pupils;
        self.guests += other.guests;
        self.waiting += other.waiting;
    }
}

impl Lesson {
    /// Counts the members and the lobby into the shared facts (a lock, only when they changed).
    pub(super) fn take_census(&mut self) {
        let mut c = Census {
            waiting: self.lobby.len() as u64,
            ..Census::default()
        };
        for m in self.members.values() {
            match m.role {
                LessonRole::Teacher => c.teachers += 1,
                LessonRole::Pupil => c.pupils += 1,
                LessonRole::Guest => c.guests += 1,
            }
        }
        if c != self.census {
            self.census = c;
            self.set_shared(|s| s.census = c);
        }
    }
}
