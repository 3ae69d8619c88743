//! The lesson's side of the livestream log ([`crate::store::log`]): the lesson task writes what
//! it does (seats, leaves with their reason, lobby decisions, grants, mutes, removals,
//! refusals, the end) as it does it, and heartbeats its open rows so a crash can be closed
//! at the last moment the server knew. Everything here is a server observation; the only
//! thing taken from the client's side is the User-Agent header of its WebSocket, summarised.
//!
//! A write that fails is reported and the lesson goes on: the log never holds up a lesson.

use super::people::Seat;
use super::Lesson;
use crate::error::ErrorCode;
use crate::ids::{ParticipantId, UserId};
use crate::proto::LessonRole;
use crate::store::log::{EventKind, NewEvent, NewLesson, NewSession};
use crate::store::{now_ms, ConsentState};

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
}

impl Left {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Left::Closed => "left",
            Left::Slow => "too_slow",
            Left::Replaced => "reconnected",
            Left::Removed => "removed_by_teacher",
            Left::Gate(code) => code.as_str(),
        }
    }
}

/// Why a lesson ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    ByTeacher,
    TeacherAway,
}

fn consent_name(c: ConsentState) -> &'static str {
    match c {
        ConsentState::Current => "current",
        ConsentState::Missing => "missing",
        ConsentState::Withdrawn => "withdrawn",
        ConsentState::OptedOut => "opted_out",
    }
}

/// A medium's wire name.
pub(super) fn media_name(m: crate::proto::Media) -> &'static str {
    use crate::proto::Media;
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
    let browser = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("CriOS/", "Chrome")]
        .iter()
        .find_map(|(marker, name)| version(marker).map(|v| format!("{name} {v}")))
        .or_else(|| ua.contains("Safari/").then(|| version("Version/").map_or("Safari".to_owned(), |v| format!("Safari {v}"))));
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
    fn report(&self, what: &str, r: crate::store::Result<()>) {
        if let Err(e) = r {
            tracing::error!(lesson = %self.handle.info.id, error = %e, what, "could not write the livestream log");
        }
    }

    /// Opens the lesson's log: called first thing by its task.
    pub(super) async fn journal_start(&self) {
        let info = &self.handle.info;
        let l = NewLesson {
            id: info.id.clone(),
            school: info.school.clone(),
            class: info.class.clone(),
            class_name: info.class_name.clone(),
            started_by: info.started_by.clone(),
            recording_id: info.recorder.as_ref().map(|r| r.id.clone()),
            scheduled: info.scheduled,
            at: now_ms(),
        };
        self.report("lesson start", self.store.log_lesson_start(&l).await);
    }

    /// Appends one event about this lesson.
    pub(super) async fn journal_event(&self, kind: EventKind, actor: Option<&UserId>, subject: Option<&UserId>, detail: Option<&str>) {
        let e = NewEvent {
            lesson: self.handle.info.id.clone(),
            school: self.handle.info.school.clone(),
            at: now_ms(),
            kind,
            actor: actor.cloned(),
            subject: subject.cloned(),
            detail: detail.map(str::to_owned),
        };
        self.report(kind.as_str(), self.store.log_event(&e).await);
    }

    /// The user of a member or of someone waiting in the lobby.
    pub(super) fn user_of(&self, id: &ParticipantId) -> Option<UserId> {
        self.members.get(id).map(|m| m.user.clone()).or_else(|| self.lobby.iter().find(|(w, _)| w == id).map(|(_, w)| w.user.clone()))
    }

    /// Someone takes a seat: their session opens with their consent as it stands now.
    pub(super) async fn journal_seat(&self, id: &ParticipantId, seat: &Seat, role: LessonRole) {
        let school = &self.handle.info.school;
        let (consent, conduct_version) = if role == LessonRole::Pupil {
            let state = self.store.consent_state(school, &seat.user).await.map(consent_name).unwrap_or("unknown");
            let version = self.store.consents(school, &seat.user).await.ok().and_then(|r| r.first().map(|c| c.conduct_version));
            (state, version)
        } else {
            ("not_required", None)
        };
        let s = NewSession {
            id: id.clone(),
            lesson: self.handle.info.id.clone(),
            school: school.clone(),
            user: seat.user.clone(),
            role: role_name(role),
            at: now_ms(),
            consent,
            conduct_version,
            device: seat.device.clone(),
        };
        self.report("join", self.store.log_join(&s).await);
    }

    /// A member's session closes.
    pub(super) async fn journal_leave(&self, id: &ParticipantId, why: Left) {
        let (school, lesson) = (&self.handle.info.school, &self.handle.info.id);
        self.report("leave", self.store.log_leave(school, lesson, id, now_ms(), why.as_str()).await);
    }

    /// The lesson ends, and every open session with it.
    pub(super) async fn journal_end(&self, why: Ended) {
        let reason = match why {
            Ended::ByTeacher => "ended_by_teacher",
            Ended::TeacherAway => "teacher_absent",
        };
        let (school, lesson) = (&self.handle.info.school, &self.handle.info.id);
        self.report("end", self.store.log_lesson_end(school, lesson, now_ms(), reason).await);
    }

    /// The lesson and everyone in it are still here. The write runs beside the task, one at a
    /// time: while the database is unreachable it waits up to the store's timeout, and the
    /// lesson (grants, removals, enforcement) must not wait with it.
    pub(super) fn journal_heartbeat(&mut self) {
        if self.beating.as_ref().is_some_and(|b| !b.is_finished()) {
            return;
        }
        let (store, lesson) = (self.store.clone(), self.handle.info.id.clone());
        self.beating = Some(tokio::spawn(async move {
            if let Err(e) = store.log_heartbeat(&lesson, now_ms()).await {
                tracing::error!(%lesson, error = %e, what = "heartbeat", "could not write the livestream log");
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
