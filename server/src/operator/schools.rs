//! `livegate school add | list | disable | invite`: a school's life as the operator sees it.
//!
//! Adding a school writes its key-encryption key first (a file of its own, mode 0600, in the
//! keys folder), then creates the school, its code of conduct, its first superuser and their
//! invite in one transaction; if that transaction fails the key file is removed again, so
//! nothing is left half-made. The invite is the same one-time link a superuser's page issues
//! (valid 72 hours, stored only as a hash); the operator hands it to the superuser.

use livegate_core::ids::{random_token, Email, SchoolId, UserId};

use super::{invite_url, Operator, OperatorError};
use crate::recording::keys::{current_file, write_key_file};
use crate::store::schools::{NewSchool, NewSchoolError, SchoolSummary};
use crate::store::{token_hash, StoreError};

/// What `livegate school add` asks for.
pub struct AddSchool {
    pub name: String,
    pub time_zone: String,
    pub superuser: String,
    /// The superuser's display name (default: the part of the email before the `@`).
    pub superuser_name: Option<String>,
}

/// A one-time set-password link for a superuser.
#[derive(Debug, Clone)]
pub struct Invite {
    pub school: SchoolId,
    pub user: UserId,
    pub url: String,
    /// When the link stops working (UTC milliseconds).
    pub expires_at: i64,
}

/// A school in the list, with whether its key is on disk.
#[derive(Debug, Clone)]
pub struct ListedSchool {
    pub summary: SchoolSummary,
    pub key_present: bool,
}

impl Operator {
    /// Creates a school, its key, its first superuser and their invite.
    pub async fn add_school(&self, add: &AddSchool) -> Result<Invite, OperatorError> {
        let email = Email::parse(&add.superuser).ok_or_else(|| OperatorError::BadEmail(add.superuser.clone()))?;
        let zone = add.time_zone.trim();
        if zone.len() > 64 || jiff::tz::TimeZone::get(zone).is_err() {
            return Err(OperatorError::BadTimeZone(add.time_zone.clone()));
        }
        let local = email.expose().split('@').next().unwrap_or("Superuser").to_owned();
        let display = add.superuser_name.clone().unwrap_or(local);
        livegate_core::text::clean(&livegate_core::text::SCHOOL_NAME, &add.name)?;
        livegate_core::text::clean(&livegate_core::text::DISPLAY_NAME, &display)?;
        let school = SchoolId::generate();
        let key_path = self.keys_dir.join(current_file(school.as_str()));
        let folder = |source| OperatorError::KeysFolder {
            path: self.keys_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.keys_dir).map_err(folder)?;
        let hex = livegate_recorder::keys::generate_hex().map_err(|e| folder(std::io::Error::other(e)))?;
        write_key_file(&key_path, &hex).map_err(folder)?;
        let token = random_token(32);
        let new = NewSchool {
            id: &school,
            name: &add.name,
            time_zone: zone,
            superuser: &email,
            superuser_name: &display,
            invite_hash: &token_hash(&token),
        };
        let created = self.store.create_school_with_superuser(&self.actor, &new).await;
        let (user, expires_at) = match created {
            Ok(done) => done,
            Err(e) => {
                // Nothing refers to the new key: take it back, so a refusal leaves no trace.
                let _ = std::fs::remove_file(&key_path);
                return Err(match e {
                    NewSchoolError::NameTaken => OperatorError::NameTaken(add.name.trim().to_owned()),
                    NewSchoolError::EmailTaken => OperatorError::EmailTaken(email.expose().to_owned()),
                    NewSchoolError::Store(e) => e.into(),
                });
            }
        };
        tracing::info!(%school, superuser = %user, actor = %self.actor, "school created");
        Ok(Invite {
            url: invite_url(&self.public_url, &token),
            school,
            user,
            expires_at,
        })
    }

    /// Every school, with its counts and whether its key file is there.
    pub async fn list_schools(&self) -> Result<Vec<ListedSchool>, OperatorError> {
        let keyring = crate::recording::Keyring::new(self.keys_dir.clone());
        Ok(self
            .store
            .school_summaries()
            .await?
            .into_iter()
            .map(|summary| ListedSchool {
                key_present: keyring.get(summary.id.as_str()).is_some(),
                summary,
            })
            .collect())
    }

    /// Disables a school: nobody signs in and no lesson runs; its data is kept. True if it
    /// was in service, false if it was already disabled.
    pub async fn disable_school(&self, school: &str) -> Result<bool, OperatorError> {
        let id = self.known_school(school).await?;
        match self.store.disable_school(&self.actor, &id).await {
            Ok(done) => {
                tracing::info!(school = %id, actor = %self.actor, "school disabled");
                Ok(done)
            }
            Err(StoreError::NotFound) => Err(OperatorError::UnknownSchool(school.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// A new invite link for a superuser of the school (their previous link stops working).
    pub async fn invite_superuser(&self, school: &str, email: &str) -> Result<Invite, OperatorError> {
        let id = self.known_school(school).await?;
        if self.store.school_disabled(&id).await? {
            return Err(OperatorError::SchoolDisabled(school.to_owned()));
        }
        let parsed = Email::parse(email).ok_or_else(|| OperatorError::BadEmail(email.to_owned()))?;
        let token = random_token(32);
        let (user, expires_at) = self
            .store
            .reinvite_superuser(&self.actor, &id, &parsed, &token_hash(&token))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => OperatorError::NotASuperuser {
                    school: school.to_owned(),
                    email: parsed.expose().to_owned(),
                },
                other => other.into(),
            })?;
        tracing::info!(school = %id, superuser = %user, actor = %self.actor, "superuser invite issued");
        Ok(Invite {
            url: invite_url(&self.public_url, &token),
            school: id,
            user,
            expires_at,
        })
    }

    /// The school with this id, or `UnknownSchool`.
    pub(super) async fn known_school(&self, school: &str) -> Result<SchoolId, OperatorError> {
        let unknown = || OperatorError::UnknownSchool(school.to_owned());
        let id = SchoolId::parse(school).ok_or_else(unknown)?;
        self.store.school(&id).await?.ok_or_else(unknown)?;
        Ok(id)
    }
}
