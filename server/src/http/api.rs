//! The JSON API handlers. Each sees only what its route's access allows, and scopes
//! everything to the caller's school and classes.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::{cleared_cookie, session_cookie, TICKET_LIFETIME};
use super::{App, CurrentUser};
use crate::admission::Decision;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{ClassId, Email, LessonId};
use crate::lesson::{self, LessonHandle, LessonInfo};
use crate::proto::{LessonSummary, PROTOCOL_VERSION};
use crate::store::{MemberKind, UserRecord};
use crate::password;

/// A JSON body whose rejection is our `bad_request` rather than axum's text.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(v) = Json::<T>::from_request(req, state).await.map_err(|_| ApiError(ErrorCode::BadRequest))?;
        Ok(Self(v))
    }
}

/// A user as the API shows them.
#[derive(Debug, Serialize)]
pub struct UserView {
    id: String,
    display_name: String,
    role: &'static str,
}

impl UserView {
    fn of(user: &UserRecord) -> Self {
        Self { id: user.id.to_string(), display_name: user.display_name.clone(), role: user.role.as_str() }
    }
}

/// `GET /api/health`
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "protocol": PROTOCOL_VERSION}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    email: String,
    password: String,
}

/// `POST /api/session`
pub async fn sign_in(State(app): State<App>, ApiJson(body): ApiJson<SignIn>) -> Result<Response, ApiError> {
    if body.password.len() > 1024 {
        return Err(ErrorCode::BadCredentials.into());
    }
    let email = Email::parse(&body.email).ok_or(ErrorCode::BadCredentials)?;
    let user = app.store.user_by_email(&email).await?;
    // Verify against a decoy for unknown accounts so timing does not reveal which exist.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy().to_owned());
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || password::verify(&password, &stored)).await.unwrap_or(false);
    let user = user.filter(|_| ok).ok_or(ErrorCode::BadCredentials)?;
    if user.disabled {
        return Err(ErrorCode::AccountDisabled.into());
    }
    let token = app.sessions.create(user.id.clone());
    let cookie = session_cookie(&token, app.config.secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Json(serde_json::json!({"user": UserView::of(&user)}))).into_response())
}

/// `DELETE /api/session`
pub async fn sign_out(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    app.sessions.end(&headers);
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared_cookie())]).into_response()
}

#[derive(Serialize)]
struct ClassSummary {
    id: String,
    name: String,
    live_lesson_id: Option<LessonId>,
    can_teach: bool,
}

/// `GET /api/me`
pub async fn me(State(app): State<App>, Extension(CurrentUser(user)): Extension<CurrentUser>) -> Result<Json<serde_json::Value>, ApiError> {
    let classes: Vec<ClassSummary> = app
        .store
        .classes_of(&user.id)
        .await?
        .into_iter()
        .map(|(c, kind)| ClassSummary {
            live_lesson_id: app.live_lesson_of(&c.id).map(|l| l.info.id.clone()),
            id: c.id.to_string(),
            name: c.name,
            can_teach: kind == MemberKind::Teacher && user.role == crate::store::Role::Teacher,
        })
        .collect();
    Ok(Json(serde_json::json!({"user": UserView::of(&user), "classes": classes})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartLesson {
    class_id: ClassId,
}

/// `POST /api/lessons`: a teacher starts (or gets back) the live lesson of their class.
pub async fn start_lesson(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    ApiJson(body): ApiJson<StartLesson>,
) -> Result<Response, ApiError> {
    let class = app.store.class(&user.school, &body.class_id).await?.ok_or(ErrorCode::NotFound)?;
    if app.store.membership(&class.id, &user.id).await? != Some(MemberKind::Teacher) {
        return Err(ErrorCode::ForbiddenRole.into());
    }
    let notice = app.store.conduct(&class.school).await?.map(|c| c.recording_notice);
    let notice = notice.unwrap_or_else(|| crate::store::seed::RECORDING_NOTICE.to_owned());
    let mut lessons = app.lessons.lock().expect("lessons lock");
    if let Some(live) = lessons.values().find(|l| l.info.class == class.id && l.is_live()) {
        return Ok((StatusCode::OK, Json(serde_json::json!({"lesson": live.summary()}))).into_response());
    }
    let info = LessonInfo {
        id: LessonId::generate(),
        school: class.school.clone(),
        class: class.id.clone(),
        class_name: class.name.clone(),
        recording_notice: notice,
    };
    let handle = lesson::spawn(info, app.media.clone());
    let summary = handle.summary();
    lessons.insert(handle.info.id.clone(), handle);
    tracing::info!(lesson = %summary.id, class = %class.id, "lesson started");
    Ok((StatusCode::CREATED, Json(serde_json::json!({"lesson": summary}))).into_response())
}

/// The lesson if this user may see it: same school, and teaching or on the roster.
fn visible_lesson(app: &App, user: &UserRecord, id: &str) -> Result<LessonHandle, ApiError> {
    let id = LessonId::parse(id).ok_or(ErrorCode::NotFound)?;
    let lesson = app.lesson(&id).ok_or(ErrorCode::NotFound)?;
    if lesson.info.school != user.school {
        return Err(ErrorCode::WrongSchool.into());
    }
    Ok(lesson)
}

/// `GET /api/lessons/{id}`
pub async fn get_lesson(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lesson = visible_lesson(&app, &user, &id)?;
    let facts = app.facts(&user, &lesson).await?;
    if !facts.teaches_class && !facts.on_roster {
        return Err(ErrorCode::NotOnRoster.into());
    }
    let summary: LessonSummary = lesson.summary();
    Ok(Json(serde_json::json!({"lesson": summary})))
}

/// `POST /api/lessons/{id}/ticket`: runs the admission gate and issues a join ticket.
pub async fn ticket(
    State(app): State<App>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lesson = visible_lesson(&app, &user, &id)?;
    match super::admit(&app, &user, &lesson, "ticket").await? {
        Decision::Refuse(code) => Err(code.into()),
        Decision::Admit(_) | Decision::Lobby => {
            let ticket = app.tickets.issue(user.id.clone(), lesson.info.id.clone());
            Ok(Json(serde_json::json!({
                "ticket": ticket,
                "expires_in_ms": TICKET_LIFETIME.as_millis() as u64,
                "ws_path": "/ws",
            })))
        }
    }
}
