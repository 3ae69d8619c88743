//! HTTP helper for the Livegate JSON API (PROTOCOL.md section 1): one cookie-holding client per
//! signed-in user, with sign-in, lesson start and ticket requests. Their answers are read as the
//! protocol's types (`livegate_core::proto::http`), so a body that drifts from them fails here.

use crate::server::Server;
use anyhow::{anyhow, bail, Context, Result};
use livegate_core::proto::http::{LessonBody, SignedIn, User};
use livegate_core::proto::LessonSummary;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;

/// A refusal from the HTTP API: status plus the stable `error.code`.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub body: Value,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {} ({}) body={}",
            self.status, self.code, self.message, self.body
        )
    }
}

impl std::error::Error for HttpError {}

/// A WebSocket admission ticket from `POST /api/lessons/{id}/ticket`.
pub use livegate_core::proto::http::Ticket;

/// A successful answer's body as the type the protocol says it is.
fn parse<T: DeserializeOwned>(what: &str, body: Value) -> Result<T> {
    let text = body.to_string();
    serde_json::from_value(body).map_err(|e| anyhow!("{what}: the answer is not the protocol's ({e}): {text}"))
}

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    /// The session cookie (and any other) the server set, for the WebSocket upgrade too.
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    /// The address its connections leave from (`None`: the system's choice).
    local: Option<std::net::IpAddr>,
}

fn client(
    jar: &std::sync::Arc<reqwest::cookie::Jar>,
    local: Option<std::net::IpAddr>,
    timeout: Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .local_address(local)
        .timeout(timeout)
        .no_proxy()
        .build()
        .expect("building reqwest client")
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api::with_base(&server.http_base)
    }

    pub fn with_base(base: &str) -> Api {
        Api::from_address(base, None)
    }

    /// A client whose connections leave from `local` (any 127.0.0.0/8 address reaches a server
    /// on 127.0.0.1), so a test can be several client addresses.
    pub fn from_address(base: &str, local: Option<std::net::IpAddr>) -> Api {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Api {
            client: client(&jar, local, Duration::from_secs(10)),
            base: base.trim_end_matches('/').to_string(),
            jar,
            local,
        }
    }

    /// The same client with another timeout for each request.
    pub fn with_timeout(mut self, timeout: Duration) -> Api {
        self.client = client(&self.jar, self.local, timeout);
        self
    }

    /// The origin this client speaks for, as a browser on the server's page would send it.
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// The `Cookie` header this client sends to the server (its session), if any.
    pub fn cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().ok()?;
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Adds a cookie the server set to another client of the same person (the session a
    /// sign-in with a school account started, `oidc_provider::SsoBrowser::session_cookie`).
    pub fn add_cookie(&self, set_cookie: &str) {
        if let Ok(url) = self.base.parse() {
            self.jar.add_cookie_str(set_cookie, &url);
        }
    }

    /// The headers a browser on the server's page sends with its WebSocket upgrade: the
    /// session cookie and the page's `Origin`. A join ticket is redeemed only with both.
    pub fn ws_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("origin".to_owned(), self.origin().to_owned())];
        headers.extend(self.cookie().map(|c| ("cookie".to_owned(), c)));
        headers
    }

    /// Sends a request and returns the status and the JSON body (`Value::Null` if empty).
    pub async fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.client.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading body of {method} {url}"))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| anyhow!("{method} {url} → {status}: body is not JSON ({e}): {text:?}"))?
        };
        Ok((status, value))
    }

    /// `GET path` with an optional `Range` header; returns the status, the headers and the raw
    /// body (for media).
    pub async fn get_raw(&self, path: &str, range: Option<&str>) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.client.get(&url).timeout(Duration::from_secs(60));
        if let Some(r) = range {
            req = req.header(reqwest::header::RANGE, r);
        }
        let resp = req.send().await.with_context(|| format!("GET {url}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("reading body of GET {url}"))?;
        Ok((status, headers, body.to_vec()))
    }

    /// Turns a non-2xx response into an [`HttpError`], checking the error shape of section 1.
    pub fn check(status: u16, body: Value) -> std::result::Result<Value, HttpError> {
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let code = body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("<missing error.code>")
            .to_string();
        let message = body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("<missing error.message>")
            .to_string();
        Err(HttpError {
            status,
            code,
            message,
            body,
        })
    }

    /// A response's status and its `error.code` ("" on success), for matching.
    pub fn check_code((status, body): (u16, Value)) -> (u16, String) {
        let code = Api::check(status, body).err().map(|e| e.code).unwrap_or_default();
        (status, code)
    }

    /// `POST /api/session`; returns the user who signed in. An account the harness enrolled
    /// an authenticator for (`crate::mfa`) answers the second step with a fresh code (or a
    /// recovery code when the clock has none fresh).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<User> {
        let (mut status, mut body) = self
            .request(
                reqwest::Method::POST,
                "/api/session",
                Some(json!({"email": email, "password": password})),
            )
            .await?;
        if status == 202 {
            let mut answer = crate::mfa::next_answer(&self.base, email)?;
            answer["pending"] = body["pending"].clone();
            (status, body) = self
                .request(reqwest::Method::POST, "/api/session/second-factor", Some(answer))
                .await?;
        }
        let body = Api::check(status, body).map_err(|e| anyhow!("sign-in as {email}: {e}"))?;
        if status != 200 {
            bail!("sign-in as {email}: expected 200, got {status}");
        }
        let SignedIn { user } = parse(&format!("sign-in as {email}"), body)?;
        Ok(user)
    }

    /// `POST /api/lessons`; returns the status (201 new, 200 existing) and the LessonSummary.
    pub async fn start_lesson(&self, class_id: &str) -> Result<(u16, LessonSummary)> {
        let (status, body) = self
            .request(
                reqwest::Method::POST,
                "/api/lessons",
                Some(json!({"class_id": class_id})),
            )
            .await?;
        let body = Api::check(status, body).map_err(|e| anyhow!("start lesson for {class_id}: {e}"))?;
        let LessonBody { lesson } = parse(&format!("start lesson for {class_id}"), body)?;
        Ok((status, lesson))
    }

    /// `POST /api/lessons/{id}/ticket`, from the server's own origin as a browser asks for it.
    /// The outer error is a transport failure; the inner one a refusal by the admission gate.
    pub async fn ticket(&self, lesson_id: &str) -> Result<std::result::Result<Ticket, HttpError>> {
        let url = format!("{}/api/lessons/{lesson_id}/ticket", self.base);
        let resp = self
            .client
            .post(&url)
            .header("origin", self.origin())
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading body of POST {url}"))?;
        let body = serde_json::from_str(&text)
            .map_err(|e| anyhow!("POST {url} → {status}: body is not JSON ({e}): {text:?}"))?;
        match Api::check(status, body) {
            Err(e) => Ok(Err(e)),
            Ok(body) => Ok(Ok(parse(&format!("ticket for {lesson_id}"), body)?)),
        }
    }

    /// A ticket that must be granted.
    pub async fn must_ticket(&self, lesson_id: &str) -> Result<Ticket> {
        self.ticket(lesson_id)
            .await?
            .map_err(|e| anyhow!("ticket for lesson {lesson_id} refused: {e}"))
    }
}
