//! WebRTC clients on webrtc 0.21.1, bound to 127.0.0.1: a publisher that offers VP8 and/or Opus
//! (sendonly) and loops the test clip at real-time pace, and a subscriber that answers a server
//! `offer` and counts the RTP it receives per kind (packets, bytes, VP8 keyframes).

use crate::media::{self, Clip};
use crate::signal::{msg_type, Conn};
use anyhow::{anyhow, bail, Context, Result};
use livegate_sfu::profile::{self, is_keyframe_request, Remb};
use livegate_sfu::{is_vp8_keyframe_start, TrackKind};
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
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry,
};

const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// Counters for the RTP one subscription received.
#[derive(Default, Debug)]
pub struct RxStats {
    pub video_packets: AtomicU64,
    pub video_bytes: AtomicU64,
    pub audio_packets: AtomicU64,
    pub audio_bytes: AtomicU64,
    pub keyframes: AtomicU64,
    /// The SSRC of the video, as received.
    video_ssrc: std::sync::atomic::AtomicU32,
    /// Video sequence numbers seen, to tell lost packets from late ones.
    video_seqs: Mutex<SeqSet>,
}

/// Distinct RTP sequence numbers of one stream, unwrapped to 64 bits.
#[derive(Default, Debug)]
struct SeqSet {
    seen: std::collections::HashSet<u64>,
    first: Option<u64>,
    last: u64,
}

impl SeqSet {
    fn add(&mut self, seq: u16) {
        let ext = match self.first {
            None => {
                self.first = Some(u64::from(seq) + (1 << 32));
                self.first.unwrap_or_default()
            }
            // The unwrapped value nearest the last one seen.
            Some(_) => {
                let base = self.last & !0xffff;
                [base.wrapping_sub(0x10000), base, base + 0x10000]
                    .into_iter()
                    .map(|b| b + u64::from(seq))
                    .min_by_key(|v| v.abs_diff(self.last))
                    .unwrap_or_default()
            }
        };
        self.last = self.last.max(ext);
        if let Some(f) = self.first.as_mut() {
            *f = (*f).min(ext);
        }
        self.seen.insert(ext);
    }
}

impl RxStats {
    /// The newest video sequence number seen so far (unwrapped), to pass to
    /// [`RxStats::video_seq_span_to`] later.
    pub fn video_seq_mark(&self) -> u64 {
        self.video_seqs.lock().unwrap().last
    }

    /// `(expected, missing)` over the video sequence numbers from the first seen up to `mark`:
    /// `missing` holds the positions (0 = the first) that never arrived, lost and not
    /// retransmitted. Taking the mark a while before counting gives the packets near it time to
    /// be recovered, so only real losses count.
    pub fn video_seq_span_to(&self, mark: u64) -> (u64, Vec<u64>) {
        let s = self.video_seqs.lock().unwrap();
        match s.first {
            Some(first) if mark >= first => {
                let missing = (first..=mark)
                    .filter(|n| !s.seen.contains(n))
                    .map(|n| n - first)
                    .collect();
                (mark - first + 1, missing)
            }
            _ => (0, Vec::new()),
        }
    }

    fn record_seq(&self, kind: RtpCodecKind, ssrc: u32, seq: u16) {
        if kind == RtpCodecKind::Video {
            self.video_ssrc.store(ssrc, Ordering::Relaxed);
            self.video_seqs.lock().unwrap().add(seq);
        }
    }

    /// The video's SSRC and newest sequence number, once some video arrived.
    pub fn video_newest(&self) -> Option<(u32, u16)> {
        let seqs = self.video_seqs.lock().unwrap();
        seqs.first
            .map(|_| (self.video_ssrc.load(Ordering::Relaxed), seqs.last as u16))
    }

    fn record(&self, kind: RtpCodecKind, payload: &[u8]) {
        match kind {
            RtpCodecKind::Video => {
                self.video_packets.fetch_add(1, Ordering::Relaxed);
                self.video_bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
                if is_vp8_keyframe_start(payload) {
                    self.keyframes.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                self.audio_packets.fetch_add(1, Ordering::Relaxed);
                self.audio_bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
            }
        }
    }

    pub fn video(&self) -> u64 {
        self.video_packets.load(Ordering::Relaxed)
    }
    pub fn audio(&self) -> u64 {
        self.audio_packets.load(Ordering::Relaxed)
    }
    pub fn bytes(&self) -> u64 {
        self.video_bytes.load(Ordering::Relaxed) + self.audio_bytes.load(Ordering::Relaxed)
    }
    pub fn keyframes(&self) -> u64 {
        self.keyframes.load(Ordering::Relaxed)
    }
    pub fn summary(&self) -> String {
        format!(
            "video={} pkts/{} B keyframes={} audio={} pkts/{} B",
            self.video(),
            self.video_bytes.load(Ordering::Relaxed),
            self.keyframes(),
            self.audio(),
            self.audio_bytes.load(Ordering::Relaxed)
        )
    }
}

/// Peer connection events the harness cares about.
struct Events {
    gathered: watch::Sender<bool>,
    state: watch::Sender<RTCPeerConnectionState>,
    rx: Option<Arc<RxStats>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    remote: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some(stats) = self.rx.clone() else { return };
        self.remote.lock().unwrap().push(track.clone());
        let task = tokio::spawn(async move {
            let kind = track.kind().await;
            while let Some(ev) = track.poll().await {
                match ev {
                    TrackRemoteEvent::OnRtpPacket(p) => {
                        stats.record_seq(kind, p.header.ssrc, p.header.sequence_number);
                        stats.record(kind, &p.payload);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
        self.tasks.lock().unwrap().push(task);
    }
}

struct BuiltPc {
    pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

async fn build_pc(
    media_engine: MediaEngine,
    rx: Option<Arc<RxStats>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    remote: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    tap_keyframe_requests: bool,
) -> Result<BuiltPc> {
    let mut media_engine = media_engine;
    let mut registry = register_default_interceptors(Registry::new(), &mut media_engine)?;
    if tap_keyframe_requests {
        registry = profile::with_keyframe_request_tap(registry);
    }
    let (gathered_tx, gathered) = watch::channel(false);
    let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
    let events = Events {
        gathered: gathered_tx,
        state: state_tx,
        rx,
        tasks,
        remote,
    };
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(events))
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await
        .context("building peer connection")?;
    Ok(BuiltPc {
        pc: Arc::new(pc),
        gathered,
        state,
    })
}

async fn wait_gathered(rx: &mut watch::Receiver<bool>) -> Result<()> {
    tokio::time::timeout(GATHER_TIMEOUT, rx.wait_for(|done| *done))
        .await
        .map_err(|_| anyhow!("ICE gathering did not complete within {GATHER_TIMEOUT:?}"))?
        .map_err(|_| anyhow!("peer connection dropped during ICE gathering"))?;
    Ok(())
}

/// One stream the server offered to a participant (the receiving side).
pub struct Subscription {
    pub stream_id: String,
    pub publisher_id: String,
    pub kind: String,
    pub offer_sdp: String,
    pub stats: Arc<RxStats>,
    pc: Mutex<Option<Arc<dyn PeerConnection>>>,
    state: Mutex<Option<watch::Receiver<RTCPeerConnectionState>>>,
    error: Mutex<Option<String>>,
    ended: AtomicBool,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// The tracks received, to send RTCP about.
    remote: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
}

impl Subscription {
    pub fn new(stream_id: String, publisher_id: String, kind: String, offer_sdp: String) -> Self {
        Subscription {
            stream_id,
            publisher_id,
            kind,
            offer_sdp,
            stats: Arc::new(RxStats::default()),
            pc: Mutex::new(None),
            state: Mutex::new(None),
            error: Mutex::new(None),
            ended: AtomicBool::new(false),
            tasks: Arc::new(Mutex::new(Vec::new())),
            remote: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Sends RTCP (a NACK, say) to the server about the received tracks.
    pub async fn send_rtcp(&self, packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> Result<()> {
        let track = self
            .remote
            .lock()
            .unwrap()
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("no track received yet"))?;
        track.write_rtcp(packets).await.context("writing RTCP")
    }

    pub(crate) fn set_error(&self, e: String) {
        *self.error.lock().unwrap() = Some(e);
    }

    /// Why answering the offer failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap().clone()
    }

    /// The server sent `stream_ended` for this stream. The peer connection is deliberately kept
    /// open so tests can check that no more RTP arrives.
    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    pub fn pc(&self) -> Option<Arc<dyn PeerConnection>> {
        self.pc.lock().unwrap().clone()
    }

    pub fn connection_state(&self) -> Option<RTCPeerConnectionState> {
        self.state.lock().unwrap().as_ref().map(|s| *s.borrow())
    }

    pub(crate) fn abort_tasks(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Waits until at least `video` video packets (including a VP8 keyframe if `video > 0`) and
    /// `audio` audio packets have arrived.
    pub async fn wait_media(&self, video: u64, audio: u64, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.error() {
                bail!(
                    "stream {} ({}): answering the offer failed: {e}",
                    self.stream_id,
                    self.kind
                );
            }
            let s = &self.stats;
            if s.video() >= video && s.audio() >= audio && (video == 0 || s.keyframes() > 0) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "stream {} ({} from {}): wanted video>={video} with keyframe, audio>={audio} within {timeout:?}; got {}; pc state {:?}",
                    self.stream_id,
                    self.kind,
                    self.publisher_id,
                    s.summary(),
                    self.connection_state()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.abort_tasks();
    }
}

/// Builds the receiving peer connection for `sub`, applies the server's offer and returns the
/// answer SDP (with our host candidate; non-trickle).
pub async fn answer_offer(sub: &Arc<Subscription>) -> Result<String> {
    let mut me = MediaEngine::default();
    me.register_default_codecs()?;
    let mut built = build_pc(
        me,
        Some(sub.stats.clone()),
        sub.tasks.clone(),
        sub.remote.clone(),
        false,
    )
    .await?;
    *sub.pc.lock().unwrap() = Some(built.pc.clone());
    *sub.state.lock().unwrap() = Some(built.state.clone());
    let offer = RTCSessionDescription::offer(sub.offer_sdp.clone()).context("parsing the server's offer")?;
    built
        .pc
        .set_remote_description(offer)
        .await
        .context("applying the server's offer")?;
    let answer = built.pc.create_answer(None).await.context("creating the answer")?;
    built
        .pc
        .set_local_description(answer)
        .await
        .context("setting the answer")?;
    wait_gathered(&mut built.gathered).await?;
    let local = built
        .pc
        .local_description()
        .await
        .ok_or_else(|| anyhow!("no local description"))?;
    Ok(local.sdp)
}

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
            |m| {
                let id = m.get("stream_id").and_then(Value::as_str);
                match msg_type(m) {
                    "answer" => id == Some(stream_id),
                    "error" => id.is_none() || id == Some(stream_id),
                    _ => false,
                }
            },
        )
        .await?;
    if msg_type(&reply) == "error" {
        pending.close().await;
        return Ok(Err(PublishRefused::Error(reply)));
    }
    let answer_sdp = reply
        .get("sdp")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("answer without sdp: {reply}"))?
        .to_string();
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

/// The remote address of the selected ICE candidate pair (from the ICE transport under the
/// connection's first receiver or sender). `getStats` cannot be used for this: webrtc 0.21.1
/// reports no remote-candidate entries for candidates that arrived in the SDP.
pub async fn selected_remote_candidate(pc: &Arc<dyn PeerConnection>) -> Option<(String, u16)> {
    let mut transports = Vec::new();
    for r in pc.get_receivers().await {
        if let Ok(Some(t)) = r.transport().await {
            transports.push(t);
        }
    }
    for s in pc.get_senders().await {
        if let Ok(Some(t)) = s.transport().await {
            transports.push(t);
        }
    }
    for t in transports {
        if let Ok(Some(pair)) = t.ice_transport().get_selected_candidate_pair().await {
            return Some((pair.remote().address.clone(), pair.remote().port));
        }
    }
    None
}

/// `(address, port)` of every `a=candidate` line in an SDP.
pub fn sdp_candidates(sdp: &str) -> Vec<(String, u16)> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| {
            // foundation component transport priority address port typ type ...
            let f: Vec<&str> = c.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            Some((f[4].to_string(), f[5].parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Harness self-check without a server: our publisher offers straight to our subscriber
    /// over loopback, and the subscriber must count video (with keyframes) and audio.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loopback_publisher_to_subscriber() {
        let run = async {
            let pending = PendingPublisher::new("loop", true, true).await?;
            let sub = Arc::new(Subscription::new(
                "loop".into(),
                "me".into(),
                "camera".into(),
                pending.offer_sdp.clone(),
            ));
            let answer = answer_offer(&sub).await?;
            let publisher = pending.start("camera", answer).await?;
            publisher.wait_connected(Duration::from_secs(10)).await?;
            sub.wait_media(50, 20, Duration::from_secs(10)).await?;
            let pc = sub.pc().unwrap();
            let sel = selected_remote_candidate(&pc).await;
            let cands = sdp_candidates(&sub.offer_sdp);
            eprintln!(
                "loopback ok: {} selected={sel:?} offer candidates={cands:?}",
                sub.stats.summary()
            );
            anyhow::ensure!(!cands.is_empty(), "no candidates in the offer");
            anyhow::ensure!(
                sel.as_ref().map(|s| s.1) == Some(cands[0].1),
                "selected {sel:?} vs offered {cands:?}"
            );
            publisher.stop().await;
            Ok::<_, anyhow::Error>(())
        };
        tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("timed out")
            .expect("loopback failed");
    }
}
