//! WebRTC clients on webrtc 0.21.1, bound to 127.0.0.1: a publisher that offers VP8 and/or Opus
//! (sendonly) and loops the test clip at real-time pace ([`publisher`]), and a subscriber that
//! answers a server `offer` and counts the RTP it receives per kind (packets, bytes, VP8
//! keyframes). This file holds the peer connection both build and the receiving side.

use anyhow::{anyhow, bail, Context, Result};
use livegate_sfu::is_vp8_keyframe_start;
use livegate_sfu::profile;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, Registry,
};

mod publisher;
pub use publisher::{publish, PendingPublisher, PublishRefused, Publisher, TxStats};

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
