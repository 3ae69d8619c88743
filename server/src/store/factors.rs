//! Second factors in the database (migration 8): each staff account's authenticator (TOTP)
//! secret with its replay cursor, its ten single-use recovery codes, the pending sign-ins
//! between a correct password and its code, how each session signed in, and the school's
//! "teachers must use a second factor" setting.
//!
//! The TOTP secret is stored as its base32 text in the database (not encrypted: the school's
//! key-encryption keys rotate and belong to recordings); it leaves the server only once, in the
//! enrolment answer, and is never logged (`TotpFactor`'s `Debug` hides it). Recovery codes
//! and pending sign-in tokens are stored only as SHA-256 hashes: each is 80 or more random bits,
//! so a hash cannot be reversed by guessing. Every check-and-spend is one conditional `UPDATE`
//! or `DELETE`, so two nodes racing for the same code or token cannot both win.

use serde_json::json;
use sqlx::Row;

use super::audit::append;
use super::{Result, Store, StoreError};
use livegate_core::ids::{SchoolId, UserId};

/// Migration 8.
pub const MIGRATION: &[&str] = &[
    "ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password'",
    "ALTER TABLE schools ADD COLUMN teachers_need_second_factor BIGINT NOT NULL DEFAULT 0",
    "CREATE TABLE totp_factors (
        user_id TEXT PRIMARY KEY REFERENCES users(id),
        school_id TEXT NOT NULL REFERENCES schools(id),
        secret TEXT NOT NULL,
        confirmed_at BIGINT,
        last_step BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE TABLE recovery_codes (
        user_id TEXT NOT NULL REFERENCES users(id),
        code_hash TEXT NOT NULL,
        used_at BIGINT,
        PRIMARY KEY (user_id, code_hash)
    )",
    "CREATE TABLE pending_sign_ins (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX pending_sign_ins_user ON pending_sign_ins(user_id)",
    "CREATE INDEX pending_sign_ins_expiry ON pending_sign_ins(expires_at)",
];

/// A user's authenticator as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// Base32, as the authenticator app was given it.
    pub secret: String,
    /// False while the enrolment waits for its first code.
    pub confirmed: bool,
    /// The last time step (Unix seconds / 30) a code was accepted for; codes of this step or
    /// earlier are refused.
    pub last_step: i64,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("secret", &"[redacted]")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// How a second factor was used, for the audit chain (never the code itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorUse {
    Totp,
    Recovery,
}

impl FactorUse {
    fn as_str(self) -> &'static str {
        match self {
            FactorUse::Totp => "totp",
            FactorUse::Recovery => "recovery_code",
        }
    }
}

impl Store {
    /// The user's authenticator, confirmed or pending.
    pub async fn totp_factor(&self, user: &UserId) -> Result<Option<TotpFactor>> {
        let row = sqlx::query("SELECT secret, confirmed_at, last_step FROM totp_factors WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(TotpFactor {
                secret: r.try_get("secret")?,
                confirmed: r.try_get::<Option<i64>, _>("confirmed_at")?.is_some(),
                last_step: r.try_get("last_step")?,
            })
        })
        .transpose()
    }

    /// Starts an enrolment: a new unconfirmed secret replaces any unconfirmed one. `Conflict`
    /// if the user already has a confirmed authenticator.
    pub async fn start_totp(&self, school: &SchoolId, user: &UserId, secret: &str, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NULL")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO totp_factors (user_id, school_id, secret, confirmed_at, last_step, created_at) \
             VALUES ($1, $2, $3, NULL, 0, $4)",
        )
        .bind(user.as_str())
        .bind(school.as_str())
        .bind(secret)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(super::conflict)?;
        tx.commit().await?;
        Ok(())
    }

    /// Confirms a pending enrolment with the step its first code matched, stores the recovery
    /// codes' hashes (replacing any old ones) and audits it, in one transaction. `NotFound` if
    /// there is no pending enrolment.
    pub async fn confirm_totp(
        &self,
        school: &SchoolId,
        user: &UserId,
        step: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $1, last_step = $2 \
             WHERE user_id = $3 AND school_id = $4 AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(step)
        .bind(user.as_str())
        .bind(school.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)")
                .bind(user.as_str())
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(super::conflict)?;
        }
        let detail = json!({"user": user, "factor": "totp", "recovery_codes": recovery_hashes.len()});
        append(&mut tx, school, user.as_str(), "mfa.enrol", &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the replay cursor to `step` if it is later than the last accepted one. False when
    /// the step was already used (the code is a replay) or there is no confirmed authenticator.
    pub async fn spend_totp_step(&self, user: &UserId, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE totp_factors SET last_step = $1 \
             WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1",
        )
        .bind(step)
        .bind(user.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Spends one recovery code (by its hash). False if it is unknown or already used.
    pub async fn spend_recovery_code(&self, user: &UserId, code_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user.as_str())
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many unused recovery codes the user has.
    pub async fn recovery_codes_left(&self, user: &UserId) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Audits one use of a second factor: which kind and whether it succeeded, never the code.
    pub async fn audit_factor_use(&self, school: &SchoolId, user: &UserId, via: FactorUse, ok: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let detail = json!({"user": user, "via": via.as_str(), "ok": ok});
        append(&mut tx, school, user.as_str(), "mfa.use", &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A superuser removes another user's second factor (authenticator and recovery codes) and
    /// ends that user's sessions, audited, in one transaction. `NotFound` if the user is not of
    /// this school or has no factor.
    pub async fn reset_factor(&self, actor: &UserId, school: &SchoolId, user: &UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 AND school_id = $2")
            .bind(user.as_str())
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for sql in [
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM pending_sign_ins WHERE user_id = $1",
            "DELETE FROM sessions WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(user.as_str()).execute(&mut *tx).await?;
        }
        append(&mut tx, school, actor.as_str(), "mfa.reset", &json!({"user": user})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a pending sign-in (by its token's hash) until `expires_at`. A user has at most
    /// one (a new one replaces the old) and expired ones are dropped, so the table stays bounded
    /// by the number of accounts with a factor.
    pub async fn create_pending_sign_in(
        &self,
        token_hash: &str,
        user: &UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1 OR user_id = $2")
            .bind(now)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO pending_sign_ins (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user.as_str())
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(super::conflict)?;
        tx.commit().await?;
        Ok(())
    }

    /// The user of an unexpired pending sign-in.
    pub async fn pending_sign_in(&self, token_hash: &str, now: i64) -> Result<Option<UserId>> {
        let row = sqlx::query("SELECT user_id FROM pending_sign_ins WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            UserId::parse(&r.try_get::<String, _>("user_id")?).ok_or(StoreError::Invalid("malformed id in database"))
        })
        .transpose()
    }

    /// Spends a pending sign-in: true for exactly one caller while it is unexpired.
    pub async fn take_pending_sign_in(&self, token_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM pending_sign_ins WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the school's teachers must sign in with two factors.
    pub async fn teachers_need_second_factor(&self, school: &SchoolId) -> Result<bool> {
        let row = sqlx::query("SELECT teachers_need_second_factor AS on_ FROM schools WHERE id = $1")
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("on_")? != 0,
            None => false,
        })
    }

    /// Sets the school's "teachers must use a second factor", audited.
    pub async fn set_teachers_need_second_factor(&self, actor: &UserId, school: &SchoolId, on: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE schools SET teachers_need_second_factor = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        let detail = json!({"teachers_need_second_factor": on});
        append(&mut tx, school, actor.as_str(), "school.second_factor", &detail).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{demo, seeded_sqlite};
    use super::*;
    use livegate_core::ids::Email;

    /// The demo store and its teacher.
    async fn teacher() -> (Store, SchoolId, UserId) {
        let store = seeded_sqlite().await;
        let email = Email::parse("teacher@demo.sch.uk").unwrap();
        let id = store.user_by_email(&email).await.unwrap().unwrap().id;
        (store, demo(), id)
    }

    #[tokio::test]
    async fn a_step_is_spent_once_and_never_an_earlier_one() {
        let (store, school, user) = teacher().await;
        let (school, user) = (&school, &user);
        store.start_totp(school, user, "JBSWY3DPEHPK3PXP", 1).await.unwrap();
        assert!(!store.spend_totp_step(user, 5).await.unwrap(), "not confirmed yet");
        store
            .confirm_totp(school, user, 10, &["h1".into(), "h2".into()], 2)
            .await
            .unwrap();
        assert!(!store.spend_totp_step(user, 10).await.unwrap(), "the enrolment's step");
        assert!(store.spend_totp_step(user, 11).await.unwrap());
        assert!(!store.spend_totp_step(user, 11).await.unwrap(), "replay");
        assert!(!store.spend_totp_step(user, 9).await.unwrap(), "an older step");
        assert!(store.spend_totp_step(user, 12).await.unwrap());
        assert!(
            store.start_totp(school, user, "OTHER", 3).await.is_err(),
            "a confirmed factor is not replaced by a new enrolment"
        );
    }

    #[tokio::test]
    async fn a_recovery_code_is_spent_once() {
        let (store, school, user) = teacher().await;
        let (school, user) = (&school, &user);
        store.start_totp(school, user, "JBSWY3DPEHPK3PXP", 1).await.unwrap();
        store
            .confirm_totp(school, user, 10, &["h1".into(), "h2".into()], 2)
            .await
            .unwrap();
        assert_eq!(store.recovery_codes_left(user).await.unwrap(), 2);
        assert!(store.spend_recovery_code(user, "h1", 3).await.unwrap());
        assert!(!store.spend_recovery_code(user, "h1", 4).await.unwrap());
        assert!(!store.spend_recovery_code(user, "nope", 4).await.unwrap());
        assert_eq!(store.recovery_codes_left(user).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_pending_sign_in_is_taken_once_and_not_after_it_expires() {
        let (store, _, user) = teacher().await;
        let user = &user;
        store.create_pending_sign_in("p1", user, 100, 200).await.unwrap();
        assert_eq!(store.pending_sign_in("p1", 150).await.unwrap().as_ref(), Some(user));
        assert!(store.take_pending_sign_in("p1", 150).await.unwrap());
        assert!(!store.take_pending_sign_in("p1", 150).await.unwrap());
        store.create_pending_sign_in("p2", user, 300, 400).await.unwrap();
        assert!(store.pending_sign_in("p2", 400).await.unwrap().is_none(), "expired");
        assert!(!store.take_pending_sign_in("p2", 401).await.unwrap());
        // One per user: a new pending sign-in replaces the old.
        store.create_pending_sign_in("p3", user, 500, 600).await.unwrap();
        store.create_pending_sign_in("p4", user, 510, 610).await.unwrap();
        assert!(store.pending_sign_in("p3", 520).await.unwrap().is_none());
        assert!(store.pending_sign_in("p4", 520).await.unwrap().is_some());
    }
}
