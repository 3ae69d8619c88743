//! The JSON API handlers. Each sees only what its route's access allows, and scopes
//! everything to the caller's school and classes. Their answers are the types of
//! [`livegate_core::proto::http`], which the Rust clients read too.

use std::time::Duration;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;

use super::auth::{
    cleared_cookie, device_cookie, retry_after_secs, sent_device, session_cookie, session_token, ClientIp,
};
use super::{App, CurrentUser};
use crate::app::access::{Attempt, Authenticator, PasswordClaim, PasswordSignIn};
use crate::app::lessons::Started;
use crate::app::AppError;
use crate::http::error::ApiError;
use crate::store::{now_ms, MemberKind, UserRecord};
use livegate_core::admission::Decision;
use livegate_core::ids::{ClassId, Email};
use livegate_core::proto::http::{
    ClassSummary, ConductBody, ConductView, Health, JoinCheck, LessonBody, Me, SignedIn, Ticket, User,
};
use livegate_core::school::SignInMethod;

/// A JSON body whose rejection is our `bad_request` rather than axum's text.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(v) = Json::<T>::from_request(req, state)
            .await
            .map_err(|_| ApiError(ErrorCode::BadRequest))?;
        Ok(Self(v))
    }
}

/// An audit entry's detail from its type: the same JSON object (keys in sorted order) the
/// chain has always stored. Serialising these plain structs cannot fail; if it ever did, the
/// route answers `internal` rather than write an entry without its detail.
pub fn audit_detail(detail: &impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(detail).map_err(|e| {
        tracing::error!(error = %e, "an audit detail could not be serialised");
        ApiError(ErrorCode::Internal)
    })
}

/// A user as the API shows them to themself.
fn user_view(user: &UserRecord) -> User {
    User {
        id: user.id.to_string(),
        display_name: user.display_name.clone(),
        role: user.role,
    }
}

/// `GET /api/health`
pub async fn health() -> Json<Health> {
    Json(Health::ok())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    email: String,
    password: String,
}

/// `POST /api/session`: password sign-in under the sign-in limits (`auth::SignInLimits`): a
/// held attempt is `too_many_attempts` with `Retry-After`, whatever the password. A success
/// also marks this browser as a known device for the account (the `livegate_device` cookie).
pub async fn sign_in(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&body.email);
    let device = sent_device(&headers);
    let attempt = Attempt::new(email.as_ref(), ip, device);
    let limits = app.sessions.limits;
    let claim = PasswordClaim {
        email: email.clone(),
        password: body.password,
        attempt: attempt.clone(),
    };
    let proof = match (PasswordSignIn { limits }).authenticate(&app.store, claim).await {
        Err(AppError::Refused(ErrorCode::TooManyAttempts)) => {
            tracing::info!("sign-in refused: too many failed attempts");
            let wait = limits
                .check(&app.store, &attempt, now_ms())
                .await?
                .wait
                .unwrap_or(Duration::from_secs(1));
            let mut res = ApiError(ErrorCode::TooManyAttempts).into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs(wait).into());
            return Ok(res);
        }
        other => other?,
    };
    let user = proof.user;
    // A school may sign its pupils in with their school account only (app::sso).
    crate::app::sso::password_allowed(&app.store, &user).await?;
    if user.disabled {
        crate::telemetry::sign_in_failed(ErrorCode::AccountDisabled);
        return Err(ErrorCode::AccountDisabled.into());
    }
    if app.store.school_disabled(&user.school).await? {
        crate::telemetry::sign_in_failed(ErrorCode::SchoolDisabled);
        return Err(ErrorCode::SchoolDisabled.into());
    }
    // An account with a second factor gets a pending sign-in, not a session (`http::mfa`).
    if let Some(pending) = super::mfa::second_step(&app, &user).await? {
        return Ok(pending);
    }
    start_session(&app, &user, proof.method, device).await
}

/// Starts a session for a signed-in person: the session cookie, and this browser remembered as
/// a known device for the account. Password sign-in and the second factor's step end here.
pub(super) async fn start_session(
    app: &App,
    user: &UserRecord,
    method: SignInMethod,
    device: Option<&str>,
) -> Result<Response, ApiError> {
    let token = app.sessions.create(&app.store, &user.id, method, now_ms()).await?;
    // Secure whenever the browser reaches us over HTTPS (built-in TLS, or a proxy that
    // `secure_cookies` declares), as the school-account sign-in's cookie is.
    let secure = app.config.https();
    let session = session_cookie(&app.sessions, &token, secure);
    let known = app
        .sessions
        .limits
        .remember_device(&app.store, device, &user.email, now_ms())
        .await?;
    tracing::info!(user = %user.id, ?method, "signed in");
    let cookies = axum::response::AppendHeaders([
        (header::SET_COOKIE, session),
        (header::SET_COOKIE, device_cookie(&known, secure)),
    ]);
    Ok((cookies, Json(SignedIn { user: user_view(user) })).into_response())
}

/// `DELETE /api/session`: ends the session on every node.
pub async fn sign_out(State(app): State<App>, headers: axum::http::HeaderMap) -> Result<Response, ApiError> {
    app.sessions.end(&app.store, session_token(&headers)).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared_cookie())]).into_response())
}

/// `GET /api/me`: the caller and their classes, each with its live lesson and, for a pupil,
/// what Join would meet there (`JoinCheck`, from the gate, recording nothing).
pub async fn me(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Extension(super::mfa::CurrentMethod(method)): Extension<super::mfa::CurrentMethod>,
) -> Result<Json<Me>, ApiError> {
    let rows: Vec<_> = app
        .store
        .classes_of(&user.id)
        .await?
        .into_iter()
        .map(|(c, kind)| {
            // A lesson is live for pupils only once its teacher has been in it.
            let live = app
                .lessons
                .live_of(&c.id)
                .filter(|l| kind == MemberKind::Teacher || l.opened());
            (c, kind, live)
        })
        .collect();
    let asks: Vec<_> = rows.iter().map(|(_, kind, live)| (*kind, live.as_ref())).collect();
    let checks = app.preview_joins(&user, &asks).await?;
    let classes: Vec<ClassSummary> = rows
        .into_iter()
        .zip(checks)
        .map(|((c, kind, live), check)| ClassSummary {
            live_lesson_id: live.map(|l| l.info.id.clone()),
            id: c.id.to_string(),
            name: c.name,
            can_teach: kind == MemberKind::Teacher && user.role == livegate_core::school::Role::Teacher,
            join: check.map(JoinCheck::from),
        })
        .collect();
    let notice = app.store.conduct(&user.school).await?.map(|c| c.recording_notice);
    Ok(Json(Me {
        user: user_view(&user),
        classes,
        recording_notice: notice.unwrap_or_else(|| crate::store::seed::RECORDING_NOTICE.to_owned()),
        recording_ready: app.recordings.as_ref().is_some_and(|r| r.ready_for(&user.school)),
        sign_in: super::mfa::sign_in_state(&app, &user, method).await?,
    }))
}

/// `GET /api/conduct`: the school's code of conduct for live lessons, its current version's
/// text, for anyone of the school (a pupil told to sign it reads it here first).
pub async fn conduct(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
) -> Result<Json<ConductBody>, ApiError> {
    let conduct = app.store.conduct(&user.school).await?.map(|c| ConductView {
        version: c.version,
        text: c.text,
        published_at: c.created_at,
    });
    Ok(Json(ConductBody { conduct }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartLesson {
    class_id: ClassId,
    /// The planned start and end (UTC ms), for the livestream log; both or neither.
    #[serde(default)]
    scheduled_start: Option<i64>,
    #[serde(default)]
    scheduled_end: Option<i64>,
}

/// `POST /api/lessons`: a teacher starts (or gets back) the live lesson of their class: 201
/// with a new lesson, 200 with the one already live.
pub async fn start_lesson(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<StartLesson>,
) -> Result<Response, ApiError> {
    let (status, summary) = match app
        .start_lesson(&user, &body.class_id, (body.scheduled_start, body.scheduled_end))
        .await?
    {
        Started::New(summary) => (StatusCode::CREATED, summary),
        Started::Existing(summary) => (StatusCode::OK, summary),
    };
    Ok((status, Json(LessonBody { lesson: summary })).into_response())
}

/// `GET /api/lessons/{id}`
pub async fn get_lesson(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<LessonBody>, ApiError> {
    let lesson = app.visible_lesson(&user, &id)?;
    let facts = app.facts(&user, &lesson).await?;
    // Staff from a trusted domain may knock at the lobby, so they read the recording notice too.
    let may_knock = facts.role.is_staff() && facts.domain_trusted && !facts.account_disabled;
    if !facts.teaches_class && !facts.on_roster && !may_knock {
        // Opening another class's lesson link is a refusal the log keeps, like the gate's.
        app.log_refused(&user, &lesson, ErrorCode::NotOnRoster).await?;
        return Err(ErrorCode::NotOnRoster.into());
    }
    Ok(Json(LessonBody {
        lesson: lesson.summary(),
    }))
}

/// `POST /api/lessons/{id}/ticket`: runs the admission gate and issues a join ticket, bound
/// to the caller's session and to the `Origin` that asked for it. A person asking more often
/// than their budget allows is `rate_limited` before the gate runs.
pub async fn ticket(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    app.lessons.check_open()?;
    let lesson = app.visible_lesson(&user, &id)?;
    if let Err(wait) = app.tickets.allow_request(&user.id) {
        tracing::debug!(user = %user.id, "ticket request over budget");
        let mut res = ApiError(ErrorCode::RateLimited).into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, retry_after_secs(wait).into());
        return Ok(res);
    }
    match app.admit(&user, &lesson).await? {
        Decision::Refuse(code) => Err(code.into()),
        Decision::Admit(_) | Decision::Lobby => {
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            let ticket = app.tickets.issue(user.id.clone(), lesson.info.id.clone(), origin);
            let body = Ticket {
                ticket,
                expires_in_ms: app.tickets.lifetime().as_millis() as u64,
                ws_path: "/ws".into(),
            };
            Ok(Json(body).into_response())
        }
    }
}
