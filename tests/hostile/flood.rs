//! Floods and slow readers (issue 11, item 2; and item 3's WebSocket pings): an admitted pupil
//! sends thousands of messages a second, a classmate reads slowly, a client stops reading. The
//! flooder is refused (`rate_limited`) past each kind's budget and then removed
//! (`too_many_messages`, on the livestream log); the teacher gets a bounded number of updates;
//! the slow classmate is not evicted, keeps getting `pong`, and ends with the latest state; a
//! reader that answers nothing is closed by the WebSocket Ping deadline, an idle one that
//! answers is not; and Dev keeps receiving video throughout.

use crate::fixture::*;
use anyhow::{anyhow, bail, ensure, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use livegate_tests::participant::{open_and_join_as, SIGNAL_TIMEOUT};
use livegate_tests::signal::msg_type;
use livegate_tests::{Api, Participant};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Messages the flood tries to send; the server removes the flooder long before the end.
const FLOOD: usize = 10_000;
/// The `hand` budget (core/src/budget.rs): 20 at once, then 5 a second.
const HAND_BURST: usize = 20;
/// The teacher may hear of the flooder's hand at most this often: the burst plus 5 a second
/// for the few seconds a flood can last before its sender is removed (measured: about 20).
const TEACHER_BOUND: usize = HAND_BURST + 20;
/// The slow classmate reads one frame per this, through a 4 KiB receive buffer.
const SLOW_READ: Duration = Duration::from_millis(100);
/// The Ping deadline (server: Ping after 5 s quiet, closed 10 s later) must find a reader
/// that answers nothing well before the 30 s heartbeat would.
const PING_FINDS_DEAD_READER: Duration = Duration::from_secs(25);

type Ws = WebSocketStream<TcpStream>;

/// What the slow reader has read.
#[derive(Default)]
struct Seen {
    log: Vec<Value>,
    closed: Option<String>,
}

/// A pupil on a slow link: a socket with a 4 KiB receive buffer that takes one frame every
/// [`SLOW_READ`] (answering the server's Pings as it reads) and sends `ping` every 5 s.
struct SlowReader {
    id: String,
    joined: Value,
    seen: Arc<Mutex<Seen>>,
    sink: Arc<tokio::sync::Mutex<SplitSink<Ws, Message>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SlowReader {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Opens a raw socket for a fresh pupil with a small receive buffer, joins, and returns the
/// `joined` message with both halves (nothing reads the socket after `joined` but the caller).
async fn raw_join(s: &Shared) -> Result<(Value, SplitSink<Ws, Message>, SplitStream<Ws>)> {
    let email = s.fresh_pupil().await?;
    let api = s.signed_in(&email).await?;
    let ticket = api.must_ticket(&s.lesson.id).await?;
    let tcp = tokio::net::TcpSocket::new_v4()?;
    tcp.set_recv_buffer_size(4096)?;
    let tcp = tcp.connect(s.server.http_addr).await?;
    // The upgrade carries the pupil's session and origin, as a browser's does.
    let mut req = s.server.ws_url(&ticket.ws_path).into_client_request()?;
    for (name, value) in api.ws_headers() {
        req.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes())?,
            value.parse()?,
        );
    }
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await?;
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text(
        json!({"type": "join", "protocol": 1, "ticket": ticket.ticket}).to_string(),
    ))
    .await?;
    let deadline = Instant::now() + SIGNAL_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| anyhow!("no `joined` in time"))?;
        if let Some(Ok(Message::Text(t))) = frame {
            let v: Value = serde_json::from_str(t.as_str())?;
            ensure!(msg_type(&v) == "joined", "join refused: {v}");
            return Ok((v, sink, stream));
        }
        ensure!(
            matches!(frame, Some(Ok(_))),
            "the socket ended before `joined`: {frame:?}"
        );
    }
}

impl SlowReader {
    async fn join(s: &Shared) -> Result<SlowReader> {
        let (joined, sink, mut stream) = raw_join(s).await?;
        let id = joined["participant_id"].as_str().unwrap_or_default().to_string();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        let reader = {
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SLOW_READ).await;
                    match stream.next().await {
                        Some(Ok(Message::Text(t))) => {
                            let v = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                            seen.lock().unwrap().log.push(v);
                        }
                        Some(Ok(Message::Close(frame))) => {
                            seen.lock().unwrap().closed = Some(format!("{frame:?}"));
                            break;
                        }
                        Some(Ok(_)) => {}
                        other => {
                            seen.lock().unwrap().closed = Some(format!("{other:?}"));
                            break;
                        }
                    }
                }
            })
        };
        let heartbeat = {
            let sink = sink.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    if sink
                        .lock()
                        .await
                        .send(Message::text(r#"{"type":"ping"}"#))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            })
        };
        Ok(SlowReader {
            id,
            joined,
            seen,
            sink,
            tasks: vec![reader, heartbeat],
        })
    }

    fn messages(&self) -> Vec<Value> {
        self.seen.lock().unwrap().log.clone()
    }

    fn closed(&self) -> Option<String> {
        self.seen.lock().unwrap().closed.clone()
    }

    /// Sends `ping` and waits (reading slowly) for a `pong` after it.
    async fn ping_pong(&self, within: Duration) -> Result<()> {
        let mark = self.messages().len();
        self.sink.lock().await.send(Message::text(r#"{"type":"ping"}"#)).await?;
        self.wait(within, "a pong", |log| {
            log[mark.min(log.len())..].iter().any(|m| msg_type(m) == "pong")
        })
        .await
    }

    /// Waits until `done` holds for everything read so far.
    async fn wait(&self, within: Duration, what: &str, done: impl Fn(&[Value]) -> bool) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            ensure!(
                self.closed().is_none(),
                "the slow reader was closed ({:?}) waiting for {what}",
                self.closed()
            );
            if done(&self.messages()) {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "the slow reader saw no {what} in {within:?}: {:?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The participants as this reader knows them now: `joined`'s list with every
    /// `participant_*` message read since applied in order.
    fn participants(&self) -> HashMap<String, Value> {
        let mut people: HashMap<String, Value> = HashMap::new();
        for p in self.joined["participants"].as_array().into_iter().flatten() {
            people.insert(p["id"].as_str().unwrap_or_default().to_string(), p.clone());
        }
        for m in self.messages() {
            match msg_type(&m) {
                "participant_joined" | "participant_updated" => {
                    people.insert(
                        m["participant"]["id"].as_str().unwrap_or_default().to_string(),
                        m["participant"].clone(),
                    );
                }
                "participant_left" => {
                    people.remove(m["participant_id"].as_str().unwrap_or_default());
                }
                _ => {}
            }
        }
        people
    }
}

/// Sends `n` copies of `msg` (or what `msg(i)` makes) as fast as the socket takes them; stops
/// quietly when the server closes the socket.
async fn flood(p: &Participant, n: usize, msg: impl Fn(usize) -> Value) {
    for i in 0..n {
        if p.conn.send(msg(i)).await.is_err() {
            return;
        }
    }
}

/// The flooder got `rate_limited`, then `removed` `too_many_messages`, and its socket closed
/// with 1008; returns what it got before `removed`.
async fn refused_then_removed(p: &Participant, mark: usize) -> Result<Vec<Value>> {
    let closed = p
        .conn
        .wait_closed(Duration::from_secs(20))
        .await
        .context("the flooder was never disconnected")?;
    let mut log = p.conn.messages_since(mark);
    let first_limited = log.iter().position(|m| code(m) == "rate_limited");
    let removed = log.iter().position(|m| msg_type(m) == "removed");
    let (Some(first_limited), Some(removed)) = (first_limited, removed) else {
        bail!(
            "want rate_limited then removed; got {} messages, closed {closed:?}: {:?}",
            log.len(),
            log.iter().rev().take(5).collect::<Vec<_>>()
        )
    };
    ensure!(first_limited < removed, "removed before any rate_limited");
    ensure!(
        log[removed]["reason"] == json!("too_many_messages"),
        "removed: {}",
        log[removed]
    );
    ensure!(
        closed.code == Some(1008) && closed.reason == "too_many_messages",
        "want close 1008 too_many_messages, got {closed:?}"
    );
    log.truncate(removed);
    Ok(log)
}

/// The flooder's removal is on the lesson's livestream log: a `removed` event about them with
/// the detail `too_many_messages` and no actor.
async fn removal_logged(s: &Shared, flooder: &Participant) -> Result<()> {
    let me = flooder.api.request(reqwest::Method::GET, "/api/me", None).await?;
    let user = Api::check(me.0, me.1).map_err(|e| anyhow!("/api/me: {e}"))?["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = format!("/api/log/lessons/{}", s.lesson.id);
    let deadline = Instant::now() + SIGNAL_TIMEOUT;
    loop {
        let (status, body) = s.lesson.teacher.api.request(reqwest::Method::GET, &path, None).await?;
        let log = Api::check(status, body).map_err(|e| anyhow!("{path}: {e}"))?;
        let found = log["events"].as_array().into_iter().flatten().any(|e| {
            e["kind"] == json!("removed")
                && e["subject_id"] == json!(user)
                && e["detail"] == json!("too_many_messages")
                && e["actor_id"].is_null()
        });
        if found {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "no `removed` `too_many_messages` event for {user} in the log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A flooder who comes straight back is kept out for a minute: `rate_limited` at the ticket
/// (if the ticket route limits it) or at `join`.
async fn kept_out(s: &Shared, flooder: &Participant) -> Result<()> {
    let ticket = match flooder.api.ticket(&s.lesson.id).await? {
        Ok(t) => t,
        Err(e) if e.code == "rate_limited" => return Ok(()),
        Err(e) => bail!("ticket after the removal: {e}"),
    };
    join_refused_as(&flooder.api, &s.server, "flooder again", &ticket.ticket, "rate_limited")
        .await
        .map(drop)
}

#[test]
fn hand_flood_is_rate_limited_then_removed_and_spares_a_slow_classmate() {
    shared_case(|s| async move {
        let slow = SlowReader::join(s).await?;
        let honest = s.join_fresh().await?;
        let flooder = s.join_fresh().await?;
        let teacher = &s.lesson.teacher.conn;
        let (t_mark, f_mark) = (teacher.mark(), flooder.conn.mark());
        let started = Instant::now();
        let raised = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            honest.send("hand", json!({"raised": true})).await
        };
        let (_, raised) = tokio::join!(
            flood(&flooder, FLOOD, |i| json!({"type": "hand", "raised": i % 2 == 0})),
            raised
        );
        raised?;
        refused_then_removed(&flooder, f_mark).await?;
        // The teacher hears that the flooder left, and heard of their hand a bounded number of times.
        let fid = flooder.id.clone();
        teacher
            .wait_for(t_mark, SIGNAL_TIMEOUT, "the flooder leaving", |m| {
                msg_type(m) == "participant_left" && m["participant_id"] == json!(fid)
            })
            .await?;
        let updates = teacher
            .messages_since(t_mark)
            .iter()
            .filter(|m| msg_type(m) == "participant_updated" && m["participant"]["id"] == json!(flooder.id))
            .count();
        ensure!(
            updates <= TEACHER_BOUND,
            "the teacher got {updates} updates of the flooder's hand in {:?}",
            started.elapsed()
        );
        removal_logged(s, &flooder).await?;
        kept_out(s, &flooder).await?;
        // The slow classmate was not evicted: it ends with the latest state and still gets pongs.
        let (hid, fid) = (honest.id.clone(), flooder.id.clone());
        slow.wait(Duration::from_secs(30), "the latest state", |_| {
            let people = slow.participants();
            !people.contains_key(&fid) && people.get(&hid).is_some_and(|p| p["hand_raised"] == json!(true))
        })
        .await?;
        slow.ping_pong(Duration::from_secs(20)).await?;
        ensure!(
            !slow.messages().iter().any(|m| msg_type(m) == "removed"),
            "the slow reader was removed"
        );
        let slow_left = teacher
            .messages_since(t_mark)
            .iter()
            .any(|m| msg_type(m) == "participant_left" && m["participant_id"] == json!(slow.id));
        ensure!(!slow_left, "the teacher heard the slow reader leave");
        honest.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        s.nothing_from(&flooder.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn floods_of_other_kinds_are_rate_limited_per_kind_then_removed() {
    shared_case(|s| async move {
        let teacher = s.lesson.teacher.id.clone();
        // (message, the answer each gets within the budget, that budget's burst)
        let kinds = [
            (
                json!({"type": "grant", "participant_id": teacher, "media": "camera"}),
                "forbidden_role",
                30,
            ),
            (
                json!({"type": "unpublish", "stream_id": "nothing"}),
                "unknown_stream",
                10,
            ),
            (
                json!({"type": "answer", "stream_id": "nothing", "sdp": "v=0\r\n"}),
                "unknown_stream",
                200,
            ),
        ];
        for (msg, answer, burst) in kinds {
            let flooder = s.join_fresh().await?;
            let mark = flooder.conn.mark();
            let m = msg.clone();
            flood(&flooder, FLOOD, move |_| m.clone()).await;
            let before = refused_then_removed(&flooder, mark)
                .await
                .with_context(|| format!("flooding {msg}"))?;
            // The lesson answers what passed; the socket answers the rest `rate_limited`.
            let answered = before.iter().filter(|m| code(m) == answer).count();
            // The burst (less the client's own `answer` to the teacher's offer, which counts
            // too), and at most a few more refilled while the flood lasted.
            ensure!(
                (burst - 1..=burst + 10).contains(&answered),
                "{msg}: {answered} `{answer}` answers before rate_limited (burst {burst})"
            );
            s.nothing_from(&flooder.id)?;
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn a_reader_that_answers_nothing_is_closed_by_the_ping_deadline() {
    shared_case(|s| async move {
        let teacher = &s.lesson.teacher.conn;
        let mark = teacher.mark();
        // Joined, then it neither reads (so it answers no Ping) nor sends anything.
        let (joined, _sink, mut stream) = raw_join(s).await?;
        let id = joined["participant_id"].as_str().unwrap_or_default().to_string();
        let started = Instant::now();
        teacher
            .wait_for(mark, PING_FINDS_DEAD_READER, "the stalled reader leaving", |m| {
                msg_type(m) == "participant_left" && m["participant_id"] == json!(id)
            })
            .await
            .context("the ping deadline did not find a reader that answers nothing")?;
        // What it would have read: a Ping, then `heartbeat_timeout` and close 1008.
        let (mut pings, mut error, mut close) = (0, None, None);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(SIGNAL_TIMEOUT, stream.next()).await {
            match frame {
                Message::Ping(_) => pings += 1,
                Message::Text(t) if t.as_str().contains("\"error\"") => error = Some(t.to_string()),
                Message::Close(c) => close = c.map(|c| u16::from(c.code)),
                _ => {}
            }
        }
        ensure!(
            pings >= 1,
            "no WebSocket Ping was sent (closed after {:?})",
            started.elapsed()
        );
        ensure!(
            error.as_deref().is_some_and(|e| e.contains("heartbeat_timeout")),
            "want heartbeat_timeout, got {error:?}"
        );
        // (Reading late, the close frame can be lost to a reset once the server has gone.)
        ensure!(close.is_none_or(|c| c == 1008), "want close 1008, got {close:?}");
        s.control_keeps_receiving().await
    });
}

#[test]
fn an_idle_client_that_answers_pings_stays() {
    shared_case(|s| async move {
        let api = s.signed_in(&s.fresh_pupil().await?).await?;
        let ticket = api.must_ticket(&s.lesson.id).await?;
        // Reads everything (the library answers each Ping) but sends no message of its own.
        let (conn, reply) = open_and_join_as(&api, &s.server, "idle", "/ws", &ticket.ticket, 1).await?;
        ensure!(msg_type(&reply) == "joined", "join: {reply}");
        tokio::time::sleep(Duration::from_secs(20)).await;
        ensure!(
            conn.closed().is_none(),
            "an idle client answering pings was closed: {:?}",
            conn.closed()
        );
        ensure!(conn.pings() >= 2, "{} WebSocket Pings in 20 s of quiet", conn.pings());
        conn.ping_pong(SIGNAL_TIMEOUT).await?;
        s.control_keeps_receiving().await
    });
}
