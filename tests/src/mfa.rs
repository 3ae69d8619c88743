//! The staff second factor from the test client's side: enrol an authenticator for a signed-in
//! account and answer the sign-in's second step with a code computed by `totp-rs`, as a phone
//! app would (RFC 6238: SHA-1, 6 digits, 30-second steps).
//!
//! The harness remembers each enrolled secret per server and email, with the last step it
//! used, so [`crate::api::Api::sign_in`] signs an enrolled leader or superuser in again by
//! itself, never offering a code the server has already spent (it may use the next step,
//! which the server accepts as one step of clock skew, and otherwise waits for a new step).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use serde_json::json;
use totp_rs::{Algorithm, Builder, Secret};

use crate::api::Api;
use crate::server::Server;

/// A secret the harness enrolled, and the last step it offered a code for.
struct Enrolled {
    secret: String,
    recovery_codes: Vec<String>,
    last_step: u64,
}

/// (server base URL, email) → the account's authenticator.
static ENROLLED: Mutex<Option<HashMap<(String, String), Enrolled>>> = Mutex::new(None);

/// What an enrolment handed out.
#[derive(Debug, Clone, Deserialize)]
pub struct Enrolment {
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

/// Seconds since the Unix epoch.
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The 6-digit code of a base32 secret for time step `step`.
pub fn code_for_step(secret: &str, step: u64) -> Result<String> {
    let secret = Secret::try_from_base32(secret).map_err(|e| anyhow!("secret is not base32: {e:?}"))?;
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret)
        .build()
        .map_err(|e| anyhow!("building the TOTP: {e:?}"))?;
    Ok(totp.generate(step * 30).to_string())
}

/// The code for now.
pub fn code_now(secret: &str) -> Result<String> {
    code_for_step(secret, unix_secs() / 30)
}

/// Starts and confirms an enrolment for the account `api` is signed in as (its session becomes
/// two-factor), and remembers the secret for later sign-ins of `email`.
pub async fn enrol_totp(api: &Api, email: &str) -> Result<Enrolment> {
    let (status, body) = api
        .request(reqwest::Method::POST, "/api/account/second-factor/totp", None)
        .await?;
    let body = Api::check(status, body).map_err(|e| anyhow!("starting enrolment for {email}: {e}"))?;
    let secret = body["secret"]
        .as_str()
        .context("enrolment without a secret")?
        .to_owned();
    let step = unix_secs() / 30;
    let (status, body) = api
        .request(
            reqwest::Method::POST,
            "/api/account/second-factor/totp/confirm",
            Some(json!({"code": code_for_step(&secret, step)?})),
        )
        .await?;
    let body = Api::check(status, body).map_err(|e| anyhow!("confirming enrolment for {email}: {e}"))?;
    let recovery_codes: Vec<String> = serde_json::from_value(body["recovery_codes"].clone())?;
    let mut map = ENROLLED.lock().expect("harness lock");
    map.get_or_insert_with(HashMap::new).insert(
        (api.origin().to_owned(), email.to_owned()),
        Enrolled {
            secret: secret.clone(),
            recovery_codes: recovery_codes.clone(),
            last_step: step,
        },
    );
    Ok(Enrolment { secret, recovery_codes })
}

/// What the harness enrolled for `email` on this server: its secret and recovery codes.
fn enrolled<T>(server: &Server, email: &str, read: impl FnOnce(&Enrolled) -> T) -> Result<T> {
    let map = ENROLLED.lock().expect("harness lock");
    let key = (server.http_base.trim_end_matches('/').to_owned(), email.to_owned());
    let found = map.as_ref().and_then(|m| m.get(&key));
    found
        .map(read)
        .with_context(|| format!("the harness enrolled no factor for {email}"))
}

/// The secret the harness enrolled for `email` on this server.
pub fn enrol_secret(server: &Server, email: &str) -> Result<String> {
    enrolled(server, email, |e| e.secret.clone())
}

/// The recovery codes the enrolment of `email` on this server handed out.
pub fn recovery_codes(server: &Server, email: &str) -> Result<Vec<String>> {
    enrolled(server, email, |e| e.recovery_codes.clone())
}

/// The same database is now served from `to` (a server restarted on its data folder, on a new
/// port): the accounts the harness enrolled at `from` are found there.
pub fn server_moved(from: &str, to: &str) {
    let (from, to) = (from.trim_end_matches('/'), to.trim_end_matches('/'));
    let mut map = ENROLLED.lock().expect("harness lock");
    let map = map.get_or_insert_with(HashMap::new);
    let moved: Vec<(String, String)> = map.keys().filter(|(base, _)| base == from).cloned().collect();
    for key in moved {
        if let Some(entry) = map.remove(&key) {
            map.insert((to.to_owned(), key.1), entry);
        }
    }
}

/// A fresh code for an account the harness enrolled on this server: the earliest step the
/// server still accepts (now or the next, one step of skew) that the harness has not used,
/// waiting for a new step when both are used.
pub async fn next_code(base: &str, email: &str) -> Result<String> {
    loop {
        let now = unix_secs() / 30;
        {
            let mut map = ENROLLED.lock().expect("harness lock");
            let enrolled = map
                .get_or_insert_with(HashMap::new)
                .get_mut(&(base.to_owned(), email.to_owned()))
                .with_context(|| format!("{email} has a second factor the harness did not enrol"))?;
            if let Some(step) = (now..=now + 1).find(|s| *s > enrolled.last_step) {
                enrolled.last_step = step;
                return code_for_step(&enrolled.secret, step);
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The second step's answer for an account the harness enrolled on this server, as the fields
/// of `POST /api/session/second-factor`: a fresh code when the server would take one now, else
/// (both steps the server accepts already used) one of the enrolment's unused recovery codes, so
/// a test never waits for the clock.
pub fn next_answer(base: &str, email: &str) -> Result<serde_json::Value> {
    let now = unix_secs() / 30;
    let mut map = ENROLLED.lock().expect("harness lock");
    let enrolled = map
        .get_or_insert_with(HashMap::new)
        .get_mut(&(base.to_owned(), email.to_owned()))
        .with_context(|| format!("{email} has a second factor the harness did not enrol"))?;
    if let Some(step) = (now..=now + 1).find(|s| *s > enrolled.last_step) {
        enrolled.last_step = step;
        return Ok(json!({"code": code_for_step(&enrolled.secret, step)?}));
    }
    let code = enrolled
        .recovery_codes
        .pop()
        .with_context(|| format!("{email}: no fresh code and no recovery code left"))?;
    Ok(json!({"recovery_code": code}))
}

/// Signs in with a password and, if the account's session is not two-factor yet, enrols an
/// authenticator for it: the demo leader or superuser ready to open recordings.
pub async fn sign_in_two_factor(api: &Api, email: &str, password: &str) -> Result<()> {
    api.sign_in(email, password).await?;
    let (status, body) = api
        .request(reqwest::Method::GET, "/api/account/second-factor", None)
        .await?;
    let body = Api::check(status, body).map_err(|e| anyhow!("second-factor status of {email}: {e}"))?;
    if body["two_factors"] != json!(true) {
        enrol_totp(api, email).await?;
    }
    Ok(())
}
