//! The shared lesson the hostile cases attack, and the three checks every case makes: the
//! stable error code, zero media bytes at the hostile peer, and a control pupil who keeps
//! receiving.
//!
//! The server and the lesson live in `static`s on one runtime shared by every test thread
//! (`block_on` from each test), so webrtc clients outlive the test that created them. The
//! server runs under `Server::launch_shared`, which ends it when the test process exits.

use anyhow::{anyhow, bail, ensure, Context, Result};
use livegate_tests::participant::{
    join_on, live_7a_with_camera, pupil_receives_teacher_camera, start_lesson, SIGNAL_TIMEOUT,
};
use livegate_tests::signal::msg_type;
use livegate_tests::{run_test, seed, Api, Conn, Lesson, Participant, Publisher, Server, Subscription};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

/// The demo school's superuser.
pub const ADMIN: &str = "admin@demo.sch.uk";
pub const ADMIN_PASSWORD: &str = "demo-admin";
/// A pupil without consent, a pupil of an untrusted domain, and Other School's pupil.
pub const EVE: &str = "eve@pupils.demo.sch.uk";
pub const FINN: &str = "finn@home-mail.example";
pub const YAN: &str = "yan@pupils.other.sch.uk";
/// Staff of a partner school's trusted domain: waits in the lobby.
pub const VISITOR: &str = "visitor@partner.sch.uk";
/// Join tickets on the shared server live this long, so the expiry case need not wait 30 s.
pub const TICKET_SECS: u64 = 3;
/// How long the control pupil has to show new packets after an attack.
const KEEPS_RECEIVING: Duration = Duration::from_secs(10);
/// New video packets the control pupil must receive after an attack.
const CONTROL_PACKETS: u64 = 15;

/// The server and lessons every shared case attacks.
pub struct Shared {
    pub server: Server,
    /// 7a, Ms Rivera joined and publishing `cam`.
    pub lesson: Lesson,
    /// Kept so the camera keeps sending.
    _camera: Publisher,
    /// Dev, admitted and receiving the camera.
    pub control: Participant,
    pub control_sub: Arc<Subscription>,
    /// 8b, Mr Teacher2 joined, nothing published.
    pub history: Lesson,
    /// The superuser, signed in.
    pub admin: Api,
    conduct_version: i64,
    next: AtomicU32,
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("building the runtime")
    })
}

static SHARED: OnceCell<Shared> = OnceCell::const_new();

/// Runs a case against the shared lesson.
pub fn shared_case<F, Fut>(body: F)
where
    F: FnOnce(&'static Shared) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    runtime().block_on(async {
        let shared = tokio::time::timeout(Duration::from_secs(90), SHARED.get_or_try_init(Shared::start))
            .await
            .map_err(|_| anyhow!("starting the shared lesson timed out"))
            .and_then(|r| r);
        let shared = match shared {
            Ok(s) => s,
            Err(e) => panic!(
                "{}: starting the shared lesson failed: {e:#}",
                livegate_tests::test_name()
            ),
        };
        run_test(body(shared)).await
    })
}

/// Runs a case that needs a server of its own (it changes the lesson or the server).
pub fn own_case<Fut>(body: Fut)
where
    Fut: Future<Output = Result<()>>,
{
    runtime().block_on(run_test(body))
}

/// Like [`own_case`], with a limit of the case's choosing instead of `run_test`'s 30 s: for a
/// case that must queue a lot of work, or let the server's deadlines pass, on a loaded machine.
pub fn own_case_within<Fut>(limit: Duration, body: Fut)
where
    Fut: Future<Output = Result<()>>,
{
    runtime().block_on(livegate_tests::run_test_within(limit, body))
}

impl Shared {
    async fn start() -> Result<Shared> {
        let env = [("LIVEGATE_TICKET_LIFETIME_SECS".to_string(), TICKET_SECS.to_string())];
        let server = Server::launch_shared("demo", &[], &env).await?;
        let (lesson, camera) = live_7a_with_camera(&server).await.context("7a with camera")?;
        let (control, control_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::DEV)
            .await
            .context("control pupil")?;
        let history = start_lesson(&server, seed::TEACHER2, seed::CLASS_8B)
            .await
            .context("8b lesson")?;
        let admin = Api::new(&server);
        admin.sign_in(ADMIN, ADMIN_PASSWORD).await?;
        let (status, body) = admin.request(reqwest::Method::GET, "/api/admin/conduct", None).await?;
        let body = Api::check(status, body).map_err(|e| anyhow!("conduct: {e}"))?;
        let conduct_version = body["required_version"]
            .as_i64()
            .ok_or_else(|| anyhow!("no required_version: {body}"))?;
        Ok(Shared {
            server,
            lesson,
            _camera: camera,
            control,
            control_sub,
            history,
            admin,
            conduct_version,
            next: AtomicU32::new(1),
        })
    }

    /// A new pupil of 7a with current consent and the demo pupil password: admitted like Ada,
    /// but nobody else's account, so parallel cases never replace each other's sockets.
    pub async fn fresh_pupil(&self) -> Result<String> {
        self.fresh_pupil_of_7a(true).await
    }

    /// A new pupil of 7a, with current consent or none (refused like Eve, but nobody else's
    /// account, so a case that exhausts their budgets disturbs no other case).
    pub async fn fresh_pupil_of_7a(&self, consented: bool) -> Result<String> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let email = format!("hostile{n}-{:08x}@pupils.demo.sch.uk", rand::random::<u32>());
        let id = self
            .admin_call(
                reqwest::Method::POST,
                "/api/admin/users",
                json!({"email": email, "display_name": format!("Hostile {n}"), "role": "pupil"}),
            )
            .await?;
        let id = id["user"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no user id: {id}"))?
            .to_string();
        self.admin_call(
            reqwest::Method::POST,
            "/api/admin/classes/7a/members",
            json!({"user_id": id, "as": "pupil"}),
        )
        .await?;
        if consented {
            let consent = json!({"pupil_signed": true, "parent_name": "A Parent", "signed_on": now_ms(), "method": "paper", "conduct_version": self.conduct_version});
            self.admin_call(
                reqwest::Method::POST,
                &format!("/api/admin/pupils/{id}/consents"),
                consent,
            )
            .await?;
        }
        let link = self
            .admin_call(
                reqwest::Method::POST,
                &format!("/api/admin/users/{id}/invite"),
                Value::Null,
            )
            .await?;
        let url = link["link"]["url"].as_str().ok_or_else(|| anyhow!("no link: {link}"))?;
        let token = url.split("token=").nth(1).ok_or_else(|| anyhow!("no token in {url}"))?;
        let anon = Api::new(&self.server);
        let (status, body) = anon
            .request(
                reqwest::Method::POST,
                "/api/account/password",
                Some(json!({"token": token, "password": seed::PUPIL_PASSWORD})),
            )
            .await?;
        Api::check(status, body).map_err(|e| anyhow!("setting the password: {e}"))?;
        Ok(email)
    }

    /// A fresh pupil joined to the 7a lesson (receiving the camera like anyone admitted).
    pub async fn join_fresh(&self) -> Result<Participant> {
        let email = self.fresh_pupil().await?;
        Participant::join(&self.server, &email, &self.lesson.id).await
    }

    async fn admin_call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value> {
        let body = if body.is_null() { None } else { Some(body) };
        let (status, body) = self.admin.request(method.clone(), path, body).await?;
        Api::check(status, body).map_err(|e| anyhow!("{method} {path}: {e}"))
    }

    /// A signed-in HTTP client for a seeded user.
    pub async fn signed_in(&self, email: &str) -> Result<Api> {
        let api = Api::new(&self.server);
        api.sign_in(email, password(email)).await?;
        Ok(api)
    }

    /// The control pupil is still joined and receives new video after the attack, and the
    /// teacher's lesson was not ended or disturbed.
    pub async fn control_keeps_receiving(&self) -> Result<()> {
        let sub = &self.control_sub;
        let before = sub.stats.video();
        let deadline = tokio::time::Instant::now() + KEEPS_RECEIVING;
        while sub.stats.video() < before + CONTROL_PACKETS {
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "the control pupil stopped receiving: {} new video packets in {KEEPS_RECEIVING:?} ({})",
                    sub.stats.video() - before,
                    sub.stats.summary()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.control
            .conn
            .ping_pong(SIGNAL_TIMEOUT)
            .await
            .context("the control pupil's socket")?;
        for p in [&self.control, &self.lesson.teacher] {
            let bad: Vec<Value> = p
                .conn
                .messages()
                .into_iter()
                .filter(|m| matches!(msg_type(m), "removed" | "lesson_ended"))
                .collect();
            ensure!(
                bad.is_empty() && p.conn.closed().is_none(),
                "{} was disturbed: {bad:?} closed={:?}",
                p.email,
                p.conn.closed()
            );
        }
        Ok(())
    }

    /// Nothing the teacher publishes may carry media from `participant_id`: no offer of
    /// theirs reached the teacher or the control pupil.
    pub fn nothing_from(&self, participant_id: &str) -> Result<()> {
        for p in [&self.lesson.teacher, &self.control] {
            let leaked: Vec<_> = p
                .conn
                .subscriptions()
                .into_iter()
                .filter(|s| s.publisher_id == participant_id)
                .collect();
            let bytes: u64 = leaked.iter().map(|s| s.stats.bytes()).sum();
            ensure!(
                leaked.is_empty(),
                "{} was offered {} stream(s) of {participant_id} carrying {bytes} bytes",
                p.email,
                leaked.len()
            );
        }
        Ok(())
    }
}

/// A seeded user's password (Finn is a pupil at a home address; the superuser has her own).
pub fn password(email: &str) -> &'static str {
    match email {
        ADMIN => ADMIN_PASSWORD,
        FINN => seed::PUPIL_PASSWORD,
        _ => seed::password_for(email),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The hostile socket received no media byte and no offer (it never got a peer connection).
pub fn no_media(conn: &Conn) -> Result<()> {
    let offers = conn.messages().iter().filter(|m| msg_type(m) == "offer").count();
    ensure!(
        conn.media_bytes() == 0,
        "{} received {} media bytes",
        conn.label(),
        conn.media_bytes()
    );
    ensure!(
        offers == 0 && conn.subscriptions().is_empty(),
        "{} was offered {offers} stream(s)",
        conn.label()
    );
    Ok(())
}

/// The error's `code`, or "".
pub fn code(m: &Value) -> &str {
    m.get("code").and_then(Value::as_str).unwrap_or("")
}

/// An HTTP refusal must carry exactly this status and code.
pub fn refused(what: &str, got: (u16, Value), status: u16, want: &str) -> Result<()> {
    match Api::check(got.0, got.1) {
        Err(e) if e.status == status && e.code == want => Ok(()),
        other => bail!("{what}: expected {status} {want}, got {other:?}"),
    }
}

/// The ticket request must be refused with `status` and `want`.
pub async fn ticket_refused(api: &Api, lesson_id: &str, status: u16, want: &str) -> Result<()> {
    match api.ticket(lesson_id).await? {
        Ok(t) => bail!("ticket granted ({}); want {status} {want}", t.ticket),
        Err(e) => {
            ensure!(
                e.status == status && e.code == want,
                "ticket: want {status} {want}, got {e}"
            );
            Ok(())
        }
    }
}

/// Opens a socket without a session, joins with `ticket`, and expects the join refused with
/// `want` and the socket closed with 1008; returns the socket (to check it got no media).
pub async fn join_refused(server: &Server, label: &str, ticket: &str, want: &str) -> Result<Conn> {
    join_refused_on(server, label, ticket, want, &[]).await
}

/// Like [`join_refused`], on a socket carrying `api`'s session and origin.
pub async fn join_refused_as(api: &Api, server: &Server, label: &str, ticket: &str, want: &str) -> Result<Conn> {
    join_refused_on(server, label, ticket, want, &api.ws_headers()).await
}

/// Like [`join_refused`], with these upgrade headers (a cookie, an origin, or none).
pub async fn join_refused_on(
    server: &Server,
    label: &str,
    ticket: &str,
    want: &str,
    headers: &[(String, String)],
) -> Result<Conn> {
    let conn = Conn::connect_with(&server.ws_url("/ws"), label, headers).await?;
    let (conn, reply) = join_on(conn, ticket, 1).await?;
    ensure!(
        msg_type(&reply) == "error" && code(&reply) == want,
        "{label}: want error {want}, got {reply}"
    );
    let closed = conn.wait_closed(SIGNAL_TIMEOUT).await?;
    ensure!(closed.code == Some(1008), "{label}: want close 1008, got {closed:?}");
    no_media(&conn)?;
    Ok(conn)
}

/// Sends one message as `p` and expects exactly the error `want` in reply.
pub async fn expect_error(p: &Participant, msg: Value, want: &str) -> Result<Value> {
    let mark = p.conn.mark();
    p.conn.send(msg.clone()).await?;
    p.conn
        .expect_error(mark, want, SIGNAL_TIMEOUT)
        .await
        .with_context(|| format!("sent {msg}"))
}

/// Sends one raw text frame as `p` and expects exactly the error `want` in reply.
pub async fn expect_error_text(p: &Participant, text: &str, want: &str) -> Result<Value> {
    let mark = p.conn.mark();
    p.conn.send_text(text).await?;
    let shown: String = text.chars().take(80).collect();
    p.conn
        .expect_error(mark, want, SIGNAL_TIMEOUT)
        .await
        .with_context(|| format!("sent {shown:?}"))
}

/// Every signalling message a client can send, each well-formed, as a hostile peer would
/// try them (ids name the shared lesson's teacher).
pub fn every_client_message(teacher_id: &str) -> Vec<Value> {
    vec![
        json!({"type": "publish", "stream_id": "h1", "kind": "camera", "sdp": "v=0\r\n"}),
        json!({"type": "unpublish", "stream_id": "cam"}),
        json!({"type": "answer", "stream_id": "cam", "sdp": "v=0\r\n"}),
        json!({"type": "candidate", "stream_id": "cam", "candidate": null}),
        json!({"type": "ping"}),
        json!({"type": "grant", "participant_id": teacher_id, "media": "camera"}),
        json!({"type": "revoke", "participant_id": teacher_id, "media": "camera"}),
        json!({"type": "mute", "participant_id": teacher_id}),
        json!({"type": "remove", "participant_id": teacher_id}),
        json!({"type": "end_lesson"}),
        json!({"type": "hand", "raised": true}),
        json!({"type": "admit", "participant_id": teacher_id}),
        json!({"type": "refuse", "participant_id": teacher_id}),
        json!({"type": "lower_hand", "participant_id": teacher_id}),
    ]
}

/// Who a route admits, as declared in `route_table()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    SignedIn,
    /// Teacher, Superuser or Leader: a pupil must get `forbidden_role`.
    Staff,
}

/// Every (method, path, access) of the server's route table, read from its one declaration
/// in `server/src/http/mod.rs` so a route added later is attacked too.
pub fn routes() -> Result<Vec<(reqwest::Method, String, Access)>> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src/http/mod.rs");
    let text = std::fs::read_to_string(&src).with_context(|| format!("reading {}", src.display()))?;
    let mut out = Vec::new();
    // An entry is `(Method::X, "path", access, handler)`, on one line or spread over several
    // (rustfmt decides): every `Method::` whose previous non-blank character is `(`.
    for (at, _) in text.match_indices("Method::") {
        if !text[..at].trim_end().ends_with('(') {
            continue;
        }
        let entry = &text[at + "Method::".len()..];
        let mut parts = entry.splitn(4, ',').map(str::trim);
        let (Some(method), Some(path), Some(access)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let access = match access {
            "Access::Public" => Access::Public,
            "Access::SignedIn" => Access::SignedIn,
            _ => Access::Staff,
        };
        let method = method
            .parse()
            .map_err(|_| anyhow!("bad method {method:?} in the route table"))?;
        out.push((method, path.trim_matches('"').to_string(), access));
    }
    ensure!(out.len() >= 30, "found only {} routes in {}", out.len(), src.display());
    Ok(out)
}

/// A declared path with `{lesson_id}` set to `lesson` and every other `{param}` filled with
/// a well-formed id that names nothing.
pub fn concrete(path: &str, lesson: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{lesson_id}" => lesson,
            s if s.starts_with('{') => "x_0000",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}
