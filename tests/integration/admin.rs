//! The administration API against the real binary over real sockets: a roster imported from a
//! CSV file puts a new pupil on a class, and the admission gate follows every directory change
//! the superuser makes (consent recorded and withdrawn, roster removal); the teacher's
//! readiness list agrees; the export re-imports unchanged. And a 50 MB upload, declared or
//! streamed, reliably gets its `payload_too_large` answer while the server keeps serving.

use anyhow::{anyhow, ensure, Context, Result};
use livegate_tests::{run_test, seed, Api, Server};
use reqwest::cookie::CookieStore;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN: &str = "admin@demo.sch.uk";
const ADMIN_PASSWORD: &str = "demo-admin";

/// A signed-in client that can also send bodies other than JSON.
struct Raw {
    client: reqwest::Client,
    base: String,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Raw {
    async fn sign_in(server: &Server, email: &str, password: &str) -> Result<Raw> {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()?;
        let raw = Raw {
            client,
            base: server.http_base.clone(),
            jar,
        };
        let res = raw
            .client
            .post(format!("{}/api/session", raw.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        ensure!(res.status() == 200, "sign-in as {email}: {}", res.status());
        Ok(raw)
    }

    /// Sends a body with a content type; returns the status and the body as text.
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(u16, String)> {
        let res = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        Ok((res.status().as_u16(), res.text().await?))
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text)?
            },
        ))
    }

    /// The session cookie, as a `Cookie` header value.
    fn cookie(&self) -> Result<String> {
        let url = self.base.parse()?;
        let value = self.jar.cookies(&url).ok_or_else(|| anyhow!("no session cookie"))?;
        Ok(value.to_str()?.to_owned())
    }

    async fn import(&self, csv: &str, apply: bool) -> Result<(u16, Value)> {
        let (status, text) = self
            .send(
                Method::POST,
                &format!("/api/admin/roster/import?apply={apply}"),
                "text/csv",
                csv.to_owned(),
            )
            .await?;
        Ok((
            status,
            serde_json::from_str(&text).with_context(|| format!("import answer: {text}"))?,
        ))
    }
}

/// The ticket refusal code for this pupil and lesson, or "granted".
async fn ticket_code(pupil: &Api, lesson: &str) -> Result<String> {
    Ok(match pupil.ticket(lesson).await? {
        Ok(_) => "granted".to_owned(),
        Err(e) => e.code,
    })
}

/// Issues an invite for a user and sets their password through it.
async fn set_password_by_invite(admin: &Raw, anon: &Api, user_id: &str, password: &str) -> Result<()> {
    let (status, body) = admin
        .json(Method::POST, &format!("/api/admin/users/{user_id}/invite"), None)
        .await?;
    ensure!(status == 200, "invite: {status} {body}");
    let url = body
        .pointer("/link/url")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no link in {body}"))?;
    let token = url
        .rsplit_once("token=")
        .map(|(_, t)| t)
        .ok_or_else(|| anyhow!("no token in {url}"))?;
    let (status, body) = anon
        .request(
            Method::POST,
            "/api/account/password",
            Some(json!({"token": token, "password": password})),
        )
        .await?;
    ensure!(status == 204, "set password: {status} {body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_pupil_is_admitted_as_the_directory_allows() {
    run_test(async {
        let server = Server::start().await?;
        let admin = Raw::sign_in(&server, ADMIN, ADMIN_PASSWORD).await?;
        let file = "pupil email,first name,last name,class\r\nnia@pupils.demo.sch.uk,Nia,Obi,7A Science\r\nomar@pupils.demo.sch.uk,Omar,Haddad,10X Drama\r\n";

        let (status, preview) = admin.import(file, false).await?;
        ensure!(status == 200 && preview.pointer("/report/ok") == Some(&json!(true)), "preview: {status} {preview}");
        ensure!(preview.pointer("/report/summary/users_created") == Some(&json!(2)), "preview: {preview}");
        let (status, done) = admin.import(file, true).await?;
        ensure!(status == 200 && done.pointer("/report/applied") == Some(&json!(true)), "import: {status} {done}");
        let (_, again) = admin.import(file, true).await?;
        ensure!(again.pointer("/report/summary/unchanged") == Some(&json!(2)), "re-import: {again}");

        let (_, users) = admin.json(Method::GET, "/api/admin/users", None).await?;
        let nia = users["users"].as_array().and_then(|u| u.iter().find(|u| u["email"] == "nia@pupils.demo.sch.uk").cloned()).ok_or_else(|| anyhow!("nia not listed: {users}"))?;
        ensure!(nia["display_name"] == "Nia Obi" && nia["role"] == "pupil" && nia["has_password"] == false, "{nia}");
        let nia_id = nia["id"].as_str().unwrap_or_default().to_owned();
        let pupil = Api::new(&server);
        set_password_by_invite(&admin, &pupil, &nia_id, "nia-password-1").await?;
        pupil.sign_in("nia@pupils.demo.sch.uk", "nia-password-1").await?;

        let teacher = Api::new(&server);
        teacher.sign_in(seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let (_, lesson) = teacher.start_lesson(seed::CLASS_7A).await?;
        let lesson = lesson.id.to_string();
        ensure!(ticket_code(&pupil, &lesson).await? == "consent_missing", "a new pupil has no consent yet");

        let (_, conduct) = admin.json(Method::GET, "/api/admin/conduct", None).await?;
        let version = conduct["required_version"].as_i64().unwrap_or(1);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
        let form = json!({"pupil_signed": true, "parent_name": "N. Parent", "signed_on": now, "method": "paper", "conduct_version": version});
        let (status, recorded) = admin.json(Method::POST, &format!("/api/admin/pupils/{nia_id}/consents"), Some(form)).await?;
        ensure!(status == 201 && recorded["state"] == "current", "consent: {status} {recorded}");
        let code = ticket_code(&pupil, &lesson).await?;
        ensure!(code == "teacher_absent", "with roster, domain and consent the gate only waits for the teacher: {code}");

        let (_, ready) = teacher.request(Method::GET, "/api/classes/7a/readiness", None).await?;
        let row = ready["pupils"].as_array().and_then(|p| p.iter().find(|p| p["id"] == nia_id.as_str()).cloned()).ok_or_else(|| anyhow!("{ready}"))?;
        ensure!(row["can_join"] == true && row["reason"].is_null(), "readiness: {row}");

        let consent_id = recorded["consent_id"].as_str().unwrap_or_default();
        let (status, _) = admin.json(Method::POST, &format!("/api/admin/consents/{consent_id}/withdraw"), None).await?;
        ensure!(status == 204, "withdraw: {status}");
        ensure!(ticket_code(&pupil, &lesson).await? == "consent_withdrawn");
        let (_, ready) = teacher.request(Method::GET, "/api/classes/7a/readiness", None).await?;
        ensure!(ready.to_string().contains("consent_withdrawn"), "readiness follows: {ready}");

        let (status, _) = admin.json(Method::DELETE, &format!("/api/admin/classes/7a/members/{nia_id}"), None).await?;
        ensure!(status == 204, "remove from roster: {status}");
        ensure!(ticket_code(&pupil, &lesson).await? == "not_on_roster");

        // The new class's export imports back unchanged.
        let (_, classes) = admin.json(Method::GET, "/api/admin/classes", None).await?;
        let drama = classes["classes"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "10X Drama").cloned()).ok_or_else(|| anyhow!("{classes}"))?;
        let path = format!("/api/admin/classes/{}/roster.csv", drama["id"].as_str().unwrap_or_default());
        let (status, csv) = admin.send(Method::GET, &path, "text/plain", "").await?;
        ensure!(status == 200 && csv.contains("omar@pupils.demo.sch.uk,Omar,Haddad,10X Drama\r\n"), "export: {status} {csv}");
        let (status, back) = admin.import(&csv, false).await?;
        ensure!(status == 200 && back.pointer("/report/summary/unchanged") == Some(&json!(1)), "round trip: {back}");
        server.finish();
        Ok(())
    })
    .await;
}

/// A refused upload: a 413 `payload_too_large` answer, or (if the server closed the
/// connection while the client was still sending) a transport error; never anything else.
fn refused_as_too_large(what: &str, answer: Result<(u16, String)>) -> Result<()> {
    match answer {
        Ok((status, body)) => {
            ensure!(
                status == 413 && body.contains("\"payload_too_large\""),
                "{what}: {status} {body}"
            );
            Ok(())
        }
        Err(e) => Err(anyhow!("{what}: the client got no answer: {e:#}")),
    }
}

/// Sends `total` bytes as a chunked body over a plain socket, reading the answer while still
/// sending (as a browser does), and stops sending once the server has answered or closed.
/// (The server keeps at most 5 MiB and throws the rest away, so the answer is not lost.)
async fn chunked_upload(server: &Server, cookie: &str, path: &str, total: usize) -> Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(server.http_addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let _ = rd.read_to_end(&mut got).await;
        got
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/csv\r\nCookie: {cookie}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.http_addr
    );
    wr.write_all(head.as_bytes()).await?;
    let chunk = vec![b'b'; 256 * 1024];
    let mut sent = 0;
    while sent < total {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if wr.write_all(&frame).await.is_err() || reader.is_finished() {
            break; // the server answered and closed: stop, as a client should
        }
        sent += chunk.len();
    }
    let _ = wr.write_all(b"0\r\n\r\n").await;
    let got = tokio::time::timeout(Duration::from_secs(10), reader).await??;
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no HTTP answer after {sent} bytes: {text:?}"))?;
    Ok((status, text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_roster_upload_is_refused_and_the_server_keeps_serving() {
    run_test(async {
        let server = Server::start().await?;
        let admin = Raw::sign_in(&server, ADMIN, ADMIN_PASSWORD).await?;
        let path = "/api/admin/roster/import?apply=true";
        let big = vec![b'a'; 50 * 1024 * 1024];
        refused_as_too_large("declared 50 MB", admin.send(Method::POST, path, "text/csv", big).await)?;

        // Streamed without a length: refused once past 5 MiB.
        refused_as_too_large(
            "streamed 50 MB",
            chunked_upload(&server, &admin.cookie()?, path, 50 * 1024 * 1024).await,
        )?;

        // Just over the limit, and a non-CSV body, on a connection of its own.
        let fresh = Raw::sign_in(&server, ADMIN, ADMIN_PASSWORD).await?;
        refused_as_too_large(
            "5 MiB + 1",
            fresh
                .send(Method::POST, path, "text/csv", vec![b'c'; 5 * 1024 * 1024 + 1])
                .await,
        )?;
        let (status, body) = fresh.send(Method::POST, path, "application/json", "{}").await?;
        ensure!(
            status == 400 && body.contains("bad_request"),
            "not CSV: {status} {body}"
        );

        // Nothing changed and the server is fine.
        let (status, users) = fresh.json(Method::GET, "/api/admin/users", None).await?;
        ensure!(
            status == 200 && users["users"].as_array().map(Vec::len) == Some(13),
            "users after: {status} {users}"
        );
        let anon = Api::new(&server);
        let (status, _) = anon.request(Method::GET, "/api/health", None).await?;
        ensure!(status == 200, "health: {status}");
        server.finish();
        Ok(())
    })
    .await;
}
