//! Who is signing in, and who is signed in: authenticators, sessions, sign-in rate limits and
//! join tickets.
//!
//! A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure behind
//! HTTPS). Only its SHA-256 is stored, in the database, so every node sharing the database
//! accepts it and signing out on one node ends it on all. Sessions end after an idle timeout
//! and an absolute lifetime; `last_seen` is written at most once a minute to keep requests
//! read-only. Failed sign-ins are counted in the database per email and per client address,
//! so a lockout holds across nodes too.
//!
//! A join ticket is a random 128-bit token for one user and one lesson, valid for 30 seconds
//! and usable once: the WebSocket presents it in its first message, so no long-lived
//! credential ever appears in a URL. It is bound to its holder: only a socket whose upgrade
//! carries the session of the user it was issued to, and the `Origin` of the request that
//! asked for it, can spend it, so a ticket that leaks (a shared screen, a proxy log, a
//! classmate's console) seats nobody else. Tickets stay in memory: a lesson lives on one node.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::App;
use crate::config::AccountsConfig;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{random_token, Email, LessonId, UserId};
use crate::password;
use crate::store::{token_hash, SessionTimes, Store, StoreError, UserRecord};

/// The session cookie's name.
pub const COOKIE: &str = "livegate_session";
/// How long a join ticket is valid.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(30);
/// A session's `last_seen` is written at most this often.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The signed-in user, put in a request's extensions by the access guard.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserRecord);

// ---------------------------------------------------------------- authenticators

/// What a successful authentication proved: who, and how.
#[derive(Debug, Clone)]
pub struct Proof {
    pub user: UserRecord,
    pub method: AuthMethod,
}

/// How a person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Email and password checked against the stored Argon2id hash.
    Password,
}

/// One way for a person to prove who they are. Sign-in is: an authenticator turns a claim
/// into a [`Proof`], then the sign-in route applies account policy (disabled accounts are
/// refused) and starts a session with [`Sessions::create`].
///
/// Where the later methods plug in:
/// - **SSO (SAML or OIDC)**: another implementation whose claim is the identity provider's
///   signed response (its routes are a redirect out and a callback in). It checks the response
///   against the school's configured provider, maps the asserted email to a user of that
///   school and returns a `Proof` with its own `AuthMethod`; the callback then starts the
///   session exactly as password sign-in does. Password rate limits do not apply to it.
/// - **Staff MFA**: a step between `authenticate` and `Sessions::create`. When the proof is
///   single-factor (`AuthMethod::Password`) and the user is staff (`Role::is_staff`), sign-in
///   answers with a short-lived pending challenge instead of a session; the second factor's
///   route redeems it and only then creates the session. An SSO proof that carries the
///   provider's MFA assertion skips the step.
pub trait Authenticator {
    /// What the person presents.
    type Claim: Send;

    /// Checks a claim. Refusals are `bad_credentials` whatever the reason, so they do not
    /// reveal which accounts exist.
    fn authenticate(&self, store: &Store, claim: Self::Claim) -> impl Future<Output = Result<Proof, ApiError>> + Send;
}

/// Password sign-in.
pub struct PasswordSignIn;

/// An email address (if it parsed) and a password.
pub struct PasswordClaim {
    pub email: Option<Email>,
    pub password: String,
}

impl Authenticator for PasswordSignIn {
    type Claim = PasswordClaim;

    async fn authenticate(&self, store: &Store, claim: PasswordClaim) -> Result<Proof, ApiError> {
        let user = match &claim.email {
            Some(email) => store.user_by_email(email).await?,
            None => None,
        };
        // Verify against a decoy for unknown accounts so timing does not reveal which exist.
        let stored = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy().to_owned());
        let password = claim.password;
        let ok = password::run_bounded(move || password::verify(&password, &stored)).await.unwrap_or(false);
        let user = user.filter(|_| ok).ok_or(ErrorCode::BadCredentials)?;
        Ok(Proof { user, method: AuthMethod::Password })
    }
}

// ---------------------------------------------------------------- sessions

/// Session and sign-in policy, from the configuration. The sessions themselves are in the store.
#[derive(Debug, Clone)]
pub struct Sessions {
    times: SessionTimes,
    /// Failed sign-in limits.
    pub limits: SignInLimits,
    /// Whether the client address comes from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(&AccountsConfig::default())
    }
}

impl Sessions {
    /// The policy a configuration asks for (zero values raised to 1).
    pub fn new(c: &AccountsConfig) -> Self {
        let minutes = |m: u64| m.max(1).saturating_mul(60_000).min(i64::MAX as u64) as i64;
        Self {
            times: SessionTimes {
                idle_ms: minutes(c.session_idle_minutes),
                lifetime_ms: minutes(c.session_lifetime_hours.saturating_mul(60)),
                touch_every_ms: TOUCH_EVERY.as_millis() as i64,
            },
            limits: SignInLimits {
                per_email: c.failures_per_email.max(1),
                per_address: c.failures_per_address.max(1),
                window_ms: minutes(c.failure_window_minutes),
            },
            trust_forwarded_for: c.trust_forwarded_for,
        }
    }

    /// The session lifetimes in force.
    pub fn times(&self) -> SessionTimes {
        self.times
    }

    /// Starts a session for a user; returns the token for the cookie.
    pub async fn create(&self, store: &Store, user: &UserId, now: i64) -> Result<String, StoreError> {
        let token = random_token(32);
        store.create_session(&token_hash(&token), user, now, self.times).await?;
        Ok(token)
    }

    /// The user of the request's session cookie, if the session is live, now.
    pub async fn user_from(&self, store: &Store, headers: &HeaderMap) -> Result<Option<UserRecord>, StoreError> {
        self.user_at(store, headers, crate::store::now_ms()).await
    }

    /// The user of the request's session cookie at time `now` (milliseconds).
    pub async fn user_at(&self, store: &Store, headers: &HeaderMap, now: i64) -> Result<Option<UserRecord>, StoreError> {
        match cookie(headers) {
            Some(token) => store.session_user(&token_hash(token), now, self.times).await,
            None => Ok(None),
        }
    }

    /// Ends the request's session, on every node.
    pub async fn end(&self, store: &Store, headers: &HeaderMap) -> Result<(), StoreError> {
        if let Some(token) = cookie(headers) {
            store.end_session(&token_hash(token)).await?;
        }
        Ok(())
    }

    /// The `Set-Cookie` value for a new session.
    pub fn cookie(&self, token: &str, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        let max_age = self.times.lifetime_ms / 1000;
        format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
    }
}

/// The session token from the request's cookie, if it has the right shape.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
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

// ---------------------------------------------------------------- sign-in limits

/// Failed sign-ins allowed per email and per client address within a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    pub per_email: u32,
    pub per_address: u32,
    pub window_ms: i64,
}

/// One sign-in attempt: a random id and its rate-limit buckets, hashed so the failure table
/// holds no email or address in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    id: String,
    email: Option<String>,
    address: Option<String>,
}

impl Attempt {
    /// The buckets for this email (if it parsed) and client address (if known).
    pub fn new(email: Option<&Email>, address: Option<IpAddr>) -> Self {
        Self {
            id: random_token(16),
            email: email.map(|e| format!("e:{}", token_hash(&format!("email:{}", e.expose())))),
            address: address.map(|ip| format!("a:{}", token_hash(&format!("address:{}", address_key(ip))))),
        }
    }

    fn buckets(&self) -> Vec<&str> {
        [&self.email, &self.address].into_iter().flatten().map(String::as_str).collect()
    }
}

/// One bucket per IPv4 address, and per /64 for IPv6 (one household or phone gets a whole /64).
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl SignInLimits {
    /// Starts an attempt: counts it as a failure in its buckets *before* the password is
    /// checked, so guesses sent in parallel cannot all slip under a limit. If a bucket is then
    /// over its limit, the attempt is taken back (refusals do not prolong a lockout) and the
    /// answer is how long to wait. A successful attempt is taken back by [`Self::succeeded`].
    pub async fn begin(&self, store: &Store, attempt: &Attempt, now: i64) -> Result<Option<Duration>, StoreError> {
        store.record_failure(&attempt.buckets(), &attempt.id, now, now - self.window_ms).await?;
        let mut over = false;
        for (bucket, limit) in [(&attempt.email, self.per_email), (&attempt.address, self.per_address)] {
            let Some(bucket) = bucket else { continue };
            let counted = store.recent_failures(bucket, now - self.window_ms, i64::from(limit) + 1).await?;
            over |= counted.len() > limit as usize;
        }
        if !over {
            return Ok(None);
        }
        store.forget_attempt(&attempt.id).await?;
        let wait = self.blocked(store, attempt, now).await?;
        // Another node's success may have just cleared the bucket: then one second will do.
        Ok(Some(wait.unwrap_or(Duration::from_secs(1))))
    }

    /// How long until this attempt may be made, if a bucket is full now.
    async fn blocked(&self, store: &Store, attempt: &Attempt, now: i64) -> Result<Option<Duration>, StoreError> {
        let mut wait_ms = 0;
        let buckets = [(&attempt.email, self.per_email), (&attempt.address, self.per_address)];
        for (bucket, limit) in buckets {
            let Some(bucket) = bucket else { continue };
            let limit = limit as usize;
            let times = store.recent_failures(bucket, now - self.window_ms, limit as i64).await?;
            if times.len() >= limit {
                // Open again when the limit-th newest failure leaves the window.
                wait_ms = wait_ms.max(times[limit - 1] + self.window_ms - now);
            }
        }
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms as u64)))
    }

    /// A successful attempt is no failure, and clears its email's failures; the address keeps
    /// its earlier count, so one good account cannot reset a guessing run against others.
    pub async fn succeeded(&self, store: &Store, attempt: &Attempt) -> Result<(), StoreError> {
        store.forget_attempt(&attempt.id).await?;
        match &attempt.email {
            Some(bucket) => store.clear_failures(bucket).await,
            None => Ok(()),
        }
    }
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
        Ok(ClientIp(client_ip(&parts.headers, peer, app.sessions.trust_forwarded_for)))
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
    let Some(origin) = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    origin_host != host
}

// ---------------------------------------------------------------- join tickets

struct Ticket {
    user: UserId,
    lesson: LessonId,
    /// The `Origin` header of the ticket request (`None` for a client that sent none).
    origin: Option<String>,
    expires: Instant,
}

/// Who presents a ticket: the user of the socket's session cookie, if any, and the `Origin`
/// header of its upgrade request, if any.
#[derive(Debug, Clone, Copy)]
pub struct Presenter<'a> {
    pub user: Option<&'a UserId>,
    pub origin: Option<&'a str>,
}

/// Ticket requests a person may make at once, and then per second: a browser asks for one per
/// join and one per reconnection (backing off to one every 8 s).
pub const TICKET_BURST: u32 = 10;
pub const TICKETS_PER_SECOND: f64 = 1.0;

/// Outstanding join tickets, and each person's budget for asking for them.
pub struct Tickets {
    map: Mutex<HashMap<String, Ticket>>,
    lifetime: Duration,
    requests: super::budget::Budget<UserId>,
}

impl Default for Tickets {
    fn default() -> Self {
        Self::with_lifetime(TICKET_LIFETIME)
    }
}

impl Tickets {
    /// No tickets yet; each one issued stays valid for `lifetime`.
    pub fn with_lifetime(lifetime: Duration) -> Self {
        Self { map: Mutex::new(HashMap::new()), lifetime, requests: super::budget::Budget::new(TICKET_BURST, TICKETS_PER_SECOND) }
    }

    /// Takes one ticket request from this person's budget: `Err` with how long to wait when
    /// they have asked too often (answered `rate_limited` before the admission gate runs, so a
    /// loop of requests neither runs the gate nor writes the log each time).
    pub fn allow_request(&self, user: &UserId) -> Result<(), Duration> {
        self.requests.take(user, Instant::now())
    }

    /// How long a ticket stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Issues a ticket for this user and lesson, asked for from `origin`.
    pub fn issue(&self, user: UserId, lesson: LessonId, origin: Option<&str>) -> String {
        let token = random_token(16);
        let now = Instant::now();
        let mut map = self.map.lock().expect("tickets lock");
        map.retain(|_, t| t.expires > now);
        let origin = origin.map(str::to_owned);
        map.insert(token.clone(), Ticket { user, lesson, origin, expires: now + self.lifetime });
        token
    }

    /// Uses a ticket up: the user and lesson it was for, if it is valid and the presenter is
    /// its holder (the session of the user it was issued to, from the origin that asked for
    /// it). A ticket presented by anyone else is left as it was, so a thief cannot spend it
    /// for its holder.
    pub fn redeem(&self, token: &str, by: Presenter<'_>) -> Option<(UserId, LessonId)> {
        let mut map = self.map.lock().expect("tickets lock");
        let ticket = map.get(token)?;
        if ticket.expires <= Instant::now() {
            map.remove(token);
            return None;
        }
        if by.user != Some(&ticket.user) || by.origin != ticket.origin.as_deref() {
            return None;
        }
        map.remove(token).map(|t| (t.user, t.lesson))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::seeded_sqlite;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn with_cookie(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("cookie", format!("other=1; {COOKIE}={token}").parse().unwrap());
        h
    }

    async fn email_of(store: &Store, email: &str) -> UserRecord {
        store.user_by_email(&Email::parse(email).unwrap()).await.unwrap().unwrap()
    }

    #[test]
    fn tickets_are_single_use() {
        let t = Tickets::default();
        let user = UserId::generate();
        let lesson = LessonId::generate();
        let token = t.issue(user.clone(), lesson.clone(), None);
        let holder = Presenter { user: Some(&user), origin: None };
        assert_eq!(t.redeem(&token, holder), Some((user.clone(), lesson)));
        assert_eq!(t.redeem(&token, holder), None);
        assert_eq!(t.redeem("forged", holder), None);
    }

    /// Only the session of the user a ticket was issued to, from the origin that asked for
    /// it, can spend it; anyone else's attempt leaves it for its holder.
    #[test]
    fn tickets_are_bound_to_their_holder_and_origin() {
        let t = Tickets::default();
        let (user, thief, lesson) = (UserId::generate(), UserId::generate(), LessonId::generate());
        let origin = "https://school.example";
        let token = t.issue(user.clone(), lesson.clone(), Some(origin));
        for by in [
            Presenter { user: Some(&thief), origin: Some(origin) },
            Presenter { user: None, origin: Some(origin) },
            Presenter { user: Some(&user), origin: Some("http://school.example") },
            Presenter { user: Some(&user), origin: None },
        ] {
            assert_eq!(t.redeem(&token, by), None, "{by:?}");
        }
        assert_eq!(t.redeem(&token, Presenter { user: Some(&user), origin: Some(origin) }), Some((user.clone(), lesson.clone())));
        // A ticket asked for without an Origin (not a browser) is redeemed without one.
        let token = t.issue(user.clone(), lesson.clone(), None);
        assert_eq!(t.redeem(&token, Presenter { user: Some(&user), origin: Some(origin) }), None);
        assert_eq!(t.redeem(&token, Presenter { user: Some(&user), origin: None }), Some((user, lesson)));
    }

    #[tokio::test]
    async fn sessions_need_a_live_well_formed_cookie() {
        let store = seeded_sqlite().await;
        let s = Sessions::default();
        let ada = email_of(&store, "ada@pupils.demo.sch.uk").await;
        let token = s.create(&store, &ada.id, T0).await.unwrap();
        assert!(is_token(&token));
        let h = with_cookie(&token);
        assert_eq!(s.user_at(&store, &h, T0 + 1).await.unwrap().unwrap().id, ada.id);
        for forged in ["a".repeat(64), token.to_uppercase(), format!("{token}0"), String::new(), "../x".into()] {
            assert!(s.user_at(&store, &with_cookie(&forged), T0 + 1).await.unwrap().is_none(), "{forged}");
        }
        assert!(s.user_at(&store, &HeaderMap::new(), T0).await.unwrap().is_none());
        // Two hours idle and it is gone.
        assert!(s.user_at(&store, &h, T0 + 120 * MIN).await.unwrap().is_none());
        let token = s.create(&store, &ada.id, T0).await.unwrap();
        let h = with_cookie(&token);
        s.end(&store, &h).await.unwrap();
        assert!(s.user_at(&store, &h, T0 + 1).await.unwrap().is_none(), "signed out");
        let cookie = s.cookie(&token, true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age=43200"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!s.cookie(&token, false).contains("Secure"));
    }

    #[tokio::test]
    async fn configured_lifetimes_apply() {
        let store = seeded_sqlite().await;
        let config = AccountsConfig { session_idle_minutes: 5, session_lifetime_hours: 1, ..AccountsConfig::default() };
        let s = Sessions::new(&config);
        let ada = email_of(&store, "ada@pupils.demo.sch.uk").await;
        let h = with_cookie(&s.create(&store, &ada.id, T0).await.unwrap());
        for minute in [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56] {
            assert!(s.user_at(&store, &h, T0 + minute * MIN).await.unwrap().is_some(), "minute {minute}");
        }
        assert!(s.user_at(&store, &h, T0 + 60 * MIN).await.unwrap().is_none(), "an hour after sign-in");
        let zero = Sessions::new(&AccountsConfig { session_idle_minutes: 0, failures_per_email: 0, ..AccountsConfig::default() });
        assert_eq!((zero.times().idle_ms, zero.limits.per_email), (MIN, 1), "zero is raised to 1");
        let parsed: crate::config::Config = toml::from_str("[accounts]\nfailures_per_email = 3\n").unwrap();
        assert_eq!(parsed.accounts.failures_per_email, 3);
        assert!(toml::from_str::<crate::config::Config>("[accounts]\nfailures = 3\n").is_err());
    }

    #[tokio::test]
    async fn failures_lock_an_email_for_the_window() {
        let store = seeded_sqlite().await;
        let limits = Sessions::default().limits;
        let ada = Email::parse("ada@pupils.demo.sch.uk").unwrap();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let from = |ip: &str| Attempt::new(Some(&ada), Some(ip.parse().unwrap()));
        for i in 0..5 {
            assert_eq!(limits.begin(&store, &from("203.0.113.7"), T0 + i * MIN).await.unwrap(), None, "attempt {i}");
        }
        // Locked until the oldest of the five leaves the 15-minute window.
        let wait = limits.begin(&store, &from("203.0.113.7"), T0 + 5 * MIN).await.unwrap().unwrap();
        assert_eq!(wait, Duration::from_millis(10 * MIN as u64));
        assert_eq!(retry_after_secs(wait), 600);
        assert!(limits.begin(&store, &from("198.51.100.1"), T0 + 5 * MIN).await.unwrap().is_some(), "per email, whatever the address");
        let ben = Email::parse("ben@pupils.demo.sch.uk").unwrap();
        let other_email = Attempt::new(Some(&ben), Some(ip));
        assert_eq!(limits.begin(&store, &other_email, T0 + 5 * MIN).await.unwrap(), None, "the address has room");
        limits.succeeded(&store, &other_email).await.unwrap();
        // Refused attempts were not counted: at 15 minutes the first failure has left and there is room.
        assert_eq!(limits.begin(&store, &from("203.0.113.7"), T0 + 15 * MIN).await.unwrap(), None, "open again");
        assert!(limits.begin(&store, &from("203.0.113.7"), T0 + 15 * MIN).await.unwrap().is_some());
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
    }

    #[tokio::test]
    async fn failures_lock_an_address_and_success_does_not_reset_it() {
        let store = seeded_sqlite().await;
        let limits = Sessions::default().limits;
        let ip: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        for i in 0..30 {
            let email = Email::parse(&format!("guess{i}@pupils.demo.sch.uk")).unwrap();
            assert_eq!(limits.begin(&store, &Attempt::new(Some(&email), Some(ip)), T0 + i).await.unwrap(), None, "attempt {i}");
        }
        let ada = Email::parse("ada@pupils.demo.sch.uk").unwrap();
        let attempt = Attempt::new(Some(&ada), Some(same_64));
        assert!(limits.begin(&store, &attempt, T0 + 100).await.unwrap().is_some(), "the whole /64 is one bucket");
        // A good sign-in clears the email's count, never the address's.
        limits.succeeded(&store, &attempt).await.unwrap();
        assert!(limits.begin(&store, &Attempt::new(Some(&ada), Some(ip)), T0 + 100).await.unwrap().is_some());
        let elsewhere = Attempt::new(Some(&ada), Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(limits.begin(&store, &elsewhere, T0 + 100).await.unwrap(), None);
    }

    /// Guesses sent all at once are counted before any password is checked: at most the limit
    /// get through (possibly none: a burst may lock itself out), on SQLite and on PostgreSQL
    /// (several connections, as several nodes would have).
    #[tokio::test]
    async fn parallel_guesses_cannot_slip_under_the_limit() {
        let mut stores = vec![seeded_sqlite().await];
        if let Some(url) = crate::store::tests::postgres_url().await {
            stores.push(Store::open(&url).await.unwrap());
        }
        for store in stores {
            let limits = Sessions::default().limits;
            let ada = Email::parse("ada@pupils.demo.sch.uk").unwrap();
            let tries = (0..20).map(|_| {
                let (store, attempt) = (store.clone(), Attempt::new(Some(&ada), None));
                tokio::spawn(async move { limits.begin(&store, &attempt, T0).await.unwrap().is_none() })
            });
            let mut allowed = 0;
            for t in tries.collect::<Vec<_>>() {
                allowed += usize::from(t.await.unwrap());
            }
            assert!(allowed <= 5, "{allowed} of 20 parallel guesses were checked");
            let counted = store.recent_failures(&Attempt::new(Some(&ada), None).email.unwrap(), 0, 100).await.unwrap();
            assert_eq!(counted.len(), allowed, "refused attempts are not counted");
        }
    }

    #[test]
    fn client_addresses() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(v4), address_key(mapped));
        assert_eq!(address_key("2001:db8::1".parse().unwrap()), "2001:db8:0:0::/64");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "10.9.9.9, 203.0.113.5".parse().unwrap());
        let peer = Some("127.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&h, peer, false), peer, "not trusted unless configured");
        assert_eq!(client_ip(&h, peer, true), Some("203.0.113.5".parse().unwrap()), "the proxy's own entry");
        h.insert("x-forwarded-for", "nonsense".parse().unwrap());
        assert_eq!(client_ip(&h, peer, true), peer);
        // Buckets never hold the email or address in clear.
        let a = Attempt::new(Some(&Email::parse("ada@pupils.demo.sch.uk").unwrap()), Some(v4));
        let shown = format!("{a:?}");
        assert!(!shown.contains("ada") && !shown.contains("192.0.2.1"), "{shown}");
    }

    #[tokio::test]
    async fn password_sign_in_proves_or_refuses_alike() {
        let store = seeded_sqlite().await;
        let claim = |email: &str, password: &str| PasswordClaim { email: Email::parse(email), password: password.into() };
        let proof = PasswordSignIn.authenticate(&store, claim("ada@pupils.demo.sch.uk", "demo-pupil")).await.unwrap();
        assert_eq!((proof.user.email.expose(), proof.method), ("ada@pupils.demo.sch.uk", AuthMethod::Password));
        for (email, password) in [("ada@pupils.demo.sch.uk", "wrong"), ("nobody@demo.sch.uk", "demo-pupil"), ("not an email", "x")] {
            let refused = PasswordSignIn.authenticate(&store, claim(email, password)).await.unwrap_err();
            assert_eq!(refused, ApiError(ErrorCode::BadCredentials), "{email}");
        }
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
