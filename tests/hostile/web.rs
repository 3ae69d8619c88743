//! HTTP hardening: the security headers on every route (errors and 404s too), cross-site
//! writes and WebSocket upgrades refused with `cross_site`, the session cookie's flags, and
//! HTTPS served directly with rustls: HSTS there and only there, signalling over `wss`.

use crate::fixture::*;
use anyhow::{anyhow, bail, ensure, Context, Result};
use livegate_tests::participant::SIGNAL_TIMEOUT;
use livegate_tests::signal::msg_type;
use livegate_tests::{seed, Server};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const EVIL: &str = "https://evil.example";

/// Checks the headers every response must carry; `https` says whether HSTS must be there.
fn check_headers(what: &str, path: &str, h: &reqwest::header::HeaderMap, https: bool) -> Result<()> {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let csp = get("content-security-policy");
    ensure!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"),
        "{what}: CSP {csp:?}"
    );
    ensure!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: CSP allows unsafe code: {csp:?}"
    );
    for (k, v) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        ensure!(get(k) == v, "{what}: {k} is {:?}, want {v:?}", get(k));
    }
    let pp = get("permissions-policy");
    ensure!(
        pp.contains("camera=(self)") && pp.contains("microphone=(self)"),
        "{what}: permissions-policy {pp:?}"
    );
    if path.starts_with("/api/") {
        ensure!(
            get("cache-control") == "no-store",
            "{what}: cache-control {:?}",
            get("cache-control")
        );
    }
    let hsts = get("strict-transport-security");
    if https {
        ensure!(
            hsts.starts_with("max-age=") && !hsts.starts_with("max-age=0"),
            "{what}: HSTS {hsts:?}"
        );
    } else {
        ensure!(hsts.is_empty(), "{what}: HSTS over plain HTTP: {hsts:?}");
    }
    Ok(())
}

#[test]
fn security_headers_on_every_route() {
    shared_case(|s| async move {
        // Each route's own answer: a redirect (the sign-in callback's 303) is not followed.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut paths: Vec<(reqwest::Method, String)> = routes()?
            .into_iter()
            .map(|(m, p, _)| (m, concrete(&p, &s.lesson.id)))
            .collect();
        for extra in ["/", "/index.html", "/api/nope", "/nope.js", "/some/page"] {
            paths.push((reqwest::Method::GET, extra.to_string()));
        }
        for (method, path) in paths {
            let resp = client
                .request(method.clone(), format!("{}{path}", s.server.http_base))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await?;
            let what = format!("{method} {path} ({})", resp.status());
            check_headers(&what, &path, resp.headers(), false)?;
        }
        s.control_keeps_receiving().await
    });
}

/// A client holding `email`'s session cookie.
async fn session(s: &Shared, email: &str) -> Result<reqwest::Client> {
    session_with(s, email, password(email)).await
}

/// A client holding the session cookie of `email` signed in with `password`.
async fn session_with(s: &Shared, email: &str, password: &str) -> Result<reqwest::Client> {
    let client = reqwest::Client::builder().cookie_store(true).no_proxy().build()?;
    let resp = client
        .post(format!("{}/api/session", s.server.http_base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ensure!(resp.status() == 200, "sign-in as {email}: {}", resp.status());
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        ensure!(cookie.contains(flag), "the session cookie lacks {flag}: {cookie}");
    }
    Ok(client)
}

/// A client holding the demo leader's session signed in with two factors, as the leader's routes
/// need (an authenticator enrolled through the harness the first time).
async fn leader_session(s: &Shared) -> Result<reqwest::Client> {
    use livegate_tests::recording::{LEADER, LEADER_PASSWORD};
    let api = livegate_tests::Api::with_base(&s.server.http_base);
    livegate_tests::mfa::sign_in_two_factor(&api, LEADER, LEADER_PASSWORD).await?;
    let cookie = api
        .cookie()
        .ok_or_else(|| anyhow!("no session cookie for the leader"))?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse()?);
    Ok(reqwest::Client::builder().default_headers(headers).no_proxy().build()?)
}

async fn status_and_code(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

/// The answer must be the JSON error shape (`{"error": {"code", "message"}}`, served as JSON,
/// with the security headers); returns its status and code.
async fn json_error(what: &str, path: &str, resp: reqwest::Response) -> Result<(u16, String)> {
    let status = resp.status().as_u16();
    check_headers(what, path, resp.headers(), false)?;
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await?;
    ensure!(
        ct.starts_with("application/json"),
        "{what}: {status} answered {ct:?}, not JSON: {text:?}"
    );
    let body: Value = serde_json::from_str(&text).with_context(|| format!("{what}: {text:?}"))?;
    let (code, message) = (
        code(&body["error"]).to_string(),
        body["error"]["message"].as_str().unwrap_or_default(),
    );
    ensure!(
        !code.is_empty() && !message.is_empty(),
        "{what}: {status} not the error shape: {body}"
    );
    Ok((status, code))
}

/// A malformed request: who sends it, `"METHOD path"`, headers, body, and the status and code
/// it must get.
type Malformed<'a> = (
    &'a reqwest::Client,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    u16,
    &'static str,
);

/// Every refusal axum makes by itself is the JSON error shape with a stable code: each route's
/// `{param}` as bytes that are not UTF-8 (`/api/lessons/%ff%fe`), asked by a superuser, a
/// leader and a teacher (so every route's own role reaches the path); methods a route does not
/// have; upgrades that are not WebSocket handshakes; bodies and queries of the wrong kind.
#[test]
fn malformed_requests_answer_the_json_error_shape() {
    shared_case(|s| async move {
        let base = s.server.http_base.as_str();
        let leader = leader_session(s).await?;
        let staff = [session(s, ADMIN).await?, leader, session(s, seed::TEACHER).await?];
        let mut walked = 0;
        for (method, path, _) in routes()?.into_iter().filter(|(_, p, _)| p.contains('{')) {
            let bad: Vec<&str> = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "%ff%fe" } else { seg })
                .collect();
            let bad = bad.join("/");
            let mut got = Vec::new();
            for client in &staff {
                let resp = client
                    .request(method.clone(), format!("{base}{bad}"))
                    .json(&json!({}))
                    .send()
                    .await?;
                got.push(json_error(&format!("{method} {bad}"), &bad, resp).await?);
            }
            ensure!(
                got.iter().any(|(st, c)| *st == 400 && c == "bad_request"),
                "{method} {bad}: no bad_request: {got:?}"
            );
            walked += 1;
        }
        ensure!(walked >= 20, "only {walked} routes with a path parameter");
        let anon = reqwest::Client::builder().no_proxy().build()?;
        let (teacher, leader) = (&staff[2], &staff[1]);
        let upgrade = &[("connection", "upgrade"), ("upgrade", "websocket")][..];
        let (text, json) = (
            &[("content-type", "text/plain")][..],
            &[("content-type", "application/json")][..],
        );
        // (who, "METHOD path", headers, body, status, code)
        let cases: [Malformed; 9] = [
            (&anon, "PUT /api/session", &[], "{}", 405, "method_not_allowed"),
            (&anon, "PATCH /api/health", &[], "", 405, "method_not_allowed"),
            (&anon, "DELETE /ws", &[], "", 405, "method_not_allowed"),
            (&anon, "GET /ws", &[], "", 400, "bad_request"),
            (&anon, "GET /ws", upgrade, "", 400, "bad_request"),
            (&anon, "POST /api/session", text, "{}", 400, "bad_request"),
            (&anon, "POST /api/session", json, "{\"email\": 7}", 400, "bad_request"),
            (teacher, "GET /api/log/lessons?from=%ff%fe", &[], "", 400, "bad_request"),
            (
                leader,
                "GET /api/recordings/%ff/streams/%fe/segments/%fd?view=%ff",
                &[],
                "",
                400,
                "bad_request",
            ),
        ];
        for (client, request, headers, body, status, want) in cases {
            let what = format!("{request} {headers:?} {body:?}");
            let (method, path) = request.split_once(' ').ok_or_else(|| anyhow!("{request}"))?;
            let mut req = client.request(method.parse()?, format!("{base}{path}")).body(body);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let got = json_error(&what, path, req.send().await?).await?;
            ensure!(
                got == (status, want.to_string()),
                "{what}: want {status} {want}, got {got:?}"
            );
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn cross_site_writes_are_cross_site() {
    shared_case(|s| async move {
        // A page on another site posting with the victim's cookie (a browser would send it
        // only with SameSite=None; the Origin check holds even then).
        let teacher = session(s, seed::TEACHER2).await?;
        let url = format!("{}/api/lessons", s.server.http_base);
        let body = json!({"class_id": "8b"});
        for (k, v) in [("origin", EVIL), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
            let got = status_and_code(teacher.post(&url).header(k, v).json(&body).send().await?).await;
            refused(&format!("POST /api/lessons with {k}: {v}"), got, 403, "cross_site")?;
        }
        let admin = session(s, ADMIN).await?;
        let got = status_and_code(
            admin
                .post(format!("{}/api/admin/domains", s.server.http_base))
                .header("origin", EVIL)
                .json(&json!({"domain": "evil.example", "note": "x"}))
                .send()
                .await?,
        )
        .await;
        refused("adding a trusted domain cross-site", got, 403, "cross_site")?;
        let (status, list) = s
            .admin
            .request(reqwest::Method::GET, "/api/admin/domains", None)
            .await?;
        ensure!(
            status == 200 && !list.to_string().contains("evil.example"),
            "the cross-site write changed the domains: {list}"
        );
        s.control_keeps_receiving().await
    });
}

#[test]
fn cross_site_ticket_request_is_cross_site() {
    shared_case(|s| async move {
        let pupil = session(s, &s.fresh_pupil().await?).await?;
        let url = format!("{}/api/lessons/{}/ticket", s.server.http_base, s.lesson.id);
        let got = status_and_code(pupil.post(&url).header("origin", EVIL).send().await?).await;
        refused("a cross-site ticket", got, 403, "cross_site")?;
        // The same request from the site itself is served.
        let host = s.server.http_base.clone();
        let (status, body) = status_and_code(pupil.post(&url).header("origin", host).send().await?).await;
        ensure!(
            status == 200 && body["ticket"].is_string(),
            "a same-site ticket: {status} {body}"
        );
        s.control_keeps_receiving().await
    });
}

#[test]
fn cross_site_websocket_is_refused() {
    shared_case(|s| async move {
        let mut req = s.server.ws_url("/ws").into_client_request()?;
        req.headers_mut().insert("origin", EVIL.parse()?);
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => bail!("a cross-site page opened the signalling socket"),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                ensure!(resp.status().as_u16() == 403, "want 403, got {}", resp.status());
                let body: Value =
                    serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap_or_default();
                ensure!(code(&body["error"]) == "cross_site", "want cross_site, got {body}");
            }
            Err(e) => bail!("want an HTTP 403 refusal, got {e}"),
        }
        // The site's own page may open it.
        let mut req = s.server.ws_url("/ws").into_client_request()?;
        req.headers_mut().insert("origin", s.server.http_base.parse()?);
        tokio_tungstenite::connect_async(req)
            .await
            .context("a same-site socket")?;
        s.control_keeps_receiving().await
    });
}

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files.
fn certificate(dir: &std::path::Path) -> Result<(std::path::PathBuf, std::path::PathBuf, Vec<u8>)> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem())?;
    std::fs::write(&key, ck.signing_key.serialize_pem())?;
    Ok((cert, key, ck.cert.der().to_vec()))
}

/// A TLS client trusting only `der`, with ring as its crypto provider.
fn connector(der: &[u8]) -> Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(der.to_vec()))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// One HTTP/1.1 request over TLS; returns the status, the header block and the body.
async fn https(
    server: &Server,
    tls: &tokio_rustls::TlsConnector,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> Result<(u16, String, String)> {
    let tcp = tokio::net::TcpStream::connect(server.http_addr).await?;
    let mut stream = tls
        .connect("localhost".try_into()?, tcp)
        .await
        .context("TLS handshake")?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nCookie: {cookie}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await; // a close without close_notify is fine here
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("no header block in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head:?}"))?;
    Ok((status, head.to_ascii_lowercase(), body.to_string()))
}

/// The teacher signs in over HTTPS, starts 7a, gets a ticket and joins over `wss` (the
/// upgrade carries HSTS); returns the joined socket.
async fn teacher_joins_over_wss(server: &Server, tls: &tokio_rustls::TlsConnector) -> Result<WssSocket> {
    let creds = json!({"email": seed::TEACHER, "password": seed::TEACHER_PASSWORD}).to_string();
    let (status, head, _) = https(server, tls, "POST", "/api/session", "", &creds).await?;
    ensure!(status == 200, "sign-in over HTTPS: {status}");
    // Served over TLS, the session cookie is never sent over plain HTTP.
    let set = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_default();
    ensure!(
        set.to_ascii_lowercase().contains("; secure"),
        "the session cookie over HTTPS lacks Secure: {set}"
    );
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow!("no cookie: {head}"))?
        .to_string();
    let (status, _, body) = https(
        server,
        tls,
        "POST",
        "/api/lessons",
        &cookie,
        &json!({"class_id": "7a"}).to_string(),
    )
    .await?;
    ensure!(status == 201, "start a lesson over HTTPS: {status} {body}");
    let lesson: Value = serde_json::from_str(&body)?;
    let lesson_id = lesson["lesson"]["id"].as_str().unwrap_or_default().to_string();
    let (status, _, body) = https(
        server,
        tls,
        "POST",
        &format!("/api/lessons/{lesson_id}/ticket"),
        &cookie,
        "",
    )
    .await?;
    ensure!(status == 200, "ticket over HTTPS: {status} {body}");
    let ticket: Value = serde_json::from_str(&body)?;

    let tcp = tokio::net::TcpStream::connect(server.http_addr).await?;
    let stream = tls.connect("localhost".try_into()?, tcp).await?;
    // The upgrade carries the session the ticket was issued to (asked for without an Origin).
    let mut req = format!("wss://localhost:{}/ws", server.http_addr.port()).into_client_request()?;
    req.headers_mut().insert("cookie", cookie.parse()?);
    let (mut ws, resp) = tokio_tungstenite::client_async(req, stream)
        .await
        .context("wss handshake")?;
    ensure!(
        resp.headers().contains_key("strict-transport-security"),
        "the wss upgrade lacks HSTS"
    );
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"type": "join", "protocol": 1, "ticket": ticket["ticket"]}).to_string(),
    ))
    .await?;
    let reply = tokio::time::timeout(SIGNAL_TIMEOUT, ws.next())
        .await?
        .ok_or_else(|| anyhow!("wss closed"))??;
    let reply: Value = serde_json::from_str(reply.to_text()?)?;
    ensure!(
        msg_type(&reply) == "joined" && reply["role"] == json!("teacher"),
        "join over wss: {reply}"
    );
    Ok(ws)
}

type WssSocket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

#[test]
fn https_with_rustls_sends_hsts_and_serves_wss() {
    own_case(async {
        let dir = livegate_tests::recording::DataDir::new("tls")?;
        let (cert, key, der) = certificate(&dir.path)?;
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let server = Server::launch("demo", &["--tls-cert", &cert, "--tls-key", &key], &[]).await?;
        ensure!(
            server.http_base.starts_with("https://"),
            "the ready line says {}",
            server.http_base
        );
        // Someone who does not speak TLS, then someone who hangs up before the handshake.
        let mut plain = tokio::net::TcpStream::connect(server.http_addr).await?;
        plain.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        let mut junk = Vec::new();
        let _ = tokio::time::timeout(SIGNAL_TIMEOUT, plain.read_to_end(&mut junk)).await;
        ensure!(
            !String::from_utf8_lossy(&junk).contains("\"status\""),
            "plain HTTP was served on the TLS port"
        );
        drop(tokio::net::TcpStream::connect(server.http_addr).await?);
        // And one who connects and never speaks, for the whole test: handshakes run apart.
        let _silent = tokio::net::TcpStream::connect(server.http_addr).await?;

        let tls = connector(&der)?;
        let (status, head, _) = https(&server, &tls, "GET", "/api/health", "", "").await?;
        ensure!(status == 200, "health over HTTPS: {status}");
        ensure!(
            head.contains("strict-transport-security: max-age="),
            "no HSTS under TLS: {head}"
        );
        ensure!(
            head.contains("content-security-policy:") && head.contains("x-frame-options: deny"),
            "headers: {head}"
        );
        let (status, head, _) = https(&server, &tls, "GET", "/api/nope", "", "").await?;
        ensure!(
            status == 404 && head.contains("strict-transport-security"),
            "404 over HTTPS: {status} {head}"
        );

        teacher_joins_over_wss(&server, &tls).await?;
        server.finish();
        Ok(())
    });
}

/// The same deadlines and caps over TLS (header and idle 3 s, 10 connections per address):
/// from 127.0.0.2, five connections that never start the handshake and five that finish it
/// and then send a request head one byte a second fill the per-address cap; more from there
/// are closed at once, unserved (a handshake past the cap fails). Meanwhile the teacher, from
/// 127.0.0.1, signs in over HTTPS, starts the lesson, gets a ticket and joins over `wss`. All
/// ten are closed by the header deadline; the teacher's `wss` socket, open past both
/// deadlines, still answers.
#[test]
fn tls_connections_get_the_same_deadlines_and_caps() {
    own_case_within(std::time::Duration::from_secs(90), async {
        use crate::transport::{closed_by, connect_from, drip};
        use std::time::Duration;
        use tokio::time::Instant;
        let dir = livegate_tests::recording::DataDir::new("tls-caps")?;
        let (cert, key, der) = certificate(&dir.path)?;
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let env = [
            ("LIVEGATE_HEADER_TIMEOUT_SECS", "3"),
            ("LIVEGATE_IDLE_TIMEOUT_SECS", "3"),
            ("LIVEGATE_MAX_CONNECTIONS_PER_ADDRESS", "10"),
        ];
        let server = Server::launch(
            "demo",
            &["--tls-cert", &cert, "--tls-key", &key],
            &env.map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .await?;
        let tls = connector(&der)?;
        let attacker = [127, 0, 0, 2];
        let opened = Instant::now();
        let (mut silent, mut dripping) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            silent.push(connect_from(attacker, server.http_addr).await?);
            let tcp = connect_from(attacker, server.http_addr).await?;
            let stream = tls
                .connect("localhost".try_into()?, tcp)
                .await
                .context("a TLS handshake under the cap")?;
            let (read, write) = tokio::io::split(stream);
            dripping.push((read, drip(write)));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        for i in 0..5 {
            let mut over = connect_from(attacker, server.http_addr).await?;
            let said = closed_by(&mut over, Instant::now() + Duration::from_secs(5)).await;
            ensure!(
                said.as_deref() == Some(""),
                "TLS connection {} past the cap: {said:?}",
                10 + i
            );
            let tcp = connect_from(attacker, server.http_addr).await?;
            ensure!(
                tls.connect("localhost".try_into()?, tcp).await.is_err(),
                "a TLS handshake past the cap succeeded"
            );
        }
        let mut ws = teacher_joins_over_wss(&server, &tls)
            .await
            .context("the teacher during the attack")?;
        let deadline = opened + Duration::from_secs(3 + 10);
        for (i, tcp) in silent.iter_mut().enumerate() {
            ensure!(
                closed_by(tcp, deadline).await.is_some(),
                "silent connection {i} still open {:?} after it opened",
                opened.elapsed()
            );
        }
        for (i, (read, writer)) in dripping.iter_mut().enumerate() {
            ensure!(
                closed_by(read, deadline).await.is_some(),
                "TLS slowloris {i} still open {:?} after it opened",
                opened.elapsed()
            );
            writer.abort();
        }
        use futures_util::{SinkExt, StreamExt};
        ws.send(tokio_tungstenite::tungstenite::Message::text(
            json!({"type": "ping"}).to_string(),
        ))
        .await?;
        let pong = tokio::time::timeout(SIGNAL_TIMEOUT, async {
            while let Some(Ok(m)) = ws.next().await {
                if m.to_text().is_ok_and(|t| t.contains("\"pong\"")) {
                    return true;
                }
            }
            false
        });
        ensure!(
            pong.await.unwrap_or(false),
            "the teacher's wss socket no longer answers"
        );
        server.finish();
        Ok(())
    });
}

/// A text field refused by the text policy: 400 `text_invalid`, naming the field and why.
fn text_refused(what: &str, got: (u16, Value), field: &str, reason: &str) -> Result<()> {
    let e = &got.1["error"];
    ensure!(
        got.0 == 400 && e["code"] == "text_invalid" && e["field"] == field && e["reason"] == reason,
        "{what}: expected 400 text_invalid {field} {reason}, got {} {}",
        got.0,
        got.1
    );
    Ok(())
}

/// What the superuser sees of the school's people and classes, to prove nothing changed.
async fn directory(s: &Shared) -> Result<(Value, Value)> {
    let (_, users) = s.admin.request(reqwest::Method::GET, "/api/admin/users", None).await?;
    let (_, classes) = s
        .admin
        .request(reqwest::Method::GET, "/api/admin/classes", None)
        .await?;
    Ok((users, classes))
}

#[test]
fn forged_names_are_text_invalid_and_change_nothing() {
    shared_case(|s| async move {
        use reqwest::Method;
        let email = format!("forged-{:08x}@partner.sch.uk", rand::random::<u32>());
        for (name, reason) in [
            ("Dr Chen \u{202E}(partner school)", "bidi_control"),
            ("\u{202E})loohcs rentrap( nehC rD", "bidi_control"),
            ("Dr Chen \u{2067}(partner school)\u{2069}", "bidi_control"),
            ("Chen\u{200F}", "bidi_control"),
            ("\u{200B}\u{2060}", "invisible_characters"),
            ("\u{3164}", "invisible_characters"),
            ("Ch\u{200B}en", "invisible_characters"),
            ("...", "no_letters"),
        ] {
            let body = json!({"email": email, "display_name": name, "role": "teacher"});
            let got = s.admin.request(Method::POST, "/api/admin/users", Some(body)).await?;
            text_refused(&format!("a user named {name:?}"), got, "display_name", reason)?;
        }
        for name in ["7A \u{202E}ecneicS", "\u{200B}\u{200B}"] {
            let got = s
                .admin
                .request(Method::POST, "/api/admin/classes", Some(json!({"name": name})))
                .await?;
            ensure!(
                got.0 == 400 && got.1["error"]["code"] == "text_invalid",
                "a class named {name:?}: {got:?}"
            );
        }
        // A pupil's privacy alias, and a roster file whose names carry an override.
        let ada = s.admin.request(Method::GET, "/api/admin/users", None).await?.1["users"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["email"] == seed::ADA).cloned())
            .ok_or_else(|| anyhow!("no Ada"))?;
        let path = format!("/api/admin/pupils/{}/privacy", ada["id"].as_str().unwrap_or_default());
        let privacy_before = s.admin.request(Method::GET, &path, None).await?.1;
        let alias = json!({"camera_always_off": false, "alias": "Star\u{202E}", "hidden_from_pupils": false});
        text_refused(
            "a forged alias",
            s.admin.request(Method::PUT, &path, Some(alias)).await?,
            "alias",
            "bidi_control",
        )?;
        ensure!(
            s.admin.request(Method::GET, &path, None).await?.1 == privacy_before,
            "the refused alias changed the profile"
        );
        let admin = session(s, ADMIN).await?;
        let csv = "pupil email,first name,last name,class\nforged@pupils.demo.sch.uk,Dr \u{202E}(partner school),Chen,7A Science\n";
        let url = format!("{}/api/admin/roster/import?apply=true", s.server.http_base);
        let (status, body) = status_and_code(
            admin
                .post(&url)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await?,
        )
        .await;
        let row = &body["report"]["rows"][0]["errors"][0];
        ensure!(
            status == 422
                && body["error"]["code"] == "roster_invalid"
                && row["code"] == "bad_name"
                && row["reason"] == "bidi_control",
            "a roster row with an override: {status} {body}"
        );
        // Other cases share this server and change the directory meanwhile (new pupils, class
        // members), so what is checked is that nothing of the refused input was stored.
        let (users, classes) = directory(s).await?;
        let forged = |v: &Value| {
            let text = v.to_string();
            text.contains(&email)
                || text.contains("forged@pupils")
                || text.contains('\u{202E}')
                || text.contains('\u{200B}')
        };
        ensure!(
            !forged(&users) && !forged(&classes),
            "a refused name was stored: {users} {classes}"
        );
        s.control_keeps_receiving().await
    });
}

#[test]
fn honest_names_in_any_script_are_kept_intact() {
    shared_case(|s| async move {
        use reqwest::Method;
        // Sent decomposed (NFD), stored and shown composed (NFC), so both spellings are one name.
        let names = [
            (
                "Zoe\u{308} O'Brien-N\u{303}u\u{301}n\u{303}ez",
                "Zo\u{EB} O'Brien-\u{D1}\u{FA}\u{F1}ez",
            ),
            ("Si\u{E2}n Ll\u{177}r ap Gwilym", "Si\u{E2}n Ll\u{177}r ap Gwilym"),
            (
                "\u{645}\u{62D}\u{645}\u{62F} \u{639}\u{628}\u{62F} \u{627}\u{644}\u{644}\u{647}",
                "\u{645}\u{62D}\u{645}\u{62F} \u{639}\u{628}\u{62F} \u{627}\u{644}\u{644}\u{647}",
            ),
            (
                "\u{645}\u{62D}\u{645}\u{62F}\u{6CC}\u{200C}\u{646}\u{698}\u{627}\u{62F}",
                "\u{645}\u{62D}\u{645}\u{62F}\u{6CC}\u{200C}\u{646}\u{698}\u{627}\u{62F}",
            ),
            (
                "\u{5C71}\u{7530}\u{3000}\u{592A}\u{90CE}",
                "\u{5C71}\u{7530}\u{3000}\u{592A}\u{90CE}",
            ),
        ];
        for (sent, shown) in names {
            let email = format!("honest-{:08x}@partner.sch.uk", rand::random::<u32>());
            let (status, body) = s
                .admin
                .request(
                    Method::POST,
                    "/api/admin/users",
                    Some(json!({"email": email, "display_name": sent, "role": "teacher"})),
                )
                .await?;
            ensure!(
                status == 201 && body["user"]["display_name"] == shown,
                "{sent:?}: {status} {body}"
            );
            let (_, list) = s.admin.request(Method::GET, "/api/admin/users", None).await?;
            let listed = list["users"]
                .as_array()
                .and_then(|u| u.iter().find(|u| u["email"] == email.as_str()).cloned());
            ensure!(
                listed.is_some_and(|u| u["display_name"] == shown),
                "{sent:?} is not listed as {shown:?}"
            );
        }
        let class = format!("Blwyddyn 7 Cymraeg {:04x}", rand::random::<u16>());
        let (status, body) = s
            .admin
            .request(Method::POST, "/api/admin/classes", Some(json!({"name": class})))
            .await?;
        ensure!(
            status == 201 && body["class"]["name"] == class.as_str(),
            "a Welsh class: {status} {body}"
        );
        // The teacher writes a note in Chinese into the live lesson's log; it reads back intact.
        let note: String =
            "\u{5BB6}\u{957F}\u{62A5}\u{544A}\u{4E86}\u{8BFE}\u{5802}\u{4E0A}\u{7684}\u{4E8B}".repeat(40);
        let teacher = s.signed_in(seed::TEACHER).await?;
        let notes = format!("/api/log/lessons/{}/notes", s.lesson.id);
        let (status, body) = teacher
            .request(
                Method::POST,
                &notes,
                Some(json!({"category": "behaviour", "text": note})),
            )
            .await?;
        ensure!(
            status == 201,
            "a 400-character Chinese note (1,200 bytes): {status} {body}"
        );
        text_refused(
            "a note with an override",
            teacher
                .request(
                    Method::POST,
                    &notes,
                    Some(json!({"category": "behaviour", "text": "ok \u{202E}kO"})),
                )
                .await?,
            "text",
            "bidi_control",
        )?;
        let (_, log) = teacher
            .request(Method::GET, &format!("/api/log/lessons/{}", s.lesson.id), None)
            .await?;
        ensure!(
            log["notes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["body"] == note.as_str())),
            "the Chinese note is not shown intact"
        );
        s.control_keeps_receiving().await
    });
}
