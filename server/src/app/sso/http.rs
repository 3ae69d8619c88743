//! The HTTP client that `openidconnect` talks to providers through: reqwest (already in the
//! tree through the object store, rustls with ring, no OpenSSL), with no redirect followed (a
//! redirect would let a provider's answer send Livegate elsewhere: SSRF), a deadline, and a
//! bound on every body read, so a provider that misbehaves costs a bounded amount.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The most a discovery document, key set or token answer may hold.
pub const MAX_BODY: usize = 256 * 1024;
/// How long one request to a provider may take, connection included.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Why a request to a provider failed (never quoting what was sent: it may hold a code).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request: {0}")]
    Request(#[from] reqwest::Error),
    #[error("building the request: {0}")]
    Build(#[from] openidconnect::http::Error),
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
}

/// reqwest behind `openidconnect`'s client trait.
#[derive(Clone)]
pub struct Http(reqwest::Client);

impl Http {
    /// A client with the rules above.
    pub fn new() -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DEADLINE)
            .connect_timeout(DEADLINE)
            .build()
            .map(Self)
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let mut res = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        if res.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(HttpError::TooLarge);
        }
        let mut out = openidconnect::http::Response::builder().status(res.status());
        for (name, value) in res.headers() {
            out = out.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(out.body(body)?)
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
