//! Reading the livestream log: lessons by filter and scope, one lesson's sessions, events and
//! notes, presence intervals (a participant's sessions with reconnects merged), per-pupil
//! attendance across lessons, and the leaders' concern list. Events and notes are listed in
//! the order they happened (`at`), ties in the order written (`seq`): a lesson's entries may
//! be written late, after a database outage, behind a refusal the ticket route wrote at once. Every query is scoped by school;
//! a teacher's scope is further limited to the lessons of classes they teach or started.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{flag, Result, Store};
use livegate_core::ids::{LessonId, SchoolId, UserId};

/// Sessions of one person less than this apart are one presence interval (a reconnect).
pub const RECONNECT_GRACE_MS: i64 = 20_000;

/// A lesson's row in the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LessonRow {
    pub id: String,
    pub class_id: String,
    pub class_name: String,
    pub started_by: String,
    pub started_by_name: Option<String>,
    pub recording_id: Option<String>,
    pub recording_status: Option<String>,
    pub scheduled_start: Option<i64>,
    pub scheduled_end: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub last_seen: i64,
}

/// One connection of one participant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub role: String,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub left_reason: Option<String>,
    pub last_seen: i64,
    pub recovered: bool,
    pub consent: String,
    pub conduct_version: Option<i64>,
    pub device: String,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub at: i64,
    pub kind: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub subject_id: Option<String>,
    pub subject_name: Option<String>,
    pub detail: Option<String>,
    /// How many times it happened: more than 1 for a refusal repeated (from `at` to `last_at`).
    pub count: i64,
    pub last_at: Option<i64>,
}

/// One note.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NoteRow {
    pub id: String,
    pub lesson_id: String,
    pub author_id: String,
    pub author_name: Option<String>,
    pub at: i64,
    pub category: String,
    pub body: String,
    pub corrects: Option<String>,
}

/// A lesson with everything the log holds about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LessonLog {
    pub lesson: LessonRow,
    pub sessions: Vec<SessionRow>,
    pub events: Vec<EventRow>,
    pub notes: Vec<NoteRow>,
    /// The class's pupils (its roster as it is now: the roster keeps no history) who never
    /// joined this lesson, by name.
    pub absent: Vec<Absentee>,
}

/// A rostered pupil who never joined a lesson.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Absentee {
    pub user_id: String,
    pub name: String,
}

/// A participant's continuous presence: sessions less than [`RECONNECT_GRACE_MS`] apart merged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interval {
    pub user_id: String,
    pub name: Option<String>,
    pub role: String,
    pub joined_at: i64,
    /// `None` while they are still there.
    pub left_at: Option<i64>,
    /// Seconds present, gaps between merged sessions excluded.
    pub seconds: i64,
    /// Why the last session of the interval ended.
    pub end: Option<String>,
    /// Closed at the last heartbeat after a crash.
    pub recovered: bool,
    pub consent: String,
    pub conduct_version: Option<i64>,
    pub device: String,
    /// How many connections (1 + reconnects).
    pub sessions: usize,
}

/// A concern note with the lesson and recording it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConcernRow {
    #[serde(flatten)]
    pub note: NoteRow,
    pub class_name: String,
    pub lesson_started_at: i64,
    pub recording_id: Option<String>,
}

/// Filters for the log's lists and exports, in UTC (the routes turn the reader's calendar
/// days into these on the school's clock: `http::log::LogQuery`).
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub class_id: Option<String>,
    pub pupil_id: Option<String>,
    /// UTC ms, inclusive.
    pub from: Option<i64>,
    /// UTC ms, exclusive.
    pub to: Option<i64>,
}

/// Whose lessons a reader may see.
#[derive(Debug, Clone)]
pub enum LogScope {
    /// The whole school (leaders and superusers).
    School,
    /// A teacher: lessons of the classes they teach, and lessons they started.
    Teacher(UserId),
}

fn lesson_row(r: &AnyRow) -> Result<LessonRow> {
    Ok(LessonRow {
        id: r.try_get("id")?,
        class_id: r.try_get("class_id")?,
        class_name: r.try_get("class_name")?,
        started_by: r.try_get("started_by")?,
        started_by_name: r.try_get("started_by_name")?,
        recording_id: r.try_get("recording_id")?,
        recording_status: r.try_get("recording_status")?,
        scheduled_start: r.try_get("scheduled_start")?,
        scheduled_end: r.try_get("scheduled_end")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
        last_seen: r.try_get("last_seen")?,
    })
}

fn session_row(r: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        joined_at: r.try_get("joined_at")?,
        left_at: r.try_get("left_at")?,
        left_reason: r.try_get("left_reason")?,
        last_seen: r.try_get("last_seen")?,
        recovered: flag(r, "recovered")?,
        consent: r.try_get("consent")?,
        conduct_version: r.try_get("conduct_version")?,
        device: r.try_get("device")?,
    })
}

fn note_row(r: &AnyRow) -> Result<NoteRow> {
    Ok(NoteRow {
        id: r.try_get("id")?,
        lesson_id: r.try_get("lesson_id")?,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        at: r.try_get("at")?,
        category: r.try_get("category")?,
        body: r.try_get("body")?,
        corrects: r.try_get("corrects")?,
    })
}

const LESSON_SELECT: &str =
    "SELECT l.*, u.display_name AS started_by_name, r.status AS recording_status FROM log_lessons l \
     LEFT JOIN users u ON u.id = l.started_by LEFT JOIN recordings r ON r.id = l.recording_id";

/// Merges each person's sessions into presence intervals, ordered by start. `now` ends the
/// intervals of people still present.
pub fn intervals(sessions: &[SessionRow], now: i64) -> Vec<Interval> {
    let mut sorted: Vec<&SessionRow> = sessions.iter().collect();
    sorted.sort_by(|a, b| {
        (a.user_id.as_str(), a.joined_at, a.id.as_str()).cmp(&(b.user_id.as_str(), b.joined_at, b.id.as_str()))
    });
    let mut out: Vec<Interval> = Vec::new();
    let mut covered_to = 0; // the end of time already counted in the current interval
    for s in sorted {
        let end = s.left_at.unwrap_or(now).max(s.joined_at);
        let merge = out.last().is_some_and(|i| {
            i.user_id == s.user_id && i.left_at.is_none_or(|left| s.joined_at <= left + RECONNECT_GRACE_MS)
        });
        if merge {
            let i = out.last_mut().expect("checked");
            let start = s.joined_at.max(covered_to);
            i.seconds += (end - start).max(0);
            covered_to = covered_to.max(end);
            let later = s.left_at.is_none_or(|l| i.left_at.is_some_and(|il| l >= il));
            if later {
                i.left_at = s.left_at;
                i.end = s.left_reason.clone();
                i.recovered = s.recovered;
            }
            i.sessions += 1;
        } else {
            covered_to = end;
            out.push(Interval {
                user_id: s.user_id.clone(),
                name: s.name.clone(),
                role: s.role.clone(),
                joined_at: s.joined_at,
                left_at: s.left_at,
                seconds: end - s.joined_at, // milliseconds until the end
                end: s.left_reason.clone(),
                recovered: s.recovered,
                consent: s.consent.clone(),
                conduct_version: s.conduct_version,
                device: s.device.clone(),
                sessions: 1,
            });
        }
    }
    for i in &mut out {
        i.seconds /= 1000;
    }
    out.sort_by(|a, b| (a.joined_at, a.user_id.as_str()).cmp(&(b.joined_at, b.user_id.as_str())));
    out
}

impl Store {
    /// Lessons in the log, newest first, as `scope` may see them.
    pub async fn log_lessons(&self, school: &SchoolId, scope: &LogScope, f: &LogFilter) -> Result<Vec<LessonRow>> {
        let teacher = match scope {
            LogScope::School => String::new(),
            LogScope::Teacher(t) => t.as_str().to_owned(),
        };
        let sql = format!(
            "{LESSON_SELECT} WHERE l.school_id = $1 \
             AND ($2 = '' OR l.started_by = $2 OR l.class_id IN (SELECT class_id FROM class_members WHERE user_id = $2 AND member = 'teacher')) \
             AND ($3 = '' OR l.class_id = $3) \
             AND ($4 = '' OR EXISTS (SELECT 1 FROM log_sessions s WHERE s.lesson_id = l.id AND s.user_id = $4) \
                  OR EXISTS (SELECT 1 FROM log_events e WHERE e.lesson_id = l.id AND e.subject_id = $4)) \
             AND l.started_at >= $5 AND l.started_at < $6 ORDER BY l.started_at DESC, l.id LIMIT 500"
        );
        let rows = sqlx::query(&sql)
            .bind(school.as_str())
            .bind(teacher)
            .bind(f.class_id.clone().unwrap_or_default())
            .bind(f.pupil_id.clone().unwrap_or_default())
            .bind(f.from.unwrap_or(0))
            .bind(f.to.unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(lesson_row).collect()
    }

    /// Everything the log holds about one lesson of this school, if `scope` may see it.
    pub async fn lesson_log(&self, school: &SchoolId, scope: &LogScope, id: &LessonId) -> Result<Option<LessonLog>> {
        let row = sqlx::query(&format!("{LESSON_SELECT} WHERE l.id = $1 AND l.school_id = $2"))
            .bind(id.as_str())
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let lesson = lesson_row(&row)?;
        if let LogScope::Teacher(t) = scope {
            let teaches = self
                .membership(
                    &livegate_core::ids::ClassId::parse(&lesson.class_id)
                        .ok_or(super::StoreError::Invalid("class id"))?,
                    t,
                )
                .await?;
            if lesson.started_by != t.as_str() && teaches != Some(super::MemberKind::Teacher) {
                return Ok(None);
            }
        }
        let sessions = sqlx::query(
            "SELECT s.*, u.display_name AS name FROM log_sessions s LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.lesson_id = $1 ORDER BY s.joined_at, s.id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(session_row)
        .collect::<Result<Vec<_>>>()?;
        let events = sqlx::query(
            "SELECT e.*, a.display_name AS actor_name, s.display_name AS subject_name FROM log_events e \
             LEFT JOIN users a ON a.id = e.actor_id LEFT JOIN users s ON s.id = e.subject_id WHERE e.lesson_id = $1 ORDER BY e.at, e.seq",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(EventRow {
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                actor_id: r.try_get("actor_id")?,
                actor_name: r.try_get("actor_name")?,
                subject_id: r.try_get("subject_id")?,
                subject_name: r.try_get("subject_name")?,
                detail: r.try_get("detail")?,
                count: r.try_get("count")?,
                last_at: r.try_get("last_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let notes = sqlx::query(
            "SELECT n.*, u.display_name AS author_name FROM log_notes n LEFT JOIN users u ON u.id = n.author_id \
             WHERE n.lesson_id = $1 ORDER BY n.at, n.seq",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(note_row)
        .collect::<Result<Vec<_>>>()?;
        let absent = self.absentees(&lesson.class_id, id).await?;
        Ok(Some(LessonLog {
            lesson,
            sessions,
            events,
            notes,
            absent,
        }))
    }

    /// The class's rostered pupils with no session in this lesson (a refused or lobby-only
    /// pupil never joined, so they are here too; their refusals are among the events).
    async fn absentees(&self, class_id: &str, lesson: &LessonId) -> Result<Vec<Absentee>> {
        sqlx::query(
            "SELECT m.user_id, u.display_name FROM class_members m JOIN users u ON u.id = m.user_id \
             WHERE m.class_id = $1 AND m.member = 'pupil' AND u.disabled = 0 \
             AND NOT EXISTS (SELECT 1 FROM log_sessions s WHERE s.lesson_id = $2 AND s.user_id = m.user_id) \
             ORDER BY u.display_name, m.user_id",
        )
        .bind(class_id)
        .bind(lesson.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Absentee {
                user_id: r.try_get("user_id")?,
                name: r.try_get("display_name")?,
            })
        })
        .collect()
    }

    /// Every lesson `scope` may see under the filter, with its full log (for exports and
    /// attendance).
    pub async fn lesson_logs(&self, school: &SchoolId, scope: &LogScope, f: &LogFilter) -> Result<Vec<LessonLog>> {
        let mut out = Vec::new();
        for l in self.log_lessons(school, scope, f).await? {
            let Some(id) = LessonId::parse(&l.id) else { continue };
            if let Some(log) = self.lesson_log(school, scope, &id).await? {
                out.push(log);
            }
        }
        Ok(out)
    }

    /// The school's concern notes, newest first, each with its lesson and recording.
    pub async fn concerns(&self, school: &SchoolId) -> Result<Vec<ConcernRow>> {
        let rows = sqlx::query(
            "SELECT n.*, u.display_name AS author_name, l.class_name, l.started_at AS lesson_started_at, l.recording_id \
             FROM log_notes n JOIN log_lessons l ON l.id = n.lesson_id LEFT JOIN users u ON u.id = n.author_id \
             WHERE n.school_id = $1 AND n.category = 'concern' ORDER BY n.at DESC, n.seq DESC LIMIT 500",
        )
        .bind(school.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConcernRow {
                    note: note_row(r)?,
                    class_name: r.try_get("class_name")?,
                    lesson_started_at: r.try_get("lesson_started_at")?,
                    recording_id: r.try_get("recording_id")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
