//! The HTTP face of sign-in and sessions: the session and device cookies, the client's
//! address (the TCP peer, or `X-Forwarded-For` behind a trusted proxy) and the cross-site check.
//! What they carry is the application's (`crate::app::access`: sessions, sign-in limits, join
//! tickets); this module only reads and writes it on requests and answers.
//!
//! The session cookie is HttpOnly and SameSite=Strict (Secure behind HTTPS); the device cookie is
//! sent back only to `/api/session`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::App;
use crate::app::access::{Sessions, DEVICE_LIFETIME_MS};
use crate::store::UserRecord;

/// The session cookie's name.
pub const COOKIE: &str = "livegate_session";
/// The device cookie: set by a successful sign-in, sent back only to `/api/session`. A browser
/// that has signed in to an account before is a *known device* for it, and a stranger's
/// failures never hold it back.
pub const DEVICE_COOKIE: &str = "livegate_device";

/// The signed-in user, put in a request's extensions by the access guard.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserRecord);

/// The `Set-Cookie` value for a new session of `sessions`' lifetime.
pub fn session_cookie(sessions: &Sessions, token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = sessions.times().lifetime_ms / 1000;
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The session token from the request's cookie, if it has the right shape.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie_named(headers, COOKIE)
}

/// A 256-bit token from the request's cookie `name`, if it has the right shape.
fn cookie_named<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| is_token(v))
}

/// True for a 256-bit token as issued: 64 lowercase hex digits.
pub fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The `Set-Cookie` value that clears the session.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The `Set-Cookie` value for a device cookie.
pub fn device_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = DEVICE_LIFETIME_MS / 1000;
    format!("{DEVICE_COOKIE}={token}; Path=/api/session; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The device cookie's token from a request, if it has the right shape.
pub fn sent_device(headers: &HeaderMap) -> Option<&str> {
    cookie_named(headers, DEVICE_COOKIE)
}

/// `Retry-After` seconds for a wait, rounded up.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

/// The client's address: the TCP peer, or the last `X-Forwarded-For` entry when configured
/// to trust a reverse proxy. `None` when neither is known (tests without a socket).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<App> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(client_ip(
            &parts.headers,
            peer,
            app.sessions.trust_forwarded_for,
        )))
    }
}

fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        // The proxy appends the address it saw; earlier entries are whatever the client sent.
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

// ---------------------------------------------------------------- cross-site requests

/// True if the browser says the request comes from another site.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let Some(origin) = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    origin_host != host
}

#[cfg(test)]
mod tests;
