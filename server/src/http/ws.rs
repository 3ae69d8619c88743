//! The signalling WebSocket: authorise with a ticket in the first message (redeemed only by
//! the session and origin it was issued to), then relay messages between the client and its
//! lesson's task.
//!
//! One task per socket does everything: it reads the client, writes the lesson's outbox, and
//! watches the heartbeat. When the lesson closes the outbox (the participant was removed,
//! refused at the lobby, replaced, or the lesson ended) the socket closes; when the socket
//! closes the participant leaves the lesson (or its lobby).
//!
//! The task also keeps the client to its budgets (`livegate_core::budget`): a message past its kind's
//! budget is answered `rate_limited` and dropped before it reaches the lesson, and a client
//! that keeps on is removed by the lesson as a flooder. It sends a WebSocket Ping when the
//! client has been quiet for [`PING_AFTER`] and closes the socket if nothing comes back within
//! [`PONG_DEADLINE`]; no write may take longer than [`WRITE_DEADLINE`]. So a dead or stalled
//! reader is found in seconds, beside the app-level heartbeat (`ping`, [`HEARTBEAT_TIMEOUT`]).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use livegate_core::codes::ErrorCode;

use super::auth::session_token;
use super::App;
use crate::app::access::Presenter;
use crate::http::error::ApiError;
use crate::lesson::gate::{self, Stage};
use crate::lesson::{JoinRequest, LessonHandle, LessonMsg, Outgoing, OUTBOX};
use livegate_core::admission::Decision;
use livegate_core::budget::{Budgets, Kind, Verdict};
use livegate_core::ids::{ParticipantId, StreamId};
use livegate_core::proto::{ClientMsg, ServerMsg, MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

/// How long a new socket has to send `join`.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a socket may go without a message of the protocol (`ping` is one).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may be quiet (no frame at all) before the server sends a WebSocket Ping.
pub const PING_AFTER: Duration = Duration::from_secs(5);
/// How long after a Ping the client has to be heard from (a Pong or any frame).
pub const PONG_DEADLINE: Duration = Duration::from_secs(10);
/// The longest one write to the client may wait for the client to read.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// How long a flooder's socket waits for the lesson's `removed` before it closes anyway.
const REMOVAL_GRACE: Duration = Duration::from_secs(5);

const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_NORMAL: u16 = 1000;

/// What the upgrade request said about who is connecting: the ticket is redeemed only by the
/// session of its holder, from the origin that asked for it.
struct Upgrade {
    /// A summary of the User-Agent header, for the livestream log.
    device: String,
    /// Only the session cookie and the `Origin` header of the upgrade request.
    headers: HeaderMap,
}

/// `GET /ws`
pub async fn upgrade(State(app): State<App>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    // The server's own observation of the client, summarised for the livestream log.
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let device = crate::lesson::device_summary(ua);
    let mut kept = HeaderMap::new();
    for name in [header::COOKIE, header::ORIGIN] {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    let upgrade = Upgrade { device, headers: kept };
    // Counted while open, so a graceful shutdown can wait for the sockets to close.
    let open = crate::app::shutdown::Socket::open(&app);
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            run(app, socket, upgrade).await;
            drop(open);
        })
}

/// Writes one message within [`WRITE_DEADLINE`].
async fn write(socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), RelayEnd> {
    let text = serde_json::to_string(msg).unwrap_or_default();
    write_frame(socket, Message::Text(text.into())).await
}

/// A reader who takes nothing for [`WRITE_DEADLINE`] has stalled: the socket is closed as
/// silent rather than left holding its task and buffers.
async fn write_frame(socket: &mut WebSocket, frame: Message) -> Result<(), RelayEnd> {
    match tokio::time::timeout(WRITE_DEADLINE, socket.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(RelayEnd::ClientClosed),
        Err(_) => Err(RelayEnd::Error(ErrorCode::HeartbeatTimeout, CLOSE_POLICY)),
    }
}

async fn close(mut socket: WebSocket, code: u16, error: Option<ErrorCode>) {
    if let Some(code) = error {
        if write(&mut socket, &ServerMsg::error(code, None)).await.is_err() {
            return; // gone or stalled: no close frame either
        }
    }
    close_frame(socket, code, error.map(|c| c.as_str()).unwrap_or("")).await;
}

async fn close_frame(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }));
    let _ = write_frame(&mut socket, frame).await;
}

/// What the client sent, reduced to what we act on.
enum Incoming {
    Msg(ClientMsg),
    Bad,
    TooBig,
    Closed,
}

async fn next_message(socket: &mut WebSocket) -> Incoming {
    loop {
        return match next_frame(socket).await {
            Frame::Msg(msg) => Incoming::Msg(msg),
            Frame::Bad => Incoming::Bad,
            Frame::TooBig => Incoming::TooBig,
            Frame::Closed => Incoming::Closed,
            Frame::Control => continue,
        };
    }
}

/// One frame from the client, reduced to what we act on; Ping and Pong frames are kept (as
/// [`Frame::Control`]) because they show the client is alive.
enum Frame {
    Msg(ClientMsg),
    Bad,
    TooBig,
    Closed,
    Control,
}

async fn next_frame(socket: &mut WebSocket) -> Frame {
    match socket.recv().await {
        None | Some(Ok(Message::Close(_))) => Frame::Closed,
        Some(Err(e)) => {
            // A frame or message over the limit; the socket reads nothing more after it,
            // but can still send the error and the close (the listener lingers on drop so
            // the rest of the frame does not turn the close into a reset: http/linger.rs).
            let too_big = e.into_inner().downcast::<tungstenite::Error>().is_ok_and(|e| {
                matches!(
                    *e,
                    tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong { .. })
                )
            });
            if too_big {
                Frame::TooBig
            } else {
                Frame::Closed
            }
        }
        Some(Ok(Message::Text(text))) => match ClientMsg::parse(&text) {
            Ok(msg) => Frame::Msg(msg),
            Err(_) => Frame::Bad,
        },
        Some(Ok(Message::Binary(_))) => Frame::Bad,
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Frame::Control,
    }
}

async fn run(app: App, mut socket: WebSocket, upgrade: Upgrade) {
    let first = tokio::time::timeout(JOIN_TIMEOUT, next_message(&mut socket)).await;
    let (protocol, ticket) = match first {
        Ok(Incoming::Msg(ClientMsg::Join { protocol, ticket })) => (protocol, ticket),
        Ok(Incoming::TooBig) => return close(socket, CLOSE_TOO_BIG, Some(ErrorCode::MessageTooLarge)).await,
        Ok(Incoming::Closed) => return,
        _ => return close(socket, CLOSE_POLICY, Some(ErrorCode::NotJoined)).await,
    };
    if protocol != PROTOCOL_VERSION {
        return close(socket, CLOSE_POLICY, Some(ErrorCode::ProtocolMismatch)).await;
    }
    let joined = match join(&app, &ticket, upgrade).await {
        Ok(joined) => joined,
        Err(code) => return close(socket, CLOSE_POLICY, Some(code)).await,
    };
    let (lesson, participant, mut outbox) = joined;
    let end = relay(&mut socket, &lesson, &participant, &mut outbox).await;
    lesson.send(LessonMsg::Leave(participant)).await;
    match end {
        // Flushing sends the Close reply the library queued, so the client sees a clean close.
        RelayEnd::ClientClosed => {
            let _ = tokio::time::timeout(WRITE_DEADLINE, futures_util::SinkExt::flush(&mut socket)).await;
        }
        RelayEnd::LessonClosed => close(socket, CLOSE_NORMAL, None).await,
        RelayEnd::Error(code, close_code) => close(socket, close_code, Some(code)).await,
        RelayEnd::Flooded => close_frame(socket, CLOSE_POLICY, ErrorCode::TooManyMessages.as_str()).await,
    }
}

type Joined = (LessonHandle, ParticipantId, mpsc::Receiver<Outgoing>);

/// Redeems the ticket (only for its holder: checked before it is spent, so a thief's attempt
/// leaves it usable) and asks the lesson to seat its holder. No gate runs here: the ticket
/// carries the identity the gate admitted, and the lesson runs the gate's second stage itself
/// when it seats them (`lesson::gate`), writing the join's audit entry or the refusal's log row.
async fn join(app: &App, ticket: &str, upgrade: Upgrade) -> Result<Joined, ErrorCode> {
    app.lessons.check_open()?;
    let session = app
        .sessions
        .user_from(&app.store, session_token(&upgrade.headers))
        .await
        .map_err(|e| ApiError::from(e).0)?;
    let origin = upgrade.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let by = Presenter {
        user: session.as_ref().map(|u| &u.id),
        origin,
    };
    let (_, lesson_id) = app.tickets.redeem(ticket, by).ok_or(ErrorCode::TicketInvalid)?;
    // The session's user is the ticket's: the one read just now.
    let user = session.ok_or(ErrorCode::TicketInvalid)?;
    let device = upgrade.device;
    let lesson = app.lessons.get(&lesson_id).ok_or(ErrorCode::TicketInvalid)?;
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let req = JoinRequest {
        user: user.clone(),
        device,
        outbox: tx,
        reply,
    };
    // The lesson answers, or it has ended since the ticket (its task gone, or going with the
    // request unread): a refusal the gate did not need to run for, recorded as the gate would.
    let answered = if lesson.send(LessonMsg::Join(req)).await {
        answer.await.ok()
    } else {
        None
    };
    let Some(answer) = answered else {
        let refused = Decision::Refuse(ErrorCode::LessonNotLive);
        gate::record(&app.store, &user, &lesson, Stage::Join, refused)
            .await
            .map_err(|e| ApiError::from(e).0)?;
        return Err(ErrorCode::LessonNotLive);
    };
    let participant = answer?;
    tracing::info!(lesson = %lesson_id, %participant, "joined");
    Ok((lesson, participant, rx))
}

enum RelayEnd {
    ClientClosed,
    LessonClosed,
    Error(ErrorCode, u16),
    /// Removed for sending past the budgets: the lesson said `removed`; close with 1008.
    Flooded,
}

/// When the client was last heard from, and what is due because of it. Pure: the relay passes
/// the time in.
#[derive(Debug, Clone, Copy)]
struct Liveness {
    /// Any frame, a Pong included.
    heard: Instant,
    /// A message of the protocol: only these count for the heartbeat (`heartbeat_timeout`).
    spoke: Instant,
    /// When we sent a Ping that nothing has answered yet.
    pinged: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Ping,
    /// Silent past the heartbeat, or nothing at all since a Ping for [`PONG_DEADLINE`].
    Dead,
}

impl Liveness {
    fn new(now: Instant) -> Self {
        Self {
            heard: now,
            spoke: now,
            pinged: None,
        }
    }

    fn heard(&mut self, now: Instant) {
        self.heard = now;
        self.pinged = None;
    }

    fn spoke(&mut self, now: Instant) {
        self.heard(now);
        self.spoke = now;
    }

    /// The next moment [`due`](Self::due) may have something.
    fn next(&self) -> Instant {
        let quiet = match self.pinged {
            Some(at) => at + PONG_DEADLINE,
            None => self.heard + PING_AFTER,
        };
        quiet.min(self.spoke + HEARTBEAT_TIMEOUT)
    }

    fn due(&self, now: Instant) -> Option<Due> {
        if now >= self.spoke + HEARTBEAT_TIMEOUT {
            return Some(Due::Dead);
        }
        match self.pinged {
            Some(at) if now >= at + PONG_DEADLINE => Some(Due::Dead),
            None if now >= self.heard + PING_AFTER => Some(Due::Ping),
            _ => None,
        }
    }
}

/// One joined socket: the client on one side, the lesson's outbox on the other.
struct Relay<'a> {
    socket: &'a mut WebSocket,
    lesson: &'a LessonHandle,
    participant: &'a ParticipantId,
    live: Liveness,
    budgets: Budgets,
    /// Set once the lesson has been told this client floods: read nothing more, deliver the
    /// lesson's last words until this moment, then close.
    removing: Option<Instant>,
}

async fn relay(
    socket: &mut WebSocket,
    lesson: &LessonHandle,
    participant: &ParticipantId,
    outbox: &mut mpsc::Receiver<Outgoing>,
) -> RelayEnd {
    let now = Instant::now();
    let mut relay = Relay {
        socket,
        lesson,
        participant,
        live: Liveness::new(now),
        budgets: Budgets::new(now.into_std()),
        removing: None,
    };
    loop {
        let wake = relay.removing.unwrap_or_else(|| relay.live.next());
        let step = tokio::select! {
            out = outbox.recv() => match out {
                Some(out) => relay.deliver(out).await,
                None if relay.removing.is_some() => Err(RelayEnd::Flooded),
                None => Err(RelayEnd::LessonClosed),
            },
            frame = next_frame(relay.socket), if relay.removing.is_none() => relay.incoming(frame).await,
            () = tokio::time::sleep_until(wake) => relay.tick().await,
        };
        if let Err(end) = step {
            return end;
        }
    }
}

impl Relay<'_> {
    /// Sends what the lesson queued; for state, the newest (`lesson::outbox`).
    async fn deliver(&mut self, out: Outgoing) -> Result<(), RelayEnd> {
        match out {
            Outgoing::Msg(msg) => write(self.socket, &msg).await,
            Outgoing::State(state) => {
                for msg in state.take() {
                    write(self.socket, &msg).await?;
                }
                Ok(())
            }
        }
    }

    async fn incoming(&mut self, frame: Frame) -> Result<(), RelayEnd> {
        let now = Instant::now();
        let msg = match frame {
            Frame::Control => {
                self.live.heard(now);
                return Ok(());
            }
            Frame::Closed => return Err(RelayEnd::ClientClosed),
            Frame::TooBig => return Err(RelayEnd::Error(ErrorCode::MessageTooLarge, CLOSE_TOO_BIG)),
            Frame::Bad => None,
            Frame::Msg(msg) => Some(msg),
        };
        self.live.spoke(now);
        let kind = msg.as_ref().map_or(Kind::Bad, Kind::of);
        match self.budgets.check(kind, now.into_std()) {
            Verdict::Pass => {}
            Verdict::Refuse => {
                return write(
                    self.socket,
                    &ServerMsg::error(ErrorCode::RateLimited, msg.as_ref().and_then(stream_of)),
                )
                .await
            }
            Verdict::Flooding => {
                if !self.lesson.send(LessonMsg::Flooding(self.participant.clone())).await {
                    return Err(RelayEnd::LessonClosed);
                }
                self.removing = Some(now + REMOVAL_GRACE);
                return Ok(());
            }
        }
        match msg {
            Some(ClientMsg::Ping) => write(self.socket, &ServerMsg::Pong).await,
            Some(ClientMsg::Join { .. }) | None => {
                write(self.socket, &ServerMsg::error(ErrorCode::BadMessage, None)).await
            }
            Some(msg) => match self.lesson.send(LessonMsg::Client(self.participant.clone(), msg)).await {
                true => Ok(()),
                false => Err(RelayEnd::LessonClosed),
            },
        }
    }

    /// A timer fired: ping a quiet client, close a dead one, or end a removal.
    async fn tick(&mut self) -> Result<(), RelayEnd> {
        if self.removing.is_some() {
            return Err(RelayEnd::Flooded);
        }
        let now = Instant::now();
        match self.live.due(now) {
            Some(Due::Dead) => Err(RelayEnd::Error(ErrorCode::HeartbeatTimeout, CLOSE_POLICY)),
            Some(Due::Ping) => {
                self.live.pinged = Some(now);
                write_frame(self.socket, Message::Ping(Default::default())).await
            }
            None => Ok(()),
        }
    }
}

/// The stream a client message is about, so a refusal can name it.
fn stream_of(msg: &ClientMsg) -> Option<StreamId> {
    match msg {
        ClientMsg::Publish { stream_id, .. }
        | ClientMsg::Unpublish { stream_id }
        | ClientMsg::Answer { stream_id, .. }
        | ClientMsg::Candidate { stream_id, .. } => Some(stream_id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
