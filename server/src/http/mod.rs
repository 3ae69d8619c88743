//! The HTTP side: the route table with each route's required access, thin handlers over the
//! application layer (`crate::app`), the WebSocket, the embedded web client, and the HTTP face
//! of errors (each code's status, `error.rs`). Nothing below `http` imports it: the lesson, the
//! application and the store know no request, header, cookie or status.
//!
//! Authorisation is declared once, in [`route_table`]: every route names its [`Access`], and
//! the router is built from that table, so a route without a declared access cannot exist.

pub mod account;
mod admin;
mod api;
mod auth;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod linger;
pub(crate) mod listen;
mod log;
mod log_export;
pub mod metrics;
mod mfa;
pub mod ops;
mod presence;
mod recordings;
mod rejection;
mod sso;
pub(crate) mod tls;
mod web;
mod ws;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Router;

pub use auth::CurrentUser;

use livegate_core::codes::ErrorCode;

use crate::app::App;
use crate::http::error::ApiError;
use livegate_core::school::Role;

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
    /// Signed-in safeguarding leaders only (recordings), in a session signed in with two
    /// factors (`mfa_required` otherwise).
    Leader,
}

/// Every route: its method, path, access and handler. The one place authorisation is declared.
pub fn route_table() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{delete, post};
    let mut routes = vec![
        (Method::GET, "/api/health", Access::Public, get(api::health)),
        (Method::POST, "/api/session", Access::Public, post(api::sign_in)),
        (Method::DELETE, "/api/session", Access::SignedIn, delete(api::sign_out)),
        (Method::GET, "/api/me", Access::SignedIn, get(api::me)),
        (
            Method::POST,
            "/api/account/password",
            Access::Public,
            post(account::set_password),
        ),
        (
            Method::POST,
            "/api/admin/users/{user_id}/invite",
            Access::Superuser,
            post(account::invite),
        ),
        (
            Method::POST,
            "/api/admin/users/{user_id}/reset",
            Access::Superuser,
            post(account::reset),
        ),
        (Method::POST, "/api/lessons", Access::Teacher, post(api::start_lesson)),
        (
            Method::GET,
            "/api/lessons/{lesson_id}",
            Access::SignedIn,
            get(api::get_lesson),
        ),
        (
            Method::POST,
            "/api/lessons/{lesson_id}/ticket",
            Access::SignedIn,
            post(api::ticket),
        ),
        (Method::GET, "/ws", Access::Public, get(ws::upgrade)),
        (
            Method::GET,
            "/api/classes/{class_id}/readiness",
            Access::Teacher,
            get(admin::people::readiness),
        ),
    ];
    routes.extend(admin_routes());
    routes.extend([
        (Method::GET, "/api/recordings", Access::Leader, get(recordings::list)),
        (
            Method::POST,
            "/api/recordings/{recording_id}/views",
            Access::Leader,
            post(recordings::open),
        ),
        (
            Method::GET,
            "/api/recordings/{recording_id}/streams/{label}/segments/{n}",
            Access::Leader,
            get(recordings::segment),
        ),
        (
            Method::POST,
            "/api/recordings/{recording_id}/hold",
            Access::Leader,
            post(recordings::hold),
        ),
        (
            Method::GET,
            "/api/recordings/{recording_id}/streams/{label}/download",
            Access::Leader,
            get(recordings::download),
        ),
    ]);
    routes.extend(log_routes());
    routes.extend(ops_routes());
    // The school's code of conduct, for everyone of the school to read (PROTOCOL.md section 1).
    routes.push((Method::GET, "/api/conduct", Access::SignedIn, get(api::conduct)));
    routes.extend(sso_routes());
    routes.extend(mfa_routes());
    routes
}

/// Sign-in with the school's Microsoft or Google account (PROTOCOL.md section 7): public until
/// signed in; the settings are the superuser's.
fn sso_routes() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{delete, post, put};
    vec![
        (Method::GET, "/api/sso/providers", Access::Public, get(sso::providers)),
        (Method::POST, "/api/sso/start", Access::Public, post(sso::start)),
        (Method::GET, "/api/sso/callback", Access::Public, get(sso::callback)),
        (Method::GET, "/api/admin/sso", Access::Superuser, get(sso::get_settings)),
        (Method::PUT, "/api/admin/sso", Access::Superuser, put(sso::put_settings)),
        (
            Method::DELETE,
            "/api/admin/users/{user_id}/identities",
            Access::Superuser,
            delete(sso::unlink),
        ),
    ]
}

/// The staff second factor (`mfa`): enrolment, the sign-in's second step, the superuser's reset
/// and the school's setting.
fn mfa_routes() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{post, put};
    vec![
        (
            Method::POST,
            "/api/session/second-factor",
            Access::Public,
            post(mfa::second_factor),
        ),
        (
            Method::GET,
            "/api/account/second-factor",
            Access::SignedIn,
            get(mfa::status),
        ),
        (
            Method::POST,
            "/api/account/second-factor/totp",
            Access::SignedIn,
            post(mfa::start),
        ),
        (
            Method::POST,
            "/api/account/second-factor/totp/confirm",
            Access::SignedIn,
            post(mfa::confirm),
        ),
        (
            Method::POST,
            "/api/admin/users/{user_id}/second-factor/reset",
            Access::Superuser,
            post(mfa::reset),
        ),
        (
            Method::GET,
            "/api/admin/second-factor",
            Access::Superuser,
            get(mfa::get_setting),
        ),
        (
            Method::PUT,
            "/api/admin/second-factor",
            Access::Superuser,
            put(mfa::put_setting),
        ),
    ]
}

/// The routes for those who run Livegate (README, "Run it for your school"): public, and
/// free of personal data.
fn ops_routes() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    vec![
        (Method::GET, "/healthz", Access::Public, get(ops::healthz)),
        (Method::GET, "/readyz", Access::Public, get(ops::readyz)),
        (Method::GET, "/api/setup", Access::Public, get(ops::setup)),
        (Method::GET, "/metrics", Access::Public, get(metrics::elsewhere)),
    ]
}

/// The livestream log (server/LOG.md). `SignedIn` routes decide in the handler, once, who
/// may read what (`log::reader`): teachers their own lessons, leaders and superusers the
/// school's, pupils and visitors nothing.
fn log_routes() -> Vec<(Method, &'static str, Access, MethodRouter<App>)> {
    use axum::routing::{post, put};
    vec![
        (Method::GET, "/api/log/lessons", Access::SignedIn, get(log::list)),
        (
            Method::GET,
            "/api/log/lessons/{lesson_id}",
            Access::SignedIn,
            get(log::detail),
        ),
        (
            Method::POST,
            "/api/log/lessons/{lesson_id}/notes",
            Access::SignedIn,
            post(log::add_note),
        ),
        (
            Method::GET,
            "/api/log/pupils/{user_id}/attendance",
            Access::SignedIn,
            get(log::attendance),
        ),
        (
            Method::GET,
            "/api/log/intervals.csv",
            Access::SignedIn,
            get(log::intervals_export),
        ),
        (
            Method::GET,
            "/api/log/lessons.csv",
            Access::SignedIn,
            get(log::lessons_export),
        ),
        (Method::GET, "/api/log/concerns", Access::Leader, get(log::concerns)),
        (
            Method::GET,
            "/api/admin/time-zone",
            Access::Superuser,
            get(log::get_time_zone),
        ),
        (
            Method::PUT,
            "/api/admin/time-zone",
            Access::Superuser,
            put(log::set_time_zone),
        ),
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
        (
            Method::POST,
            "/api/admin/classes/{class_id}/members",
            su,
            post(p::add_member),
        ),
        (
            Method::DELETE,
            "/api/admin/classes/{class_id}/members/{user_id}",
            su,
            delete(p::remove_member),
        ),
        (
            Method::GET,
            "/api/admin/classes/{class_id}/roster.csv",
            su,
            get(r::export),
        ),
        (
            Method::GET,
            "/api/admin/classes/{class_id}/without-consent",
            su,
            get(c::without_consent),
        ),
        // The one route with a larger body: it reads at most roster_csv::MAX_BYTES of CSV (or its
        // base64 in JSON) itself.
        (
            Method::POST,
            "/api/admin/roster/import",
            su,
            post(r::import).layer(DefaultBodyLimit::max(r::MAX_JSON_BYTES)),
        ),
        (Method::GET, "/api/admin/domains", su, get(c::list_domains)),
        (Method::POST, "/api/admin/domains", su, post(c::add_domain)),
        (
            Method::DELETE,
            "/api/admin/domains/{domain}",
            su,
            delete(c::remove_domain),
        ),
        (
            Method::GET,
            "/api/admin/pupils/{user_id}/consents",
            su,
            get(c::pupil_consents),
        ),
        (
            Method::POST,
            "/api/admin/pupils/{user_id}/consents",
            su,
            post(c::record_consent),
        ),
        (
            Method::POST,
            "/api/admin/consents/{consent_id}/withdraw",
            su,
            post(c::withdraw_consent),
        ),
        (
            Method::GET,
            "/api/admin/pupils/{user_id}/privacy",
            su,
            get(c::get_privacy),
        ),
        (
            Method::PUT,
            "/api/admin/pupils/{user_id}/privacy",
            su,
            put(c::set_privacy),
        ),
        (Method::GET, "/api/admin/conduct", su, get(c::get_conduct)),
        (Method::POST, "/api/admin/conduct", su, post(c::publish_conduct)),
        (Method::GET, "/api/admin/privacy", su, get(c::list_privacy)),
        (Method::GET, "/api/admin/roster/template.csv", su, get(r::template)),
        (
            Method::POST,
            "/api/admin/classes/{class_id}/invite-sheet",
            su,
            post(admin::invites::sheet),
        ),
        (
            Method::GET,
            "/api/lessons/{lesson_id}/presence",
            Access::SignedIn,
            get(presence::watch),
        ),
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
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            web::security_headers(https, req, next)
        }))
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
        let session = app
            .sessions
            .session_from(&app.store, auth::session_token(req.headers()))
            .await?;
        let (user, method) = session.filter(|(u, _)| !u.disabled).ok_or(ErrorCode::NotSignedIn)?;
        let allowed = match access {
            Access::Teacher => user.role == Role::Teacher,
            Access::Superuser => user.role == Role::Superuser,
            Access::Leader => user.role == Role::Leader,
            Access::Public | Access::SignedIn => true,
        };
        if !allowed {
            return Err(ErrorCode::ForbiddenRole.into());
        }
        if !method.two_factors() && needs_two_factors(access, &app, &user).await? {
            return Err(ErrorCode::MfaRequired.into());
        }
        req.extensions_mut().insert(CurrentUser(user));
        req.extensions_mut().insert(mfa::CurrentMethod(method));
    }
    Ok(next.run(req).await)
}

/// Whether a route of this access needs a two-factor session from this (allowed) user: the
/// leaders' routes (recordings, concerns) always; the teachers' (starting a lesson) where the
/// school requires it of teachers.
async fn needs_two_factors(access: Access, app: &App, user: &crate::store::UserRecord) -> Result<bool, ApiError> {
    Ok(match access {
        Access::Leader => true,
        Access::Teacher => app.store.teachers_need_second_factor(&user.school).await?,
        Access::Public | Access::SignedIn | Access::Superuser => false,
    })
}

#[cfg(test)]
mod tests;
