//! The HTTP side: the route table with each route's required access, sessions and tickets,
//! the JSON API, the WebSocket and the embedded web client.
//!
//! Authorisation is declared once, in [`route_table`]: every route names its [`Access`], and
//! the router is built from that table, so a route without a declared access cannot exist.

pub mod account;
mod admin;
mod api;
mod log;
mod log_export;
mod recordings;
mod rejection;
mod auth;
mod budget;
mod linger;
mod listen;
pub mod shutdown;
mod tls;
mod web;
mod ws;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Router;

pub use auth::{CurrentUser, Sessions, Tickets};

use crate::admission::Facts;
use crate::config::Config;
use crate::store::{ConsentState, Role, Store, UserRecord};
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
    /// Signed-in superusers only (the school's administrators).
    Superuser,
    /// Signed-in safeguarding leaders only (recordings).
    Leader,
}

/// Everything the handlers share.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub sessions: Sessions,
    pub tickets: Tickets,
    pub media: MediaHandle,
    pub lessons: Mutex<HashMap<LessonId, LessonHandle>>,
    /// The recording service; `None` only if it could not start (lessons then fail closed).
    pub recordings: Option<Arc<crate::recording::Recordings>>,
    /// Leaders' outstanding recording views.
    pub views: recordings::Views,
    /// Whether the server is stopping (new work refused), and its open WebSockets.
    pub shutdown: shutdown::Gate,
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
    pub async fn facts(&self, user: &UserRecord, lesson: &LessonHandle) -> Result<Facts, ApiError> {
        gather_facts(&self.store, user, lesson).await.map_err(ApiError::from)
    }
}

/// Runs the gate and appends its decision to the audit chain (where: `ticket` or `join`). A
/// refusal also goes into the livestream log; the same refusal repeated is counted on its
/// first event and audited once (`Store::log_refusal`).
pub async fn admit(app: &AppState, user: &UserRecord, lesson: &LessonHandle, at: &str) -> Result<crate::admission::Decision, ApiError> {
    use crate::admission::Decision;
    let decision = crate::admission::decide(&app.facts(user, lesson).await?);
    let (action, reason) = match decision {
        Decision::Admit(_) => ("admission.admit", None),
        Decision::Lobby => ("admission.lobby", None),
        Decision::Refuse(code) => ("admission.refuse", Some(code.as_str())),
    };
    let detail = serde_json::json!({"lesson": lesson.info.id, "user": user.id, "at": at, "reason": reason});
    let Some(reason) = reason else {
        app.store.audit(&lesson.info.school, user.id.as_str(), action, detail).await?;
        return Ok(decision);
    };
    let e = crate::store::log::NewEvent {
        lesson: lesson.info.id.clone(),
        school: lesson.info.school.clone(),
        at: crate::store::now_ms(),
        kind: crate::store::log::EventKind::Refused,
        actor: None,
        subject: Some(user.id.clone()),
        detail: Some(reason.to_owned()),
    };
    let first = app.store.log_refusal(&e, user.id.as_str(), action, &detail).await?;
    tracing::info!(lesson = %lesson.info.id, user = %user.id, reason, at, repeated = !first, "admission refused");
    Ok(decision)
}

/// Gathers the gate's facts from the store and the live lesson.
pub async fn gather_facts(store: &Store, user: &UserRecord, lesson: &LessonHandle) -> crate::store::Result<Facts> {
    let membership = store.membership(&lesson.info.class, &user.id).await?;
    let domain_trusted = store.domain_trusted(&user.school, user.email.domain()).await?;
    let consent = if user.role == Role::Pupil {
        store.consent_state(&user.school, &user.id).await?
    } else {
        ConsentState::Missing
    };
    let shared = lesson.shared.lock().expect("lesson lock");
    Ok(Facts {
        role: user.role,
        account_disabled: user.disabled,
        same_school: user.school == lesson.info.school,
        domain_trusted,
        teaches_class: membership == Some(crate::store::MemberKind::Teacher),
        on_roster: membership == Some(crate::store::MemberKind::Pupil),
        consent,
        lesson_live: shared.live,
        teacher_present: shared.teacher_present,
        removed: shared.removed.contains(&user.id),
        recording_ok: crate::recording::LessonRecorder::healthy(lesson.info.recorder.as_ref()),
    })
}

/// Every route: its method, path, access and handler. The one place authorisation is declared.
pub fn route_table() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{delete, post};
    let mut routes = vec![
        (Method::GET, "/api/health", Access::Public, get(api::health)),
        (Method::POST, "/api/session", Access::Public, post(api::sign_in)),
        (Method::DELETE, "/api/session", Access::SignedIn, delete(api::sign_out)),
        (Method::GET, "/api/me", Access::SignedIn, get(api::me)),
        (Method::POST, "/api/account/password", Access::Public, post(account::set_password)),
        (Method::POST, "/api/admin/users/{user_id}/invite", Access::Superuser, post(account::invite)),
        (Method::POST, "/api/admin/users/{user_id}/reset", Access::Superuser, post(account::reset)),
        (Method::POST, "/api/lessons", Access::Teacher, post(api::start_lesson)),
        (Method::GET, "/api/lessons/{lesson_id}", Access::SignedIn, get(api::get_lesson)),
        (Method::POST, "/api/lessons/{lesson_id}/ticket", Access::SignedIn, post(api::ticket)),
        (Method::GET, "/ws", Access::Public, get(ws::upgrade)),
        (Method::GET, "/api/classes/{class_id}/readiness", Access::Teacher, get(admin::people::readiness)),
    ];
    routes.extend(admin_routes());
    routes.extend([
        (Method::GET, "/api/recordings", Access::Leader, get(recordings::list)),
        (Method::POST, "/api/recordings/{recording_id}/views", Access::Leader, post(recordings::open)),
        (Method::GET, "/api/recordings/{recording_id}/streams/{label}/segments/{n}", Access::Leader, get(recordings::segment)),
        (Method::POST, "/api/recordings/{recording_id}/hold", Access::Leader, post(recordings::hold)),
    ]);
    routes.extend(log_routes());
    routes
}

/// The livestream log (server/LOG.md). `SignedIn` routes decide in the handler, once, who
/// may read what (`log::reader`): teachers their own lessons, leaders and superusers the
/// school's, pupils and visitors nothing.
fn log_routes() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{post, put};
    vec![
        (Method::GET, "/api/log/lessons", Access::SignedIn, get(log::list)),
        (Method::GET, "/api/log/lessons/{lesson_id}", Access::SignedIn, get(log::detail)),
        (Method::POST, "/api/log/lessons/{lesson_id}/notes", Access::SignedIn, post(log::add_note)),
        (Method::GET, "/api/log/pupils/{user_id}/attendance", Access::SignedIn, get(log::attendance)),
        (Method::GET, "/api/log/intervals.csv", Access::SignedIn, get(log::intervals_export)),
        (Method::GET, "/api/log/lessons.csv", Access::SignedIn, get(log::lessons_export)),
        (Method::GET, "/api/log/concerns", Access::Leader, get(log::concerns)),
        (Method::GET, "/api/admin/time-zone", Access::Superuser, get(log::get_time_zone)),
        (Method::PUT, "/api/admin/time-zone", Access::Superuser, put(log::set_time_zone)),
    ]
}

/// The school administration routes (PROTOCOL.md section 5): superusers only.
fn admin_routes() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use admin::{consent as c, people as p, roster as r};
    use axum::routing::{delete, patch, post, put};
    let su = Access::Superuser;
    vec![
        (Method::GET, "/api/admin/users", su, get(p::list_users)),
        (Method::POST, "/api/admin/users", su, post(p::create_user)),
        (Method::PATCH, "/api/admin/users/{user_id}", su, patch(p::update_user)),
        (Method::GET, "/api/admin/classes", su, get(p::list_classes)),
        (Method::POST, "/api/admin/classes", su, post(p::create_class)),
        (Method::GET, "/api/admin/classes/{class_id}", su, get(p::class_detail)),
        (Method::POST, "/api/admin/classes/{class_id}/members", su, post(p::add_member)),
        (Method::DELETE, "/api/admin/classes/{class_id}/members/{user_id}", su, delete(p::remove_member)),
        (Method::GET, "/api/admin/classes/{class_id}/roster.csv", su, get(r::export)),
        (Method::GET, "/api/admin/classes/{class_id}/without-consent", su, get(c::without_consent)),
        // The one route with a larger body: it reads at most roster_csv::MAX_BYTES itself.
        (Method::POST, "/api/admin/roster/import", su, post(r::import).layer(DefaultBodyLimit::max(crate::roster_csv::MAX_BYTES))),
        (Method::GET, "/api/admin/domains", su, get(c::list_domains)),
        (Method::POST, "/api/admin/domains", su, post(c::add_domain)),
        (Method::DELETE, "/api/admin/domains/{domain}", su, delete(c::remove_domain)),
        (Method::GET, "/api/admin/pupils/{user_id}/consents", su, get(c::pupil_consents)),
        (Method::POST, "/api/admin/pupils/{user_id}/consents", su, post(c::record_consent)),
        (Method::POST, "/api/admin/consents/{consent_id}/withdraw", su, post(c::withdraw_consent)),
        (Method::GET, "/api/admin/pupils/{user_id}/privacy", su, get(c::get_privacy)),
        (Method::PUT, "/api/admin/pupils/{user_id}/privacy", su, put(c::set_privacy)),
        (Method::GET, "/api/admin/conduct", su, get(c::get_conduct)),
        (Method::POST, "/api/admin/conduct", su, post(c::publish_conduct)),
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
    let https = app.config.https();
    router
        .fallback(web::asset)
        // Inside the security headers, so the JSON answers it makes carry them too.
        .layer(middleware::from_fn(rejection::json_errors))
        .layer(middleware::from_fn(move |req: Request, next: Next| web::security_headers(https, req, next)))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(app)
}

/// Enforces a route's declared access and refuses cross-site writes.
async fn authorize(access: Access, State(app): State<App>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    // Writes, and WebSocket upgrades (a GET a browser sends from any page), must come from
    // this site.
    let upgrade = req.headers().contains_key(axum::http::header::UPGRADE);
    if (req.method() != axum::http::Method::GET || upgrade) && auth::is_cross_site(req.headers()) {
        return Err(ErrorCode::CrossSite.into());
    }
    if access != Access::Public {
        let user = app.sessions.user_from(&app.store, req.headers()).await?;
        let user = user.filter(|u| !u.disabled).ok_or(ErrorCode::NotSignedIn)?;
        let allowed = match access {
            Access::Teacher => user.role == Role::Teacher,
            Access::Superuser => user.role == Role::Superuser,
            Access::Leader => user.role == Role::Leader,
            Access::Public | Access::SignedIn => true,
        };
        if !allowed {
            return Err(ErrorCode::ForbiddenRole.into());
        }
        req.extensions_mut().insert(CurrentUser(user));
    }
    Ok(next.run(req).await)
}


/// A running server: where it listens, and the task serving HTTP.
pub struct Running {
    pub http: std::net::SocketAddr,
    /// True when this server speaks HTTPS itself (`tls` configured).
    pub https: bool,
    pub media: std::net::SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    app: App,
    /// Tells the HTTP server to stop accepting and finish its open requests.
    stop_http: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// Stops gracefully within `within` ([`shutdown`]): refuses new work, ends every live
    /// lesson with `server_stopping`, waits for their recordings and logs and sockets, then
    /// stops HTTP. Says what was left unfinished if the time ran out.
    pub async fn stop(mut self, within: std::time::Duration) -> shutdown::Report {
        let deadline = tokio::time::Instant::now() + within;
        let mut report = shutdown::stop_lessons(&self.app, deadline).await;
        let _ = self.stop_http.send(true);
        if tokio::time::timeout_at(deadline, &mut self.task).await.is_err() {
            report.unfinished.push("HTTP requests still open".to_owned());
            self.task.abort();
        }
        report
    }
}

/// Binds the media socket and the HTTP listener and starts serving.
pub async fn serve(config: Config, store: Store) -> Result<Running, crate::error::Error> {
    serve_with(config, store, crate::media::Options::default()).await
}

/// [`serve`] with the media engine's options: only the benchmark's server changes them.
pub async fn serve_with(config: Config, store: Store, media: crate::media::Options) -> Result<Running, crate::error::Error> {
    // A bad certificate or key stops start-up before anything listens.
    let acceptor = config.tls.as_ref().map(tls::acceptor).transpose()?;
    let media_bind = std::net::SocketAddr::new(std::net::IpAddr::from([0, 0, 0, 0]), config.media_port);
    let media = crate::media::start(media_bind, config.advertise_ip(), media).await?;
    let listener = tokio::net::TcpListener::bind(config.http).await?;
    let http = listener.local_addr()?;
    let recordings = start_recordings(&config, &store).await;
    let tickets = Tickets::with_lifetime(config.ticket_lifetime());
    let app = Arc::new(AppState {
        sessions: Sessions::new(&config.accounts),
        config,
        store,
        tickets,
        media: media.clone(),
        lessons: Mutex::new(HashMap::new()),
        recordings,
        views: recordings::Views::default(),
        shutdown: shutdown::Gate::default(),
    });
    if let Some(r) = app.recordings.clone() {
        tokio::spawn(crate::recording::retention(app.store.clone(), r));
    }
    // Closes what a crashed server left open in the livestream log.
    app.store.supervise_log();
    let https = acceptor.is_some();
    let limits = listen::Limits::new(&app.config, listen::descriptor_limit());
    tracing::info!(?limits, "HTTP connection limits");
    let (stop_http, stopping) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(listen::serve(listener, acceptor, limits, router(app.clone()), stopping));
    Ok(Running { http, https, media: media.local_addr(), task, app, stop_http })
}

/// Starts the recording service; a failure is logged and lessons then refuse pupils.
async fn start_recordings(config: &Config, store: &Store) -> Option<Arc<crate::recording::Recordings>> {
    let done_store = store.clone();
    let handle = tokio::runtime::Handle::current();
    let on_finished = move |f: crate::recording::Finished| {
        let store = done_store.clone();
        handle.spawn(async move {
            if let Err(e) = store.finish_recording(&f.recording, f.interrupted, &f.manifest_sha256).await {
                tracing::error!(recording = %f.recording, error = %e, "could not record a finished recording");
            }
        });
    };
    match crate::recording::Recordings::start(config.spool_dir(), &config.objects(), config.keys_dir(), on_finished) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "recording is unavailable; lessons will not admit pupils");
            None
        }
    }
}

#[cfg(test)]
mod tests;
