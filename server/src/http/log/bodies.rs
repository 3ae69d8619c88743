//! The livestream log's JSON answers (server/LOG.md), one type per body, and the details its
//! routes write to the audit chain.
//!
//! Every time of a row (UTC milliseconds) is sent with a `<field>_local` beside it: the same
//! instant on the school's clock (`YYYY-MM-DD HH:MM:SS ZZZ`, empty for a time that is not
//! there). The views below wrap a store row and add those fields, so a row is serialised once,
//! as it is. The golden test (`tests.rs`, `server/golden/log-bodies.jsonl`) freezes them.

use serde::Serialize;

use crate::http::log_export::{Clock, Counts};
use crate::store::log::NoteCategory;
use crate::store::log_read::{ConcernRow, EventRow, Interval, LessonRow, NoteRow, SessionRow};
use livegate_core::ids::UserId;

use super::LogQuery;

/// A lesson's row with its times on the school's clock.
#[derive(Debug, Serialize)]
pub struct LessonView {
    #[serde(flatten)]
    pub row: LessonRow,
    pub started_local: String,
    pub ended_local: String,
    pub scheduled_start_local: String,
    pub scheduled_end_local: String,
}

impl LessonView {
    pub fn new(row: &LessonRow, clock: &Clock) -> Self {
        Self {
            started_local: clock.local(row.started_at),
            ended_local: clock.local_opt(row.ended_at),
            scheduled_start_local: clock.local_opt(row.scheduled_start),
            scheduled_end_local: clock.local_opt(row.scheduled_end),
            row: row.clone(),
        }
    }
}

/// A presence interval with its times on the school's clock.
#[derive(Debug, Serialize)]
pub struct IntervalView {
    #[serde(flatten)]
    pub row: Interval,
    pub joined_at_local: String,
    pub left_at_local: String,
}

impl IntervalView {
    pub fn new(row: Interval, clock: &Clock) -> Self {
        Self {
            joined_at_local: clock.local(row.joined_at),
            left_at_local: clock.local_opt(row.left_at),
            row,
        }
    }
}

/// One connection with its times on the school's clock.
#[derive(Debug, Serialize)]
pub struct SessionView {
    #[serde(flatten)]
    pub row: SessionRow,
    pub joined_at_local: String,
    pub left_at_local: String,
    pub last_seen_local: String,
}

impl SessionView {
    pub fn new(row: &SessionRow, clock: &Clock) -> Self {
        Self {
            joined_at_local: clock.local(row.joined_at),
            left_at_local: clock.local_opt(row.left_at),
            last_seen_local: clock.local(row.last_seen),
            row: row.clone(),
        }
    }
}

/// One event with its times on the school's clock.
#[derive(Debug, Serialize)]
pub struct EventView {
    #[serde(flatten)]
    pub row: EventRow,
    pub at_local: String,
    pub last_at_local: String,
}

impl EventView {
    pub fn new(row: &EventRow, clock: &Clock) -> Self {
        Self {
            at_local: clock.local(row.at),
            last_at_local: clock.local_opt(row.last_at),
            row: row.clone(),
        }
    }
}

/// One note with its time on the school's clock.
#[derive(Debug, Serialize)]
pub struct NoteView {
    #[serde(flatten)]
    pub row: NoteRow,
    pub at_local: String,
}

impl NoteView {
    pub fn new(row: &NoteRow, clock: &Clock) -> Self {
        Self {
            at_local: clock.local(row.at),
            row: row.clone(),
        }
    }
}

/// A concern note with its times on the school's clock.
#[derive(Debug, Serialize)]
pub struct ConcernView {
    #[serde(flatten)]
    pub row: ConcernRow,
    pub at_local: String,
    pub lesson_started_at_local: String,
}

impl ConcernView {
    pub fn new(row: &ConcernRow, clock: &Clock) -> Self {
        Self {
            at_local: clock.local(row.note.at),
            lesson_started_at_local: clock.local(row.lesson_started_at),
            row: row.clone(),
        }
    }
}

/// `GET /api/log/lessons`: newest first.
#[derive(Debug, Serialize)]
pub struct LessonList {
    pub time_zone: String,
    pub lessons: Vec<LessonView>,
}

/// `GET /api/log/lessons/{lesson_id}`: everything the log holds about one lesson.
#[derive(Debug, Serialize)]
pub struct LessonLogBody {
    pub time_zone: String,
    pub lesson: LessonView,
    pub counts: Counts,
    pub intervals: Vec<IntervalView>,
    pub sessions: Vec<SessionView>,
    pub events: Vec<EventView>,
    pub notes: Vec<NoteView>,
    /// The class's rostered pupils who never joined, by name (server/LOG.md).
    pub absent: Vec<crate::store::log_read::Absentee>,
}

/// The note a `POST /api/log/lessons/{lesson_id}/notes` wrote.
#[derive(Debug, Serialize)]
pub struct NoteRef {
    pub id: String,
    /// When the server time-stamped it (UTC ms).
    pub at: i64,
    pub category: NoteCategory,
}

/// `POST /api/log/lessons/{lesson_id}/notes`.
#[derive(Debug, Serialize)]
pub struct NoteAdded {
    pub note: NoteRef,
}

/// The pupil an attendance answer is about.
#[derive(Debug, Serialize)]
pub struct PupilRef {
    pub id: UserId,
    pub display_name: String,
}

/// One lesson of a pupil's attendance.
#[derive(Debug, Serialize)]
pub struct AttendedLesson {
    pub lesson: LessonView,
    pub present: bool,
    pub seconds: i64,
    pub intervals: Vec<IntervalView>,
    /// The codes the pupil was refused with in this lesson.
    pub refusals: Vec<String>,
}

/// `GET /api/log/pupils/{user_id}/attendance`.
#[derive(Debug, Serialize)]
pub struct Attendance {
    pub time_zone: String,
    pub pupil: PupilRef,
    pub total_seconds: i64,
    pub lessons: Vec<AttendedLesson>,
}

/// `GET /api/log/concerns`: newest first.
#[derive(Debug, Serialize)]
pub struct ConcernList {
    pub time_zone: String,
    pub concerns: Vec<ConcernView>,
}

/// `GET /api/admin/time-zone`: the zone in force and the zones a school may pick.
#[derive(Debug, Serialize)]
pub struct TimeZones {
    pub time_zone: String,
    pub zones: Vec<String>,
}

/// The audit detail of a reading or an export (`log.view`, `log.export`): what was read, by
/// ids and filters, never names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading<'a> {
    /// A list of lessons, with its filter.
    List(&'a LogQuery),
    /// One lesson's log.
    Lesson(&'a str),
    /// One pupil's attendance.
    Pupil(&'a UserId),
    /// The concern list (always `true`).
    Concerns(bool),
}

/// The audit detail of an export: which one and its filter.
#[derive(Debug, Serialize)]
pub struct Export<'a> {
    pub export: &'a str,
    pub filter: &'a LogQuery,
}

#[cfg(test)]
mod tests;
