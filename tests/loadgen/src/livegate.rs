//! Signalling adapter for Livegate (server/PROTOCOL.md): each participant signs in over HTTP,
//! fetches a ticket, joins over its own WebSocket and keeps it alive with `ping`. The teacher
//! starts the class's lesson and publishes a camera stream; each pupil answers the offer the
//! server sends it. Accounts come from `livegate-bench-server` (class `bench{k}`, teacher
//! `bench-teacher{k}@demo.sch.uk`, pupils `bench{k}-{i}@pupils.demo.sch.uk`). What the server
//! answers is read as the protocol's own types (`livegate_core::proto`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use livegate_core::ids::StreamId;
use livegate_core::proto::http::{LessonBody, Ticket};
use livegate_core::proto::{ClientMsg, ServerMsg, StreamKind, PROTOCOL_VERSION};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::engine::Engine;

const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Livegate {
    base: String,
    ws_url: String,
    http: reqwest::Client,
    engine: Rc<RefCell<Engine>>,
    lessons: RefCell<Vec<String>>,
    stop: watch::Sender<bool>,
}

/// A signed-in account.
pub struct Account {
    cookie: String,
    class: usize,
}

impl Livegate {
    pub fn new(base: &str, engine: Rc<RefCell<Engine>>) -> Result<Livegate> {
        let base = base.trim_end_matches('/').to_owned();
        let ws_url = format!("{}/ws", base.replacen("http://", "ws://", 1));
        let http = reqwest::Client::builder().no_proxy().timeout(TIMEOUT).build()?;
        let (stop, _) = watch::channel(false);
        Ok(Livegate {
            base,
            ws_url,
            http,
            engine,
            lessons: RefCell::new(Vec::new()),
            stop,
        })
    }

    async fn post(&self, path: &str, cookie: Option<&str>, body: Value) -> Result<(Value, Option<String>)> {
        let mut req = self.http.post(format!("{}{}", self.base, path)).json(&body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = resp.status();
        let set_cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("livegate_session="))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {value}");
        }
        Ok((value, set_cookie))
    }

    /// Signs in the teacher (pupil = None) or pupil `i` of `class`.
    pub async fn sign_in(&self, class: usize, pupil: Option<usize>) -> Result<Account> {
        let email = match pupil {
            None => format!("bench-teacher{}@demo.sch.uk", class + 1),
            Some(i) => format!("bench{}-{}@pupils.demo.sch.uk", class + 1, i + 1),
        };
        let password = if pupil.is_none() { "demo-teacher" } else { "demo-pupil" };
        let (_, cookie) = self
            .post("/api/session", None, json!({"email": email, "password": password}))
            .await?;
        let cookie = cookie.ok_or_else(|| anyhow!("no session cookie for {email} (is this livegate-bench-server?)"))?;
        Ok(Account { cookie, class })
    }

    async fn join(&self, account: &Account) -> Result<Ws> {
        let lesson = self
            .lessons
            .borrow()
            .get(account.class)
            .cloned()
            .context("lesson not started")?;
        let trace = std::env::var_os("LOADGEN_TRACE_SIGNALLING").is_some();
        let t0 = std::time::Instant::now();
        let (t, _) = self
            .post(
                &format!("/api/lessons/{lesson}/ticket"),
                Some(&account.cookie),
                json!({}),
            )
            .await?;
        let Ticket { ticket, .. } = serde_json::from_value(t).context("the ticket answer")?;
        let t1 = t0.elapsed();
        // The ticket is redeemed only on a socket carrying the session it was issued to.
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(self.ws_url.as_str())?;
        req.headers_mut().insert("cookie", account.cookie.parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .context("WebSocket connect")?;
        let t2 = t0.elapsed();
        let join = ClientMsg::Join {
            protocol: PROTOCOL_VERSION,
            ticket,
        };
        send(&mut ws, &join).await?;
        let joined = next_of(&mut ws, "joined", |m| matches!(m, ServerMsg::Joined { .. })).await?;
        if trace {
            eprintln!(
                "loadgen: signalling ticket {t1:?}, websocket {:?}, joined {:?}",
                t2 - t1,
                t0.elapsed() - t2
            );
        }
        if !matches!(joined, ServerMsg::Joined { .. }) {
            bail!("join refused: {joined:?}");
        }
        Ok(ws)
    }

    /// Starts class `class`'s lesson and publishes the teacher's camera. Returns once answered.
    pub async fn publish(&self, account: Account) -> Result<usize> {
        let (v, _) = self
            .post(
                "/api/lessons",
                Some(&account.cookie),
                json!({"class_id": format!("bench{}", account.class + 1)}),
            )
            .await?;
        let LessonBody { lesson } = serde_json::from_value(v).context("the lesson answer")?;
        let lesson = lesson.id.to_string();
        {
            let mut lessons = self.lessons.borrow_mut();
            if lessons.len() <= account.class {
                lessons.resize(account.class + 1, String::new());
            }
            lessons[account.class] = lesson;
        }
        let mut ws = self.join(&account).await?;
        let (index, offer) = self.engine.borrow_mut().new_publisher()?;
        let publish = ClientMsg::Publish {
            stream_id: StreamId::parse("cam").context("stream id")?,
            kind: StreamKind::Camera,
            sdp: offer,
        };
        send(&mut ws, &publish).await?;
        let sdp = match next_of(&mut ws, "answer", |m| matches!(m, ServerMsg::Answer { .. })).await? {
            ServerMsg::Answer { sdp, .. } => sdp,
            refused => bail!("publish refused: {refused:?}"),
        };
        self.engine.borrow_mut().publisher_answer(index, &sdp)?;
        tokio::task::spawn_local(keep_alive(ws, self.stop.subscribe()));
        Ok(index)
    }

    /// Subscribes pupil `account` (signalling starts now); returns once its answer is sent.
    pub async fn subscribe(&self, account: Account) -> Result<usize> {
        let index = self.engine.borrow_mut().new_subscriber(account.class);
        let mut ws = self.join(&account).await?;
        let (stream_id, sdp) = match next_of(&mut ws, "offer", |m| matches!(m, ServerMsg::Offer { .. })).await? {
            ServerMsg::Offer { stream_id, sdp, .. } => (stream_id, sdp),
            refused => bail!("no offer: {refused:?}"),
        };
        let answer = self.engine.borrow_mut().subscriber_offer(index, &sdp)?;
        send(&mut ws, &ClientMsg::Answer { stream_id, sdp: answer }).await?;
        tokio::task::spawn_local(keep_alive(ws, self.stop.subscribe()));
        Ok(index)
    }

    /// Closes every socket.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one protocol message.
async fn send(ws: &mut Ws, msg: &ClientMsg) -> Result<()> {
    ws.send(Message::text(serde_json::to_string(msg)?)).await?;
    Ok(())
}

/// The next message that is `wanted` (`ty` names it) or an `error`, skipping others.
async fn next_of(ws: &mut Ws, ty: &str, wanted: impl Fn(&ServerMsg) -> bool) -> Result<ServerMsg> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("timed out waiting for `{ty}`"))?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let m: ServerMsg =
                    serde_json::from_str(t.as_str()).with_context(|| format!("not a server message: {t}"))?;
                if wanted(&m) || matches!(m, ServerMsg::Error { .. }) {
                    return Ok(m);
                }
            }
            Some(Ok(Message::Close(f))) => bail!("socket closed waiting for `{ty}`: {f:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("socket error waiting for `{ty}`: {e}"),
            None => bail!("socket ended waiting for `{ty}`"),
        }
    }
}

/// Reads and discards server messages (the lesson drops a participant whose outbox fills) and
/// sends `ping` every 5 s, until `stop`.
async fn keep_alive(mut ws: Ws, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str().contains("\"type\":\"stream_ended\"") || t.as_str().contains("\"type\":\"removed\"") {
                        eprintln!("loadgen: livegate says {t}");
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            _ = tick.tick() => {
                if send(&mut ws, &ClientMsg::Ping).await.is_err() {
                    break;
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = ws.close(None).await;
}
