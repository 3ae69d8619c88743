//! The generator's one event loop: every peer connection (publishers and subscribers), their
//! sockets (one epoll set), their timers (one heap), the publishers' trace clocks and the
//! measurement window. It runs as one task on the same single-threaded tokio runtime as the
//! signalling adapters, which call into it directly (`Rc<RefCell<Engine>>`), so there are no
//! threads, channels or per-peer tasks between a datagram and its accounting.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use livegate_sfu::{is_vp8_keyframe_start, TrackKind};
use rtc::rtp;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use crate::client::{ClientEvent, ClientPeer, SendTrack, Srtp};
use crate::measure::{Histogram, Rx, RxTrack, TxTrack};
use crate::net::{self, realtime_ns, Epoll, RecvBatch};
use crate::trace::{self, Trace};

pub type PeerId = usize;

/// Whose peer connection it is.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Publisher(usize),
    Subscriber(usize),
}

/// One published track's sender state.
struct TxState {
    track: SendTrack,
    ts_base: u32,
    tx: TxTrack,
}

/// One class's teacher: sends the trace, honours keyframe requests.
pub struct Publisher {
    pub peer: PeerId,
    video: TxState,
    audio: TxState,
    started: Option<Instant>,
    video_frames: u64,
    audio_frames: u64,
    video_cursor: usize,
    audio_cursor: usize,
    picture_id: u16,
    jump_wanted: bool,
    /// When the publisher last honoured a keyframe request (see [`Engine::browser_keyframes`]).
    last_accepted: Option<Instant>,
    pub keyframe_requests: u64,
    /// Requests ignored because one was honoured less than [`BROWSER_KEYFRAME_INTERVAL`] before.
    pub keyframe_requests_ignored: u64,
    /// When each ignored request arrived.
    pub ignored_at: Vec<i64>,
    /// When each keyframe request arrived (CLOCK_REALTIME ns), for the join timeline.
    pub requests_at: Vec<i64>,
    /// When each keyframe's first packet was sent, and whether a request made it (a jump in
    /// the trace) rather than the trace's own keyframe interval.
    pub keyframes_at: Vec<(i64, bool)>,
    pub connected: bool,
    window_seq: [(u16, u16); 2],
    scratch: Vec<Bytes>,
}

/// One pupil's received stream.
pub struct Subscriber {
    pub class: usize,
    pub peer: Option<PeerId>,
    pub subscribe_ns: i64,
    /// The SFU's offer arrived (the generator answers at once).
    pub offer_ns: Option<i64>,
    pub ice_ns: Option<i64>,
    /// ICE and DTLS done.
    pub connected_ns: Option<i64>,
    pub first_rtp_ns: Option<i64>,
    pub first_keyframe_ns: Option<i64>,
    pub failed: bool,
    connected_at: Option<Instant>,
    /// When this subscriber last sent a PLI, and whether it did for a first frame that was not
    /// a keyframe (see [`Engine::ask_for_keyframes`]).
    last_pli: Option<Instant>,
    asked_on_delta: bool,
    pub plis: u32,
    video: RxTrack,
    audio: RxTrack,
}

/// Counters of the measured window.
#[derive(Default)]
pub struct Window {
    pub active: bool,
    pub start_ns: i64,
    pub end_ns: i64,
    pub forwarded: u64,
    pub latency: Histogram,
}

/// The result of a window, per subscriber track.
pub struct LossSummary {
    pub expected: u64,
    pub received: u64,
    pub unmatched: u64,
}

pub struct Engine {
    epoll: Epoll,
    peers: Vec<Option<(ClientPeer, Owner)>>,
    timers: BinaryHeap<Reverse<(Instant, PeerId)>>,
    dirty: Vec<PeerId>,
    events: VecDeque<ClientEvent>,
    batch: RecvBatch,
    ready: Vec<u64>,
    trace: Rc<Trace>,
    srtp: Srtp,
    media_ip: IpAddr,
    pub publishers: Vec<Publisher>,
    pub subscribers: Vec<Subscriber>,
    /// Subscribers connected and still without a keyframe.
    awaiting_keyframe: Vec<usize>,
    pub window: Window,
    pub wake: Rc<Notify>,
    /// How keyframe requests are treated. False (the default, the model of every figure in
    /// BENCHMARKS.md): a publisher remembers a request and jumps to a keyframe at most every
    /// [`JUMP_INTERVAL`], so a request that comes too soon is served late, never lost;
    /// subscribers send no PLI of their own. True (`--browser-keyframes`): the publisher drops a
    /// request that comes less than [`BROWSER_KEYFRAME_INTERVAL`] after the last it honoured,
    /// and subscribers ask for keyframes themselves, both as libwebrtc does.
    pub browser_keyframes: bool,
}

/// Default model: a publisher jumps to a keyframe at most this often.
const JUMP_INTERVAL: Duration = Duration::from_millis(200);

/// Browser model: a publisher honours a keyframe request (PLI or FIR) only if it honoured none
/// in this long and drops it otherwise, as libwebrtc's sender does (`EncoderRtcpFeedback`,
/// `kMinKeyframeSendIntervalMs` = 300).
const BROWSER_KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);

/// Browser model: a subscriber without a keyframe asks again this often, as libwebrtc's
/// receiver does (`VideoReceiveStream2`, `max_wait_for_keyframe` = 200 ms).
const RECEIVER_KEYFRAME_RETRY: Duration = Duration::from_millis(200);

impl Engine {
    pub fn new(trace: Rc<Trace>, srtp: Srtp, media_ip: IpAddr) -> Result<Engine> {
        Ok(Engine {
            epoll: Epoll::new().context("epoll")?,
            peers: Vec::new(),
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            events: VecDeque::new(),
            batch: RecvBatch::new(),
            ready: Vec::new(),
            trace,
            srtp,
            media_ip,
            publishers: Vec::new(),
            subscribers: Vec::new(),
            awaiting_keyframe: Vec::new(),
            window: Window::default(),
            browser_keyframes: false,
            wake: Rc::new(Notify::new()),
        })
    }

    fn insert(&mut self, peer: ClientPeer, owner: Owner) -> Result<PeerId> {
        let id = self.peers.len();
        self.epoll.add(&peer.sock, id as u64).context("epoll add")?;
        self.peers.push(Some((peer, owner)));
        self.dirty.push(id);
        self.wake.notify_one();
        Ok(id)
    }

    /// A publisher for `class`; returns its index and offer.
    pub fn new_publisher(&mut self) -> Result<(usize, String)> {
        let sock = net::bind(self.media_ip).context("binding a publisher socket")?;
        let (peer, tracks, offer) = ClientPeer::publisher(Instant::now(), sock, self.srtp)?;
        let index = self.publishers.len();
        let id = self.insert(peer, Owner::Publisher(index))?;
        let state = |kind: TrackKind| {
            let track = *tracks.iter().find(|t| t.kind == kind).expect("track");
            TxState {
                track,
                ts_base: rand::random(),
                tx: TxTrack::new(rand::random()),
            }
        };
        self.publishers.push(Publisher {
            peer: id,
            video: state(TrackKind::Video),
            audio: state(TrackKind::Audio),
            started: None,
            video_frames: 0,
            audio_frames: 0,
            video_cursor: 0,
            audio_cursor: 0,
            picture_id: rand::random::<u16>() & 0x7fff,
            jump_wanted: false,
            last_accepted: None,
            keyframe_requests: 0,
            keyframe_requests_ignored: 0,
            ignored_at: Vec::new(),
            requests_at: Vec::new(),
            keyframes_at: Vec::new(),
            connected: false,
            window_seq: [(0, 0); 2],
            scratch: Vec::new(),
        });
        Ok((index, offer))
    }

    /// Applies the SFU's answer to publisher `index`.
    pub fn publisher_answer(&mut self, index: usize, sdp: &str) -> Result<()> {
        let id = self.publishers[index].peer;
        let (peer, _) = self.peers[id].as_mut().context("publisher gone")?;
        peer.apply_answer(Instant::now(), sdp)?;
        self.dirty.push(id);
        self.wake.notify_one();
        Ok(())
    }

    /// Registers a subscriber of `class` whose signalling starts now; returns its index.
    pub fn new_subscriber(&mut self, class: usize) -> usize {
        self.subscribers.push(Subscriber {
            class,
            peer: None,
            subscribe_ns: realtime_ns(),
            offer_ns: None,
            ice_ns: None,
            connected_ns: None,
            first_rtp_ns: None,
            first_keyframe_ns: None,
            failed: false,
            connected_at: None,
            last_pli: None,
            asked_on_delta: false,
            plis: 0,
            video: RxTrack::new(),
            audio: RxTrack::new(),
        });
        self.subscribers.len() - 1
    }

    /// Answers the SFU's offer for subscriber `index`; returns the answer.
    pub fn subscriber_offer(&mut self, index: usize, offer: &str) -> Result<String> {
        let sock = net::bind(self.media_ip).context("binding a subscriber socket")?;
        self.subscribers[index].offer_ns = Some(realtime_ns());
        let (peer, answer) = ClientPeer::subscriber(Instant::now(), sock, self.srtp, offer)?;
        let id = self.insert(peer, Owner::Subscriber(index))?;
        self.subscribers[index].peer = Some(id);
        Ok(answer)
    }

    /// When the loop must next run without being woken by a datagram.
    fn next_deadline(&mut self, now: Instant) -> Instant {
        let mut next = now + Duration::from_millis(100);
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            let current = self
                .peers
                .get(id)
                .and_then(|p| p.as_ref())
                .and_then(|(p, _)| p.deadline);
            if current != Some(t) {
                self.timers.pop(); // stale
                continue;
            }
            next = next.min(t);
            break;
        }
        for p in &self.publishers {
            if let Some(start) = p.started {
                next = next.min(start + Duration::from_micros(p.video_frames * trace::VIDEO_FRAME_US));
                next = next.min(start + Duration::from_micros(p.audio_frames * trace::AUDIO_FRAME_US));
            }
        }
        next
    }

    /// Reads every ready socket; returns false when nothing was ready.
    fn on_readable(&mut self) -> bool {
        let mut ready = std::mem::take(&mut self.ready);
        if self.epoll.ready(&mut ready).is_err() || ready.is_empty() {
            self.ready = ready;
            return false;
        }
        for &token in &ready {
            let id = token as PeerId;
            loop {
                let n = {
                    let Some(Some((peer, _))) = self.peers.get(id) else {
                        break;
                    };
                    self.batch.recv(&peer.sock).unwrap_or(0)
                };
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                for i in 0..n {
                    let Some(Some((peer, owner))) = self.peers.get_mut(id) else {
                        break;
                    };
                    let owner = *owner;
                    let d = self.batch.get(i);
                    let rx_ns = if d.rx_ns != 0 { d.rx_ns } else { realtime_ns() };
                    peer.handle_datagram(now, d.from, d.data);
                    peer.drain(&mut self.events);
                    self.handle_events(owner, rx_ns, now);
                }
                self.dirty.push(id);
                if n < net::BATCH {
                    break;
                }
            }
        }
        self.ready = ready;
        true
    }

    fn handle_events(&mut self, owner: Owner, rx_ns: i64, now: Instant) {
        while let Some(ev) = self.events.pop_front() {
            match (owner, ev) {
                (Owner::Publisher(i), ClientEvent::Connected) => {
                    let p = &mut self.publishers[i];
                    p.connected = true;
                    p.started.get_or_insert(now);
                }
                (Owner::Publisher(i), ClientEvent::KeyframeRequest) => {
                    let p = &mut self.publishers[i];
                    p.keyframe_requests += 1;
                    if !self.browser_keyframes {
                        p.requests_at.push(rx_ns);
                        p.jump_wanted = true;
                    } else if p
                        .last_accepted
                        .is_none_or(|t| now.duration_since(t) >= BROWSER_KEYFRAME_INTERVAL)
                    {
                        p.last_accepted = Some(now);
                        p.requests_at.push(rx_ns);
                        p.jump_wanted = true;
                    } else {
                        p.keyframe_requests_ignored += 1;
                        p.ignored_at.push(rx_ns);
                    }
                }
                (Owner::Subscriber(i), ClientEvent::IceConnected) => {
                    self.subscribers[i].ice_ns.get_or_insert(rx_ns);
                }
                (Owner::Subscriber(i), ClientEvent::Connected) => {
                    let s = &mut self.subscribers[i];
                    s.connected_ns = Some(rx_ns);
                    s.connected_at = Some(now);
                    if s.first_keyframe_ns.is_none() && self.browser_keyframes {
                        self.awaiting_keyframe.push(i);
                    }
                }
                (Owner::Subscriber(i), ClientEvent::Failed) | (Owner::Publisher(i), ClientEvent::Failed) => {
                    if let Owner::Subscriber(_) = owner {
                        self.subscribers[i].failed = true;
                    } else {
                        eprintln!("loadgen: publisher {i} connection failed");
                    }
                }
                (Owner::Subscriber(i), ClientEvent::Rtp { kind, packet }) => {
                    self.on_rtp(i, kind, &packet, rx_ns);
                    let s = &self.subscribers[i];
                    let delta_frame_first = self.browser_keyframes
                        && kind == TrackKind::Video
                        && packet.header.marker
                        && s.first_keyframe_ns.is_none()
                        && !s.asked_on_delta;
                    if delta_frame_first {
                        self.subscribers[i].asked_on_delta = true;
                        self.send_pli(i, now);
                    }
                }
                _ => {}
            }
        }
    }

    fn on_rtp(&mut self, index: usize, kind: TrackKind, packet: &rtp::Packet, rx_ns: i64) {
        let sub = &mut self.subscribers[index];
        let publisher = &self.publishers[sub.class];
        let (rx, tx) = match kind {
            TrackKind::Video => (&mut sub.video, &publisher.video.tx),
            TrackKind::Audio => (&mut sub.audio, &publisher.audio.tx),
        };
        let mapped = rx.receive(tx, packet.header.sequence_number, &packet.payload);
        if kind == TrackKind::Video {
            sub.first_rtp_ns.get_or_insert(rx_ns);
        }
        if kind == TrackKind::Video && sub.first_keyframe_ns.is_none() && is_vp8_keyframe_start(&packet.payload) {
            sub.first_keyframe_ns = Some(rx_ns);
        }
        let w = &mut self.window;
        if w.active && rx_ns >= w.start_ns {
            w.forwarded += 1;
            if let Rx::New { sent_ns } = mapped {
                w.latency.record(rx_ns - sent_ns);
            }
        }
    }

    /// Timers, publisher sends, then every touched peer's writes.
    fn on_tick(&mut self, now: Instant) {
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            if let Some(Some((peer, _))) = self.peers.get_mut(id) {
                if peer.deadline == Some(t) {
                    peer.deadline = None;
                    peer.handle_timeout(now);
                    self.dirty.push(id);
                }
            }
        }
        for i in 0..self.publishers.len() {
            self.send_due(i, now);
        }
        self.ask_for_keyframes(now);
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for &id in &dirty {
            let Some(Some((peer, owner))) = self.peers.get_mut(id) else {
                continue;
            };
            let owner = *owner;
            peer.drain(&mut self.events);
            peer.flush(|_| {});
            let next = peer.poll_timeout();
            if next != peer.deadline {
                peer.deadline = next;
                if let Some(t) = next {
                    self.timers.push(Reverse((t, id)));
                }
            }
            self.handle_events(owner, realtime_ns(), now);
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Subscriber `i` sends a PLI now.
    fn send_pli(&mut self, i: usize, now: Instant) {
        let s = &mut self.subscribers[i];
        let Some(id) = s.peer else { return };
        s.last_pli = Some(now);
        s.plis += 1;
        if let Some(Some((peer, _))) = self.peers.get_mut(id) {
            peer.request_keyframe(now);
            self.dirty.push(id);
        }
    }

    /// Subscribers still without a keyframe ask for one every [`RECEIVER_KEYFRAME_RETRY`] from
    /// when they connected; each also asks once at once when its first whole frame is not a
    /// keyframe (libwebrtc's `RtpVideoStreamReceiver2` does, since it cannot decode it). The
    /// SFU sees the same client either way: Janus forwards those frames, Livegate does not.
    fn ask_for_keyframes(&mut self, now: Instant) {
        let mut k = 0;
        while k < self.awaiting_keyframe.len() {
            let i = self.awaiting_keyframe[k];
            let s = &self.subscribers[i];
            if s.first_keyframe_ns.is_some() || s.failed {
                self.awaiting_keyframe.swap_remove(k);
                continue;
            }
            let since = s.last_pli.max(s.connected_at);
            if since.is_some_and(|t| now.duration_since(t) >= RECEIVER_KEYFRAME_RETRY) {
                self.send_pli(i, now);
            }
            k += 1;
        }
    }

    /// Sends publisher `i`'s frames that are due.
    fn send_due(&mut self, i: usize, now: Instant) {
        let Some(start) = self.publishers[i].started else {
            return;
        };
        let trace = self.trace.clone();
        let id = self.publishers[i].peer;
        let Some(Some((peer, _))) = self.peers.get_mut(id) else {
            return;
        };
        let p = &mut self.publishers[i];
        let mut sent = false;
        while start + Duration::from_micros(p.video_frames * trace::VIDEO_FRAME_US) <= now {
            let mut jumped = false;
            // In the browser model a request was honoured when it came, so it jumps at once.
            let may_jump =
                self.browser_keyframes || p.last_accepted.is_none_or(|t| now.duration_since(t) >= JUMP_INTERVAL);
            if p.jump_wanted && may_jump {
                p.jump_wanted = false;
                p.last_accepted = Some(now);
                jumped = true;
                if !trace.video[p.video_cursor].keyframe {
                    p.video_cursor = trace.next_keyframe(p.video_cursor);
                }
            }
            let frame = &trace.video[p.video_cursor];
            if frame.keyframe {
                p.keyframes_at.push((realtime_ns(), jumped));
            }
            p.scratch.clear();
            trace::packetize_vp8(&frame.data, p.picture_id, &mut p.scratch);
            let ts = p
                .video
                .ts_base
                .wrapping_add((p.video_frames as u32).wrapping_mul(trace::VIDEO_FRAME_TICKS));
            let last = p.scratch.len() - 1;
            for (k, payload) in p.scratch.drain(..).enumerate() {
                send_one(peer, &mut p.video, now, ts, k == last, payload);
            }
            p.picture_id = p.picture_id.wrapping_add(1) & 0x7fff;
            p.video_cursor = (p.video_cursor + 1) % trace.video.len();
            p.video_frames += 1;
            sent = true;
        }
        while start + Duration::from_micros(p.audio_frames * trace::AUDIO_FRAME_US) <= now {
            let payload = trace.audio[p.audio_cursor].clone();
            let ts = p
                .audio
                .ts_base
                .wrapping_add((p.audio_frames as u32).wrapping_mul(trace::AUDIO_FRAME_TICKS));
            send_one(peer, &mut p.audio, now, ts, false, payload);
            p.audio_cursor = (p.audio_cursor + 1) % trace.audio.len();
            p.audio_frames += 1;
            sent = true;
        }
        if sent {
            self.dirty.push(id);
        }
    }

    /// Starts the measured window.
    pub fn start_window(&mut self) {
        self.window = Window {
            active: true,
            start_ns: realtime_ns(),
            ..Default::default()
        };
        for p in &mut self.publishers {
            p.window_seq = [(p.video.tx.next_seq, 0), (p.audio.tx.next_seq, 0)];
        }
    }

    /// Marks the last packets that count for loss (those after it may still be in flight).
    pub fn mark_loss_end(&mut self) {
        for p in &mut self.publishers {
            p.window_seq[0].1 = p.video.tx.next_seq;
            p.window_seq[1].1 = p.audio.tx.next_seq;
        }
    }

    /// Ends the window.
    pub fn end_window(&mut self) {
        self.window.active = false;
        self.window.end_ns = realtime_ns();
    }

    /// Loss over the window for every subscriber that connected.
    pub fn loss(&self) -> LossSummary {
        let mut s = LossSummary {
            expected: 0,
            received: 0,
            unmatched: 0,
        };
        for sub in self.subscribers.iter().filter(|s| s.peer.is_some()) {
            let p = &self.publishers[sub.class];
            for (rx, (from, to)) in [(&sub.video, p.window_seq[0]), (&sub.audio, p.window_seq[1])] {
                s.expected += to.wrapping_sub(from) as u64;
                s.received += rx.count_received(from, to);
                s.unmatched += rx.unmatched;
            }
        }
        s
    }

    /// Packets every publisher has sent, and the keyframe requests they got.
    pub fn publisher_totals(&self) -> (u64, u64) {
        let sent = self.publishers.iter().map(|p| p.video.tx.sent + p.audio.tx.sent).sum();
        let kf = self.publishers.iter().map(|p| p.keyframe_requests).sum();
        (sent, kf)
    }
}

fn send_one(peer: &mut ClientPeer, st: &mut TxState, now: Instant, ts: u32, marker: bool, payload: Bytes) {
    let seq = st.tx.record(&payload, realtime_ns());
    let packet = rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            marker,
            payload_type: st.track.payload_type,
            sequence_number: seq,
            timestamp: ts,
            ssrc: st.track.ssrc,
            ..Default::default()
        },
        payload,
    };
    peer.write_rtp(now, st.track.sender, packet);
}

struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Runs the loop until the runtime stops.
pub async fn run(engine: Rc<RefCell<Engine>>) -> Result<()> {
    // SAFETY: the epoll fd belongs to the engine, which this function keeps alive (it holds an
    // Rc to it) for as long as the registration exists.
    let fd = unsafe {
        AsyncFd::register_with_interest(Fd(engine.borrow().epoll.as_raw_fd()), tokio::io::Interest::READABLE)
    }
    .map_err(|e| anyhow::anyhow!("registering the epoll fd: {e}"))?;
    let wake = engine.borrow().wake.clone();
    loop {
        let deadline = engine.borrow_mut().next_deadline(Instant::now());
        tokio::select! {
            guard = fd.readable() => {
                let mut guard = guard?;
                let mut rounds = 0;
                while engine.borrow_mut().on_readable() {
                    rounds += 1;
                    if rounds == 8 {
                        break;
                    }
                }
                if rounds < 8 {
                    guard.clear_ready();
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = wake.notified() => {}
        }
        engine.borrow_mut().on_tick(Instant::now());
    }
}
