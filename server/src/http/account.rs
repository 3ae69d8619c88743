//! Set-password links: a superuser issues a one-time link for a user of their school (an
//! invite for a new account, valid 72 hours, or a reset, valid 1 hour), hands it over by their
//! own channel, and whoever opens it sets the account's password once.
//!
//! The link is `/#/set-password?token=...`: the token sits in the fragment, which browsers
//! never send to a server or put in a `Referer`. It is 256 random bits and only its SHA-256 is
//! stored. Issuing a new link voids the user's previous one. Setting the password spends the
//! token, ends the user's sessions everywhere and is audited, in one transaction.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;

use super::api::ApiJson;
use super::auth::is_token;
use super::{App, CurrentUser};
use crate::app::Livegate;
use crate::http::error::ApiError;
use crate::password;
use crate::store::{now_ms, token_hash, StoreError, TokenPurpose, UserRecord};
use livegate_core::ids::{random_token, UserId};

/// A one-time set-password link as the superuser receives it.
#[derive(Debug, Clone, Serialize)]
pub struct SetPasswordLink {
    /// Relative to the server's origin: `/#/set-password?token=...`.
    pub url: String,
    pub purpose: TokenPurpose,
    /// When the link stops working (UTC milliseconds).
    pub expires_at: i64,
}

/// The answer to an invite or a reset: `{"link": SetPasswordLink}`.
#[derive(Debug, Clone, Serialize)]
pub struct LinkBody {
    pub link: SetPasswordLink,
}

/// Issues a link for a user of the actor's school; `not_found` for anyone else. Only the
/// invite and reset routes issue links: creating a user does not, so no live link exists that
/// the superuser did not ask for.
pub async fn issue_link(
    app: &Livegate,
    actor: &UserRecord,
    user: &UserId,
    purpose: TokenPurpose,
) -> Result<SetPasswordLink, ApiError> {
    let token = random_token(32);
    let expires_at = app
        .store
        .issue_account_token(
            actor.id.as_str(),
            &actor.school,
            user,
            purpose,
            &token_hash(&token),
            now_ms(),
        )
        .await?;
    tracing::info!(user = %user, actor = %actor.id, purpose = purpose.as_str(), "set-password link issued");
    Ok(SetPasswordLink {
        url: crate::app::set_password_path(&token),
        purpose,
        expires_at,
    })
}

async fn issue(
    app: &Livegate,
    actor: &UserRecord,
    user_id: &str,
    purpose: TokenPurpose,
) -> Result<Json<LinkBody>, ApiError> {
    let user = UserId::parse(user_id).ok_or(ErrorCode::NotFound)?;
    let link = issue_link(app, actor, &user, purpose).await?;
    Ok(Json(LinkBody { link }))
}

/// `POST /api/admin/users/{user_id}/invite`
pub async fn invite(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    Path(user_id): Path<String>,
) -> Result<Json<LinkBody>, ApiError> {
    issue(&app, &actor, &user_id, TokenPurpose::Invite).await
}

/// `POST /api/admin/users/{user_id}/reset`
pub async fn reset(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    Path(user_id): Path<String>,
) -> Result<Json<LinkBody>, ApiError> {
    issue(&app, &actor, &user_id, TokenPurpose::Reset).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    token: String,
    password: String,
}

/// True if the password's length is acceptable (the only rule: length, not composition).
pub fn acceptable_password(p: &str) -> bool {
    p.chars().count() >= password::MIN_LENGTH && p.len() <= password::MAX_LENGTH
}

/// `POST /api/account/password`: sets a password with a link's token, once.
pub async fn set_password(State(app): State<App>, ApiJson(body): ApiJson<SetPassword>) -> Result<StatusCode, ApiError> {
    if !is_token(&body.token) {
        return Err(ErrorCode::TokenInvalid.into());
    }
    let hash = token_hash(&body.token);
    // Check the token before the costly hashing, so junk tokens cost the server nothing.
    app.store
        .account_token(&hash, now_ms())
        .await?
        .ok_or(ErrorCode::TokenInvalid)?;
    if !acceptable_password(&body.password) {
        return Err(ErrorCode::WeakPassword.into());
    }
    let password = body.password;
    let hashed = password::run_bounded(move || password::hash(&password))
        .await
        .ok_or(ErrorCode::Internal)?;
    if hashed.is_empty() {
        return Err(ErrorCode::Internal.into());
    }
    match app.store.use_account_token(&hash, &hashed, now_ms()).await {
        Ok(token) => {
            tracing::info!(user = %token.user, via = token.purpose.as_str(), "password set");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(StoreError::NotFound) => Err(ErrorCode::TokenInvalid.into()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
