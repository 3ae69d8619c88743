//! The publishing side: a sendonly peer connection offering VP8 and/or Opus, `publish` on the
//! signalling socket, and the pump that loops the test clip at real-time pace (keyframes at
//! the start and, in the browser's mode, whenever the server asks for one).

use super::{build_pc, wait_gathered};
use crate::media::{self, Clip};
use crate::signal::{server_msg, Conn};
use anyhow::{anyhow, Context, Result};
use livegate_core::proto::ServerMsg;
use livegate_sfu::profile::{self, is_keyframe_request, Remb};
use livegate_sfu::TrackKind;
use rtc::media::Sample;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::{MediaEngine, PeerConnection, RTCPeerConnectionState, RTCSessionDescription};
/// Counters for what a publisher wrote.
#[derive(Default, Debug)]
pub struct TxStats {
    pub video_frames: AtomicU64,
    pub audio_packets: AtomicU64,
    pub write_errors: AtomicU64,
    /// PLI/FIR packets the server sent for our video.
    pub keyframe_requests: AtomicU64,
    /// Keyframes we wrote.
    pub keyframes_sent: AtomicU64,
}

impl TxStats {
    pub fn written(&self) -> u64 {
        self.video_frames.load(Ordering::Relaxed) + self.audio_packets.load(Ordering::Relaxed)
    }
    pub fn keyframe_requests(&self) -> u64 {
        self.keyframe_requests.load(Ordering::Relaxed)
    }
    pub fn keyframes_sent(&self) -> u64 {
        self.keyframes_sent.load(Ordering::Relaxed)
    }
}

/// A stream this client publishes (`publish` accepted, media flowing).
pub struct Publisher {
    pub stream_id: String,
    pub kind: String,
    pub answer_sdp: String,
    pub pc: Arc<dyn PeerConnection>,
    pub tx: Arc<TxStats>,
    state: watch::Receiver<RTCPeerConnectionState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Publisher {
    /// Waits for the peer connection to reach `connected`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut st = self.state.clone();
        tokio::time::timeout(timeout, st.wait_for(|s| *s == RTCPeerConnectionState::Connected))
            .await
            .map_err(|_| {
                anyhow!(
                    "publisher {} not connected within {timeout:?} (state {:?})",
                    self.stream_id,
                    *self.state.borrow()
                )
            })?
            .map_err(|_| anyhow!("publisher {} dropped", self.stream_id))?;
        Ok(())
    }

    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.state.borrow()
    }

    /// Stops sending media and closes the peer connection.
    pub async fn stop(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let _ = self.pc.close().await;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

/// Why `publish` did not produce a stream.
#[derive(Debug)]
pub enum PublishRefused {
    /// The server answered with `error`.
    Error(Value),
}

/// A publishing peer connection whose offer is ready but not yet answered.
pub struct PendingPublisher {
    pub stream_id: String,
    pub offer_sdp: String,
    pc: Arc<dyn PeerConnection>,
    state: watch::Receiver<RTCPeerConnectionState>,
    clip: Arc<Clip>,
    keyframes_on_request: bool,
    tracks: Vec<OfferedTrack>,
}

/// One track of a pending offer: its kind, the track, its SSRC, its default payload type and
/// its transceiver.
type OfferedTrack = (
    RtpCodecKind,
    Arc<TrackLocalStaticSample>,
    u32,
    u8,
    Arc<dyn webrtc::rtp_transceiver::RtpTransceiver>,
);

impl PendingPublisher {
    /// Builds a sendonly peer connection with VP8 video and/or Opus audio and creates its offer
    /// (non-trickle: it carries our host candidate).
    pub async fn new(stream_id: &str, video: bool, audio: bool) -> Result<PendingPublisher> {
        PendingPublisher::with_mode(stream_id, video, audio, false, None).await
    }

    /// Like [`new`](Self::new). With `keyframes_on_request` the video sends one keyframe at the
    /// start and then only when the server asks (PLI/FIR); otherwise it loops the clip, which
    /// has a keyframe every second. With `video_rate` (bits per second) the video frames are
    /// padded to at least that rate ([`media::clip_at`]).
    pub async fn with_mode(
        stream_id: &str,
        video: bool,
        audio: bool,
        keyframes_on_request: bool,
        video_rate: Option<u64>,
    ) -> Result<PendingPublisher> {
        let clip = match video_rate {
            Some(rate) => tokio::task::spawn_blocking(move || media::clip_at(rate)).await??,
            None => tokio::task::spawn_blocking(media::clip).await??,
        };
        let mut me = MediaEngine::default();
        if video {
            me.register_codec(profile::vp8_codec(Remb::Offered), RtpCodecKind::Video)?;
        }
        if audio {
            me.register_codec(profile::opus_codec(), RtpCodecKind::Audio)?;
        }
        let mut built = build_pc(
            me,
            None,
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(Mutex::new(Vec::new())),
            true,
        )
        .await?;
        let pc = built.pc.clone();

        let mut tracks = Vec::new();
        for (enabled, kind, track_kind) in [
            (video, RtpCodecKind::Video, TrackKind::Video),
            (audio, RtpCodecKind::Audio, TrackKind::Audio),
        ] {
            if !enabled {
                continue;
            }
            let ssrc = rand::random::<u32>();
            let label = if kind == RtpCodecKind::Video { "video" } else { "audio" };
            let track_id = format!("{stream_id}-{label}");
            let track = profile::send_track(stream_id, &track_id, label, track_kind, Remb::Offered, ssrc);
            let track = Arc::new(TrackLocalStaticSample::new(Instant::now(), track)?);
            let transceiver = pc
                .add_transceiver_from_track(
                    track.clone() as Arc<dyn TrackLocal>,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Sendonly,
                        streams: vec![stream_id.to_string()],
                        send_encodings: vec![],
                    }),
                )
                .await?;
            tracks.push((kind, track, ssrc, profile::payload_type(track_kind), transceiver));
        }

        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        wait_gathered(&mut built.gathered).await?;
        let local = pc
            .local_description()
            .await
            .ok_or_else(|| anyhow!("no local description"))?;
        Ok(PendingPublisher {
            stream_id: stream_id.to_string(),
            offer_sdp: local.sdp,
            pc,
            state: built.state,
            clip,
            keyframes_on_request,
            tracks,
        })
    }

    /// Gives up on this offer.
    pub async fn close(self) {
        let _ = self.pc.close().await;
    }

    /// Applies the answer and starts looping the clip.
    pub async fn start(self, kind: &str, answer_sdp: String) -> Result<Publisher> {
        self.pc
            .set_remote_description(RTCSessionDescription::answer(answer_sdp.clone())?)
            .await
            .context("applying the answer")?;
        let tx = Arc::new(TxStats::default());
        let mut pumps = Vec::new();
        for (kind_, track, ssrc, default_pt, transceiver) in self.tracks {
            let pt = match transceiver.sender().await {
                Ok(Some(sender)) => sender
                    .get_parameters()
                    .await
                    .ok()
                    .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type))
                    .unwrap_or(default_pt),
                _ => default_pt,
            };
            let want_key = Arc::new(AtomicBool::new(true));
            if kind_ == RtpCodecKind::Video {
                pumps.push(tokio::spawn(watch_keyframe_requests(
                    track.clone(),
                    want_key.clone(),
                    tx.clone(),
                )));
            }
            let mode = PumpMode {
                on_request: self.keyframes_on_request,
                want_key,
            };
            pumps.push(tokio::spawn(pump(
                kind_,
                track,
                ssrc,
                pt,
                self.clip.clone(),
                tx.clone(),
                mode,
            )));
        }
        Ok(Publisher {
            stream_id: self.stream_id,
            kind: kind.to_string(),
            answer_sdp,
            pc: self.pc,
            tx,
            state: self.state,
            tasks: pumps,
        })
    }
}

/// Offers a stream (`publish`) on `conn`: VP8 video (at least `video_rate` bits per second, if
/// given) and/or Opus audio, sendonly. Returns the running publisher, or the server's `error`
/// message.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    conn: &Conn,
    stream_id: &str,
    kind: &str,
    video: bool,
    audio: bool,
    keyframes_on_request: bool,
    video_rate: Option<u64>,
    timeout: Duration,
) -> Result<std::result::Result<Publisher, PublishRefused>> {
    let pending = PendingPublisher::with_mode(stream_id, video, audio, keyframes_on_request, video_rate).await?;
    let mark = conn.mark();
    conn.send(json!({"type": "publish", "stream_id": stream_id, "kind": kind, "sdp": pending.offer_sdp}))
        .await?;
    let (_, reply) = conn
        .wait_for(
            mark,
            timeout,
            &format!("`answer` or `error` for publish {stream_id}"),
            |m| match server_msg(m) {
                Some(ServerMsg::Answer { stream_id: id, .. }) => id.as_str() == stream_id,
                Some(ServerMsg::Error { stream_id: id, .. }) => id.is_none_or(|id| id.as_str() == stream_id),
                _ => false,
            },
        )
        .await?;
    let answer_sdp = match server_msg(&reply) {
        Some(ServerMsg::Answer { sdp, .. }) => sdp,
        _ => {
            pending.close().await;
            return Ok(Err(PublishRefused::Error(reply)));
        }
    };
    let answer_sdp = conn.rewritten(answer_sdp);
    Ok(Ok(pending.start(kind, answer_sdp).await?))
}

/// Counts the server's PLI/FIR for one video track and flags that a keyframe is wanted.
async fn watch_keyframe_requests(track: Arc<TrackLocalStaticSample>, want_key: Arc<AtomicBool>, tx: Arc<TxStats>) {
    loop {
        match track.poll().await {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                let n = packets.iter().filter(|p| is_keyframe_request(p.as_ref())).count() as u64;
                if n > 0 {
                    tx.keyframe_requests.fetch_add(n, Ordering::Relaxed);
                    want_key.store(true, Ordering::SeqCst);
                }
            }
            #[allow(unreachable_patterns)]
            Some(_) => {}
            // Not bound yet (or already unbound).
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

struct PumpMode {
    /// Send keyframes only when `want_key` is set (at the start and on request).
    on_request: bool,
    want_key: Arc<AtomicBool>,
}

/// Writes the clip's frames (or Opus packets) in a loop at real-time pace.
async fn pump(
    kind: RtpCodecKind,
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    pt: u8,
    clip: Arc<Clip>,
    tx: Arc<TxStats>,
    mode: PumpMode,
) {
    let video = kind == RtpCodecKind::Video;
    let period = if video {
        Duration::from_millis(33)
    } else {
        Duration::from_millis(20)
    };
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let count = if video { clip.video.len() } else { clip.opus.len() };
    let mut i = 0usize;
    loop {
        ticker.tick().await;
        let (data, key) = if !video {
            (clip.opus[i % count].clone(), false)
        } else if mode.on_request {
            if mode.want_key.swap(false, Ordering::SeqCst) {
                (clip.video[0].data.clone(), true)
            } else {
                // The next interframe (skipping the clip's own keyframes).
                while clip.video[i % count].keyframe {
                    i += 1;
                }
                (clip.video[i % count].data.clone(), false)
            }
        } else {
            (clip.video[i % count].data.clone(), clip.video[i % count].keyframe)
        };
        i += 1;
        let sample = Sample {
            data,
            duration: period,
            ..Sample::new(Instant::now())
        };
        match track.sample_writer(ssrc, pt).write_sample(&sample).await {
            Ok(()) => {
                let c = if video { &tx.video_frames } else { &tx.audio_packets };
                c.fetch_add(1, Ordering::Relaxed);
                if key {
                    tx.keyframes_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {
                tx.write_errors.fetch_add(1, Ordering::Relaxed);
                if key && mode.on_request {
                    // Not bound yet: try the keyframe again on the next tick.
                    mode.want_key.store(true, Ordering::SeqCst);
                }
            }
        }
    }
}
