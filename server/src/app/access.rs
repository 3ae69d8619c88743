//! Who is signing in, and who is signed in, without HTTP: authenticators, session policy,
//! sign-in rate limits and join tickets. The cookies that carry the tokens, the client address
//! and the cross-site check are HTTP's (`http/auth.rs`); this module sees tokens and addresses
//! as plain values.
//!
//! A session is a random 256-bit token; only its SHA-256 is stored, in the database, so every
//! node sharing the database accepts it and signing out on one node ends it on all. Sessions
//! end after an idle timeout and an absolute lifetime; `last_seen` is written at most once a
//! minute to keep requests read-only. Failed sign-ins (never attempts, never successes) are
//! counted in the database per client address, per email from each address, per email from
//! everywhere and per email on each known device (a browser that signed in to that account
//! before), so a hold works across nodes, and a stranger's guesses hold the stranger, not the
//! account's owner.
//!
//! A join ticket is a random 128-bit token for one user and one lesson, valid for 30 seconds
//! and usable once: the WebSocket presents it in its first message, so no long-lived
//! credential ever appears in a URL. It is bound to its holder: only the session of the user it
//! was issued to, from the `Origin` of the request that asked for it, can spend it, so a ticket
//! that leaks (a shared screen, a proxy log, a classmate's console) seats nobody else. Tickets
//! stay in memory: a lesson lives on one node.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use livegate_core::codes::ErrorCode;
use livegate_core::ids::{random_token, Email, LessonId, UserId};

use super::AppError;
use crate::config::AccountsConfig;
use crate::password;
use crate::store::{token_hash, SessionTimes, Store, StoreError, UserRecord};

/// How long a join ticket is valid.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(30);
/// A session's `last_seen` is written at most this often.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- authenticators

/// What a successful authentication proved: who, and how.
#[derive(Debug, Clone)]
pub struct Proof {
    pub user: UserRecord,
    pub method: AuthMethod,
}

/// How a person proved who they are: the session records it (`SignInMethod`, in the core).
pub use livegate_core::school::SignInMethod as AuthMethod;

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
    fn authenticate(&self, store: &Store, claim: Self::Claim) -> impl Future<Output = Result<Proof, AppError>> + Send;
}

/// Password sign-in, under the sign-in limits.
pub struct PasswordSignIn {
    pub limits: SignInLimits,
}

/// An email address (if it parsed), a password, and the attempt's rate-limit buckets.
pub struct PasswordClaim {
    pub email: Option<Email>,
    pub password: String,
    pub attempt: Attempt,
}

impl Authenticator for PasswordSignIn {
    type Claim = PasswordClaim;

    /// Checks the limits, verifies and counts a failure all under one of the few hashing
    /// permits (`password::permit`), so the hashing load stays bounded and a guess queued
    /// behind others sees their failures: at most `password::concurrency() - 1` guesses past a
    /// limit are verified on a node. A held attempt is `too_many_attempts`; correct passwords
    /// count nothing, so any number of them may queue.
    async fn authenticate(&self, store: &Store, claim: PasswordClaim) -> Result<Proof, AppError> {
        let user = match &claim.email {
            Some(email) => store.user_by_email(email).await?,
            None => None,
        };
        // Verify against a decoy for unknown accounts so timing does not reveal which exist.
        let stored = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| password::decoy().to_owned());
        let permit = password::permit().await.ok_or(ErrorCode::Internal)?;
        let check = self.limits.check(store, &claim.attempt, crate::store::now_ms()).await?;
        if check.wait.is_some() {
            crate::telemetry::sign_in_failed(ErrorCode::TooManyAttempts);
            return Err(ErrorCode::TooManyAttempts.into());
        }
        let password = claim.password;
        let ok = permit
            .run(move || password::verify(&password, &stored))
            .await
            .unwrap_or(false);
        match user.filter(|_| ok) {
            Some(user) => {
                self.limits.succeeded(store, &claim.attempt, check.known_device).await?;
                Ok(Proof {
                    user,
                    method: AuthMethod::Password,
                })
            }
            None => {
                self.limits
                    .failed(store, &claim.attempt, check.known_device, crate::store::now_ms())
                    .await?;
                crate::telemetry::sign_in_failed(ErrorCode::BadCredentials);
                Err(ErrorCode::BadCredentials.into())
            }
        }
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

    /// Starts a session for a user, recording how they signed in; returns the token for the
    /// cookie.
    pub async fn create(
        &self,
        store: &Store,
        user: &UserId,
        method: AuthMethod,
        now: i64,
    ) -> Result<String, StoreError> {
        let token = random_token(32);
        store
            .create_session(&token_hash(&token), user, method, now, self.times)
            .await?;
        Ok(token)
    }

    /// The user of a session token and how they signed in, if the session is live now.
    pub async fn session_from(
        &self,
        store: &Store,
        token: Option<&str>,
    ) -> Result<Option<(UserRecord, AuthMethod)>, StoreError> {
        match token {
            Some(token) => {
                store
                    .session_of(&token_hash(token), crate::store::now_ms(), self.times)
                    .await
            }
            None => Ok(None),
        }
    }

    /// The user of a session token (from the request's cookie, if it sent one), if the
    /// session is live, now.
    pub async fn user_from(&self, store: &Store, token: Option<&str>) -> Result<Option<UserRecord>, StoreError> {
        self.user_at(store, token, crate::store::now_ms()).await
    }

    /// The user of a session token at time `now` (milliseconds).
    pub async fn user_at(
        &self,
        store: &Store,
        token: Option<&str>,
        now: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        match token {
            Some(token) => store.session_user(&token_hash(token), now, self.times).await,
            None => Ok(None),
        }
    }

    /// Ends a session (if a token was sent), on every node.
    pub async fn end(&self, store: &Store, token: Option<&str>) -> Result<(), StoreError> {
        if let Some(token) = token {
            store.end_session(&token_hash(token)).await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- sign-in limits

/// Failed sign-ins allowed within a sliding window (see [`SignInLimits::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Per email from one client address, per email on one known device, and per email from
    /// everywhere (past which only addresses that have not failed for it may try it).
    pub per_email: u32,
    /// Per client address, whatever the email (a run of guesses across many accounts).
    pub per_address: u32,
    pub window_ms: i64,
}

/// How long a browser stays a known device after its last sign-in.
pub const DEVICE_LIFETIME_MS: i64 = 400 * 24 * 3600 * 1000;

/// One sign-in attempt's rate-limit buckets, hashed so the tables hold no email, address or
/// device token in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// This email, from anywhere.
    email: Option<String>,
    /// Anything from this client address.
    address: String,
    /// This email from this client address.
    pair: Option<String>,
    /// This email on this browser, if it sent a device cookie.
    device: Option<String>,
}

/// A bucket's name: its kind and the SHA-256 of what it counts.
fn bucket(kind: &str, parts: &[&str]) -> String {
    format!("{}:{}", &kind[..1], token_hash(&format!("{kind}:{}", parts.join("\n"))))
}

/// The bucket of a device (its cookie's token) signing in to an email.
pub fn device_bucket(token: &str, email: &Email) -> String {
    bucket("device", &[token, email.expose()])
}

impl Attempt {
    /// This email-from-this-address bucket (for tests that read the failures counted in it).
    #[cfg(test)]
    pub(crate) fn pair_bucket(&self) -> Option<&String> {
        self.pair.as_ref()
    }

    /// The buckets for this email (if it parsed), client address (`None`: unknown, one shared
    /// bucket) and device cookie token (if sent).
    pub fn new(email: Option<&Email>, address: Option<IpAddr>, device: Option<&str>) -> Self {
        let address = address.map_or_else(|| "unknown".to_owned(), address_key);
        Self {
            email: email.map(|e| bucket("email", &[e.expose()])),
            pair: email.map(|e| bucket("pair", &[e.expose(), &address])),
            device: email.zip(device).map(|(e, d)| device_bucket(d, e)),
            address: bucket("address", &[&address]),
        }
    }
}

/// One bucket per IPv4 address, and per /64 for IPv6 (one household or phone gets a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match address_bucket(ip) {
        IpAddr::V6(net) => format!("{net}/64"),
        v4 => v4.to_string(),
    }
}

/// Whether an attempt may go ahead, and whether it comes from a known device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub known_device: bool,
    /// How long until it may be made, if it may not be made now.
    pub wait: Option<Duration>,
}

impl SignInLimits {
    /// Whether this attempt may be made at `now`. Only failures count, never attempts in
    /// progress or successes, so a class signing in together from one school network is never
    /// held. A known device answers only for its own failures (`per_email` of them). Anyone else
    /// is held when their address has failed `per_address` times, when this email has failed
    /// `per_email` times from their address, or when it has failed `per_email` times from
    /// anywhere and at least once from their address. So a stranger's guesses hold the
    /// stranger: the owner's own browser, and an address that has not failed, still get in.
    pub async fn check(&self, store: &Store, attempt: &Attempt, now: i64) -> Result<Check, StoreError> {
        let since = now - self.window_ms;
        let (per_email, window) = (self.per_email as usize, self.window_ms);
        // When a bucket whose failures are `times` (newest first) is back under `limit`.
        let reopens = |times: &[i64], limit: usize| (times.len() >= limit).then(|| times[limit - 1] + window);
        let wait = |open_at: Option<i64>| {
            open_at
                .filter(|t| *t > now)
                .map(|t| Duration::from_millis((t - now) as u64))
        };
        if let Some(device) = &attempt.device {
            if store.known_device(device, now - DEVICE_LIFETIME_MS).await? {
                let own = store.recent_failures(device, since, per_email as i64).await?;
                return Ok(Check {
                    known_device: true,
                    wait: wait(reopens(&own, per_email)),
                });
            }
        }
        let per_address = self.per_address as usize;
        let mut open_at = reopens(
            &store
                .recent_failures(&attempt.address, since, per_address as i64)
                .await?,
            per_address,
        );
        if let (Some(pair), Some(email)) = (&attempt.pair, &attempt.email) {
            let here = store.recent_failures(pair, since, per_email as i64).await?;
            open_at = open_at.max(reopens(&here, per_email));
            if let Some(newest_here) = here.first() {
                // Held until the email is back under its limit or this address's last failure
                // for it has left the window, whichever comes first.
                let everywhere = reopens(&store.recent_failures(email, since, per_email as i64).await?, per_email);
                open_at = open_at.max(everywhere.map(|t| t.min(newest_here + window)));
            }
        }
        Ok(Check {
            known_device: false,
            wait: wait(open_at),
        })
    }

    /// Counts a failed attempt in each of its buckets (its device's only if known), and
    /// forgets failures that have left the window.
    pub async fn failed(
        &self,
        store: &Store,
        attempt: &Attempt,
        known_device: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut buckets: Vec<&str> = vec![&attempt.address];
        buckets.extend(attempt.email.as_deref());
        buckets.extend(attempt.pair.as_deref());
        if known_device {
            buckets.extend(attempt.device.as_deref());
        }
        store
            .record_failure(&buckets, &random_token(16), now, now - self.window_ms)
            .await
    }

    /// A successful sign-in clears its known device's own failures. Nothing else: the owner
    /// signing in does not hand a stranger at their address a fresh run of guesses.
    pub async fn succeeded(&self, store: &Store, attempt: &Attempt, known_device: bool) -> Result<(), StoreError> {
        match (&attempt.device, known_device) {
            (Some(device), true) => store.clear_failures(device).await,
            _ => Ok(()),
        }
    }

    /// Remembers this browser as a known device for `email` after a successful sign-in: the
    /// device cookie's token (the one it sent, or a new one) for the `Set-Cookie`.
    pub async fn remember_device(
        &self,
        store: &Store,
        sent: Option<&str>,
        email: &Email,
        now: i64,
    ) -> Result<String, StoreError> {
        let token = sent.map_or_else(|| random_token(32), str::to_owned);
        let email_bucket = bucket("email", &[email.expose()]);
        store
            .remember_device(
                &device_bucket(&token, email),
                &email_bucket,
                now,
                now - DEVICE_LIFETIME_MS,
            )
            .await?;
        Ok(token)
    }
}

/// One client address for the per-address cap and the sign-in limits: an IPv4 address, or an
/// IPv6 /64 (one household or phone gets a whole /64).
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        },
        v4 => v4,
    }
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
pub const TICKETS_PER_SECOND: u32 = 1;

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
        Self {
            map: Mutex::new(HashMap::new()),
            lifetime,
            requests: super::budget::Budget::new(livegate_core::budget::Rate {
                burst: TICKET_BURST,
                per_second: TICKETS_PER_SECOND,
            }),
        }
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
        map.insert(
            token.clone(),
            Ticket {
                user,
                lesson,
                origin,
                expires: now + self.lifetime,
            },
        );
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
