//! Whether a lesson is live and its teacher is in it, as a value anyone may watch.
//!
//! The lesson task is its one writer: it publishes a new [`Presence`] whenever its last teacher
//! leaves or the first one arrives, and when it ends. A pupil who arrives before the teacher
//! (or while the teacher has stepped out) waits on a page that watches this value
//! (`GET /api/lessons/{id}/presence`) and joins the moment the teacher is in: the server
//! pushes the change, so nobody polls. The value also says whether the lesson has ever had its
//! teacher in it: until then it is not live for pupils (their home page does not list it).

use tokio::sync::watch;

use super::{Lesson, LessonHandle};

/// A lesson's liveness and its teacher's presence, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    /// False once the lesson has ended (for good: it never becomes live again).
    pub live: bool,
    /// True while a teacher of the class is connected to the lesson.
    pub teacher_present: bool,
    /// True once a teacher has been in the lesson: only then is it live for pupils.
    pub opened: bool,
}

impl Presence {
    /// A lesson just started: live, with no teacher in it yet.
    pub(super) fn started() -> Self {
        Self {
            live: true,
            teacher_present: false,
            opened: false,
        }
    }
}

impl LessonHandle {
    /// The lesson's presence now and every change after it.
    pub fn presence(&self) -> watch::Receiver<Presence> {
        self.presence.subscribe()
    }

    /// True once a teacher has been in the lesson (the recording notice confirmed and the
    /// socket joined): before that the lesson is not live for pupils.
    pub fn opened(&self) -> bool {
        self.presence.borrow().opened
    }
}

impl Lesson {
    /// Publishes the presence the shared facts now say, if it changed.
    pub(super) fn publish_presence(&self) {
        let (live, teacher_present) = {
            let shared = self.handle.shared.lock().expect("lesson lock");
            (shared.live, shared.teacher_present)
        };
        self.handle.presence.send_if_modified(|p| {
            let next = Presence {
                live,
                teacher_present,
                opened: p.opened || teacher_present,
            };
            std::mem::replace(p, next) != next
        });
    }
}
