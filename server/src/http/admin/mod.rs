//! The school administration API (`/api/admin/...`, superusers only) and the teacher's
//! readiness list (`/api/classes/{class_id}/readiness`). PROTOCOL.md section 5 documents
//! every route.
//!
//! Every handler scopes what it reads or changes to the caller's school: an id from another
//! school is `not_found`, exactly like an id that does not exist, so nothing about another
//! school can be learned. Changes go through store methods that append to the audit chain in
//! the same transaction, with the superuser's id as the actor. Every name and note a person
//! writes goes through the text policy ([`livegate_core::text`]) first: a refusal is `text_invalid`
//! with the field and why, and changes nothing. Every answer is a type of [`bodies`].

pub mod bodies;
pub mod consent;
pub mod invites;
pub mod people;
pub mod roster;

use serde::Serialize;

use livegate_core::codes::ErrorCode;

use super::App;
use crate::http::error::ApiError;
use crate::store::{ClassRecord, UserRecord};
use livegate_core::ids::{ClassId, UserId};
use livegate_core::school::Role;

/// A user as a superuser sees them.
#[derive(Debug, Serialize)]
pub struct AdminUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    /// False until the user has set a password (through an invite).
    pub has_password: bool,
}

impl AdminUser {
    pub fn of(u: &UserRecord) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.expose().to_owned(),
            display_name: u.display_name.clone(),
            role: u.role,
            disabled: u.disabled,
            has_password: u.password_hash.is_some(),
        }
    }
}

/// A user of this school by the id in a path; `not_found` for a malformed id, an unknown one,
/// or another school's.
pub async fn school_user(app: &App, me: &UserRecord, id: &str) -> Result<UserRecord, ApiError> {
    let id = UserId::parse(id).ok_or(ErrorCode::NotFound)?;
    let user = app.store.user(&id).await?.ok_or(ErrorCode::NotFound)?;
    if user.school != me.school {
        return Err(ErrorCode::NotFound.into());
    }
    Ok(user)
}

/// A pupil of this school by the id in a path (`not_found` for anyone else).
pub async fn school_pupil(app: &App, me: &UserRecord, id: &str) -> Result<UserRecord, ApiError> {
    let user = school_user(app, me, id).await?;
    if user.role != Role::Pupil {
        return Err(ErrorCode::NotFound.into());
    }
    Ok(user)
}

/// A class of this school by the id in a path.
pub async fn school_class(app: &App, me: &UserRecord, id: &str) -> Result<ClassRecord, ApiError> {
    let id = ClassId::parse(id).ok_or(ErrorCode::NotFound)?;
    Ok(app.store.class(&me.school, &id).await?.ok_or(ErrorCode::NotFound)?)
}

/// A class of this school by the id in a path, with its pupils by display name.
pub async fn school_class_pupils(
    app: &App,
    me: &UserRecord,
    id: &str,
) -> Result<(ClassRecord, Vec<UserRecord>), ApiError> {
    let class = school_class(app, me, id).await?;
    Ok(app
        .store
        .class_pupils(&me.school, &class.id)
        .await?
        .ok_or(ErrorCode::NotFound)?)
}

#[cfg(test)]
mod tests;
