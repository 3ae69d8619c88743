//! Recording rows: which lesson a recording belongs to, its wrapped data key, its state, its
//! manifest hash, legal hold and destruction. Every change is audited in its transaction; a
//! leader's view of a recording is audited before the first byte is served.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::audit::append;
use super::{flag, now_ms, Result, Store, StoreError};
use livegate_core::ids::{ClassId, LessonId, SchoolId, UserId};
use livegate_core::text;

/// The recordings table (migration 3).
pub const MIGRATION: &[&str] = &[
    "CREATE TABLE recordings (
        id TEXT PRIMARY KEY,
        school_id TEXT NOT NULL REFERENCES schools(id),
        lesson_id TEXT NOT NULL,
        class_id TEXT NOT NULL,
        teacher_id TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        ended_at BIGINT,
        status TEXT NOT NULL,
        wrapped_key TEXT,
        manifest_sha256 TEXT,
        legal_hold BIGINT NOT NULL,
        destroyed_at BIGINT
    )",
    "CREATE INDEX recordings_school ON recordings(school_id, started_at)",
];

/// A recording as leaders see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordingRow {
    pub id: String,
    pub school: String,
    pub lesson_id: String,
    pub class_id: String,
    pub teacher_id: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `recording`, `complete`, `interrupted`, `failed` or `destroyed`.
    pub status: String,
    #[serde(skip)]
    pub wrapped_key: Option<String>,
    pub manifest_sha256: Option<String>,
    pub legal_hold: bool,
    pub destroyed_at: Option<i64>,
    /// The class's name and the teacher's display name, for the leader's pages (None if gone).
    pub class_name: Option<String>,
    pub teacher_name: Option<String>,
}

/// Filters for listing recordings.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingFilter {
    pub class_id: Option<String>,
    pub teacher_id: Option<String>,
    /// UTC ms, inclusive.
    pub from: Option<i64>,
    /// UTC ms, exclusive.
    pub to: Option<i64>,
}

fn row(r: &AnyRow) -> Result<RecordingRow> {
    Ok(RecordingRow {
        id: r.try_get("id")?,
        school: r.try_get("school_id")?,
        lesson_id: r.try_get("lesson_id")?,
        class_id: r.try_get("class_id")?,
        teacher_id: r.try_get("teacher_id")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        status: r.try_get("status")?,
        wrapped_key: r.try_get("wrapped_key")?,
        manifest_sha256: r.try_get("manifest_sha256")?,
        legal_hold: flag(r, "legal_hold")?,
        destroyed_at: r.try_get("destroyed_at")?,
        // Only the leader's queries join the names in.
        class_name: r.try_get("class_name").ok().flatten(),
        teacher_name: r.try_get("teacher_name").ok().flatten(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes hex (either case). Only hex digits: `from_str_radix` alone would also take a sign,
/// so `+f+f` would decode as `[15, 15]`.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Store {
    /// A recording began with its lesson.
    pub async fn create_recording(
        &self,
        school: &SchoolId,
        id: &str,
        lesson: &LessonId,
        class: &ClassId,
        teacher: &UserId,
        wrapped_key: &[u8],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO recordings (id, school_id, lesson_id, class_id, teacher_id, started_at, status, wrapped_key, legal_hold) \
             VALUES ($1, $2, $3, $4, $5, $6, 'recording', $7, 0)",
        )
        .bind(id)
        .bind(school.as_str())
        .bind(lesson.as_str())
        .bind(class.as_str())
        .bind(teacher.as_str())
        .bind(now_ms())
        .bind(hex(wrapped_key))
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            school,
            teacher.as_str(),
            "recording.start",
            &json!({"recording": id, "lesson": lesson}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A recording's manifest reached the store (or was sealed after a crash): its hash goes
    /// into the audit chain.
    pub async fn finish_recording(&self, id: &str, interrupted: bool, manifest_sha256: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("SELECT school_id FROM recordings WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(r) = r else { return Err(StoreError::NotFound) };
        let school = SchoolId::parse(&r.try_get::<String, _>("school_id")?).ok_or(StoreError::Invalid("school id"))?;
        let status = if interrupted { "interrupted" } else { "complete" };
        // An interrupted (or failed) recording stays so even when its upload completes later.
        sqlx::query(
            "UPDATE recordings SET status = CASE WHEN status IN ('interrupted', 'failed') THEN status ELSE $1 END, \
             manifest_sha256 = $2, ended_at = COALESCE(ended_at, $3) WHERE id = $4",
        )
        .bind(status)
        .bind(manifest_sha256)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &school,
            "system",
            "recording.manifest",
            &json!({"recording": id, "sha256": manifest_sha256, "interrupted": interrupted}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a recording that stopped writing (fail closed).
    pub async fn fail_recording(&self, school: &SchoolId, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE recordings SET status = 'failed' WHERE id = $1 AND school_id = $2")
            .bind(id)
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        append(&mut tx, school, "system", "recording.failed", &json!({"recording": id})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A school's recordings, newest first.
    pub async fn recordings(&self, school: &SchoolId, f: &RecordingFilter) -> Result<Vec<RecordingRow>> {
        let rows = sqlx::query(
            "SELECT r.*, c.name AS class_name, u.display_name AS teacher_name FROM recordings r \
             LEFT JOIN classes c ON c.id = r.class_id LEFT JOIN users u ON u.id = r.teacher_id \
             WHERE r.school_id = $1 \
             AND ($2 = '' OR r.class_id = $2) AND ($3 = '' OR r.teacher_id = $3) \
             AND r.started_at >= $4 AND r.started_at < $5 ORDER BY r.started_at DESC LIMIT 500",
        )
        .bind(school.as_str())
        .bind(f.class_id.clone().unwrap_or_default())
        .bind(f.teacher_id.clone().unwrap_or_default())
        .bind(f.from.unwrap_or(0))
        .bind(f.to.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    /// One recording of this school.
    pub async fn recording(&self, school: &SchoolId, id: &str) -> Result<Option<RecordingRow>> {
        let r = sqlx::query("SELECT * FROM recordings WHERE id = $1 AND school_id = $2")
            .bind(id)
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// Records a leader's view, with its reason, before anything is served.
    pub async fn record_view(
        &self,
        school: &SchoolId,
        leader: &UserId,
        id: &str,
        reason: &str,
        concern: Option<&str>,
    ) -> Result<()> {
        let reason = text::clean(&text::REASON, reason)?;
        let concern = concern
            .map(|c| text::clean_optional(&text::CONCERN_REF, c))
            .transpose()?
            .flatten();
        let mut tx = self.pool.begin().await?;
        let exists =
            sqlx::query("SELECT 1 AS one FROM recordings WHERE id = $1 AND school_id = $2 AND status <> 'destroyed'")
                .bind(id)
                .bind(school.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        append(
            &mut tx,
            school,
            leader.as_str(),
            "recording.view",
            &json!({"recording": id, "reason": reason, "concern": concern}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a leader's download of one timeline (by its label: never a name) of a recording
    /// they have open, before anything is sent.
    pub async fn record_download(&self, school: &SchoolId, leader: &UserId, id: &str, label: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        append(
            &mut tx,
            school,
            leader.as_str(),
            "recording.download",
            &json!({"recording": id, "stream": label}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Places or lifts a legal hold.
    pub async fn set_legal_hold(
        &self,
        school: &SchoolId,
        actor: &UserId,
        id: &str,
        on: bool,
        reason: &str,
    ) -> Result<()> {
        let reason = text::clean(&text::REASON, reason)?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE recordings SET legal_hold = $1 WHERE id = $2 AND school_id = $3 AND status <> 'destroyed'",
        )
        .bind(i64::from(on))
        .bind(id)
        .bind(school.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append(
            &mut tx,
            school,
            actor.as_str(),
            "recording.hold",
            &json!({"recording": id, "on": on, "reason": reason}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Recordings past their school's retention period, not on hold, not yet destroyed.
    pub async fn expired_recordings(&self, now: i64) -> Result<Vec<RecordingRow>> {
        let rows = sqlx::query(
            "SELECT r.* FROM recordings r JOIN schools s ON s.id = r.school_id \
             WHERE r.legal_hold = 0 AND r.status IN ('complete', 'interrupted', 'failed') \
             AND r.started_at + s.retention_days * 86400000 < $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    /// The recording's objects are gone: forget its data key for good.
    pub async fn mark_destroyed(&self, school: &SchoolId, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE recordings SET status = 'destroyed', wrapped_key = NULL, destroyed_at = $1 WHERE id = $2 AND school_id = $3")
            .bind(now_ms())
            .bind(id)
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            school,
            "system",
            "recording.destroy",
            &json!({"recording": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a school's retention period in days (superusers).
    pub async fn set_retention(&self, school: &SchoolId, actor: &UserId, days: i64) -> Result<()> {
        if !(1..=3650).contains(&days) {
            return Err(StoreError::Invalid("retention days"));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE schools SET retention_days = $1 WHERE id = $2")
            .bind(days)
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            school,
            actor.as_str(),
            "school.retention",
            &json!({"days": days}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many recordings are in each state, across every school: the operator's metrics
    /// (counts only; no school, lesson or person).
    pub async fn recording_states(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM recordings GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{demo, stores};

    async fn new_recording(store: &Store, id: &str) {
        let (lesson, class, teacher) = (
            LessonId::generate(),
            ClassId::parse("7a").unwrap(),
            UserId::parse("usr_t").unwrap(),
        );
        store
            .create_recording(&demo(), id, &lesson, &class, &teacher, &[1, 2, 3])
            .await
            .unwrap();
    }

    async fn status(store: &Store, id: &str) -> String {
        store.recording(&demo(), id).await.unwrap().unwrap().status
    }

    #[test]
    fn unhex_takes_hex_digits_only() {
        assert_eq!(unhex("00ff7Fa0"), Some(vec![0, 255, 127, 160]));
        assert_eq!(unhex(&hex(&[1, 2, 254])), Some(vec![1, 2, 254]));
        for bad in ["+f+f", "0", "0g", " f", "-0", "é0"] {
            assert_eq!(unhex(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn recordings_are_counted_by_state() {
        for store in stores().await {
            let before = store.recording_states().await.unwrap();
            new_recording(&store, "rec_count_a").await;
            new_recording(&store, "rec_count_b").await;
            store.finish_recording("rec_count_b", false, "aa").await.unwrap();
            let after = store.recording_states().await.unwrap();
            let n = |v: &[(String, i64)], state: &str| v.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
            assert_eq!(n(&after, "recording") - n(&before, "recording"), 1, "{after:?}");
            assert_eq!(n(&after, "complete") - n(&before, "complete"), 1, "{after:?}");
        }
    }

    #[tokio::test]
    async fn interrupted_and_failed_stay_so_when_the_upload_completes() {
        for store in stores().await {
            new_recording(&store, "rec_ok").await;
            assert_eq!(status(&store, "rec_ok").await, "recording");
            store.finish_recording("rec_ok", false, "aa").await.unwrap();
            assert_eq!(status(&store, "rec_ok").await, "complete");
            new_recording(&store, "rec_crash").await;
            store.finish_recording("rec_crash", true, "bb").await.unwrap();
            store.finish_recording("rec_crash", false, "bb").await.unwrap();
            assert_eq!(status(&store, "rec_crash").await, "interrupted");
            new_recording(&store, "rec_fail").await;
            store.fail_recording(&demo(), "rec_fail").await.unwrap();
            store.finish_recording("rec_fail", false, "cc").await.unwrap();
            let row = store.recording(&demo(), "rec_fail").await.unwrap().unwrap();
            assert_eq!(
                (row.status.as_str(), row.manifest_sha256.as_deref()),
                ("failed", Some("cc"))
            );
            assert!(matches!(
                store.finish_recording("rec_none", false, "dd").await,
                Err(StoreError::NotFound)
            ));
        }
    }

    #[tokio::test]
    async fn retention_skips_held_and_destroyed_recordings() {
        for store in stores().await {
            let leader = UserId::parse("usr_l").unwrap();
            new_recording(&store, "rec_old").await;
            store.finish_recording("rec_old", false, "aa").await.unwrap();
            let later = now_ms() + 31 * 86_400_000;
            let expired = |rows: Vec<RecordingRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
            assert_eq!(expired(store.expired_recordings(later).await.unwrap()), vec!["rec_old"]);
            assert!(
                store.expired_recordings(now_ms()).await.unwrap().is_empty(),
                "not before its time"
            );
            assert!(matches!(
                store.set_legal_hold(&demo(), &leader, "rec_old", true, "ok").await,
                Err(StoreError::Text(_))
            ));
            store
                .set_legal_hold(&demo(), &leader, "rec_old", true, "police request")
                .await
                .unwrap();
            assert!(store.expired_recordings(later).await.unwrap().is_empty(), "held");
            store
                .set_legal_hold(&demo(), &leader, "rec_old", false, "released")
                .await
                .unwrap();
            store.mark_destroyed(&demo(), "rec_old").await.unwrap();
            let row = store.recording(&demo(), "rec_old").await.unwrap().unwrap();
            assert_eq!((row.status.as_str(), row.wrapped_key), ("destroyed", None));
            assert!(
                store.expired_recordings(later).await.unwrap().is_empty(),
                "destroyed once"
            );
            assert!(matches!(
                store
                    .record_view(&demo(), &leader, "rec_old", "a good reason", None)
                    .await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                store
                    .set_legal_hold(&demo(), &leader, "rec_old", true, "too late now")
                    .await,
                Err(StoreError::NotFound)
            ));
        }
    }

    #[tokio::test]
    async fn views_need_a_reason_and_the_right_school() {
        for store in stores().await {
            let leader = UserId::parse("usr_l").unwrap();
            new_recording(&store, "rec_v").await;
            for bad in [
                "",
                "    ",
                "abc",
                "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}",
                "éé.",
                &"x".repeat(1001),
            ] {
                assert!(
                    matches!(
                        store.record_view(&demo(), &leader, "rec_v", bad, None).await,
                        Err(StoreError::Text(_))
                    ),
                    "{bad:?}"
                );
            }
            let long_ref = "c".repeat(101);
            assert!(matches!(
                store
                    .record_view(&demo(), &leader, "rec_v", "a good reason", Some(&long_ref))
                    .await,
                Err(StoreError::Text(_))
            ));
            // Characters, not bytes: 400 characters of Chinese are 1,200 bytes.
            let chinese: String = "家长报告了课堂上的欺凌事件需要核实".chars().cycle().take(400).collect();
            store
                .record_view(&demo(), &leader, "rec_v", &chinese, None)
                .await
                .unwrap();
            store
                .set_legal_hold(&demo(), &leader, "rec_v", true, &chinese)
                .await
                .unwrap();
            let other = SchoolId::parse("sch_other").unwrap();
            assert!(matches!(
                store.record_view(&other, &leader, "rec_v", "a good reason", None).await,
                Err(StoreError::NotFound)
            ));
            assert!(store.recording(&other, "rec_v").await.unwrap().is_none());
            store
                .record_view(&demo(), &leader, "rec_v", "a good reason", Some("CPOMS-1"))
                .await
                .unwrap();
        }
    }
}
