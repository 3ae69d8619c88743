//! Accounts in the database: sessions, failed sign-ins (for rate limiting) and one-time
//! set-password tokens (invites and resets).
//!
//! All of it lives in the shared database rather than in a node's memory, so with several
//! nodes on one PostgreSQL a session, a lockout or a token made on one node holds on every
//! other. Tokens are never stored: only their SHA-256 ([`token_hash`]). Email addresses and
//! client addresses are stored only as hashed bucket names. Callers pass the time in, so the
//! rules can be tested with a controlled clock.

use ring::digest::{digest, SHA256};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::audit::append;
use super::people::user;
use super::{Result, Store, StoreError, UserRecord};
use livegate_core::ids::{SchoolId, UserId};
use livegate_core::school::SignInMethod;

/// Known devices (migration 6): a browser that signed in to an account, by the hash of its
/// device cookie with the account's email (`bucket`), and the hashed email it belongs to.
pub const DEVICES_MIGRATION: &[&str] = &[
    "CREATE TABLE sign_in_devices (
        bucket TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used BIGINT NOT NULL
    )",
    "CREATE INDEX sign_in_devices_email ON sign_in_devices(email, last_used)",
    "CREATE INDEX sign_in_devices_used ON sign_in_devices(last_used)",
];

/// How many known devices an email keeps (the most recently used).
pub const DEVICES_PER_EMAIL: i64 = 20;

/// The SHA-256 of a token (or any text), in lowercase hex.
pub fn token_hash(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How long sessions last, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// A session unused this long ends.
    pub idle_ms: i64,
    /// A session ends this long after it started, used or not.
    pub lifetime_ms: i64,
    /// `last_seen` is written at most this often, so requests mostly only read.
    pub touch_every_ms: i64,
}

/// What a set-password token is for; it decides the token's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// A new account's first password (valid 72 hours).
    Invite,
    /// A forgotten password replaced (valid 1 hour).
    Reset,
}

impl TokenPurpose {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Invite => "invite",
            TokenPurpose::Reset => "reset",
        }
    }

    /// How long a token of this purpose is valid, in milliseconds.
    pub fn lifetime_ms(self) -> i64 {
        match self {
            TokenPurpose::Invite => 72 * 3600 * 1000,
            TokenPurpose::Reset => 3600 * 1000,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "invite" => Some(TokenPurpose::Invite),
            "reset" => Some(TokenPurpose::Reset),
            _ => None,
        }
    }
}

/// An unused, unexpired set-password token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    pub user: UserId,
    pub school: SchoolId,
    pub purpose: TokenPurpose,
    pub expires_at: i64,
}

fn account_token(row: &AnyRow) -> Result<AccountToken> {
    let bad = StoreError::Invalid("malformed token row in database");
    Ok(AccountToken {
        user: UserId::parse(&row.try_get::<String, _>("user_id")?)
            .ok_or(StoreError::Invalid("malformed id in database"))?,
        school: SchoolId::parse(&row.try_get::<String, _>("school_id")?)
            .ok_or(StoreError::Invalid("malformed id in database"))?,
        purpose: TokenPurpose::parse(&row.try_get::<String, _>("purpose")?).ok_or(bad)?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Store {
    /// Records a new session (by its token's hash), with how its person signed in, and drops
    /// sessions that have ended.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user: &UserId,
        method: SignInMethod,
        now: i64,
        times: SessionTimes,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE last_seen <= $1 OR created_at <= $2")
            .bind(now - times.idle_ms)
            .bind(now - times.lifetime_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen, method) VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(now)
        .bind(method.as_str())
        .execute(&mut *tx)
        .await
        .map_err(super::conflict)?;
        tx.commit().await?;
        Ok(())
    }

    /// The user of a live session. An ended session is deleted; a live one has its
    /// `last_seen` refreshed if it is older than `touch_every_ms`. No session of a disabled
    /// school is live, even one that began as the school was being disabled.
    pub async fn session_user(&self, token_hash: &str, now: i64, times: SessionTimes) -> Result<Option<UserRecord>> {
        Ok(self.session_of(token_hash, now, times).await?.map(|(user, _)| user))
    }

    /// The user of a live session and how they signed in (as [`Store::session_user`]).
    pub async fn session_of(
        &self,
        token_hash: &str,
        now: i64,
        times: SessionTimes,
    ) -> Result<Option<(UserRecord, SignInMethod)>> {
        let row = sqlx::query(
            "SELECT u.*, s.created_at AS session_created, s.last_seen AS session_seen, s.method AS session_method \
             FROM sessions s JOIN users u ON u.id = s.user_id JOIN schools sc ON sc.id = u.school_id \
             WHERE s.token_hash = $1 AND sc.disabled_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let created: i64 = row.try_get("session_created")?;
        let seen: i64 = row.try_get("session_seen")?;
        let method = SignInMethod::parse(&row.try_get::<String, _>("session_method")?)
            .ok_or(StoreError::Invalid("malformed session method in database"))?;
        if now - seen >= times.idle_ms || now - created >= times.lifetime_ms {
            self.end_session(token_hash).await?;
            return Ok(None);
        }
        if now - seen >= times.touch_every_ms {
            sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2 AND last_seen < $1")
                .bind(now)
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some((user(&row)?, method)))
    }

    /// Raises a live session to `method` (a second factor was just proved in it). True if the
    /// session exists.
    pub async fn upgrade_session(&self, token_hash: &str, method: SignInMethod) -> Result<bool> {
        let done = sqlx::query("UPDATE sessions SET method = $1 WHERE token_hash = $2")
            .bind(method.as_str())
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends one session. True if it existed.
    pub async fn end_session(&self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user; returns how many there were.
    pub async fn end_sessions_of(&self, user: &UserId) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The times of a bucket's failed sign-ins after `since`, newest first, at most `limit`.
    pub async fn recent_failures(&self, bucket: &str, since: i64, limit: i64) -> Result<Vec<i64>> {
        let rows =
            sqlx::query("SELECT at FROM sign_in_failures WHERE bucket = $1 AND at > $2 ORDER BY at DESC LIMIT $3")
                .bind(bucket)
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>("at").map_err(StoreError::from))
            .collect()
    }

    /// Records one sign-in attempt as a failure in each bucket, and forgets failures from
    /// before `forget_before`. Callers record before checking the password and take the record
    /// back with [`Store::forget_attempt`] if it succeeds, so parallel guesses are all counted.
    pub async fn record_failure(&self, buckets: &[&str], attempt: &str, now: i64, forget_before: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        for bucket in buckets {
            sqlx::query("INSERT INTO sign_in_failures (bucket, attempt, at) VALUES ($1, $2, $3)")
                .bind(*bucket)
                .bind(attempt)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes back one attempt's records (it succeeded, or it was refused unchecked).
    pub async fn forget_attempt(&self, attempt: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE attempt = $1")
            .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a bucket's failures (after a successful sign-in for that email).
    pub async fn clear_failures(&self, bucket: &str) -> Result<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE bucket = $1")
            .bind(bucket)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// True if this device bucket (a browser with an email, hashed) signed in after `since`.
    pub async fn known_device(&self, bucket: &str, since: i64) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM sign_in_devices WHERE bucket = $1 AND last_used > $2")
            .bind(bucket)
            .bind(since)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Remembers that a device signed in to an email (both hashed bucket names) at `now`,
    /// keeping the email's [`DEVICES_PER_EMAIL`] most recently used and forgetting every
    /// device unused since `forget_before`, so the table stays bounded.
    pub async fn remember_device(&self, bucket: &str, email: &str, now: i64, forget_before: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sign_in_devices WHERE last_used <= $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sign_in_devices (bucket, email, created_at, last_used) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (bucket) DO UPDATE SET last_used = $3",
        )
        .bind(bucket)
        .bind(email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM sign_in_devices WHERE email = $1 AND bucket NOT IN \
             (SELECT bucket FROM sign_in_devices WHERE email = $1 ORDER BY last_used DESC, bucket LIMIT $2)",
        )
        .bind(email)
        .bind(DEVICES_PER_EMAIL)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a set-password token for a user of this school (by its hash), replacing any
    /// unused one, and audits it. Returns when it expires.
    pub async fn issue_account_token(
        &self,
        actor: &str,
        school: &SchoolId,
        user: &UserId,
        purpose: TokenPurpose,
        token_hash: &str,
        now: i64,
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let found = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND school_id = $2")
            .bind(user.as_str())
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
        let expires_at = insert_account_token(&mut tx, actor, school, user, purpose, token_hash, now).await?;
        tx.commit().await?;
        Ok(expires_at)
    }

    /// The token with this hash if it is unused and unexpired.
    pub async fn account_token(&self, token_hash: &str, now: i64) -> Result<Option<AccountToken>> {
        let row =
            sqlx::query("SELECT * FROM account_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(account_token).transpose()
    }

    /// Spends a set-password token: sets the user's password hash, ends their sessions and
    /// audits it, all in one transaction. `NotFound` if the token is unknown, used or
    /// expired; a token is spent at most once even when two nodes race for it.
    pub async fn use_account_token(&self, token_hash: &str, password_hash: &str, now: i64) -> Result<AccountToken> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("SELECT * FROM account_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
        let token = row
            .as_ref()
            .map(account_token)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        // The condition is checked again under the row lock: the loser of a race updates nothing.
        let spent = sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if spent.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND school_id = $3")
            .bind(password_hash)
            .bind(token.user.as_str())
            .bind(token.school.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(token.user.as_str())
            .execute(&mut *tx)
            .await?;
        let detail = json!({"user": token.user, "via": token.purpose});
        append(&mut tx, &token.school, token.user.as_str(), "user.password", &detail).await?;
        tx.commit().await?;
        Ok(token)
    }
}

/// Stores a set-password token (by hash) for a user inside the caller's transaction, voiding
/// their unused one, and audits it. Returns when it expires.
pub(super) async fn insert_account_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    school: &SchoolId,
    user: &UserId,
    purpose: TokenPurpose,
    token_hash: &str,
    now: i64,
) -> Result<i64> {
    let expires_at = store_account_token(tx, actor, school, user, purpose, token_hash, now).await?;
    let action = format!("account.{}", purpose.as_str());
    append(
        tx,
        school,
        actor,
        &action,
        &json!({"user": user, "expires_at": expires_at}),
    )
    .await?;
    Ok(expires_at)
}

/// Stores a set-password token as [`insert_account_token`] does, without its audit entry (for
/// a caller that audits a batch once). Returns when it expires.
pub(super) async fn store_account_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    school: &SchoolId,
    user: &UserId,
    purpose: TokenPurpose,
    token_hash: &str,
    now: i64,
) -> Result<i64> {
    let expires_at = now + purpose.lifetime_ms();
    // One outstanding link per user: a new one replaces the old. Spent and expired links go too.
    sqlx::query("DELETE FROM account_tokens WHERE user_id = $1 OR used_at IS NOT NULL OR expires_at <= $2")
        .bind(user.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO account_tokens (token_hash, user_id, school_id, purpose, created_by, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(token_hash)
    .bind(user.as_str())
    .bind(school.as_str())
    .bind(purpose.as_str())
    .bind(actor)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await
    .map_err(super::conflict)?;
    Ok(expires_at)
}
