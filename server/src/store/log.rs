//! The Remote Learning Livestream Log: what happened in each lesson, written from server
//! events only (the lesson task and the admission gate), never from what a client claims.
//!
//! Four append-mostly tables (migration 4): one row per lesson (class, who started it, the
//! planned and actual times, its recording); one row per connection of a participant (a
//! *session*: join, leave and why, consent state and code-of-conduct version at join, a device
//! summary), merged into presence intervals when read ([`super::log_read`]); one row per event
//! (admission decisions with their reasons, lobby, grants, mutes, removals, the end); and
//! teachers' notes, which are append-only: there is no update or delete, a correction is a new
//! note pointing at the one it corrects.
//!
//! While a lesson runs its task heartbeats the lesson and its open sessions ([`Store::log_heartbeat`]).
//! After a crash, [`Store::recover_log`] closes whatever was left open at the latest moment the
//! log knows of (its last heartbeat, or a later event written before the crash) and marks it so.
//! Events and notes are listed by the time they happened (`at`), then by `seq`, the order they
//! were written, for ties: a lesson's writer may write its backlog late after an outage.
//! Times are UTC milliseconds, passed in by the caller so tests can inject them.

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;

use super::audit::append;
use super::{now_ms, Result, Store, StoreError};
use livegate_core::ids::{random_token, ClassId, LessonId, ParticipantId, SchoolId, UserId};
use livegate_core::text;

/// The livestream log's tables (migration 4).
pub const MIGRATION: &[&str] = &[
    "CREATE TABLE log_lessons (
        id TEXT PRIMARY KEY,
        school_id TEXT NOT NULL REFERENCES schools(id),
        class_id TEXT NOT NULL,
        class_name TEXT NOT NULL,
        started_by TEXT NOT NULL,
        recording_id TEXT,
        scheduled_start BIGINT,
        scheduled_end BIGINT,
        started_at BIGINT NOT NULL,
        ended_at BIGINT,
        end_reason TEXT,
        last_seen BIGINT NOT NULL
    )",
    "CREATE INDEX log_lessons_school ON log_lessons(school_id, started_at)",
    "CREATE TABLE log_sessions (
        id TEXT NOT NULL,
        lesson_id TEXT NOT NULL REFERENCES log_lessons(id),
        school_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role TEXT NOT NULL,
        joined_at BIGINT NOT NULL,
        left_at BIGINT,
        left_reason TEXT,
        last_seen BIGINT NOT NULL,
        recovered BIGINT NOT NULL,
        consent TEXT NOT NULL,
        conduct_version BIGINT,
        device TEXT NOT NULL,
        PRIMARY KEY (lesson_id, id)
    )",
    "CREATE INDEX log_sessions_user ON log_sessions(school_id, user_id)",
    // No foreign key: the gate may refuse someone at the ticket route in the moment between a
    // lesson's start and its task writing the lesson's row.
    "CREATE TABLE log_events (
        lesson_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        school_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        actor_id TEXT,
        subject_id TEXT,
        detail TEXT,
        PRIMARY KEY (lesson_id, seq)
    )",
    "CREATE TABLE log_notes (
        id TEXT PRIMARY KEY,
        lesson_id TEXT NOT NULL REFERENCES log_lessons(id),
        school_id TEXT NOT NULL,
        author_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        category TEXT NOT NULL,
        body TEXT NOT NULL,
        corrects TEXT,
        seq BIGINT NOT NULL
    )",
    "CREATE INDEX log_notes_lesson ON log_notes(lesson_id)",
    "CREATE INDEX log_notes_school ON log_notes(school_id, category, at)",
];

/// Repeated refusals (migration 5): an event counts how many times it happened (1 for every
/// event but a refusal repeated) and when it last did (`NULL`: only at `at`).
pub const REPEATS_MIGRATION: &[&str] = &[
    "ALTER TABLE log_events ADD COLUMN count BIGINT NOT NULL DEFAULT 1",
    "ALTER TABLE log_events ADD COLUMN last_at BIGINT",
    "CREATE INDEX log_events_subject ON log_events(lesson_id, subject_id)",
];

/// How often a running lesson heartbeats its open log rows.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);
/// After how long without a heartbeat an open row belongs to a server that is gone.
pub const STALE_MS: i64 = 30_000;
/// The longest note a teacher may write, in characters (the text policy's).
pub const MAX_NOTE: usize = livegate_core::text::LOG_NOTE.max;

/// What happened, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    LessonStarted,
    LessonEnded,
    /// The gate admitted someone and they took a seat (detail: their role).
    Admitted,
    /// Someone left (detail: why).
    Left,
    /// The gate refused someone (detail: the reason code; where: ticket, join or lesson). The
    /// same refusal again is counted on this event ([`Store::log_refusal`]).
    Refused,
    LobbyWaiting,
    LobbyLeft,
    LobbyAdmitted,
    LobbyRefused,
    Granted,
    Revoked,
    Muted,
    Removed,
    /// A directory change took someone out (detail: the gate's reason).
    AdmissionRevoked,
    RecordingFailed,
}

impl EventKind {
    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        use EventKind::*;
        match self {
            LessonStarted => "lesson_started",
            LessonEnded => "lesson_ended",
            Admitted => "admitted",
            Left => "left",
            Refused => "refused",
            LobbyWaiting => "lobby_waiting",
            LobbyLeft => "lobby_left",
            LobbyAdmitted => "lobby_admitted",
            LobbyRefused => "lobby_refused",
            Granted => "granted",
            Revoked => "revoked",
            Muted => "muted",
            Removed => "removed",
            AdmissionRevoked => "admission_revoked",
            RecordingFailed => "recording_failed",
        }
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub lesson: LessonId,
    pub school: SchoolId,
    pub at: i64,
    pub kind: EventKind,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub detail: Option<String>,
}

/// One note to append: `corrects` names an earlier note of the same lesson.
#[derive(Debug, Clone, Copy)]
pub struct NewNote<'a> {
    pub school: &'a SchoolId,
    pub lesson: &'a LessonId,
    pub author: &'a UserId,
    pub at: i64,
    pub category: NoteCategory,
    pub body: &'a str,
    pub corrects: Option<&'a str>,
}

/// A lesson as it starts.
#[derive(Debug, Clone)]
pub struct NewLesson {
    pub id: LessonId,
    pub school: SchoolId,
    pub class: ClassId,
    pub class_name: String,
    pub started_by: UserId,
    pub recording_id: Option<String>,
    /// The teacher's planned start and end, if given.
    pub scheduled: Option<(i64, i64)>,
    pub at: i64,
}

/// A participant taking a seat, as the server observed it.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: ParticipantId,
    pub lesson: LessonId,
    pub school: SchoolId,
    pub user: UserId,
    /// `teacher`, `pupil` or `guest`.
    pub role: &'static str,
    pub at: i64,
    /// `current`, `missing`, `withdrawn`, `opted_out`, or `not_required` for staff.
    pub consent: &'static str,
    /// The code-of-conduct version of the consent in force, for pupils.
    pub conduct_version: Option<i64>,
    /// A short summary of the browser and system, from the WebSocket's User-Agent header.
    pub device: String,
}

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteCategory {
    Behaviour,
    Concern,
    Technical,
}

impl NoteCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteCategory::Behaviour => "behaviour",
            NoteCategory::Concern => "concern",
            NoteCategory::Technical => "technical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "behaviour" => NoteCategory::Behaviour,
            "concern" => NoteCategory::Concern,
            "technical" => NoteCategory::Technical,
            _ => return None,
        })
    }
}

/// Orders events within a lesson. Lessons live on one node, so one counter per process is
/// enough; it starts from the clock so it keeps rising across restarts.
static SEQ: AtomicI64 = AtomicI64::new(0);

fn next_seq() -> i64 {
    let floor = now_ms().saturating_mul(1000);
    let mut cur = SEQ.load(Ordering::Relaxed);
    loop {
        let next = cur.max(floor) + 1;
        match SEQ.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => cur = seen,
        }
    }
}

/// The sweep's `stale_before` at `now`: rows whose heartbeat is older than [`STALE_MS`] —
/// unless the database was unreachable until `back_since` (`None`: it still is, as far as the
/// sweep knows) less than [`STALE_MS`] ago, when nothing is taken for stale (`i64::MIN`; the
/// sweep then only finds out whether the database answers).
pub fn sweep_cutoff(now: i64, back_since: Option<i64>) -> i64 {
    match back_since {
        Some(back) if now.saturating_sub(back) >= STALE_MS => now - STALE_MS,
        _ => i64::MIN,
    }
}

/// A sequence number after `last` (the highest a lesson already holds, perhaps written by
/// another node whose clock runs ahead), so what is written now ties after it.
fn seq_after(last: i64) -> i64 {
    SEQ.fetch_max(last, Ordering::Relaxed);
    next_seq()
}

async fn insert_event(conn: &mut sqlx::AnyConnection, e: &NewEvent) -> Result<()> {
    insert_event_seq(conn, e, next_seq()).await
}

async fn insert_event_seq(conn: &mut sqlx::AnyConnection, e: &NewEvent, seq: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO log_events (lesson_id, seq, school_id, at, kind, actor_id, subject_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.lesson.as_str())
    .bind(seq)
    .bind(e.school.as_str())
    .bind(e.at)
    .bind(e.kind.as_str())
    .bind(e.actor.as_ref().map(|u| u.as_str().to_owned()))
    .bind(e.subject.as_ref().map(|u| u.as_str().to_owned()))
    .bind(e.detail.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// True if the lesson already holds an event the same as `e` in every field, to the
/// millisecond: a write retried after its first commit succeeded but its answer was lost.
async fn already_logged(conn: &mut sqlx::AnyConnection, e: &NewEvent) -> Result<bool> {
    let found = sqlx::query(
        "SELECT 1 AS one FROM log_events WHERE lesson_id = $1 AND at = $2 AND kind = $3 \
         AND COALESCE(actor_id, '') = $4 AND COALESCE(subject_id, '') = $5 AND COALESCE(detail, '') = $6",
    )
    .bind(e.lesson.as_str())
    .bind(e.at)
    .bind(e.kind.as_str())
    .bind(e.actor.as_ref().map_or("", |u| u.as_str()).to_owned())
    .bind(e.subject.as_ref().map_or("", |u| u.as_str()).to_owned())
    .bind(e.detail.clone().unwrap_or_default())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The latest time a lesson's log holds: its events, and its connections' joins and leaves.
async fn latest_in_lesson(conn: &mut sqlx::AnyConnection, lesson: &str) -> Result<Option<i64>> {
    use sqlx::Row;
    let events = sqlx::query("SELECT MAX(at) AS m FROM log_events WHERE lesson_id = $1")
        .bind(lesson)
        .fetch_one(&mut *conn)
        .await?;
    let sessions = sqlx::query("SELECT MAX(joined_at) AS j, MAX(left_at) AS l FROM log_sessions WHERE lesson_id = $1")
        .bind(lesson)
        .fetch_one(&mut *conn)
        .await?;
    let times: [Option<i64>; 3] = [events.try_get("m")?, sessions.try_get("j")?, sessions.try_get("l")?];
    Ok(times.into_iter().flatten().max())
}

/// The latest event of a lesson about or by one person (a grant to them, a mute by them).
async fn latest_of_person(conn: &mut sqlx::AnyConnection, lesson: &str, user: &str) -> Result<Option<i64>> {
    use sqlx::Row;
    let row =
        sqlx::query("SELECT MAX(at) AS m FROM log_events WHERE lesson_id = $1 AND (subject_id = $2 OR actor_id = $2)")
            .bind(lesson)
            .bind(user)
            .fetch_one(conn)
            .await?;
    Ok(row.try_get("m")?)
}

/// The highest sequence number a lesson's events hold.
async fn last_seq(conn: &mut sqlx::AnyConnection, lesson: &str) -> Result<i64> {
    use sqlx::Row;
    let row = sqlx::query("SELECT MAX(seq) AS s FROM log_events WHERE lesson_id = $1")
        .bind(lesson)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<Option<i64>, _>("s")?.unwrap_or(0))
}

impl Store {
    /// Opens a lesson's log. Opening it again (a retried write whose first commit went
    /// through) changes nothing.
    pub async fn log_lesson_start(&self, l: &NewLesson) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO log_lessons (id, school_id, class_id, class_name, started_by, recording_id, scheduled_start, scheduled_end, started_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(l.id.as_str())
        .bind(l.school.as_str())
        .bind(l.class.as_str())
        .bind(&l.class_name)
        .bind(l.started_by.as_str())
        .bind(l.recording_id.clone())
        .bind(l.scheduled.map(|s| s.0))
        .bind(l.scheduled.map(|s| s.1))
        .bind(l.at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(());
        }
        let e = NewEvent {
            lesson: l.id.clone(),
            school: l.school.clone(),
            at: l.at,
            kind: EventKind::LessonStarted,
            actor: Some(l.started_by.clone()),
            subject: None,
            detail: None,
        };
        insert_event(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends one event. An event the same as one the lesson already holds, in every field
    /// and to the millisecond, is taken for a retried write whose first commit went through
    /// (its answer lost with the connection) and is not written twice.
    pub async fn log_event(&self, e: &NewEvent) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if already_logged(&mut conn, e).await? {
            return Ok(());
        }
        insert_event(&mut conn, e).await
    }

    /// Records a refusal by the admission gate, and its place on the audit chain (`actor`,
    /// `action`, `detail`). A lesson holds one event per person and reason: the same refusal
    /// again (same lesson, person and reason), whatever else happened in between (another
    /// reason, a join), is counted on the first event, whose `last_at` moves on, instead of
    /// being written again, and is not audited again. So a person asking again and again, or
    /// alternating between two reasons, grows neither the log nor the chain, and both still
    /// show that they were refused, the log how often. Returns true if this began a new event.
    pub async fn log_refusal(
        &self,
        e: &NewEvent,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<bool> {
        use sqlx::Row;
        let mut tx = self.pool.begin().await?;
        if tx.backend_name() == "PostgreSQL" {
            // Refusals of one person arriving together (on any node) take turns, so they
            // count on one event instead of each starting their own.
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7303)) AS l")
                .execute(&mut *tx)
                .await?;
        }
        let subject = e.subject.as_ref().map_or("", |u| u.as_str()).to_owned();
        // The first event of this kind for this person and reason, however long ago: comparing
        // with their latest event alone let A, B, A alternating reasons write a row each time.
        let earlier = sqlx::query(
            "SELECT seq FROM log_events WHERE lesson_id = $1 AND subject_id = $2 AND kind = $3 \
             AND COALESCE(actor_id, '') = $4 AND COALESCE(detail, '') = $5 ORDER BY at, seq LIMIT 1",
        )
        .bind(e.lesson.as_str())
        .bind(&subject)
        .bind(e.kind.as_str())
        .bind(e.actor.as_ref().map_or("", |u| u.as_str()).to_owned())
        .bind(e.detail.clone().unwrap_or_default())
        .fetch_optional(&mut *tx)
        .await?;
        let same = earlier.is_some();
        if let Some(row) = &earlier {
            sqlx::query(
                "UPDATE log_events SET count = count + 1, \
                 last_at = CASE WHEN COALESCE(last_at, at) < $3 THEN $3 ELSE COALESCE(last_at, at) END \
                 WHERE lesson_id = $1 AND seq = $2",
            )
            .bind(e.lesson.as_str())
            .bind(row.try_get::<i64, _>("seq")?)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        } else {
            insert_event(&mut tx, e).await?;
            append(&mut tx, &e.school, actor, action, detail).await?;
        }
        tx.commit().await?;
        Ok(!same)
    }

    /// A participant took a seat: their session opens and the admission is logged with it.
    /// The same seat written again (a retried write) changes nothing.
    pub async fn log_join(&self, s: &NewSession) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO log_sessions (id, lesson_id, school_id, user_id, role, joined_at, last_seen, recovered, consent, conduct_version, device) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, 0, $7, $8, $9) ON CONFLICT (lesson_id, id) DO NOTHING",
        )
        .bind(s.id.as_str())
        .bind(s.lesson.as_str())
        .bind(s.school.as_str())
        .bind(s.user.as_str())
        .bind(s.role)
        .bind(s.at)
        .bind(s.consent)
        .bind(s.conduct_version)
        .bind(&s.device)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(());
        }
        let e = NewEvent {
            lesson: s.lesson.clone(),
            school: s.school.clone(),
            at: s.at,
            kind: EventKind::Admitted,
            actor: None,
            subject: Some(s.user.clone()),
            detail: Some(s.role.to_owned()),
        };
        insert_event(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A participant's session closed, for `reason` (`left`, `reconnected`, `removed_by_teacher`,
    /// a gate reason, ...). Closing a closed session changes nothing.
    pub async fn log_leave(
        &self,
        school: &SchoolId,
        lesson: &LessonId,
        id: &ParticipantId,
        at: i64,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row: Option<sqlx::any::AnyRow> =
            sqlx::query("SELECT user_id FROM log_sessions WHERE id = $1 AND lesson_id = $2 AND left_at IS NULL")
                .bind(id.as_str())
                .bind(lesson.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { return Ok(()) };
        let user: String = sqlx::Row::try_get(&row, "user_id")?;
        sqlx::query("UPDATE log_sessions SET left_at = $1, left_reason = $2, last_seen = $1 WHERE id = $3 AND lesson_id = $4 AND left_at IS NULL")
            .bind(at)
            .bind(reason)
            .bind(id.as_str())
            .bind(lesson.as_str())
            .execute(&mut *tx)
            .await?;
        let e = NewEvent {
            lesson: lesson.clone(),
            school: school.clone(),
            at,
            kind: EventKind::Left,
            actor: None,
            subject: UserId::parse(&user),
            detail: Some(reason.to_owned()),
        };
        insert_event(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The lesson ended: every open session closes with it.
    pub async fn log_lesson_end(&self, school: &SchoolId, lesson: &LessonId, at: i64, reason: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE log_sessions SET left_at = $1, left_reason = 'lesson_ended', last_seen = $1 WHERE lesson_id = $2 AND left_at IS NULL")
            .bind(at)
            .bind(lesson.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "UPDATE log_lessons SET ended_at = $1, end_reason = $2, last_seen = $1 WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(at)
        .bind(reason)
        .bind(lesson.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            let e = NewEvent {
                lesson: lesson.clone(),
                school: school.clone(),
                at,
                kind: EventKind::LessonEnded,
                actor: None,
                subject: None,
                detail: Some(reason.to_owned()),
            };
            insert_event(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The lesson's task is alive at `at`, and so is everyone still in it. It only moves
    /// `last_seen` forward: a heartbeat written late never moves it back, nor before a join.
    pub async fn log_heartbeat(&self, lesson: &LessonId, at: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE log_lessons SET last_seen = $1 WHERE id = $2 AND ended_at IS NULL AND last_seen < $1")
            .bind(at)
            .bind(lesson.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE log_sessions SET last_seen = $1 WHERE lesson_id = $2 AND left_at IS NULL AND last_seen < $1",
        )
        .bind(at)
        .bind(lesson.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes lessons and sessions left open by a server that stopped without closing them
    /// (last heartbeat before `stale_before`), marked as recovered, at the latest moment the
    /// log knows of: a connection at the latest of its last heartbeat, its join and the
    /// latest event about or by its person; a lesson at the latest of its last heartbeat and
    /// everything its log holds (so its recovered end never precedes an event written in the
    /// seconds between the last heartbeat and the crash). A closed row is never reopened or
    /// moved: a leave or an end that arrives for it later changes nothing. Returns how many
    /// lessons it closed.
    pub async fn recover_log(&self, stale_before: i64) -> Result<u64> {
        use sqlx::Row;
        let mut tx = self.pool.begin().await?;
        let open = sqlx::query("SELECT lesson_id, id, user_id, joined_at, last_seen FROM log_sessions WHERE left_at IS NULL AND last_seen < $1")
            .bind(stale_before)
            .fetch_all(&mut *tx)
            .await?;
        for row in &open {
            let (lesson, id, user): (String, String, String) =
                (row.try_get("lesson_id")?, row.try_get("id")?, row.try_get("user_id")?);
            let (joined, seen): (i64, i64) = (row.try_get("joined_at")?, row.try_get("last_seen")?);
            let at = seen
                .max(joined)
                .max(latest_of_person(&mut tx, &lesson, &user).await?.unwrap_or(i64::MIN));
            sqlx::query("UPDATE log_sessions SET left_at = $1, left_reason = 'server_stopped', recovered = 1 WHERE lesson_id = $2 AND id = $3 AND left_at IS NULL")
                .bind(at)
                .bind(&lesson)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        let rows =
            sqlx::query("SELECT id, school_id, last_seen FROM log_lessons WHERE ended_at IS NULL AND last_seen < $1")
                .bind(stale_before)
                .fetch_all(&mut *tx)
                .await?;
        let mut closed = 0;
        for row in &rows {
            let (id, school, seen): (String, String, i64) =
                (row.try_get("id")?, row.try_get("school_id")?, row.try_get("last_seen")?);
            let (Some(lesson), Some(school)) = (LessonId::parse(&id), SchoolId::parse(&school)) else {
                continue;
            };
            let at = seen.max(latest_in_lesson(&mut tx, &id).await?.unwrap_or(i64::MIN));
            let done = sqlx::query("UPDATE log_lessons SET ended_at = $1, end_reason = 'server_stopped' WHERE id = $2 AND ended_at IS NULL")
                .bind(at)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                continue; // another node's sweep closed it first
            }
            closed += 1;
            let seq = seq_after(last_seq(&mut tx, &id).await?);
            let e = NewEvent {
                lesson,
                school,
                at,
                kind: EventKind::LessonEnded,
                actor: None,
                subject: None,
                detail: Some("server_stopped".into()),
            };
            insert_event_seq(&mut tx, &e, seq).await?;
        }
        tx.commit().await?;
        Ok(closed)
    }

    /// Closes what a crashed server left open, then (for several nodes on one PostgreSQL)
    /// keeps sweeping for rows whose node stopped heartbeating. A single SQLite server has no
    /// other node, so at its start everything still open is left over from a crash. After
    /// the database has been unreachable the sweep holds off until it has been back for
    /// [`STALE_MS`] (see [`sweep_cutoff`]): every node's heartbeats failed with it, so rows of
    /// live lessons look stale until their nodes have had time to beat again.
    pub fn supervise_log(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            let sqlite = match store.pool.acquire().await {
                Ok(c) => c.backend_name() == "SQLite",
                Err(_) => false,
            };
            let first = if sqlite { i64::MAX } else { now_ms() - STALE_MS };
            let mut back_since = Some(i64::MIN);
            match store.recover_log(first).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    lessons = n,
                    "closed lessons a stopped server left open in the livestream log"
                ),
                Err(e) => {
                    back_since = None;
                    tracing::error!(error = %e, "could not recover the livestream log");
                }
            }
            if sqlite {
                return;
            }
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let now = now_ms();
                match store.recover_log(sweep_cutoff(now, back_since)).await {
                    Ok(_) => back_since = back_since.or(Some(now)),
                    Err(e) => {
                        back_since = None;
                        tracing::warn!(error = %e, "livestream log sweep failed; retrying");
                    }
                }
            }
        });
    }

    /// Appends a note to a lesson's log (and its addition to the audit chain). A note may
    /// correct an earlier note of the same lesson; nothing is ever changed or removed.
    pub async fn add_note(&self, note: NewNote<'_>) -> Result<String> {
        let NewNote {
            school,
            lesson,
            author,
            at,
            category,
            body,
            corrects,
        } = note;
        let body = text::clean(&text::LOG_NOTE, body)?;
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM log_lessons WHERE id = $1 AND school_id = $2")
            .bind(lesson.as_str())
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if let Some(c) = corrects {
            let found = sqlx::query("SELECT 1 AS one FROM log_notes WHERE id = $1 AND lesson_id = $2")
                .bind(c)
                .bind(lesson.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::Invalid("corrects: no such note in this lesson"));
            }
        }
        let id = format!("note_{}", random_token(12));
        sqlx::query("INSERT INTO log_notes (id, lesson_id, school_id, author_id, at, category, body, corrects, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&id)
            .bind(lesson.as_str())
            .bind(school.as_str())
            .bind(author.as_str())
            .bind(at)
            .bind(category.as_str())
            .bind(body)
            .bind(corrects.map(str::to_owned))
            .bind(next_seq())
            .execute(&mut *tx)
            .await?;
        let detail = json!({"lesson": lesson, "note": id, "category": category.as_str(), "corrects": corrects});
        append(&mut tx, school, author.as_str(), "log.note", &detail).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Sets the school's time zone (an IANA name such as `Europe/London`), audited.
    pub async fn set_time_zone(&self, school: &SchoolId, actor: &UserId, zone: &str) -> Result<()> {
        if zone.len() > 64 || jiff::tz::TimeZone::get(zone).is_err() {
            return Err(StoreError::Invalid("time zone"));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE schools SET time_zone = $1 WHERE id = $2")
            .bind(zone)
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            school,
            actor.as_str(),
            "school.time_zone",
            &json!({"time_zone": zone}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
