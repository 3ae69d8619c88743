//! Signalling adapter for Janus 1.1.2's VideoRoom over its HTTP API (127.0.0.1:8088/janus).
//!
//! One Janus session holds every handle; one long-poll task reads its events (which also keeps
//! the session alive) and hands each to the request waiting on its transaction. Per class a room
//! is created (no REMB cap, no periodic FIR, VP8 + Opus, no recording); the teacher joins it as a
//! publisher and `configure`s with its offer; each pupil attaches a handle, joins as a
//! subscriber of the teacher's feed, answers Janus's offer with `start`. The generator does not
//! trickle (its candidate is in its SDP), so each handle then sends trickle `completed`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::engine::Engine;

const TIMEOUT: Duration = Duration::from_secs(60);

type Pending = Rc<RefCell<HashMap<String, oneshot::Sender<Value>>>>;

pub struct Janus {
    base: String,
    http: reqwest::Client,
    session: u64,
    pending: Pending,
    next_tx: Cell<u64>,
    engine: Rc<RefCell<Engine>>,
    /// Per class: room id and the publisher's feed id.
    rooms: RefCell<Vec<(u64, u64)>>,
    poller: tokio::task::JoinHandle<()>,
}

impl Janus {
    /// Creates a session and starts its event long-poll.
    pub async fn connect(base: &str, engine: Rc<RefCell<Engine>>) -> Result<Janus> {
        let base = base.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder().no_proxy().timeout(TIMEOUT).build()?;
        let created: Value = http
            .post(&base)
            .json(&json!({"janus": "create", "transaction": "c0"}))
            .send()
            .await?
            .json()
            .await?;
        let session = created["data"]["id"]
            .as_u64()
            .with_context(|| format!("janus create: {created}"))?;
        let pending: Pending = Rc::default();
        let poller = tokio::task::spawn_local(long_poll(http.clone(), format!("{base}/{session}"), pending.clone()));
        Ok(Janus {
            base,
            http,
            session,
            pending,
            next_tx: Cell::new(1),
            engine,
            rooms: RefCell::new(Vec::new()),
            poller,
        })
    }

    fn transaction(&self) -> String {
        let n = self.next_tx.get();
        self.next_tx.set(n + 1);
        format!("t{n}")
    }

    /// Posts `body` to `path`; for an `ack`, waits for the event with the same transaction.
    async fn request(&self, path: &str, mut body: Value) -> Result<Value> {
        let tx = self.transaction();
        body["transaction"] = json!(tx);
        let (send, recv) = oneshot::channel();
        self.pending.borrow_mut().insert(tx.clone(), send);
        let url = format!("{}/{}{}", self.base, self.session, path);
        let resp: Value = self.http.post(&url).json(&body).send().await?.json().await?;
        if resp["janus"] != "ack" {
            self.pending.borrow_mut().remove(&tx);
            if resp["janus"] == "error" {
                bail!("janus: {resp}");
            }
            return Ok(resp);
        }
        let event = tokio::time::timeout(TIMEOUT, recv)
            .await
            .map_err(|_| anyhow!("janus: no event for {body}"))??;
        if event["janus"] == "error" || event["plugindata"]["data"]["error"].is_string() {
            bail!("janus: {event}");
        }
        Ok(event)
    }

    async fn attach(&self) -> Result<u64> {
        let r = self
            .request("", json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}))
            .await?;
        r["data"]["id"].as_u64().with_context(|| format!("attach: {r}"))
    }

    async fn message(&self, handle: u64, body: Value, jsep: Option<Value>) -> Result<Value> {
        let mut m = json!({"janus": "message", "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.request(&format!("/{handle}"), m).await
    }

    /// Trickle `completed`: Janus only acks it, with no event to wait for.
    async fn trickle_done(&self, handle: u64) -> Result<()> {
        let body = json!({"janus": "trickle", "candidate": {"completed": true}, "transaction": self.transaction()});
        let url = format!("{}/{}/{handle}", self.base, self.session);
        let resp: Value = self.http.post(&url).json(&body).send().await?.json().await?;
        if resp["janus"] != "ack" {
            bail!("janus trickle: {resp}");
        }
        Ok(())
    }

    /// Creates class `class`'s room and publishes the teacher into it.
    pub async fn publish(&self, class: usize) -> Result<usize> {
        let handle = self.attach().await?;
        let room = 1000 + class as u64;
        let create = json!({
            "request": "create", "room": room, "publishers": 1, "bitrate": 0, "fir_freq": 0,
            "audiocodec": "opus", "videocodec": "vp8", "record": false, "notify_joining": false,
        });
        let r = self.message(handle, create, None).await?;
        if r["plugindata"]["data"]["videoroom"] != "created" {
            bail!("room create: {r}");
        }
        let joined = self
            .message(
                handle,
                json!({"request": "join", "ptype": "publisher", "room": room}),
                None,
            )
            .await?;
        let feed = joined["plugindata"]["data"]["id"]
            .as_u64()
            .with_context(|| format!("publisher join: {joined}"))?;
        let (index, offer) = self.engine.borrow_mut().new_publisher()?;
        let configured = self
            .message(
                handle,
                json!({"request": "configure", "audio": true, "video": true}),
                Some(json!({"type": "offer", "sdp": offer})),
            )
            .await?;
        let answer = configured["jsep"]["sdp"]
            .as_str()
            .with_context(|| format!("configure: {configured}"))?;
        self.engine.borrow_mut().publisher_answer(index, answer)?;
        self.trickle_done(handle).await?;
        let mut rooms = self.rooms.borrow_mut();
        if rooms.len() <= class {
            rooms.resize(class + 1, (0, 0));
        }
        rooms[class] = (room, feed);
        Ok(index)
    }

    /// Subscribes one pupil to class `class`'s teacher (signalling starts now).
    pub async fn subscribe(&self, class: usize) -> Result<usize> {
        let index = self.engine.borrow_mut().new_subscriber(class);
        let (room, feed) = *self.rooms.borrow().get(class).context("class not published")?;
        let handle = self.attach().await?;
        let join = json!({"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}]});
        let attached = self.message(handle, join, None).await?;
        let offer = attached["jsep"]["sdp"]
            .as_str()
            .with_context(|| format!("subscriber join: {attached}"))?;
        let answer = self.engine.borrow_mut().subscriber_offer(index, offer)?;
        self.message(
            handle,
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
        self.trickle_done(handle).await?;
        Ok(index)
    }

    /// Ends the session.
    pub async fn stop(&self) {
        let _ = self.request("", json!({"janus": "destroy"})).await;
        self.poller.abort();
    }
}

/// Reads session events and completes the matching requests; logs hang-ups.
async fn long_poll(http: reqwest::Client, url: String, pending: Pending) {
    let url = format!("{url}?maxev=50");
    loop {
        let events: Value = match http.get(&url).send().await {
            Ok(r) => match r.json().await {
                Ok(v) => v,
                Err(_) => continue,
            },
            Err(e) => {
                if e.is_timeout() {
                    continue;
                }
                eprintln!("loadgen: janus long-poll failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let list = match events {
            Value::Array(a) => a,
            other => vec![other],
        };
        for ev in list {
            if ev["janus"] == "hangup" {
                eprintln!("loadgen: janus hangup: {ev}");
            }
            if let Some(tx) = ev["transaction"].as_str() {
                if ev["janus"] == "event" || ev["janus"] == "success" || ev["janus"] == "error" {
                    if let Some(waiter) = pending.borrow_mut().remove(tx) {
                        let _ = waiter.send(ev);
                    }
                }
            }
        }
    }
}
