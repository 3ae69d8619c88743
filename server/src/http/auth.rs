//! Sessions (cookies) and join tickets.
//!
//! A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie, with an idle
//! timeout and an absolute lifetime. A join ticket is a random 128-bit token for one user and
//! one lesson, valid for 30 seconds and usable once: the WebSocket presents it in its first
//! message, so no long-lived credential ever appears in a URL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::store::UserRecord;
use crate::ids::{random_token, LessonId, UserId};

/// The session cookie's name.
pub const COOKIE: &str = "livegate_session";
/// A session unused for this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// A session ends this long after sign-in whatever happens.
pub const ABSOLUTE_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How long a join ticket is valid.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(30);

/// The signed-in user, put in a request's extensions by the access guard.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserRecord);

struct Session {
    user: UserId,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session; returns its token.
    pub fn create(&self, user: UserId) -> String {
        let token = random_token(32);
        let now = Instant::now();
        let mut map = self.map.lock().expect("sessions lock");
        map.retain(|_, s| alive(s, now));
        map.insert(token.clone(), Session { user, created: now, last_seen: now });
        token
    }

    /// The user of the request's session cookie, if it is valid; refreshes its idle timer.
    pub fn user_from(&self, headers: &HeaderMap) -> Option<UserId> {
        let token = cookie(headers)?;
        let now = Instant::now();
        let mut map = self.map.lock().expect("sessions lock");
        let session = map.get_mut(token)?;
        if !alive(session, now) {
            map.remove(token);
            return None;
        }
        session.last_seen = now;
        Some(session.user.clone())
    }

    /// Ends the request's session.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers) {
            self.map.lock().expect("sessions lock").remove(token);
        }
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE_TIMEOUT && now.duration_since(s.created) < ABSOLUTE_LIFETIME
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", ABSOLUTE_LIFETIME.as_secs())
}

/// The `Set-Cookie` value that clears the session.
pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// True if the browser says the request comes from another site.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    let Some(origin) = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    origin_host != host
}

struct Ticket {
    user: UserId,
    lesson: LessonId,
    expires: Instant,
}

/// Outstanding join tickets.
#[derive(Default)]
pub struct Tickets {
    map: Mutex<HashMap<String, Ticket>>,
}

impl Tickets {
    /// Issues a ticket for this user and lesson.
    pub fn issue(&self, user: UserId, lesson: LessonId) -> String {
        let token = random_token(16);
        let now = Instant::now();
        let mut map = self.map.lock().expect("tickets lock");
        map.retain(|_, t| t.expires > now);
        map.insert(token.clone(), Ticket { user, lesson, expires: now + TICKET_LIFETIME });
        token
    }

    /// Uses a ticket up: the user and lesson it was for, if it was valid.
    pub fn redeem(&self, token: &str) -> Option<(UserId, LessonId)> {
        let ticket = self.map.lock().expect("tickets lock").remove(token)?;
        (ticket.expires > Instant::now()).then_some((ticket.user, ticket.lesson))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_single_use() {
        let t = Tickets::default();
        let user = UserId::generate();
        let lesson = LessonId::generate();
        let token = t.issue(user.clone(), lesson.clone());
        assert_eq!(t.redeem(&token), Some((user, lesson)));
        assert_eq!(t.redeem(&token), None);
        assert_eq!(t.redeem("forged"), None);
    }

    #[test]
    fn sessions_need_a_well_formed_cookie() {
        let s = Sessions::default();
        let user = UserId::generate();
        let token = s.create(user.clone());
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("other=1; {COOKIE}={token}").parse().unwrap());
        assert_eq!(s.user_from(&h), Some(user));
        let mut forged = HeaderMap::new();
        forged.insert("cookie", format!("{COOKIE}={}", "a".repeat(64)).parse().unwrap());
        assert_eq!(s.user_from(&forged), None);
        s.end(&h);
        assert_eq!(s.user_from(&h), None);
    }

    #[test]
    fn cross_site_detection() {
        let mut h = HeaderMap::new();
        h.insert("host", "school.example:8080".parse().unwrap());
        assert!(!is_cross_site(&h));
        h.insert("origin", "http://school.example:8080".parse().unwrap());
        assert!(!is_cross_site(&h));
        h.insert("origin", "https://evil.example".parse().unwrap());
        assert!(is_cross_site(&h));
        let mut f = HeaderMap::new();
        f.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(is_cross_site(&f));
    }
}
