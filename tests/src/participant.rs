//! High-level test actors: a signed-in user joined to a lesson over signalling (with their HTTP
//! client and socket), plus the common scenario steps (teacher starts a lesson and publishes a
//! camera; a pupil joins and must receive the teacher's media).

use crate::api::Api;
use crate::relay::Relay;
use crate::rtc_client::{self, PublishRefused, Publisher, Subscription};
use crate::seed;
use crate::server::Server;
use crate::signal::{server_msg, Conn, OfferRewrite};
use anyhow::{anyhow, bail, Context, Result};
use livegate_core::proto::ServerMsg;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Timeout for one signalling round trip.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout for media to start flowing to a new receiver.
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(12);
/// Media a receiver must see from the teacher's camera.
pub const MIN_VIDEO_PACKETS: u64 = 50;
pub const MIN_AUDIO_PACKETS: u64 = 20;

/// A user joined to a lesson.
pub struct Participant {
    pub email: String,
    pub api: Api,
    pub conn: Conn,
    /// `participant_id` from `joined`.
    pub id: String,
    pub role: String,
    /// The whole `joined` message.
    pub joined: Value,
}

/// Opens a socket without a session and sends `join` with the given ticket and protocol
/// version. Returns the socket and the server's first reply to it (`joined` or `error`).
pub async fn open_and_join(
    server: &Server,
    label: &str,
    ws_path: &str,
    ticket: &str,
    protocol: i64,
) -> Result<(Conn, Value)> {
    let conn = Conn::connect(&server.ws_url(ws_path), label).await?;
    join_on(conn, ticket, protocol).await
}

/// Like [`open_and_join`], on a socket carrying `api`'s session and origin, as the browser of
/// the ticket's holder opens it.
pub async fn open_and_join_as(
    api: &Api,
    server: &Server,
    label: &str,
    ws_path: &str,
    ticket: &str,
    protocol: i64,
) -> Result<(Conn, Value)> {
    let conn = Conn::connect_with(&server.ws_url(ws_path), label, &api.ws_headers()).await?;
    join_on(conn, ticket, protocol).await
}

/// Sends `join` on an open socket; returns it and the server's first reply (`joined` or `error`).
pub async fn join_on(conn: Conn, ticket: &str, protocol: i64) -> Result<(Conn, Value)> {
    let mark = conn.mark();
    conn.send(json!({"type": "join", "protocol": protocol, "ticket": ticket}))
        .await?;
    let (_, reply) = conn
        .wait_for(mark, SIGNAL_TIMEOUT, "`joined` or `error` after join", |m| {
            matches!(server_msg(m), Some(ServerMsg::Joined { .. } | ServerMsg::Error { .. }))
        })
        .await?;
    Ok((conn, reply))
}

impl Participant {
    /// Signs in as `email`, gets a ticket for `lesson_id` and joins.
    pub async fn join(server: &Server, email: &str, lesson_id: &str) -> Result<Participant> {
        let api = Api::new(server);
        api.sign_in(email, seed::password_for(email)).await?;
        Participant::join_with(server, api, email, lesson_id).await
    }

    /// Joins with an already signed-in HTTP client.
    pub async fn join_with(server: &Server, api: Api, email: &str, lesson_id: &str) -> Result<Participant> {
        Participant::join_rewriting(server, api, email, lesson_id, None).await
    }

    /// Joins, receiving media through `relay`: the server's offers are rewritten to name the
    /// relay as the server's candidate before they are answered.
    pub async fn join_through(server: &Server, email: &str, lesson_id: &str, relay: &Relay) -> Result<Participant> {
        let api = Api::new(server);
        api.sign_in(email, seed::password_for(email)).await?;
        Participant::join_rewriting(server, api, email, lesson_id, Some(relay.sdp_rewrite())).await
    }

    async fn join_rewriting(
        server: &Server,
        api: Api,
        email: &str,
        lesson_id: &str,
        rewrite: Option<OfferRewrite>,
    ) -> Result<Participant> {
        let ticket = api
            .must_ticket(lesson_id)
            .await
            .with_context(|| format!("{email}: ticket"))?;
        let conn = Conn::connect_with(&server.ws_url(&ticket.ws_path), email, &api.ws_headers()).await?;
        if let Some(rewrite) = rewrite {
            conn.rewrite_offers(rewrite);
        }
        let (conn, reply) = join_on(conn, &ticket.ticket, 1).await?;
        let Some(ServerMsg::Joined {
            participant_id, role, ..
        }) = server_msg(&reply)
        else {
            bail!("{email}: join refused: {reply}");
        };
        let (id, role) = (participant_id.to_string(), role.as_str().to_string());
        conn.start_heartbeat(Duration::from_secs(5));
        Ok(Participant {
            email: email.to_string(),
            api,
            conn,
            id,
            role,
            joined: reply,
        })
    }

    /// Publishes a stream; `Ok(Err(error message))` if the server refuses it.
    pub async fn try_publish(
        &self,
        stream_id: &str,
        kind: &str,
        video: bool,
        audio: bool,
    ) -> Result<std::result::Result<Publisher, Value>> {
        self.try_publish_with(stream_id, kind, video, audio, false).await
    }

    /// Like [`try_publish`](Self::try_publish); with `keyframes_on_request` the video sends
    /// keyframes only at the start and when the server asks for one.
    pub async fn try_publish_with(
        &self,
        stream_id: &str,
        kind: &str,
        video: bool,
        audio: bool,
        keyframes_on_request: bool,
    ) -> Result<std::result::Result<Publisher, Value>> {
        let r = rtc_client::publish(
            &self.conn,
            stream_id,
            kind,
            video,
            audio,
            keyframes_on_request,
            None,
            SIGNAL_TIMEOUT,
        )
        .await
        .with_context(|| format!("{}: publish {stream_id}", self.email))?;
        Ok(r.map_err(|PublishRefused::Error(v)| v))
    }

    /// Publishes a `camera` stream whose video runs at `bits_per_second` at least (the clip's
    /// frames padded), with Opus audio.
    pub async fn publish_camera_at(&self, stream_id: &str, bits_per_second: u64) -> Result<Publisher> {
        rtc_client::publish(
            &self.conn,
            stream_id,
            "camera",
            true,
            true,
            false,
            Some(bits_per_second),
            SIGNAL_TIMEOUT,
        )
        .await
        .with_context(|| format!("{}: publish {stream_id}", self.email))?
        .map_err(|PublishRefused::Error(v)| anyhow!("{}: publish {stream_id} refused: {v}", self.email))
    }

    /// Publishes a stream that must be accepted.
    pub async fn publish(&self, stream_id: &str, kind: &str, video: bool, audio: bool) -> Result<Publisher> {
        self.try_publish(stream_id, kind, video, audio)
            .await?
            .map_err(|e| anyhow!("{}: publish {stream_id} ({kind}) refused: {e}", self.email))
    }

    /// Publishes a `camera` stream with VP8 video and Opus audio.
    pub async fn publish_camera(&self, stream_id: &str) -> Result<Publisher> {
        self.publish(stream_id, "camera", true, true).await
    }

    /// Waits for an `offer` (index >= `from`) of `kind` from `publisher_id`.
    pub async fn wait_stream_from(
        &self,
        from: usize,
        publisher_id: &str,
        kind: &str,
        timeout: Duration,
    ) -> Result<Arc<Subscription>> {
        let what = format!("an `offer` of {kind} from {publisher_id}");
        self.conn
            .wait_offer(from, timeout, &what, |m| {
                matches!(server_msg(m), Some(ServerMsg::Offer { publisher_id: p, kind: k, .. })
                    if p.as_str() == publisher_id && k.as_str() == kind)
            })
            .await
    }

    /// Sends a message with `type` plus the given fields.
    pub async fn send(&self, ty: &str, fields: Value) -> Result<()> {
        let mut msg = fields;
        if msg.is_null() {
            msg = json!({});
        }
        msg.as_object_mut()
            .ok_or_else(|| anyhow!("fields must be an object"))?
            .insert("type".into(), Value::String(ty.into()));
        self.conn.send(msg).await
    }
}

/// A lesson started by a teacher who has joined it.
pub struct Lesson {
    pub id: String,
    pub teacher: Participant,
}

/// Teacher `email` signs in, starts a lesson for `class_id` and joins it.
pub async fn start_lesson(server: &Server, email: &str, class_id: &str) -> Result<Lesson> {
    let api = Api::new(server);
    api.sign_in(email, seed::password_for(email)).await?;
    let (status, lesson) = api.start_lesson(class_id).await?;
    if status != 201 {
        bail!("starting a new lesson for {class_id}: expected 201, got {status}: {lesson:?}");
    }
    let id = lesson.id.to_string();
    let teacher = Participant::join_with(server, api, email, &id).await?;
    if teacher.role != "teacher" {
        bail!("{email} joined with role {:?}, want teacher", teacher.role);
    }
    Ok(Lesson { id, teacher })
}

/// Ms Rivera starts the 7a lesson and publishes her camera (VP8 + Opus) as stream "cam".
pub async fn live_7a_with_camera(server: &Server) -> Result<(Lesson, Publisher)> {
    let lesson = start_lesson(server, seed::TEACHER, seed::CLASS_7A).await?;
    let camera = lesson.teacher.publish_camera("cam").await?;
    Ok((lesson, camera))
}

/// `email` joins `lesson` and must receive the teacher's camera: video (with a keyframe) and
/// audio, through the server's single media port.
pub async fn pupil_receives_teacher_camera(
    server: &Server,
    lesson: &Lesson,
    email: &str,
) -> Result<(Participant, Arc<Subscription>)> {
    let pupil = Participant::join(server, email, &lesson.id).await?;
    if pupil.role != "pupil" {
        bail!("{email} joined with role {:?}, want pupil", pupil.role);
    }
    let sub = pupil
        .wait_stream_from(0, &lesson.teacher.id, "camera", SIGNAL_TIMEOUT)
        .await
        .with_context(|| format!("{email}: waiting for the teacher's camera offer"))?;
    sub.wait_media(MIN_VIDEO_PACKETS, MIN_AUDIO_PACKETS, MEDIA_TIMEOUT)
        .await
        .with_context(|| format!("{email}: media from the teacher's camera"))?;
    assert_media_port(server, &sub)
        .await
        .with_context(|| format!("{email}: media port"))?;
    eprintln!(
        "[{email}] stream {} from {}: {} (media port {})",
        sub.stream_id,
        sub.publisher_id,
        sub.stats.summary(),
        server.media_addr.port()
    );
    Ok((pupil, sub))
}

/// The server's offer names only its single media port, and ICE selected that port.
pub async fn assert_media_port(server: &Server, sub: &Subscription) -> Result<()> {
    let port = server.media_addr.port();
    let cands = rtc_client::sdp_candidates(&sub.offer_sdp);
    if cands.is_empty() {
        bail!("the server's offer has no a=candidate line (ICE-lite server must include its host candidate)");
    }
    if let Some(bad) = cands.iter().find(|(_, p)| *p != port) {
        bail!("the server's offer has candidate {bad:?}, but the media port is {port}; all: {cands:?}");
    }
    let pc = sub.pc().ok_or_else(|| anyhow!("no peer connection"))?;
    let selected = rtc_client::selected_remote_candidate(&pc)
        .await
        .ok_or_else(|| anyhow!("getStats has no selected candidate pair"))?;
    if selected.1 != port {
        bail!("ICE selected remote candidate {selected:?}, but the media port is {port}");
    }
    Ok(())
}
