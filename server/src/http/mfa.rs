//! Staff second factor (TOTP) over HTTP: enrolment from the account page, the sign-in's second
//! step, a superuser's reset of a colleague's factor, and the school's "teachers must use a
//! second factor" setting (PROTOCOL.md section 1, "Second factor").
//!
//! Sign-in: when an account has a confirmed authenticator, a correct password gives no session
//! but a pending sign-in (202, `SecondFactorNeeded`): a 256-bit token, stored hashed, valid for
//! five minutes, one per account, spent by the first correct code. Wrong codes count against
//! the same sign-in limits as wrong passwords (the email's, the address's, the device's), so
//! guessing six digits is as slow as guessing a password. A code is accepted once: the step it
//! matched is spent in the store, so a code seen over a shoulder or replayed within its window
//! is `code_reused`. A recovery code is spent the first time too.
//!
//! Enrolment: `POST .../totp` gives the secret (text, `otpauth://` address and QR code) once;
//! the factor counts only after `POST .../totp/confirm` with a code from the app, which answers
//! ten recovery codes (shown once, stored hashed) and raises the current session to
//! `password_totp`: the person has just proved both factors in it.

pub(crate) mod totp;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;
use livegate_core::ids::{random_token, UserId};
use livegate_core::proto::http::{SecondFactorNeeded, SignInState};
use livegate_core::school::{Role, SignInMethod};

use super::api::ApiJson;
use super::auth::{is_token, retry_after_secs, sent_device, session_token, ClientIp};
use super::{App, CurrentUser};
use crate::app::access::Attempt;
use crate::http::error::ApiError;
use crate::store::{now_ms, token_hash, FactorUse, UserRecord};

/// How long a pending sign-in waits for its code.
pub const PENDING_LIFETIME_MS: i64 = 5 * 60 * 1000;

/// How the current request's session signed in, put beside [`CurrentUser`] by the access guard.
#[derive(Debug, Clone, Copy)]
pub struct CurrentMethod(pub SignInMethod);

/// True when this person's role needs a two-factor session: superusers and leaders (who can
/// reach recordings) always, teachers where their school says so.
pub async fn factor_required(app: &App, user: &UserRecord) -> Result<bool, ApiError> {
    Ok(match user.role {
        Role::Superuser | Role::Leader => true,
        Role::Teacher => app.store.teachers_need_second_factor(&user.school).await?,
        Role::Pupil | Role::External => false,
    })
}

/// The second-factor part of `GET /api/me`.
pub async fn sign_in_state(app: &App, user: &UserRecord, method: SignInMethod) -> Result<SignInState, ApiError> {
    let factor = app.store.totp_factor(&user.id).await?;
    Ok(SignInState {
        method,
        two_factors: method.two_factors(),
        totp_enrolled: factor.is_some_and(|f| f.confirmed),
        second_factor_required: factor_required(app, user).await?,
    })
}

/// After a correct password: `Some(202 SecondFactorNeeded)` when the account has a confirmed
/// authenticator (no session yet), `None` when the password alone signs in.
pub async fn second_step(app: &App, user: &UserRecord) -> Result<Option<Response>, ApiError> {
    if !app.store.totp_factor(&user.id).await?.is_some_and(|f| f.confirmed) {
        return Ok(None);
    }
    let pending = random_token(32);
    let now = now_ms();
    app.store
        .create_pending_sign_in(&token_hash(&pending), &user.id, now, now + PENDING_LIFETIME_MS)
        .await?;
    tracing::info!(user = %user.id, "password accepted; waiting for the second factor");
    let body = SecondFactorNeeded {
        pending,
        expires_in_ms: PENDING_LIFETIME_MS as u64,
    };
    Ok(Some((StatusCode::ACCEPTED, Json(body)).into_response()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactor {
    pending: String,
    /// The authenticator's 6 digits; or
    #[serde(default)]
    code: Option<String>,
    /// one unused recovery code.
    #[serde(default)]
    recovery_code: Option<String>,
}

/// `too_many_attempts` with how long to wait.
fn held(wait: std::time::Duration) -> Response {
    let mut res = ApiError(ErrorCode::TooManyAttempts).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, retry_after_secs(wait).into());
    res
}

/// `POST /api/session/second-factor`: redeems a pending sign-in with a code or a recovery
/// code and starts a `password_totp` session.
pub async fn second_factor(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SecondFactor>,
) -> Result<Response, ApiError> {
    if !is_token(&body.pending) {
        return Err(ErrorCode::PendingSignInInvalid.into());
    }
    let pending = token_hash(&body.pending);
    let user_id = app
        .store
        .pending_sign_in(&pending, now_ms())
        .await?
        .ok_or(ErrorCode::PendingSignInInvalid)?;
    let user = app.store.user(&user_id).await?.ok_or(ErrorCode::PendingSignInInvalid)?;
    if user.disabled {
        return Err(ErrorCode::AccountDisabled.into());
    }
    let device = sent_device(&headers);
    let attempt = Attempt::new(Some(&user.email), ip, device);
    let limits = app.sessions.limits;
    let check = limits.check(&app.store, &attempt, now_ms()).await?;
    if let Some(wait) = check.wait {
        tracing::info!("second factor refused: too many failed attempts");
        return Ok(held(wait));
    }
    let (via, verdict) = verify(&app, &user.id, &body).await?;
    app.store
        .audit_factor_use(&user.school, &user.id, via, verdict.is_ok())
        .await?;
    if let Err(code) = verdict {
        limits
            .failed(&app.store, &attempt, check.known_device, now_ms())
            .await?;
        return Err(code.into());
    }
    if !app.store.take_pending_sign_in(&pending, now_ms()).await? {
        return Err(ErrorCode::PendingSignInInvalid.into());
    }
    limits.succeeded(&app.store, &attempt, check.known_device).await?;
    super::api::start_session(&app, &user, SignInMethod::PasswordTotp, device).await
}

/// Checks and spends the code or recovery code: which kind was tried, and its verdict.
async fn verify(app: &App, user: &UserId, body: &SecondFactor) -> Result<(FactorUse, Result<(), ErrorCode>), ApiError> {
    match (&body.code, &body.recovery_code) {
        (Some(code), None) => {
            let factor = app.store.totp_factor(user).await?.filter(|f| f.confirmed);
            let step = factor.and_then(|f| totp::check(&f.secret, code, unix_secs()));
            let verdict = match step {
                None => Err(ErrorCode::CodeInvalid),
                Some(step) if app.store.spend_totp_step(user, step).await? => Ok(()),
                Some(_) => Err(ErrorCode::CodeReused),
            };
            Ok((FactorUse::Totp, verdict))
        }
        (None, Some(code)) => {
            let spent = match totp::normalise_recovery_code(code) {
                Some(plain) => {
                    app.store
                        .spend_recovery_code(user, &token_hash(&plain), now_ms())
                        .await?
                }
                None => false,
            };
            Ok((FactorUse::Recovery, spent.then_some(()).ok_or(ErrorCode::CodeInvalid)))
        }
        _ => Err(ErrorCode::BadRequest.into()),
    }
}

/// Seconds since the Unix epoch, for the TOTP steps.
fn unix_secs() -> u64 {
    (now_ms() / 1000).max(0) as u64
}

// ---------------------------------------------------------------- enrolment

/// `GET /api/account/second-factor`.
#[derive(Serialize)]
pub struct FactorStatus {
    #[serde(flatten)]
    state: SignInState,
    recovery_codes_left: i64,
}

/// `GET /api/account/second-factor`: the caller's factor and session (staff; pupils have none).
pub async fn status(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Extension(CurrentMethod(method)): Extension<CurrentMethod>,
) -> Result<Json<FactorStatus>, ApiError> {
    if !user.role.is_staff() {
        return Err(ErrorCode::ForbiddenRole.into());
    }
    Ok(Json(FactorStatus {
        state: sign_in_state(&app, &user, method).await?,
        recovery_codes_left: app.store.recovery_codes_left(&user.id).await?,
    }))
}

/// The answer to starting an enrolment: the secret, shown this once.
#[derive(Serialize)]
pub struct TotpEnrolment {
    /// Base32, for typing into an app that cannot scan.
    secret: String,
    otpauth_url: String,
    /// The QR code of `otpauth_url`, an SVG document.
    qr_svg: String,
}

/// `POST /api/account/second-factor/totp`: a new secret for a staff account without a
/// confirmed authenticator (a new call replaces an unconfirmed one).
pub async fn start(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    if !user.role.is_staff() {
        return Err(ErrorCode::ForbiddenRole.into());
    }
    if app.store.totp_factor(&user.id).await?.is_some_and(|f| f.confirmed) {
        return Err(ErrorCode::MfaAlreadyEnrolled.into());
    }
    let secret = totp::new_secret();
    let url = totp::otpauth_url(&secret, user.email.expose()).ok_or(ErrorCode::Internal)?;
    let qr_svg = totp::qr_svg(&url).ok_or(ErrorCode::Internal)?;
    app.store.start_totp(&user.school, &user.id, &secret, now_ms()).await?;
    tracing::info!(user = %user.id, "second factor enrolment started");
    Ok(Json(TotpEnrolment {
        secret,
        otpauth_url: url,
        qr_svg,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    code: String,
}

/// The recovery codes, shown once.
#[derive(Serialize)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// `POST /api/account/second-factor/totp/confirm`: the first code confirms the enrolment.
pub async fn confirm(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Extension(CurrentMethod(method)): Extension<CurrentMethod>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let factor = app
        .store
        .totp_factor(&user.id)
        .await?
        .filter(|f| !f.confirmed)
        .ok_or(ErrorCode::NotFound)?;
    let step = totp::check(&factor.secret, &body.code, unix_secs()).ok_or(ErrorCode::CodeInvalid)?;
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| totp::normalise_recovery_code(c))
        .map(|c| token_hash(&c))
        .collect();
    app.store
        .confirm_totp(&user.school, &user.id, step, &hashes, now_ms())
        .await?;
    if method == SignInMethod::Password {
        if let Some(token) = session_token(&headers) {
            app.store
                .upgrade_session(&token_hash(token), SignInMethod::PasswordTotp)
                .await?;
        }
    }
    tracing::info!(user = %user.id, "second factor enrolled");
    Ok(Json(RecoveryCodes { recovery_codes: codes }))
}

// ---------------------------------------------------------------- the superuser's side

/// `POST /api/admin/users/{user_id}/second-factor/reset`: removes a colleague's factor and
/// signs them out (audited). Never one's own, and only from a two-factor session.
pub async fn reset(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    Extension(CurrentMethod(method)): Extension<CurrentMethod>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = UserId::parse(&user_id).ok_or(ErrorCode::NotFound)?;
    if user == actor.id {
        return Err(ErrorCode::MfaResetOwn.into());
    }
    if !method.two_factors() {
        return Err(ErrorCode::MfaRequired.into());
    }
    app.store.reset_factor(&actor.id, &actor.school, &user).await?;
    tracing::info!(user = %user, actor = %actor.id, "second factor reset");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET`/`PUT /api/admin/second-factor`: the school's setting.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolSetting {
    /// Teachers must sign in with two factors to start lessons.
    teachers_required: bool,
}

/// `GET /api/admin/second-factor`
pub async fn get_setting(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
) -> Result<Json<SchoolSetting>, ApiError> {
    let teachers_required = app.store.teachers_need_second_factor(&actor.school).await?;
    Ok(Json(SchoolSetting { teachers_required }))
}

/// `PUT /api/admin/second-factor` (audited).
pub async fn put_setting(
    State(app): State<App>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<SchoolSetting>,
) -> Result<Json<SchoolSetting>, ApiError> {
    app.store
        .set_teachers_need_second_factor(&actor.id, &actor.school, body.teachers_required)
        .await?;
    Ok(Json(body))
}

#[cfg(test)]
pub(crate) mod tests;
