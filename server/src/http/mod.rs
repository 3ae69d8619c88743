//! The HTTP side: the route table with each route's required access, sessions and tickets,
//! the JSON API, the WebSocket and the embedded web client.
//!
//! Authorisation is declared once, in [`route_table`]: every route names its [`Access`], and
//! the router is built from that table, so a route without a declared access cannot exist.

mod api;
mod auth;
mod web;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Router;

pub use auth::{CurrentUser, Sessions, Tickets};

use crate::admission::{Facts, SchoolRole};
use crate::config::Config;
use crate::directory::{Directory, User};
use crate::error::{ApiError, ErrorCode};
use crate::ids::{ClassId, LessonId};
use crate::lesson::LessonHandle;
use crate::media::MediaHandle;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in, health, the web client, the WebSocket, which
    /// authorises itself with a ticket).
    Public,
    /// Any signed-in user; the handler scopes what they see to their school and classes.
    SignedIn,
    /// Signed-in teachers only.
    Teacher,
}

/// Everything the handlers share.
pub struct AppState {
    pub config: Config,
    pub directory: Directory,
    pub sessions: Sessions,
    pub tickets: Tickets,
    pub media: MediaHandle,
    pub lessons: Mutex<HashMap<LessonId, LessonHandle>>,
}

/// The shared state as handlers receive it.
pub type App = Arc<AppState>;

impl AppState {
    /// A lesson by id.
    pub fn lesson(&self, id: &LessonId) -> Option<LessonHandle> {
        self.lessons.lock().expect("lessons lock").get(id).cloned()
    }

    /// The live lesson of a class, if any.
    pub fn live_lesson_of(&self, class: &ClassId) -> Option<LessonHandle> {
        self.lessons.lock().expect("lessons lock").values().find(|l| &l.info.class == class && l.is_live()).cloned()
    }

    /// The admission gate's facts for this user and lesson, now.
    pub fn facts(&self, user: &User, lesson: &LessonHandle) -> Facts {
        let class = self.directory.class(&lesson.info.class);
        let shared = lesson.shared.lock().expect("lesson lock");
        Facts {
            role: user.role,
            same_school: user.school == lesson.info.school,
            teaches_class: class.is_some_and(|c| c.teachers.contains(&user.id)),
            on_roster: class.is_some_and(|c| c.pupils.contains(&user.id)),
            lesson_live: shared.live,
            teacher_present: shared.teacher_present,
            removed: shared.removed.contains(&user.id),
        }
    }
}

/// Every route: its method, path, access and handler. The one place authorisation is declared.
pub fn route_table() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{delete, post};
    vec![
        (Method::GET, "/api/health", Access::Public, get(api::health)),
        (Method::POST, "/api/session", Access::Public, post(api::sign_in)),
        (Method::DELETE, "/api/session", Access::SignedIn, delete(api::sign_out)),
        (Method::GET, "/api/me", Access::SignedIn, get(api::me)),
        (Method::POST, "/api/lessons", Access::Teacher, post(api::start_lesson)),
        (Method::GET, "/api/lessons/{lesson_id}", Access::SignedIn, get(api::get_lesson)),
        (Method::POST, "/api/lessons/{lesson_id}/ticket", Access::SignedIn, post(api::ticket)),
        (Method::GET, "/ws", Access::Public, get(ws::upgrade)),
    ]
}

/// Builds the whole application router.
pub fn router(app: App) -> Router {
    let mut router = Router::new();
    for (_, path, access, handler) in route_table() {
        let guard = middleware::from_fn_with_state(app.clone(), move |state: State<App>, req: Request, next: Next| {
            authorize(access, state, req, next)
        });
        router = router.route(path, handler.route_layer(guard));
    }
    router
        .fallback(web::asset)
        .layer(middleware::from_fn(web::security_headers))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(app)
}

/// Enforces a route's declared access and refuses cross-site writes.
async fn authorize(access: Access, State(app): State<App>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    if req.method() != axum::http::Method::GET && auth::is_cross_site(req.headers()) {
        return Err(ErrorCode::CrossSite.into());
    }
    if access != Access::Public {
        let user = app.sessions.user_from(req.headers()).ok_or(ErrorCode::NotSignedIn)?;
        let user = app.directory.user(&user).ok_or(ErrorCode::NotSignedIn)?.clone();
        if access == Access::Teacher && user.role != SchoolRole::Teacher {
            return Err(ErrorCode::ForbiddenRole.into());
        }
        req.extensions_mut().insert(CurrentUser(user));
    }
    Ok(next.run(req).await)
}


/// A running server: where it listens, and the task serving HTTP.
pub struct Running {
    pub http: std::net::SocketAddr,
    pub media: std::net::SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds the media socket and the HTTP listener and starts serving.
pub async fn serve(config: Config, directory: Directory) -> Result<Running, crate::error::Error> {
    let media_bind = std::net::SocketAddr::new(std::net::IpAddr::from([0, 0, 0, 0]), config.media_port);
    let media = crate::media::start(media_bind, config.advertise_ip()).await?;
    let listener = tokio::net::TcpListener::bind(config.http).await?;
    let http = listener.local_addr()?;
    let app = Arc::new(AppState {
        config,
        directory,
        sessions: Sessions::default(),
        tickets: Tickets::default(),
        media: media.clone(),
        lessons: Mutex::new(HashMap::new()),
    });
    let task = tokio::spawn(async move { axum::serve(listener, router(app)).await });
    Ok(Running { http, media: media.local_addr(), task })
}

#[cfg(test)]
mod tests;
