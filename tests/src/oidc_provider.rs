//! A test OpenID provider that the suite runs itself: axum on loopback, serving discovery, a
//! JSON Web Key Set with real RSA keys, an authorization endpoint that approves at once with
//! the claims the test chose, and a token endpoint that checks the client secret, the redirect
//! URI and the PKCE verifier, spends each code once and signs real RS256 ID tokens.
//!
//! It mimics both shapes Livegate supports, on one port: Microsoft Entra ID with an issuer per
//! tenant (`{base}/{tenant}/v2.0`, as navikt's mock-oauth2-server does with its first path
//! segment), and Google (`{base}/google`). A test can sign the next token wrongly on purpose
//! ([`Tamper`]), rotate the keys, and count how often the keys were fetched.
//!
//! [`SsoBrowser`] plays the person's browser through a sign-in: start, the provider's
//! redirect, the callback, without following redirects, so each hop can be checked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::{Digest, Sha256};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The client id and secret the provider knows Livegate by.
pub const CLIENT_ID: &str = "livegate-test-client";
pub const CLIENT_SECRET: &str = "test-client-secret-not-for-production";
/// Microsoft's consumer tenant, which Livegate refuses.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The person who signs in next, and the claims their ID token carries.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    /// Microsoft: the tenant claim (default: the realm's tenant).
    pub tid: Option<String>,
    /// Microsoft: "email domain owner verified".
    pub xms_edov: Option<bool>,
    /// Google: the Workspace domain.
    pub hd: Option<String>,
    pub amr: Option<Vec<String>>,
}

impl Person {
    /// A Microsoft work or school account with a verified email.
    pub fn microsoft(sub: &str, email: &str) -> Self {
        Self {
            sub: sub.into(),
            email: Some(email.into()),
            xms_edov: Some(true),
            ..Self::default()
        }
    }

    /// A Google Workspace account of `hd` with a verified email.
    pub fn google(sub: &str, email: &str, hd: &str) -> Self {
        Self {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: Some(true),
            hd: Some(hd.into()),
            ..Self::default()
        }
    }
}

/// A way to make the next ID token wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// Another `iss`.
    Issuer(String),
    /// Another `aud`.
    Audience,
    /// Expired an hour ago.
    Expired,
    /// Issued an hour from now.
    NotYetValid,
    /// Signed by a key nobody published, under the published key's `kid`.
    BadSignature,
    /// `alg: none`, no signature.
    AlgNone,
    /// Signed by a key whose `kid` is not published.
    UnknownKid,
    /// Another nonce.
    Nonce,
}

struct Key {
    kid: String,
    private: RsaPrivateKey,
}

impl Key {
    fn generate(kid: &str) -> Self {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key");
        Key {
            kid: kid.into(),
            private,
        }
    }

    fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = b64(json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string().as_bytes());
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let signature = SigningKey::<Sha256>::new(self.private.clone()).sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }
}

struct Grant {
    realm: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
    person: Person,
    used: bool,
}

#[derive(Default)]
struct Inner {
    /// Published keys; the last one signs.
    keys: Vec<Key>,
    grants: HashMap<String, Grant>,
    person: Option<Person>,
    tamper: Option<Tamper>,
}

struct Op {
    base: String,
    inner: Mutex<Inner>,
    key_fetches: AtomicUsize,
    /// Signs tokens that must not verify.
    stray: Key,
}

/// A running test provider.
pub struct OidcProvider {
    op: Arc<Op>,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OidcProvider {
    /// Starts a provider on 127.0.0.1 with one signing key.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (first, stray) = tokio::task::spawn_blocking(|| (Key::generate("key-1"), Key::generate("stray"))).await?;
        let op = Arc::new(Op {
            base: format!("http://{addr}"),
            inner: Mutex::new(Inner {
                keys: vec![first],
                ..Inner::default()
            }),
            key_fetches: AtomicUsize::new(0),
            stray,
        });
        let app = Router::new()
            .route("/google/.well-known/openid-configuration", get(discovery_google))
            .route(
                "/{realm}/v2.0/.well-known/openid-configuration",
                get(discovery_microsoft),
            )
            .route("/{realm}/authorize", get(authorize))
            .route("/{realm}/token", post(token))
            .route("/{realm}/keys", get(keys))
            .with_state(op.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { op, addr, task })
    }

    /// The base URL: Microsoft's `issuer_base`; Google's issuer is [`Self::google_issuer`].
    pub fn base(&self) -> String {
        self.op.base.clone()
    }

    pub fn google_issuer(&self) -> String {
        format!("{}/google", self.op.base)
    }

    pub fn microsoft_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.op.base)
    }

    /// The environment for `livegate demo` that registers Livegate with this provider for
    /// both shapes.
    pub fn livegate_env(&self) -> Vec<(String, String)> {
        [
            ("LIVEGATE_SSO_MICROSOFT_CLIENT_ID", CLIENT_ID.to_owned()),
            ("LIVEGATE_SSO_MICROSOFT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("LIVEGATE_SSO_MICROSOFT_ISSUER_BASE", self.base()),
            ("LIVEGATE_SSO_GOOGLE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("LIVEGATE_SSO_GOOGLE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("LIVEGATE_SSO_GOOGLE_ISSUER_BASE", self.google_issuer()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Who signs in at the next authorization.
    pub fn sign_in_as(&self, person: Person) {
        self.op.inner.lock().unwrap().person = Some(person);
    }

    /// Makes the next ID token wrong (once).
    pub fn tamper(&self, how: Tamper) {
        self.op.inner.lock().unwrap().tamper = Some(how);
    }

    /// Publishes a new key and signs with it from now on (the old one stays published).
    pub async fn rotate_keys(&self, kid: &str) -> Result<()> {
        let kid = kid.to_owned();
        let key = tokio::task::spawn_blocking(move || Key::generate(&kid)).await?;
        self.op.inner.lock().unwrap().keys.push(key);
        Ok(())
    }

    /// How many times the key set was fetched.
    pub fn key_fetches(&self) -> usize {
        self.op.key_fetches.load(Ordering::SeqCst)
    }
}

fn endpoints(op: &Op, realm: &str, issuer: String) -> Json<Value> {
    let base = &op.base;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/{realm}/authorize"),
        "token_endpoint": format!("{base}/{realm}/token"),
        "jwks_uri": format!("{base}/{realm}/keys"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn discovery_google(State(op): State<Arc<Op>>) -> Json<Value> {
    endpoints(&op, "google", format!("{}/google", op.base))
}

async fn discovery_microsoft(State(op): State<Arc<Op>>, Path(realm): Path<String>) -> Json<Value> {
    endpoints(&op, &realm, format!("{}/{realm}/v2.0", op.base))
}

async fn keys(State(op): State<Arc<Op>>) -> Json<Value> {
    op.key_fetches.fetch_add(1, Ordering::SeqCst);
    let inner = op.inner.lock().unwrap();
    Json(json!({"keys": inner.keys.iter().map(Key::jwk).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
    response_type: String,
}

async fn authorize(State(op): State<Arc<Op>>, Path(realm): Path<String>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id != CLIENT_ID || q.response_type != "code" || q.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let mut inner = op.inner.lock().unwrap();
    let Some(person) = inner.person.clone() else {
        return (StatusCode::BAD_REQUEST, "the test chose nobody to sign in").into_response();
    };
    let code = format!("code-{}", rand::random::<u64>());
    inner.grants.insert(
        code.clone(),
        Grant {
            realm,
            redirect_uri: q.redirect_uri.clone(),
            challenge: q.code_challenge,
            nonce: q.nonce,
            person,
            used: false,
        },
    );
    Redirect::to(&format!("{}?code={code}&state={}", q.redirect_uri, q.state)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    id_token: String,
}

fn invalid_grant(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": why})),
    )
        .into_response()
}

async fn token(
    State(op): State<Arc<Op>>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let mut inner = op.inner.lock().unwrap();
    let Some(grant) = inner.grants.get_mut(&f.code) else {
        return invalid_grant("unknown code");
    };
    if f.grant_type != "authorization_code" || grant.realm != realm || grant.redirect_uri != f.redirect_uri {
        return invalid_grant("code issued for another request");
    }
    if grant.used {
        return invalid_grant("code already used");
    }
    if b64(&Sha256::digest(f.code_verifier.as_bytes())) != grant.challenge {
        return invalid_grant("PKCE verifier does not match");
    }
    grant.used = true;
    let (person, nonce) = (grant.person.clone(), grant.nonce.clone());
    let tamper = inner.tamper.take();
    let issuer = if realm == "google" {
        format!("{}/google", op.base)
    } else {
        format!("{}/{realm}/v2.0", op.base)
    };
    let claims = claims(&realm, issuer, &person, nonce, tamper.as_ref());
    let signer = inner.keys.last().expect("a key");
    let id_token = match tamper {
        Some(Tamper::AlgNone) => {
            let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
            format!("{header}.{}.", b64(claims.to_string().as_bytes()))
        }
        Some(Tamper::BadSignature) => op.stray.sign(&signer.kid, &claims),
        Some(Tamper::UnknownKid) => op.stray.sign("never-published", &claims),
        _ => signer.sign(&signer.kid, &claims),
    };
    Json(TokenAnswer {
        access_token: format!("at-{}", rand::random::<u64>()),
        token_type: "Bearer",
        expires_in: 3600,
        id_token,
    })
    .into_response()
}

fn claims(realm: &str, issuer: String, p: &Person, nonce: String, tamper: Option<&Tamper>) -> Value {
    let now = now_secs();
    let (iat, exp) = match tamper {
        Some(Tamper::Expired) => (now - 7200, now - 3600),
        Some(Tamper::NotYetValid) => (now + 3600, now + 7200),
        _ => (now, now + 3600),
    };
    let mut c = json!({
        "iss": match tamper { Some(Tamper::Issuer(i)) => i.clone(), _ => issuer },
        "aud": if tamper == Some(&Tamper::Audience) { "another-app" } else { CLIENT_ID },
        "sub": p.sub, "iat": iat, "exp": exp,
        "nonce": if tamper == Some(&Tamper::Nonce) { "another-nonce".to_owned() } else { nonce },
    });
    let o = c.as_object_mut().expect("an object");
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_owned(), v);
    };
    if let Some(e) = &p.email {
        put("email", json!(e));
    }
    if let Some(v) = p.email_verified {
        put("email_verified", json!(v));
    }
    if realm != "google" {
        put("tid", json!(p.tid.clone().unwrap_or_else(|| realm.to_owned())));
    }
    if let Some(v) = p.xms_edov {
        put("xms_edov", json!(v));
    }
    if let Some(hd) = &p.hd {
        put("hd", json!(hd));
    }
    if let Some(amr) = &p.amr {
        put("amr", json!(amr));
    }
    c
}

/// A person's browser through a sign-in, with its own cookies and no redirect followed.
pub struct SsoBrowser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

/// Where a sign-in ended: signed in (the session cookie is in the browser), or refused with
/// the code the sign-in page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    SignedIn,
    Refused(String),
}

impl SsoBrowser {
    pub fn new(livegate_base: &str) -> Self {
        Self::from_address(livegate_base, None)
    }

    /// A browser whose connections leave from `local` (another client address on loopback).
    pub fn from_address(livegate_base: &str, local: Option<std::net::IpAddr>) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local)
            .no_proxy()
            .build()
            .expect("a client");
        Self {
            client,
            jar,
            base: livegate_base.trim_end_matches('/').to_owned(),
        }
    }

    /// The cookies this browser sends to Livegate (its session, once signed in).
    pub fn cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&self.base.parse().ok()?)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// The session cookie as a `Set-Cookie` value for another client ([`crate::Api::add_cookie`]).
    pub fn session_cookie(&self) -> Option<String> {
        let all = self.cookie()?;
        let pair = all.split("; ").find(|c| c.starts_with("livegate_session="))?;
        Some(format!("{pair}; Path=/"))
    }

    /// `POST /api/sso/start`: the status and body.
    pub async fn start(&self, provider: &str, email: &str) -> Result<(u16, Value)> {
        let res = self
            .client
            .post(format!("{}/api/sso/start", self.base))
            .json(&json!({"provider": provider, "email": email}))
            .send()
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    /// Starts a sign-in and lets the provider approve it: the callback URL it sent the browser
    /// to (with `code` and `state`).
    pub async fn approve(&self, provider: &str, email: &str) -> Result<String> {
        let (status, body) = self.start(provider, email).await?;
        if status != 200 {
            bail!("sign-in start answered {status}: {body}");
        }
        let url = body["redirect"]
            .as_str()
            .ok_or_else(|| anyhow!("no redirect in {body}"))?;
        let res = self
            .client
            .get(url)
            .send()
            .await
            .context("the provider's authorization")?;
        location(&res).ok_or_else(|| anyhow!("the provider answered {} without a redirect", res.status()))
    }

    /// Follows the provider's redirect back to Livegate; where it sent the browser.
    pub async fn callback(&self, url: &str) -> Result<Outcome> {
        let res = self.client.get(url).send().await.context("the callback")?;
        if res.status().as_u16() != 303 {
            bail!("the callback answered {}, not 303", res.status());
        }
        let to = location(&res).ok_or_else(|| anyhow!("a 303 without a Location"))?;
        Ok(match to.strip_prefix("/#/sso-refused?code=") {
            Some(code) => Outcome::Refused(code.to_owned()),
            None if to == "/#/" => Outcome::SignedIn,
            None => bail!("the callback sent the browser to {to}"),
        })
    }

    /// A whole sign-in.
    pub async fn sign_in(&self, provider: &str, email: &str) -> Result<Outcome> {
        let back = self.approve(provider, email).await?;
        self.callback(&back).await
    }

    /// `GET /api/me` with this browser's cookies: the status.
    pub async fn me(&self) -> Result<(u16, Value)> {
        let res = self.client.get(format!("{}/api/me", self.base)).send().await?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers().get("location")?.to_str().ok().map(str::to_owned)
}
