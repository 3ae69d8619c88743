//! What the operator's commands (`livegate school ...`, `livegate keys rotate`) change in the
//! database: a new school with its code of conduct, its first superuser and that superuser's
//! invite in one transaction; the schools' summary; disabling a school; and the copies of
//! recordings' wrapped data keys that a key rotation rewrites. Each change is on the school's
//! audit chain with the operator as actor, in the change's own transaction.

use serde_json::json;
use sqlx::Row;

use super::accounts::insert_account_token;
use super::audit::append;
use super::{conflict, now_ms, seed, Result, Store, StoreError, TokenPurpose};
use livegate_core::ids::{Email, SchoolId, UserId};
use livegate_core::school::Role;
use livegate_core::text;

/// Schools can be disabled by the operator (migration 7): `NULL` while in service.
pub const MIGRATION: &[&str] = &["ALTER TABLE schools ADD COLUMN disabled_at BIGINT"];

/// A new school as the operator asks for it.
pub struct NewSchool<'a> {
    pub id: &'a SchoolId,
    pub name: &'a str,
    pub time_zone: &'a str,
    pub superuser: &'a Email,
    pub superuser_name: &'a str,
    /// The SHA-256 of the superuser's invite token.
    pub invite_hash: &'a str,
}

/// Why a school could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewSchoolError {
    #[error("a school with this name already exists")]
    NameTaken,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for NewSchoolError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// One school as `livegate school list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchoolSummary {
    pub id: SchoolId,
    pub name: String,
    pub time_zone: String,
    pub users: i64,
    pub classes: i64,
    /// Lessons the livestream log has open (live on some node, or cut off by a crash not yet
    /// recovered).
    pub live_lessons: i64,
    pub disabled_at: Option<i64>,
}

/// One copy of a recording's wrapped data key in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKeyRow {
    pub recording: String,
    /// The wrapped key in hex (`None` once destroyed).
    pub wrapped_key: Option<String>,
}

impl Store {
    /// Creates a school, publishes the starting code of conduct, creates its first superuser
    /// (no password yet) and stores their invite token's hash, all in one transaction.
    /// Returns the superuser's id and when the invite expires.
    pub async fn create_school_with_superuser(
        &self,
        actor: &str,
        new: &NewSchool<'_>,
    ) -> std::result::Result<(UserId, i64), NewSchoolError> {
        let name = text::clean(&text::SCHOOL_NAME, new.name).map_err(StoreError::from)?;
        let display = text::clean(&text::DISPLAY_NAME, new.superuser_name).map_err(StoreError::from)?;
        let (now, user) = (now_ms(), UserId::generate());
        let mut tx = self.pool.begin().await?;
        let same_name = sqlx::query("SELECT 1 AS one FROM schools WHERE LOWER(name) = LOWER($1)")
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?;
        if same_name.is_some() {
            return Err(NewSchoolError::NameTaken);
        }
        let same_email = sqlx::query("SELECT 1 AS one FROM users WHERE email = $1")
            .bind(new.superuser.expose())
            .fetch_optional(&mut *tx)
            .await?;
        if same_email.is_some() {
            return Err(NewSchoolError::EmailTaken);
        }
        sqlx::query(
            "INSERT INTO schools (id, name, time_zone, conduct_version_required, retention_days, created_at) \
             VALUES ($1, $2, $3, 1, 30, $4)",
        )
        .bind(new.id.as_str())
        .bind(&name)
        .bind(new.time_zone)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        append(&mut tx, new.id, actor, "school.create", &json!({"school": new.id})).await?;
        sqlx::query(
            "INSERT INTO conduct_versions (school_id, version, conduct_text, recording_notice, created_by, created_at) \
             VALUES ($1, 1, $2, $3, $4, $5)",
        )
        .bind(new.id.as_str())
        .bind(seed::CONDUCT_TEMPLATE)
        .bind(seed::RECORDING_NOTICE)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            new.id,
            actor,
            "conduct.publish",
            &json!({"version": 1, "require_resign": true}),
        )
        .await?;
        sqlx::query(
            "INSERT INTO users (id, school_id, email, display_name, role, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, 0, $6)",
        )
        .bind(user.as_str())
        .bind(new.id.as_str())
        .bind(new.superuser.expose())
        .bind(&display)
        .bind(Role::Superuser.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match conflict(e) {
            StoreError::Conflict => NewSchoolError::EmailTaken,
            other => other.into(),
        })?;
        append(
            &mut tx,
            new.id,
            actor,
            "user.create",
            &json!({"user": user, "role": Role::Superuser}),
        )
        .await?;
        let expires_at = insert_account_token(
            &mut tx,
            actor,
            new.id,
            &user,
            TokenPurpose::Invite,
            new.invite_hash,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((user, expires_at))
    }

    /// Issues a new invite for a superuser of this school, found by email, replacing any
    /// unused link of theirs. `NotFound` unless the email is a superuser of the school.
    pub async fn reinvite_superuser(
        &self,
        actor: &str,
        school: &SchoolId,
        email: &Email,
        token_hash: &str,
    ) -> Result<(UserId, i64)> {
        let row = sqlx::query("SELECT id FROM users WHERE email = $1 AND school_id = $2 AND role = $3")
            .bind(email.expose())
            .bind(school.as_str())
            .bind(Role::Superuser.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let user = UserId::parse(&row.try_get::<String, _>("id")?).ok_or(StoreError::Invalid("malformed id"))?;
        let expires = self
            .issue_account_token(actor, school, &user, TokenPurpose::Invite, token_hash, now_ms())
            .await?;
        Ok((user, expires))
    }

    /// Every school with its counts, by name.
    pub async fn school_summaries(&self) -> Result<Vec<SchoolSummary>> {
        let rows = sqlx::query(
            "SELECT s.id, s.name, s.time_zone, s.disabled_at, \
             (SELECT COUNT(*) FROM users u WHERE u.school_id = s.id) AS users, \
             (SELECT COUNT(*) FROM classes c WHERE c.school_id = s.id) AS classes, \
             (SELECT COUNT(*) FROM log_lessons l WHERE l.school_id = s.id AND l.ended_at IS NULL) AS live \
             FROM schools s ORDER BY s.name, s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SchoolSummary {
                    id: SchoolId::parse(&r.try_get::<String, _>("id")?)
                        .ok_or(StoreError::Invalid("malformed id in database"))?,
                    name: r.try_get("name")?,
                    time_zone: r.try_get("time_zone")?,
                    users: r.try_get("users")?,
                    classes: r.try_get("classes")?,
                    live_lessons: r.try_get("live")?,
                    disabled_at: r.try_get("disabled_at")?,
                })
            })
            .collect()
    }

    /// Checks that the database answers (for readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// How many schools there are (a server with none says how to create one).
    pub async fn school_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM schools")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// True if the operator has disabled this school (false for a school that does not exist:
    /// the callers have already found it).
    pub async fn school_disabled(&self, school: &SchoolId) -> Result<bool> {
        let row = sqlx::query("SELECT disabled_at FROM schools WHERE id = $1")
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            None => false,
        })
    }

    /// Disables a school: signs out every one of its users and voids their set-password links,
    /// keeping all its data. `NotFound` for an unknown school; disabling twice changes nothing
    /// and returns false. Live lessons hear of it through the audit chain
    /// ([`Store::follow_other_nodes`]) or the local announcement, and remove everyone.
    pub async fn disable_school(&self, actor: &str, school: &SchoolId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT disabled_at FROM schools WHERE id = $1")
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.try_get::<Option<i64>, _>("disabled_at")?.is_some() {
            return Ok(false);
        }
        sqlx::query("UPDATE schools SET disabled_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE school_id = $1)")
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM account_tokens WHERE school_id = $1 AND used_at IS NULL")
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            school,
            actor,
            "school.disable",
            &json!({"school": school, "sessions_ended": sessions}),
        )
        .await?;
        tx.commit().await?;
        self.announce(school);
        Ok(true)
    }

    /// The database's copy of every recording's wrapped data key for a school, oldest first.
    pub async fn wrapped_keys(&self, school: &SchoolId) -> Result<Vec<WrappedKeyRow>> {
        let rows = sqlx::query("SELECT id, wrapped_key FROM recordings WHERE school_id = $1 ORDER BY started_at, id")
            .bind(school.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WrappedKeyRow {
                    recording: r.try_get("id")?,
                    wrapped_key: r.try_get("wrapped_key")?,
                })
            })
            .collect()
    }

    /// Replaces the database's copy of a recording's wrapped data key, only if it still holds
    /// `was` (hex), so a destroyed recording is never given a key back.
    pub async fn replace_wrapped_key(&self, school: &SchoolId, recording: &str, was: &str, now: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE recordings SET wrapped_key = $1 WHERE id = $2 AND school_id = $3 AND wrapped_key = $4")
                .bind(now)
                .bind(recording)
                .bind(school.as_str())
                .bind(was)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends an operator's action to a school's audit chain (its own transaction).
    pub async fn audit_operator(
        &self,
        actor: &str,
        school: &SchoolId,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        append(&mut tx, school, actor, action, detail).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{demo, stores, uid as user_id};
    use crate::store::SessionTimes;

    const TIMES: SessionTimes = SessionTimes {
        idle_ms: 3_600_000,
        lifetime_ms: 36_000_000,
        touch_every_ms: 60_000,
    };

    #[tokio::test]
    async fn disabling_a_school_ends_its_sessions_only_and_keeps_its_data() {
        for store in stores().await {
            let (mine, theirs) = (
                user_id(&store, "teacher@demo.sch.uk").await,
                user_id(&store, "teacher@other.sch.uk").await,
            );
            let now = now_ms();
            store
                .create_session(
                    "h-mine",
                    &mine,
                    livegate_core::school::SignInMethod::Password,
                    now,
                    TIMES,
                )
                .await
                .unwrap();
            store
                .create_session(
                    "h-theirs",
                    &theirs,
                    livegate_core::school::SignInMethod::Password,
                    now,
                    TIMES,
                )
                .await
                .unwrap();
            let users_before = store.users(&demo()).await.unwrap().len();
            assert!(!store.school_disabled(&demo()).await.unwrap());
            assert!(store.disable_school("operator:it", &demo()).await.unwrap());
            assert!(store.school_disabled(&demo()).await.unwrap());
            assert!(store.session_user("h-mine", now, TIMES).await.unwrap().is_none());
            // A session made as the school was being disabled is not live either.
            store
                .create_session(
                    "h-late",
                    &mine,
                    livegate_core::school::SignInMethod::Password,
                    now,
                    TIMES,
                )
                .await
                .unwrap();
            assert!(store.session_user("h-late", now, TIMES).await.unwrap().is_none());
            let other = store.session_user("h-theirs", now, TIMES).await.unwrap();
            assert_eq!(other.map(|u| u.id), Some(theirs), "another school is untouched");
            assert_eq!(store.users(&demo()).await.unwrap().len(), users_before, "data kept");
            assert!(
                !store.disable_school("operator:it", &demo()).await.unwrap(),
                "twice: no change"
            );
            let unknown = store
                .disable_school("operator:it", &SchoolId::parse("sch_nope").unwrap())
                .await;
            assert!(matches!(unknown, Err(StoreError::NotFound)));
            let entries = store.audit_entries(&demo(), 1000).await.unwrap();
            let disabled: Vec<_> = entries.iter().filter(|e| e.action == "school.disable").collect();
            assert_eq!(disabled.len(), 1);
            assert_eq!(disabled[0].actor, "operator:it");
        }
    }

    #[tokio::test]
    async fn a_school_is_made_whole_or_not_at_all() {
        for store in stores().await {
            let before = store.school_summaries().await.unwrap();
            let id = SchoolId::generate();
            let taken = Email::parse("ADMIN@demo.sch.uk").unwrap();
            let fresh = Email::parse("head@brook.sch.uk").unwrap();
            let name = store
                .create_school_with_superuser("operator", &new(&id, "demo ACADEMY", &fresh))
                .await;
            assert!(matches!(name, Err(NewSchoolError::NameTaken)), "{name:?}");
            let mail = store
                .create_school_with_superuser("operator", &new(&id, "Brook", &taken))
                .await;
            assert!(matches!(mail, Err(NewSchoolError::EmailTaken)), "{mail:?}");
            assert_eq!(store.school_summaries().await.unwrap(), before, "nothing half-made");
            let (user, expires) = store
                .create_school_with_superuser("operator", &new(&id, "Brook", &fresh))
                .await
                .unwrap();
            let head = store.user(&user).await.unwrap().unwrap();
            assert_eq!(
                (head.role, head.school.clone(), head.password_hash),
                (Role::Superuser, id.clone(), None)
            );
            let token = store.account_token("h-invite", now_ms()).await.unwrap().unwrap();
            assert_eq!((token.user, token.expires_at), (user, expires));
            assert_eq!(store.conduct(&id).await.unwrap().map(|c| c.version), Some(1));
            assert_eq!(store.school_count().await.unwrap(), before.len() as i64 + 1);
        }
    }

    fn new<'a>(id: &'a SchoolId, name: &'a str, superuser: &'a Email) -> NewSchool<'a> {
        NewSchool {
            id,
            name,
            time_zone: "Europe/London",
            superuser,
            superuser_name: "Head",
            invite_hash: "h-invite",
        }
    }
}
