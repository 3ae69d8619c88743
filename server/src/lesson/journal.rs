//! The lesson's side of the livestream log ([`crate::store::log`]): the lesson task records
//! what it does (seats, leaves with their reason, lobby decisions, grants, mutes, removals,
//! refusals, the end) as it does it, and heartbeats its open rows so a crash can be closed
//! at the last moment the server knew. Everything here is a server observation; the only
//! thing taken from the client's side is the User-Agent header of its WebSocket, summarised.
//!
//! The lesson task never waits for the log: each entry is stamped with the moment the lesson
//! acted and queued for the lesson's writer ([`super::journal_writer`]), which writes them in
//! order on its own task, retries them while the database is unreachable, reports and drops
//! one that fails for any other reason, and finishes the queue after the lesson has ended.

use livegate_core::codes::ErrorCode;

use super::journal_writer::Entry;
use super::people::Seat;
use super::Lesson;
use crate::store::log::{EventKind, NewEvent, NewLesson, NewSession};
use crate::store::now_ms;
use livegate_core::ids::{ParticipantId, UserId};
use livegate_core::proto::LessonRole;

/// Why someone left the lesson, as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Left {
    /// Their socket closed (they left, or their connection went).
    Closed,
    /// Their outbox overflowed: too slow to follow the lesson.
    Slow,
    /// They joined again from another connection (a reconnect).
    Replaced,
    /// The teacher removed them.
    Removed,
    /// The gate no longer admits them, for this reason.
    Gate(ErrorCode),
    /// They sent past their budgets and were removed (`livegate_core::budget`).
    Flooding,
}

impl Left {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Left::Closed => "left",
            Left::Slow => "too_slow",
            Left::Replaced => "reconnected",
            Left::Removed => "removed_by_teacher",
            Left::Gate(code) => code.as_str(),
            Left::Flooding => ErrorCode::TooManyMessages.as_str(),
        }
    }
}

/// Why a lesson ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    ByTeacher,
    TeacherAway,
    /// The server is stopping (SIGTERM or Ctrl-C): it ends every live lesson of its own first.
    ServerStopping,
    /// The operator disabled the school, perhaps from another process (`livegate school
    /// disable`); the lesson hears of it as a directory change.
    SchoolDisabled,
}

impl Ended {
    /// The reason `lesson_ended` carries; its name is also the log's `end_reason`.
    pub(super) fn reason(self) -> livegate_core::proto::EndReason {
        use livegate_core::proto::EndReason;
        match self {
            Ended::ByTeacher => EndReason::EndedByTeacher,
            Ended::TeacherAway => EndReason::TeacherAbsent,
            Ended::ServerStopping => EndReason::ServerStopping,
            Ended::SchoolDisabled => EndReason::SchoolDisabled,
        }
    }
}

/// A medium's wire name.
pub(super) fn media_name(m: livegate_core::proto::Media) -> &'static str {
    use livegate_core::proto::Media;
    match m {
        Media::Microphone => "microphone",
        Media::Camera => "camera",
        Media::Screen => "screen",
    }
}

fn role_name(r: LessonRole) -> &'static str {
    match r {
        LessonRole::Teacher => "teacher",
        LessonRole::Pupil => "pupil",
        LessonRole::Guest => "guest",
    }
}

/// A short, non-identifying summary of a User-Agent header: "Chrome 131 on Android". The raw
/// string is never stored.
pub fn device_summary(ua: &str) -> String {
    let mut end = ua.len().min(512);
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    let ua = &ua[..end];
    let version = |marker: &str| -> Option<String> {
        let at = ua.find(marker)? + marker.len();
        let v: String = ua[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
        (!v.is_empty()).then_some(v)
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
    ]
    .iter()
    .find_map(|(marker, name)| version(marker).map(|v| format!("{name} {v}")))
    .or_else(|| {
        ua.contains("Safari/")
            .then(|| version("Version/").map_or("Safari".to_owned(), |v| format!("Safari {v}")))
    });
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("unknown browser on {s}"),
        (None, None) if ua.trim().is_empty() => "not given".to_owned(),
        (None, None) => "other".to_owned(),
    }
}

impl Lesson {
    /// Opens the lesson's log: called first thing by its task.
    pub(super) fn journal_start(&self) {
        let info = &self.handle.info;
        self.journal.push(Entry::Start(NewLesson {
            id: info.id.clone(),
            school: info.school.clone(),
            class: info.class.clone(),
            class_name: info.class_name.clone(),
            started_by: info.started_by.clone(),
            recording_id: info.recorder.as_ref().map(|r| r.id.clone()),
            scheduled: info.scheduled,
            at: now_ms(),
        }));
    }

    /// Appends one event about this lesson.
    pub(super) fn journal_event(
        &self,
        kind: EventKind,
        actor: Option<&UserId>,
        subject: Option<&UserId>,
        detail: Option<&str>,
    ) {
        self.journal.push(Entry::Event(NewEvent {
            lesson: self.handle.info.id.clone(),
            school: self.handle.info.school.clone(),
            at: now_ms(),
            kind,
            actor: actor.cloned(),
            subject: subject.cloned(),
            detail: detail.map(str::to_owned),
        }));
    }

    /// The user of a member or of someone waiting in the lobby.
    pub(super) fn user_of(&self, id: &ParticipantId) -> Option<UserId> {
        self.members
            .get(id)
            .map(|m| m.user.clone())
            .or_else(|| self.lobby.iter().find(|(w, _)| w == id).map(|(_, w)| w.user.clone()))
    }

    /// Someone takes a seat: their session opens. A pupil's consent (state and code-of-conduct
    /// version) is read by the writer just before it writes the row, not here: the gate read
    /// the database a moment ago, and a second read here could hold the lesson for the
    /// store's timeout if the database went away in between (see `journal_writer`).
    pub(super) fn journal_seat(&self, id: &ParticipantId, seat: &Seat, role: LessonRole) {
        let session = NewSession {
            id: id.clone(),
            lesson: self.handle.info.id.clone(),
            school: self.handle.info.school.clone(),
            user: seat.user.clone(),
            role: role_name(role),
            at: now_ms(),
            consent: if role == LessonRole::Pupil {
                "unknown"
            } else {
                "not_required"
            },
            conduct_version: None,
            device: seat.device.clone(),
        };
        self.journal.push(Entry::Join {
            session,
            read_consent: role == LessonRole::Pupil,
        });
    }

    /// A member's session closes.
    pub(super) fn journal_leave(&self, id: &ParticipantId, why: Left) {
        let (school, lesson) = (self.handle.info.school.clone(), self.handle.info.id.clone());
        self.journal.push(Entry::Leave {
            school,
            lesson,
            id: id.clone(),
            at: now_ms(),
            reason: why.as_str(),
        });
    }

    /// The lesson ends, and every open session with it. (The writer still writes this, and
    /// whatever is queued before it, after the lesson task has finished.)
    pub(super) fn journal_end(&self, why: Ended) {
        let reason = why.reason().as_str();
        let (school, lesson) = (self.handle.info.school.clone(), self.handle.info.id.clone());
        self.journal.push(Entry::End {
            school,
            lesson,
            at: now_ms(),
            reason,
        });
    }

    /// The lesson and everyone in it are still here. The write runs beside the task, one at a
    /// time, outside the writer's queue: a heartbeat is worth nothing late, so while the
    /// database is unreachable a missed one is simply skipped (never queued), and the lesson
    /// (grants, removals, enforcement) does not wait for it.
    pub(super) fn journal_heartbeat(&mut self) {
        if self.beating.as_ref().is_some_and(|b| !b.is_finished()) {
            return;
        }
        let (store, lesson) = (self.store.clone(), self.handle.info.id.clone());
        self.beating = Some(tokio::spawn(async move {
            if let Err(e) = store.log_heartbeat(&lesson, now_ms()).await {
                tracing::warn!(%lesson, error = %e, what = "heartbeat", "could not write the livestream log");
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::device_summary;

    #[test]
    fn user_agents_are_summarised() {
        let cases = [
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", "Chrome 131 on Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari 17 on iPhone"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0", "Edge 130 on Windows"),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36", "Chrome 129 on ChromeOS"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128 on macOS"),
            ("", "not given"),
            ("curl/8.5.0", "other"),
        ];
        for (ua, want) in cases {
            assert_eq!(device_summary(ua), want, "{ua}");
        }
        // Hostile input: long, multibyte, cut anywhere; never panics, never echoes it back.
        let long = "é".repeat(400) + "Chrome/1";
        assert_eq!(device_summary(&long), "other");
    }
}
