//! The livestream code of conduct (versioned per school), consent records, and privacy
//! profiles for vulnerable pupils.
//!
//! A pupil's consent is current when a record exists that the pupil and a parent or carer
//! signed, for a code-of-conduct version at least the school's required one, that is neither
//! withdrawn nor an opt-out. Parents may opt their child out (policy 40.2): that is recorded
//! as such, and refuses the pupil with its own reason.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::audit::append;
use super::{flag, now_ms, Result, Store, StoreError};
use livegate_core::ids::{random_token, SchoolId, UserId};
use livegate_core::school::{ConsentState, PrivacyProfile};
use livegate_core::text;

/// A version of a school's code of conduct and recording notice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConductText {
    pub version: i64,
    pub text: String,
    pub recording_notice: String,
    pub created_at: i64,
}

/// What a superuser records from a signed form.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub pupil_signed: bool,
    pub parent_name: String,
    /// The day it was signed, UTC milliseconds.
    pub signed_on: i64,
    /// `paper` or `digital`.
    pub method: String,
    pub conduct_version: i64,
    #[serde(default)]
    pub opt_out: bool,
}

impl ConsentInput {
    /// The parent or carer's name as stored, through the text policy: a signed form names who
    /// signed it; an opt-out needs no names (empty).
    pub fn clean_parent_name(&self) -> std::result::Result<String, text::TextError> {
        match text::clean_optional(&text::PARENT_NAME, &self.parent_name)? {
            Some(name) => Ok(name),
            None if self.opt_out => Ok(String::new()),
            None => Err(text::TextError {
                field: text::PARENT_NAME,
                problem: text::Problem::Empty,
            }),
        }
    }
}

/// A consent record as stored. `Debug` leaves out the parent's name.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentRecord {
    pub id: String,
    pub pupil_id: UserId,
    pub pupil_signed: bool,
    pub parent_name: String,
    pub signed_on: i64,
    pub method: String,
    pub conduct_version: i64,
    pub opt_out: bool,
    pub recorded_by: String,
    pub recorded_at: i64,
    pub withdrawn_at: Option<i64>,
    pub withdrawn_by: Option<String>,
}

impl std::fmt::Debug for ConsentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentRecord")
            .field("id", &self.id)
            .field("pupil_id", &self.pupil_id)
            .finish_non_exhaustive()
    }
}

fn consent(row: &AnyRow) -> Result<ConsentRecord> {
    let pupil: String = row.try_get("pupil_id")?;
    Ok(ConsentRecord {
        id: row.try_get("id")?,
        pupil_id: UserId::parse(&pupil).ok_or(StoreError::Invalid("malformed id in database"))?,
        pupil_signed: flag(row, "pupil_signed")?,
        parent_name: row.try_get("parent_name")?,
        signed_on: row.try_get("signed_on")?,
        method: row.try_get("method")?,
        conduct_version: row.try_get("conduct_version")?,
        opt_out: flag(row, "opt_out")?,
        recorded_by: row.try_get("recorded_by")?,
        recorded_at: row.try_get("recorded_at")?,
        withdrawn_at: row.try_get("withdrawn_at")?,
        withdrawn_by: row.try_get("withdrawn_by")?,
    })
}

/// Decides a pupil's consent state from their records (newest first) and the required version.
pub fn consent_state(records: &[ConsentRecord], required_version: i64) -> ConsentState {
    // The newest record speaks for the family now: a later withdrawal or opt-out overrides
    // any earlier signature.
    match records.first() {
        None => ConsentState::Missing,
        Some(r) if r.withdrawn_at.is_some() => ConsentState::Withdrawn,
        Some(r) if r.opt_out => ConsentState::OptedOut,
        Some(r) if r.pupil_signed && !r.parent_name.trim().is_empty() && r.conduct_version >= required_version => {
            ConsentState::Current
        }
        Some(_) => ConsentState::Missing,
    }
}

impl Store {
    /// The school's current code of conduct, if any was published.
    pub async fn conduct(&self, school: &SchoolId) -> Result<Option<ConductText>> {
        let row = sqlx::query("SELECT * FROM conduct_versions WHERE school_id = $1 ORDER BY version DESC LIMIT 1")
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ConductText {
                version: r.try_get("version")?,
                text: r.try_get("conduct_text")?,
                recording_notice: r.try_get("recording_notice")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Publishes a new version of the code of conduct and recording notice. With
    /// `require_resign`, consent for older versions stops counting.
    pub async fn publish_conduct(
        &self,
        actor: &str,
        school: &SchoolId,
        text: &str,
        notice: &str,
        require_resign: bool,
    ) -> Result<i64> {
        let conduct = text::clean(&text::CONDUCT_TEXT, text)?;
        let notice = text::clean(&text::RECORDING_NOTICE, notice)?;
        let mut tx = self.pool.begin().await?;
        let last: Option<AnyRow> = sqlx::query("SELECT MAX(version) AS v FROM conduct_versions WHERE school_id = $1")
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let version = last
            .and_then(|r| r.try_get::<Option<i64>, _>("v").ok().flatten())
            .unwrap_or(0)
            + 1;
        sqlx::query("INSERT INTO conduct_versions (school_id, version, conduct_text, recording_notice, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(school.as_str())
            .bind(version)
            .bind(&conduct)
            .bind(&notice)
            .bind(actor)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        if require_resign {
            sqlx::query("UPDATE schools SET conduct_version_required = $1 WHERE id = $2")
                .bind(version)
                .bind(school.as_str())
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            school,
            actor,
            "conduct.publish",
            &json!({"version": version, "require_resign": require_resign}),
        )
        .await?;
        tx.commit().await?;
        if require_resign {
            self.announce(school);
        }
        Ok(version)
    }

    /// A pupil's consent records, newest first.
    pub async fn consents(&self, school: &SchoolId, pupil: &UserId) -> Result<Vec<ConsentRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM consents WHERE school_id = $1 AND pupil_id = $2 ORDER BY recorded_at DESC, id DESC",
        )
        .bind(school.as_str())
        .bind(pupil.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consent).collect()
    }

    /// A pupil's consent state now.
    pub async fn consent_state(&self, school: &SchoolId, pupil: &UserId) -> Result<ConsentState> {
        let required = self
            .school(school)
            .await?
            .ok_or(StoreError::NotFound)?
            .conduct_version_required;
        Ok(consent_state(&self.consents(school, pupil).await?, required))
    }

    /// Records a signed (or opt-out) form for a pupil of this school.
    pub async fn record_consent(
        &self,
        actor: &str,
        school: &SchoolId,
        pupil: &UserId,
        input: &ConsentInput,
    ) -> Result<String> {
        if !matches!(input.method.as_str(), "paper" | "digital") {
            return Err(StoreError::Invalid("method must be paper or digital"));
        }
        let parent_name = input.clean_parent_name()?;
        let mut tx = self.pool.begin().await?;
        let is_pupil = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND school_id = $2 AND role = 'pupil'")
            .bind(pupil.as_str())
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if is_pupil.is_none() {
            return Err(StoreError::NotFound);
        }
        let version_known = sqlx::query("SELECT 1 AS one FROM conduct_versions WHERE school_id = $1 AND version = $2")
            .bind(school.as_str())
            .bind(input.conduct_version)
            .fetch_optional(&mut *tx)
            .await?;
        if version_known.is_none() {
            return Err(StoreError::Invalid("no such code-of-conduct version"));
        }
        let id = format!("con_{}", random_token(10));
        sqlx::query(
            "INSERT INTO consents (id, school_id, pupil_id, pupil_signed, parent_name, signed_on, method, conduct_version, opt_out, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(school.as_str())
        .bind(pupil.as_str())
        .bind(i64::from(input.pupil_signed))
        .bind(&parent_name)
        .bind(input.signed_on)
        .bind(&input.method)
        .bind(input.conduct_version)
        .bind(i64::from(input.opt_out))
        .bind(actor)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            school,
            actor,
            "consent.record",
            &json!({"consent": id, "pupil": pupil, "opt_out": input.opt_out}),
        )
        .await?;
        tx.commit().await?;
        self.announce(school);
        Ok(id)
    }

    /// Withdraws a consent record; the pupil leaves any live lesson at once.
    pub async fn withdraw_consent(&self, actor: &str, school: &SchoolId, consent_id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE consents SET withdrawn_at = $1, withdrawn_by = $2 WHERE id = $3 AND school_id = $4 AND withdrawn_at IS NULL")
            .bind(now_ms())
            .bind(actor)
            .bind(consent_id)
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append(
            &mut tx,
            school,
            actor,
            "consent.withdraw",
            &json!({"consent": consent_id}),
        )
        .await?;
        tx.commit().await?;
        self.announce(school);
        Ok(())
    }

    /// A pupil's privacy profile (the default if none was set).
    pub async fn privacy(&self, pupil: &UserId) -> Result<PrivacyProfile> {
        let row = sqlx::query("SELECT * FROM privacy_profiles WHERE pupil_id = $1")
            .bind(pupil.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(privacy_row).transpose().map(Option::unwrap_or_default)
    }

    /// The school's pupils whose privacy profile sets anything (a profile saved back to all
    /// defaults is no profile), by name; at most [`MAX_PRIVACY_LIST`].
    pub async fn privacy_profiles(&self, school: &SchoolId) -> Result<Vec<PrivacyListed>> {
        let rows = sqlx::query(
            "SELECT p.*, u.display_name, u.email FROM privacy_profiles p JOIN users u ON u.id = p.pupil_id \
             WHERE p.school_id = $1 AND u.school_id = $1 \
             AND (p.camera_always_off <> 0 OR p.alias IS NOT NULL OR p.hidden_from_pupils <> 0) \
             ORDER BY u.display_name, u.id LIMIT $2",
        )
        .bind(school.as_str())
        .bind(MAX_PRIVACY_LIST)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PrivacyListed {
                    pupil_id: r.try_get("pupil_id")?,
                    display_name: r.try_get("display_name")?,
                    email: r.try_get("email")?,
                    privacy: privacy_row(r)?,
                })
            })
            .collect()
    }

    /// Sets a pupil's privacy profile.
    pub async fn set_privacy(&self, actor: &str, school: &SchoolId, pupil: &UserId, p: &PrivacyProfile) -> Result<()> {
        let alias = p.alias.as_deref().map(|a| text::clean(&text::ALIAS, a)).transpose()?;
        let mut tx = self.pool.begin().await?;
        let is_pupil = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND school_id = $2 AND role = 'pupil'")
            .bind(pupil.as_str())
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if is_pupil.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM privacy_profiles WHERE pupil_id = $1")
            .bind(pupil.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO privacy_profiles (pupil_id, school_id, camera_always_off, alias, hidden_from_pupils) VALUES ($1, $2, $3, $4, $5)")
            .bind(pupil.as_str())
            .bind(school.as_str())
            .bind(i64::from(p.camera_always_off))
            .bind(alias.as_deref())
            .bind(i64::from(p.hidden_from_pupils))
            .execute(&mut *tx)
            .await?;
        append(&mut tx, school, actor, "privacy.set", &json!({"pupil": pupil})).await?;
        tx.commit().await?;
        self.announce(school);
        Ok(())
    }
}

/// A `privacy_profiles` row's settings.
fn privacy_row(r: &AnyRow) -> Result<PrivacyProfile> {
    Ok(PrivacyProfile {
        camera_always_off: flag(r, "camera_always_off")?,
        alias: r.try_get("alias")?,
        hidden_from_pupils: flag(r, "hidden_from_pupils")?,
    })
}

/// The most privacy profiles one list returns (far more than a school's vulnerable pupils).
pub const MAX_PRIVACY_LIST: i64 = 2_000;

/// A pupil with a privacy profile, as the admin list shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrivacyListed {
    pub pupil_id: String,
    pub display_name: String,
    pub email: String,
    pub privacy: PrivacyProfile,
}
