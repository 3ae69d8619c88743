//! OpenID Connect sign-in in the database (migration 9): each school's provider settings, the
//! email domains that lead to them, the identities (issuer and subject) linked to users, and
//! the sign-ins in flight.
//!
//! Nothing here is a secret: the app registration's client secret lives in the configuration,
//! never in the database. A sign-in in flight is stored by the SHA-256 of its `state` and of
//! the browser's binding cookie; its PKCE verifier and nonce are derived from that cookie
//! (`app::sso`), so a copy of the database cannot finish anyone's sign-in. Linking and
//! unlinking an identity are on the audit chain in the same transaction.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::audit::append;
use super::{conflict, flag, Result, Store, StoreError};
use livegate_core::ids::{SchoolId, UserId};

/// Migration 9.
pub const MIGRATION: &[&str] = &[
    // `directory` is the Microsoft tenant id (a GUID) or the Google Workspace domain (`hd`).
    "CREATE TABLE school_sso (
        school_id TEXT PRIMARY KEY REFERENCES schools(id),
        provider TEXT NOT NULL,
        directory TEXT NOT NULL,
        enabled BIGINT NOT NULL,
        pupils_password BIGINT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    )",
    // An email domain leads to one school's sign-in, so a typed email picks the school.
    "CREATE TABLE sso_domains (
        domain TEXT PRIMARY KEY,
        school_id TEXT NOT NULL REFERENCES schools(id)
    )",
    "CREATE INDEX sso_domains_school ON sso_domains(school_id)",
    "CREATE TABLE user_identity (
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id),
        school_id TEXT NOT NULL REFERENCES schools(id),
        linked_at BIGINT NOT NULL,
        last_used BIGINT NOT NULL,
        PRIMARY KEY (issuer, subject)
    )",
    "CREATE INDEX user_identity_user ON user_identity(user_id)",
    "CREATE TABLE sso_pending (
        state_hash TEXT PRIMARY KEY,
        binding_hash TEXT NOT NULL,
        school_id TEXT NOT NULL,
        address TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX sso_pending_address ON sso_pending(address)",
    "CREATE INDEX sso_pending_expires ON sso_pending(expires_at)",
];

/// Which identity provider a school uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Microsoft Entra ID (Microsoft 365), one tenant per school (or per trust).
    Microsoft,
    /// Google Workspace for Education, one domain per school.
    Google,
}

impl ProviderKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Microsoft => "microsoft",
            ProviderKind::Google => "google",
        }
    }

    /// The kind from its name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "microsoft" => Some(ProviderKind::Microsoft),
            "google" => Some(ProviderKind::Google),
            _ => None,
        }
    }
}

/// A school's sign-in settings as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    pub provider: ProviderKind,
    /// The Microsoft tenant id (lowercase GUID) or the Google Workspace domain.
    pub directory: String,
    pub enabled: bool,
    /// Whether pupils may still sign in with a password (staff always may: the emergency way in).
    pub pupils_password: bool,
    /// The email domains whose people sign in through this school (lowercase).
    pub domains: Vec<String>,
}

/// A sign-in in flight, as the callback finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub binding_hash: String,
    pub school: SchoolId,
}

/// A linked identity as the superuser's page lists it (no subject: it says nothing to a person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub user: UserId,
    pub issuer: String,
    pub linked_at: i64,
    pub last_used: i64,
}

/// Why a sign-in could not be put in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingFull {
    /// This client address has this many in flight already.
    Address,
    /// The server has this many in flight in all.
    Total,
}

/// The audit detail of a settings change: ids and settings only.
#[derive(Serialize)]
struct SettingsDetail<'a> {
    provider: ProviderKind,
    directory: &'a str,
    enabled: bool,
    pupils_password: bool,
    domains: &'a [String],
}

/// The audit detail of linking or unlinking an identity.
#[derive(Serialize)]
struct IdentityDetail<'a> {
    user: &'a UserId,
    issuer: &'a str,
}

fn detail(v: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|_| StoreError::Invalid("audit detail"))
}

fn settings(row: &AnyRow, domains: Vec<String>) -> Result<SsoSettings> {
    let provider: String = row.try_get("provider")?;
    Ok(SsoSettings {
        provider: ProviderKind::parse(&provider).ok_or(StoreError::Invalid("unknown provider in database"))?,
        directory: row.try_get("directory")?,
        enabled: flag(row, "enabled")?,
        pupils_password: flag(row, "pupils_password")?,
        domains,
    })
}

impl Store {
    /// A school's sign-in settings, if it has any.
    pub async fn sso_settings(&self, school: &SchoolId) -> Result<Option<SsoSettings>> {
        let row = sqlx::query("SELECT * FROM school_sso WHERE school_id = $1")
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let domains = sqlx::query("SELECT domain FROM sso_domains WHERE school_id = $1 ORDER BY domain")
            .bind(school.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("domain"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        settings(&row, domains).map(Some)
    }

    /// Replaces a school's sign-in settings and its email domains, audited. `Conflict` if a
    /// domain already leads to another school.
    pub async fn set_sso_settings(&self, actor: &str, school: &SchoolId, s: &SsoSettings, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM school_sso WHERE school_id = $1")
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO school_sso (school_id, provider, directory, enabled, pupils_password, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(school.as_str())
        .bind(s.provider.as_str())
        .bind(&s.directory)
        .bind(i64::from(s.enabled))
        .bind(i64::from(s.pupils_password))
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sso_domains WHERE school_id = $1")
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        for domain in &s.domains {
            sqlx::query("INSERT INTO sso_domains (domain, school_id) VALUES ($1, $2)")
                .bind(domain)
                .bind(school.as_str())
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
        }
        let d = SettingsDetail {
            provider: s.provider,
            directory: &s.directory,
            enabled: s.enabled,
            pupils_password: s.pupils_password,
            domains: &s.domains,
        };
        append(&mut tx, school, actor, "sso.settings", &detail(&d)?).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The school an email domain signs in through, with its settings.
    pub async fn sso_school_for_domain(&self, domain: &str) -> Result<Option<(SchoolId, SsoSettings)>> {
        let row = sqlx::query("SELECT school_id FROM sso_domains WHERE domain = $1")
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let school = SchoolId::parse(&row.try_get::<String, _>("school_id")?)
            .ok_or(StoreError::Invalid("malformed id in database"))?;
        Ok(self.sso_settings(&school).await?.map(|s| (school, s)))
    }

    /// Puts a sign-in in flight until `expires_at`, forgetting expired ones first. Refused when
    /// `address` already has `per_address` in flight or the server `total`.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_sso_pending(
        &self,
        state_hash: &str,
        pending: &PendingSignIn,
        address: &str,
        now: i64,
        expires_at: i64,
        (per_address, total): (i64, i64),
    ) -> Result<std::result::Result<(), PendingFull>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sso_pending WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let count = |sql: &'static str| sqlx::query(sql);
        let here: i64 = count("SELECT COUNT(*) AS n FROM sso_pending WHERE address = $1")
            .bind(address)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if here >= per_address {
            return Ok(Err(PendingFull::Address));
        }
        let all: i64 = count("SELECT COUNT(*) AS n FROM sso_pending")
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if all >= total {
            return Ok(Err(PendingFull::Total));
        }
        sqlx::query(
            "INSERT INTO sso_pending (state_hash, binding_hash, school_id, address, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(&pending.binding_hash)
        .bind(pending.school.as_str())
        .bind(address)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Takes a sign-in in flight out (it can be finished once), if it has not expired and the
    /// browser presents the binding it was started with. A wrong binding leaves it in place, so a
    /// stranger who learnt the state cannot spend it for its owner.
    pub async fn take_sso_pending(
        &self,
        state_hash: &str,
        binding_hash: &str,
        now: i64,
    ) -> Result<Option<PendingSignIn>> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("SELECT * FROM sso_pending WHERE state_hash = $1 AND binding_hash = $2 AND expires_at > $3")
                .bind(state_hash)
                .bind(binding_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let taken = sqlx::query("DELETE FROM sso_pending WHERE state_hash = $1")
            .bind(state_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // The loser of two nodes racing for one state deletes nothing and gets nothing.
        if taken.rows_affected() != 1 {
            return Ok(None);
        }
        Ok(Some(PendingSignIn {
            binding_hash: row.try_get("binding_hash")?,
            school: SchoolId::parse(&row.try_get::<String, _>("school_id")?)
                .ok_or(StoreError::Invalid("malformed id in database"))?,
        }))
    }

    /// The user an identity is linked to, and when it was last used (touched now).
    pub async fn identity_user(&self, issuer: &str, subject: &str, now: i64) -> Result<Option<UserId>> {
        let row = sqlx::query("SELECT user_id FROM user_identity WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        sqlx::query("UPDATE user_identity SET last_used = $1 WHERE issuer = $2 AND subject = $3")
            .bind(now)
            .bind(issuer)
            .bind(subject)
            .execute(&self.pool)
            .await?;
        UserId::parse(&row.try_get::<String, _>("user_id")?)
            .ok_or(StoreError::Invalid("malformed id in database"))
            .map(Some)
    }

    /// Links an identity to a user of `school` on their first sign-in, audited with the user
    /// as actor. `Conflict` if the identity was linked meanwhile (two first sign-ins racing).
    pub async fn link_identity(
        &self,
        school: &SchoolId,
        user: &UserId,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO user_identity (issuer, subject, user_id, school_id, linked_at, last_used) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user.as_str())
        .bind(school.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        let d = IdentityDetail { user, issuer };
        append(&mut tx, school, user.as_str(), "sso.link", &detail(&d)?).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A school's linked identities, by user.
    pub async fn linked_identities(&self, school: &SchoolId) -> Result<Vec<LinkedIdentity>> {
        let rows = sqlx::query(
            "SELECT user_id, issuer, linked_at, last_used FROM user_identity WHERE school_id = $1 \
             ORDER BY user_id, issuer",
        )
        .bind(school.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkedIdentity {
                    user: UserId::parse(&r.try_get::<String, _>("user_id")?)
                        .ok_or(StoreError::Invalid("malformed id in database"))?,
                    issuer: r.try_get("issuer")?,
                    linked_at: r.try_get("linked_at")?,
                    last_used: r.try_get("last_used")?,
                })
            })
            .collect()
    }

    /// Unlinks every identity of a user of `school`, audited; their next sign-in links again by
    /// email. `NotFound` if they had none.
    pub async fn unlink_identities(&self, actor: &str, school: &SchoolId, user: &UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT issuer FROM user_identity WHERE user_id = $1 AND school_id = $2")
            .bind(user.as_str())
            .bind(school.as_str())
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM user_identity WHERE user_id = $1 AND school_id = $2")
            .bind(user.as_str())
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        for row in &rows {
            let issuer: String = row.try_get("issuer")?;
            let d = IdentityDetail { user, issuer: &issuer };
            append(&mut tx, school, actor, "sso.unlink", &detail(&d)?).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
