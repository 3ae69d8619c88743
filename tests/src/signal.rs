//! WebSocket signalling client for PROTOCOL.md section 2: keeps a log of every server message,
//! records how the socket closed, answers server `offer`s automatically with a receiving WebRTC
//! peer connection, and lets tests wait for messages matching a predicate. What the harness
//! itself reads (offers, ended streams, errors) it reads as [`ServerMsg`], and what it sends on
//! its own (answers, pings) it writes as [`ClientMsg`]; the log keeps each message as JSON too,
//! for tests that look at it as the wire has it (and hostile ones that send what no type allows).

use crate::rtc_client::{self, Subscription};
use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::{SplitSink, StreamExt};
use futures_util::SinkExt;
use livegate_core::ids::{ParticipantId, StreamId};
use livegate_core::proto::{ClientMsg, ServerMsg, StreamKind};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the server closed the socket.
#[derive(Debug, Clone)]
pub struct CloseInfo {
    /// The close frame's code; `None` if the connection ended without a close frame.
    pub code: Option<u16>,
    pub reason: String,
}

#[derive(Default)]
struct State {
    log: Vec<Value>,
    /// Text frames from the server that were not JSON (a protocol violation by the server).
    non_json: Vec<String>,
    closed: Option<CloseInfo>,
    /// WebSocket Ping frames from the server (the library answers each with a Pong).
    pings: usize,
}

struct Inner {
    sink: tokio::sync::Mutex<SplitSink<Ws, Message>>,
    state: Mutex<State>,
    /// Bumped after every change to `state`.
    changed: watch::Sender<u64>,
    subs: Mutex<HashMap<String, Arc<Subscription>>>,
    label: String,
    /// Applied to every server `offer`'s SDP before it is answered (see `rewrite_offers`).
    offer_rewrite: Mutex<Option<OfferRewrite>>,
}

/// A change to the SDP of server offers (the impairment relay moves the candidate to itself).
pub type OfferRewrite = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// One signalling WebSocket.
pub struct Conn {
    inner: Arc<Inner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        for sub in self.inner.subs.lock().unwrap().values() {
            sub.abort_tasks();
        }
    }
}

impl Conn {
    /// Opens the socket without a session (an anonymous client). `label` names the user in
    /// failure messages.
    pub async fn connect(url: &str, label: &str) -> Result<Conn> {
        Conn::connect_with(url, label, &[]).await
    }

    /// Opens the socket with these extra upgrade headers: a signed-in client's session cookie
    /// and origin (`Api::ws_headers`), without which its join ticket is `ticket_invalid`.
    pub async fn connect_with(url: &str, label: &str, headers: &[(String, String)]) -> Result<Conn> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url
            .into_client_request()
            .with_context(|| format!("{label}: WebSocket request for {url}"))?;
        for (name, value) in headers {
            let value = value.parse().with_context(|| format!("header value for {name}"))?;
            let name: tokio_tungstenite::tungstenite::http::HeaderName =
                name.parse().with_context(|| format!("header {name}"))?;
            req.headers_mut().append(name, value);
        }
        let (ws, _resp) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(req))
            .await
            .map_err(|_| anyhow!("{label}: WebSocket connect to {url} timed out"))?
            .with_context(|| format!("{label}: WebSocket connect to {url}"))?;
        let (sink, mut stream) = ws.split();
        let (changed, _) = watch::channel(0u64);
        let inner = Arc::new(Inner {
            sink: tokio::sync::Mutex::new(sink),
            state: Mutex::new(State::default()),
            changed,
            subs: Mutex::new(HashMap::new()),
            label: label.to_string(),
            offer_rewrite: Mutex::new(None),
        });
        let reader = {
            let inner = inner.clone();
            tokio::spawn(async move {
                loop {
                    let closed = match stream.next().await {
                        Some(Ok(Message::Text(t))) => {
                            handle_text(&inner, t.as_str());
                            None
                        }
                        Some(Ok(Message::Close(frame))) => Some(match frame {
                            Some(f) => CloseInfo {
                                code: Some(u16::from(f.code)),
                                reason: f.reason.to_string(),
                            },
                            None => CloseInfo {
                                code: None,
                                reason: "close frame without code".into(),
                            },
                        }),
                        Some(Ok(Message::Ping(_))) => {
                            inner.state.lock().unwrap().pings += 1;
                            None
                        }
                        Some(Ok(_)) => None, // binary, pong: not part of the protocol's flow
                        Some(Err(e)) => Some(CloseInfo {
                            code: None,
                            reason: format!("read error: {e}"),
                        }),
                        None => Some(CloseInfo {
                            code: None,
                            reason: "stream ended".into(),
                        }),
                    };
                    if let Some(info) = closed {
                        inner.state.lock().unwrap().closed = Some(info);
                        inner.changed.send_modify(|n| *n += 1);
                        break;
                    }
                }
            })
        };
        Ok(Conn {
            inner,
            tasks: Mutex::new(vec![reader]),
        })
    }

    /// Rewrites the SDP of every later server `offer` before answering it, and of the server's
    /// `answer` to a `publish` (for example to send the media through an impairment relay).
    /// Set it before joining.
    pub fn rewrite_offers(&self, f: OfferRewrite) {
        *self.inner.offer_rewrite.lock().unwrap() = Some(f);
    }

    /// `sdp` after the rewrite set with [`rewrite_offers`](Self::rewrite_offers), if any (the
    /// publisher applies it to the server's `answer` too).
    pub fn rewritten(&self, sdp: String) -> String {
        match self.inner.offer_rewrite.lock().unwrap().clone() {
            Some(f) => f(&sdp),
            None => sdp,
        }
    }

    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Sends one JSON message.
    pub async fn send(&self, msg: Value) -> Result<()> {
        self.send_message(Message::text(msg.to_string())).await
    }

    /// Sends one protocol message.
    pub async fn send_msg(&self, msg: &ClientMsg) -> Result<()> {
        self.send_message(Message::text(serde_json::to_string(msg)?)).await
    }

    /// Sends a raw text frame.
    pub async fn send_text(&self, text: &str) -> Result<()> {
        self.send_message(Message::text(text.to_string())).await
    }

    pub async fn send_message(&self, msg: Message) -> Result<()> {
        let mut sink = self.inner.sink.lock().await;
        sink.send(msg)
            .await
            .with_context(|| format!("{}: sending on the WebSocket", self.inner.label))
    }

    /// Sends `ping` every `every` until the socket is dropped.
    pub fn start_heartbeat(&self, every: Duration) {
        let inner = self.inner.clone();
        let ping = serde_json::to_string(&ClientMsg::Ping).unwrap_or_default();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let mut sink = inner.sink.lock().await;
                if sink.send(Message::text(ping.clone())).await.is_err() {
                    break;
                }
            }
        });
        self.tasks.lock().unwrap().push(task);
    }

    /// The number of messages received so far; pass it to `wait_*` to see only later ones.
    pub fn mark(&self) -> usize {
        self.inner.state.lock().unwrap().log.len()
    }

    /// A copy of every message received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.inner.state.lock().unwrap().log.clone()
    }

    /// Messages received at or after `from`.
    pub fn messages_since(&self, from: usize) -> Vec<Value> {
        let st = self.inner.state.lock().unwrap();
        st.log.get(from..).map(|s| s.to_vec()).unwrap_or_default()
    }

    pub fn non_json_frames(&self) -> Vec<String> {
        self.inner.state.lock().unwrap().non_json.clone()
    }

    /// How many WebSocket Ping frames the server has sent (each answered by the library).
    pub fn pings(&self) -> usize {
        self.inner.state.lock().unwrap().pings
    }

    pub fn closed(&self) -> Option<CloseInfo> {
        self.inner.state.lock().unwrap().closed.clone()
    }

    /// Waits for the first message at index >= `from` that satisfies `pred`.
    pub async fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<(usize, Value)> {
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            {
                let st = self.inner.state.lock().unwrap();
                for (i, m) in st.log.iter().enumerate().skip(from) {
                    if pred(m) {
                        return Ok((i, m.clone()));
                    }
                }
                if let Some(c) = &st.closed {
                    bail!(
                        "{}: socket closed ({:?} {:?}) while waiting for {what}; messages since #{from}: {}",
                        self.inner.label,
                        c.code,
                        c.reason,
                        summarize(st.log.get(from..).unwrap_or(&[]))
                    );
                }
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                let st = self.inner.state.lock().unwrap();
                bail!(
                    "{}: timed out after {timeout:?} waiting for {what}; messages since #{from}: {}",
                    self.inner.label,
                    summarize(st.log.get(from..).unwrap_or(&[]))
                );
            }
        }
    }

    /// Waits for the first protocol message at index >= `from` that satisfies `pred`.
    pub async fn wait_msg(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&ServerMsg) -> bool,
    ) -> Result<(usize, ServerMsg)> {
        let (i, m) = self
            .wait_for(from, timeout, what, |m| server_msg(m).is_some_and(|m| pred(&m)))
            .await?;
        let msg = server_msg(&m).ok_or_else(|| anyhow!("{}: not a server message: {m}", self.inner.label))?;
        Ok((i, msg))
    }

    /// Waits for a message of type `ty` at index >= `from`.
    pub async fn wait_type(&self, from: usize, ty: &str, timeout: Duration) -> Result<Value> {
        self.wait_for(from, timeout, &format!("`{ty}`"), |m| msg_type(m) == ty)
            .await
            .map(|(_, m)| m)
    }

    /// Waits for the first `error` at index >= `from` and returns it.
    pub async fn wait_error(&self, from: usize, timeout: Duration) -> Result<Value> {
        self.wait_type(from, "error", timeout).await
    }

    /// Waits for an `error` with the given code at index >= `from`. Fails on any other error.
    pub async fn expect_error(&self, from: usize, code: &str, timeout: Duration) -> Result<Value> {
        let err = self
            .wait_error(from, timeout)
            .await
            .with_context(|| format!("expecting error `{code}`"))?;
        match server_msg(&err) {
            Some(ServerMsg::Error { code: got, .. }) if got.as_str() == code => Ok(err),
            Some(ServerMsg::Error { .. }) => bail!("{}: expected error `{code}`, got {err}", self.inner.label),
            _ => bail!("{}: an `error` that is not the protocol's: {err}", self.inner.label),
        }
    }

    /// Waits until the server closes the socket.
    pub async fn wait_closed(&self, timeout: Duration) -> Result<CloseInfo> {
        let mut rx = self.inner.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(c) = self.closed() {
                return Ok(c);
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                bail!(
                    "{}: socket still open after {timeout:?}; messages: {}",
                    self.inner.label,
                    summarize(&self.messages())
                );
            }
        }
    }

    /// Proves the socket is open and served: sends `ping`, waits for a `pong`.
    pub async fn ping_pong(&self, timeout: Duration) -> Result<()> {
        let mark = self.mark();
        self.send_msg(&ClientMsg::Ping).await?;
        self.wait_type(mark, "pong", timeout).await.map(|_| ())
    }

    /// Every stream the server offered to this socket, in no particular order.
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.inner.subs.lock().unwrap().values().cloned().collect()
    }

    /// The per-participant byte counter: RTP payload bytes received on every stream offered to
    /// this socket (zero for a participant who never got a peer connection).
    pub fn media_bytes(&self) -> u64 {
        self.subscriptions().iter().map(|s| s.stats.bytes()).sum()
    }

    /// RTP packets (video and audio) received on every stream offered to this socket.
    pub fn media_packets(&self) -> u64 {
        self.subscriptions()
            .iter()
            .map(|s| s.stats.video() + s.stats.audio())
            .sum()
    }

    pub fn subscription(&self, stream_id: &str) -> Option<Arc<Subscription>> {
        self.inner.subs.lock().unwrap().get(stream_id).cloned()
    }

    /// Waits for a server `offer` at index >= `from` matching `pred` and returns its subscription.
    pub async fn wait_offer(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Arc<Subscription>> {
        let (_, offer) = self
            .wait_for(from, timeout, what, |m| msg_type(m) == "offer" && pred(m))
            .await?;
        let id = match server_msg(&offer) {
            Some(ServerMsg::Offer { stream_id, .. }) => stream_id.to_string(),
            _ => String::new(),
        };
        self.subscription(&id).ok_or_else(|| {
            anyhow!(
                "{}: offer {id} has no subscription (bad offer?): {offer}",
                self.inner.label
            )
        })
    }
}

/// A logged message as the protocol's type; `None` if it is not one.
pub fn server_msg(m: &Value) -> Option<ServerMsg> {
    ServerMsg::deserialize(m).ok()
}

/// The `type` of a message, or "".
pub fn msg_type(m: &Value) -> &str {
    m.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A one-line summary of messages for failure output (SDP bodies elided).
pub fn summarize(msgs: &[Value]) -> String {
    let parts: Vec<String> = msgs
        .iter()
        .map(|m| {
            let mut m = m.clone();
            if let Some(o) = m.as_object_mut() {
                if o.contains_key("sdp") {
                    o.insert("sdp".into(), Value::String("…".into()));
                }
                if o.contains_key("lesson") {
                    o.insert("lesson".into(), Value::String("…".into()));
                }
            }
            m.to_string()
        })
        .collect();
    if parts.is_empty() {
        "(none)".into()
    } else {
        parts.join(" | ")
    }
}

fn handle_text(inner: &Arc<Inner>, text: &str) {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            inner.state.lock().unwrap().non_json.push(text.to_string());
            inner.changed.send_modify(|n| *n += 1);
            return;
        }
    };
    match server_msg(&value) {
        Some(ServerMsg::Offer {
            stream_id,
            publisher_id,
            kind,
            sdp,
        }) => start_answer(inner, stream_id, publisher_id, kind, sdp),
        Some(ServerMsg::StreamEnded { stream_id }) => {
            if let Some(sub) = inner.subs.lock().unwrap().get(stream_id.as_str()) {
                sub.mark_ended();
            }
        }
        _ => {}
    }
    // Register the subscription before the message is visible, so a waiter that sees the
    // `offer` always finds its subscription.
    inner.state.lock().unwrap().log.push(value);
    inner.changed.send_modify(|n| *n += 1);
}

/// Creates the subscription for a server `offer` and answers it in the background.
fn start_answer(inner: &Arc<Inner>, stream_id: StreamId, publisher_id: ParticipantId, kind: StreamKind, sdp: String) {
    let mut sdp = sdp;
    if let Some(rewrite) = inner.offer_rewrite.lock().unwrap().clone() {
        sdp = rewrite(&sdp);
    }
    let sub = Arc::new(Subscription::new(
        stream_id.to_string(),
        publisher_id.to_string(),
        kind.as_str().to_string(),
        sdp,
    ));
    inner.subs.lock().unwrap().insert(stream_id.to_string(), sub.clone());
    let inner2 = inner.clone();
    // The answer task ends by itself; the subscription's media tasks are aborted on drop.
    tokio::spawn(async move {
        match rtc_client::answer_offer(&sub).await {
            Ok(answer_sdp) => {
                let msg = ClientMsg::Answer {
                    stream_id,
                    sdp: answer_sdp,
                };
                let text = serde_json::to_string(&msg).unwrap_or_default();
                let mut sink = inner2.sink.lock().await;
                if let Err(e) = sink.send(Message::text(text)).await {
                    sub.set_error(format!("sending answer: {e}"));
                }
            }
            Err(e) => sub.set_error(format!("{e:#}")),
        }
    });
}
