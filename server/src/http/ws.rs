//! The signalling WebSocket: authorise with a ticket in the first message (redeemed only by
//! the session and origin it was issued to), then relay messages between the client and its
//! lesson's task.
//!
//! One task per socket does everything: it reads the client, writes the lesson's outbox, and
//! watches the heartbeat. When the lesson closes the outbox (the participant was removed,
//! refused at the lobby, replaced, or the lesson ended) the socket closes; when the socket
//! closes the participant leaves the lesson (or its lobby).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use tokio::sync::{mpsc, oneshot};

use super::auth::Presenter;
use super::App;
use crate::admission::Decision;
use crate::error::{ApiError, ErrorCode};
use crate::ids::ParticipantId;
use crate::lesson::{JoinRequest, LessonHandle, LessonMsg, OUTBOX};
use crate::proto::{ClientMsg, ServerMsg, MAX_MESSAGE_BYTES, PROTOCOL_VERSION};

/// How long a new socket has to send `join`.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a socket may stay silent.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);

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
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let device = crate::lesson::device_summary(ua);
    let mut kept = HeaderMap::new();
    for name in [header::COOKIE, header::ORIGIN] {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    let upgrade = Upgrade { device, headers: kept };
    // Counted while open, so a graceful shutdown can wait for the sockets to close.
    let open = super::shutdown::Socket::open(&app);
    ws.max_message_size(MAX_MESSAGE_BYTES).max_frame_size(MAX_MESSAGE_BYTES).on_upgrade(move |socket| async move {
        run(app, socket, upgrade).await;
        drop(open);
    })
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> bool {
    let text = serde_json::to_string(msg).unwrap_or_default();
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn close(mut socket: WebSocket, code: u16, error: Option<ErrorCode>) {
    if let Some(code) = error {
        send(&mut socket, &ServerMsg::error(code, None)).await;
    }
    let reason = Utf8Bytes::from(error.map(|c| c.as_str()).unwrap_or(""));
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason }))).await;
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
        return match socket.recv().await {
            None | Some(Ok(Message::Close(_))) => Incoming::Closed,
            Some(Err(e)) => {
                // A frame or message over the limit; the socket reads nothing more after it,
                // but can still send the error and the close (the listener lingers on drop so
                // the rest of the frame does not turn the close into a reset: http/linger.rs).
                let too_big = e.into_inner().downcast::<tungstenite::Error>().is_ok_and(|e| {
                    matches!(*e, tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong { .. }))
                });
                if too_big { Incoming::TooBig } else { Incoming::Closed }
            }
            Some(Ok(Message::Text(text))) => match ClientMsg::parse(&text) {
                Ok(msg) => Incoming::Msg(msg),
                Err(_) => Incoming::Bad,
            },
            Some(Ok(Message::Binary(_))) => Incoming::Bad,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        };
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
            let _ = futures_util::SinkExt::flush(&mut socket).await;
        }
        RelayEnd::LessonClosed => close(socket, CLOSE_NORMAL, None).await,
        RelayEnd::Error(code, close_code) => close(socket, close_code, Some(code)).await,
    }
}

type Joined = (LessonHandle, ParticipantId, mpsc::Receiver<ServerMsg>);

/// Redeems the ticket (only for its holder: checked before it is spent, so a thief's attempt
/// leaves it usable), runs the gate again, and joins the lesson.
async fn join(app: &App, ticket: &str, upgrade: Upgrade) -> Result<Joined, ErrorCode> {
    app.shutdown.check()?;
    let session = app.sessions.user_from(&app.store, &upgrade.headers).await.map_err(|e| ApiError::from(e).0)?;
    let origin = upgrade.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let by = Presenter { user: session.as_ref().map(|u| &u.id), origin };
    let (_, lesson_id) = app.tickets.redeem(ticket, by).ok_or(ErrorCode::TicketInvalid)?;
    // The session's user is the ticket's: the one read just now.
    let user = session.ok_or(ErrorCode::TicketInvalid)?;
    let device = upgrade.device;
    let lesson = app.lesson(&lesson_id).ok_or(ErrorCode::TicketInvalid)?;
    // Staff the gate sends to the lobby join too: the lesson keeps them waiting (`lobby`)
    // until the teacher admits them. The lesson runs the gate once more when it seats anyone.
    let decision = super::admit(app, &user, &lesson, "join").await.map_err(|e| e.0)?;
    if let Decision::Refuse(code) = decision {
        return Err(code);
    }
    let (tx, rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let req = JoinRequest { user, device, outbox: tx, reply };
    if !lesson.send(LessonMsg::Join(req)).await {
        return Err(ErrorCode::LessonNotLive);
    }
    let participant = answer.await.map_err(|_| ErrorCode::LessonNotLive)??;
    tracing::info!(lesson = %lesson_id, %participant, lobby = decision == Decision::Lobby, "joined");
    Ok((lesson, participant, rx))
}

enum RelayEnd {
    ClientClosed,
    LessonClosed,
    Error(ErrorCode, u16),
}

async fn relay(
    socket: &mut WebSocket,
    lesson: &LessonHandle,
    participant: &ParticipantId,
    outbox: &mut mpsc::Receiver<ServerMsg>,
) -> RelayEnd {
    loop {
        let heartbeat = tokio::time::sleep(HEARTBEAT_TIMEOUT);
        tokio::select! {
            out = outbox.recv() => match out {
                Some(msg) => {
                    if !send(socket, &msg).await {
                        return RelayEnd::ClientClosed;
                    }
                }
                None => return RelayEnd::LessonClosed,
            },
            incoming = next_message(socket) => match incoming {
                Incoming::Msg(ClientMsg::Ping) => {
                    if !send(socket, &ServerMsg::Pong).await {
                        return RelayEnd::ClientClosed;
                    }
                }
                Incoming::Msg(ClientMsg::Join { .. }) | Incoming::Bad => {
                    if !send(socket, &ServerMsg::error(ErrorCode::BadMessage, None)).await {
                        return RelayEnd::ClientClosed;
                    }
                }
                Incoming::Msg(msg) => {
                    if !lesson.send(LessonMsg::Client(participant.clone(), msg)).await {
                        return RelayEnd::LessonClosed;
                    }
                }
                Incoming::TooBig => return RelayEnd::Error(ErrorCode::MessageTooLarge, CLOSE_TOO_BIG),
                Incoming::Closed => return RelayEnd::ClientClosed,
            },
            _ = heartbeat => return RelayEnd::Error(ErrorCode::HeartbeatTimeout, CLOSE_POLICY),
        }
    }
}
