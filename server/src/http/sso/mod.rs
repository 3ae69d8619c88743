//! The HTTP face of sign-in with the school's Microsoft or Google account
//! (`server/PROTOCOL.md` section 7); the rules are `app::sso`.
//!
//! - `GET /api/sso/providers`: which buttons the sign-in page shows.
//! - `POST /api/sso/start` `{provider, email}`: the provider's URL to send the browser to, and
//!   the binding cookie `livegate_sso` (HttpOnly, `SameSite=Lax` so that it comes back on the
//!   provider's top-level redirect, only to the callback path, 10 minutes).
//! - `GET /api/sso/callback?state&code`: a browser navigation, so it answers with a redirect,
//!   never JSON: to `/#/` with the session cookie, or to `/#/sso-refused?code=<code>` where the
//!   sign-in page explains the refusal. The query is never logged (it holds a code).
//! - The superuser's settings (`GET`/`PUT /api/admin/sso`) and unlinking a person's identity
//!   (`DELETE /api/admin/users/{user_id}/identities`), in `admin.rs`.

mod admin;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use livegate_core::school::SignInMethod;
use serde::{Deserialize, Serialize};

use livegate_core::codes::ErrorCode;
use livegate_core::ids::{random_token, Email};

use super::api::ApiJson;
use super::auth::{is_token, session_cookie, ClientIp};
use super::error::ApiError;
use super::App;
use crate::app::access::address_key;
use crate::app::sso::{CALLBACK_PATH, PENDING_LIFETIME};
use crate::app::AppError;
use crate::store::now_ms;
use crate::store::sso::ProviderKind;

pub use admin::{get_settings, put_settings, unlink};

/// The binding cookie of a sign-in in flight.
pub const BINDING_COOKIE: &str = "livegate_sso";

/// `GET /api/sso/providers`.
#[derive(Debug, Serialize)]
pub struct Providers {
    pub providers: Vec<ProviderKind>,
}

/// `POST /api/sso/start`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartSignIn {
    provider: ProviderKind,
    email: String,
}

/// The answer to `POST /api/sso/start`: where to send the browser.
#[derive(Debug, Serialize)]
pub struct SignInStarted {
    pub redirect: String,
}

/// What a provider sends back. Not `deny_unknown_fields`: providers add their own parameters
/// (`session_state`, `iss`, `scope`, `authuser`, `hd`, `prompt`...), which are ignored.
#[derive(Debug, Deserialize)]
pub struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /api/sso/providers`
pub async fn providers(State(app): State<App>) -> Json<Providers> {
    Json(Providers {
        providers: app.sso.offered(),
    })
}

/// The binding token the browser sent with the callback, if it has the right shape.
fn sent_binding(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == BINDING_COOKIE)
        .map(|(_, v)| v)
        .filter(|v| is_token(v))
}

fn binding_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = PENDING_LIFETIME.as_secs();
    format!("{BINDING_COOKIE}={token}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

fn cleared_binding() -> String {
    format!("{BINDING_COOKIE}=; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// `POST /api/sso/start`: a browser that already holds a binding token keeps it, so two tabs
/// signing in at once both finish.
pub async fn start(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StartSignIn>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&body.email).ok_or(ErrorCode::BadRequest)?;
    let binding = sent_binding(&headers).map_or_else(|| random_token(32), str::to_owned);
    let address = ip.map_or_else(|| "unknown".to_owned(), address_key);
    let redirect = app
        .sso
        .start(&app.store, body.provider, &email, &binding, &address, now_ms())
        .await?;
    tracing::info!(
        provider = body.provider.as_str(),
        "sign-in with a school account started"
    );
    let cookie = binding_cookie(&binding, app.config.https());
    Ok(([(header::SET_COOKIE, cookie)], Json(SignInStarted { redirect })).into_response())
}

/// `GET /api/sso/callback`: always a `303` to the web client.
pub async fn callback(State(app): State<App>, headers: HeaderMap, Query(q): Query<Callback>) -> Response {
    let see = |to: String, cookies: Vec<String>| {
        let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        for c in cookies {
            if let Ok(v) = c.parse() {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    };
    match finish(&app, &headers, q).await {
        Ok(session) => see("/#/".to_owned(), vec![session, cleared_binding()]),
        Err(e) => {
            let code = e.code();
            tracing::info!(code = code.as_str(), "sign-in with a school account refused");
            see(
                format!("/#/sso-refused?code={}", code.as_str()),
                vec![cleared_binding()],
            )
        }
    }
}

/// Finishes the sign-in and starts the session: the session cookie's value.
async fn finish(app: &App, headers: &HeaderMap, q: Callback) -> Result<String, AppError> {
    let state = q.state.filter(|s| is_token(s)).ok_or(ErrorCode::SsoStateMismatch)?;
    if q.error.is_some() {
        // The person cancelled, or the provider refused them: spend the state all the same.
        if let Some(binding) = sent_binding(headers) {
            let hashes = (crate::store::token_hash(&state), crate::store::token_hash(binding));
            app.store.take_sso_pending(&hashes.0, &hashes.1, now_ms()).await?;
        }
        return Err(ErrorCode::SsoCancelled.into());
    }
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or(ErrorCode::SsoBadToken)?;
    let signed_in = app
        .sso
        .finish(&app.store, &state, &code, sent_binding(headers), now_ms())
        .await?;
    let user = signed_in.user;
    // The session records how the person signed in: with the provider's second factor (its
    // `amr`) it counts as two factors, as a password with TOTP does.
    let method = if signed_in.mfa {
        SignInMethod::SsoMfa
    } else {
        SignInMethod::Sso
    };
    let token = app.sessions.create(&app.store, &user.id, method, now_ms()).await?;
    tracing::info!(user = %user.id, mfa = signed_in.mfa, linked = signed_in.linked, "signed in with a school account");
    Ok(session_cookie(&app.sessions, &token, app.config.https()))
}

#[cfg(test)]
mod tests;
