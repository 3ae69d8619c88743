//! Datagrams through the media engine's peer connections: the DTLS, SRTP and ICE path of the
//! `rtc` crate as `livegate::media` drives it. Three server peers share one address, routed by
//! the engine's own demultiplexer (`livegate_sfu::demux`, as in `fuzz_rtp_rtcp`):
//! a publisher answered to a real Chromium camera offer (`corpus/fuzz_sdp/`), whose far end is
//! the script itself (STUN checks it signs with the right credentials, raw datagrams); and a
//! publisher and a receiver whose far ends are real `rtc` clients, connecting through ICE and
//! DTLS for real, with the script relaying, dropping, corrupting and injecting datagrams
//! between them, having the clients send RTP and keyframe requests, trickling candidates, and
//! moving time on. The server peers are driven as the engine drives them: `handle_datagram`,
//! `poll_datagram`, `poll_event`, `poll_timeout`/`handle_timeout`, and `send_rtp`,
//! `request_keyframe`, `add_remote_candidate`, `close`.
//!
//! Checks besides "no panic": a server peer sends only to addresses whose datagrams were routed
//! to it (never to an address it was only told about, and never somewhere a spoofed datagram
//! did not come from); it sends nothing that looks like RTP or RTCP before its DTLS is up (no
//! media leaves unencrypted or to an unproven address); every step's output is bounded (at most
//! `MAX_OUT` datagrams and events per peer per step: no peer queues without end).
//!
//! The clients' keys and the peers' ICE credentials are random, so an input replays the same
//! steps but not the same bytes: a crash reproduces by its structure, usually at once.
//! Format: a sequence of steps, each an opcode byte and its arguments (see `Op::read`).

#![no_main]

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use livegate::media::fuzzing::{Peer, PeerEvent, SendTrack};
use livegate_sfu::{demux, TrackKind};
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::marshal::Unmarshal;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

/// The server's one media address.
const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)), 3478);
/// Where datagrams come from: the two real clients, then three the script speaks for.
const ADDRS: [SocketAddr; 5] = [addr(1, 50001), addr(2, 50002), addr(3, 40000), addr(4, 40000), addr(5, 40000)];
const C_RECEIVER: usize = 0;
const C_PUBLISHER: usize = 1;
/// The Chromium publisher, the client-backed publisher and the receiver.
const PEERS: usize = 3;
/// Most datagrams or events one peer may produce in one step.
const MAX_OUT: usize = 2048;
/// Datagrams in flight in each direction, at most (the rest are lost, as on a full link).
const IN_FLIGHT: usize = 256;

const fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, host)), port)
}

const CHROMIUM_OFFER: &str = include_str!("../corpus/fuzz_sdp/seed-chromium-camera.sdp");

/// One step of the script.
#[derive(Debug)]
enum Op {
    /// A raw datagram from `ADDRS[from]` to the server.
    Inject { from: u8, data: Vec<u8> },
    /// A signed STUN binding request from `ADDRS[from]` to server peer `peer`.
    Stun { from: u8, peer: u8, flags: u8, tie: u8 },
    /// Delivers what is in flight both ways, `rounds` times, 5 ms apart.
    Pump { rounds: u8 },
    /// The `nth` next datagram towards the server (`to_server`) or the clients is corrupted
    /// (`xor` at `pos`), or lost (`xor` 0).
    Tamper { to_server: bool, nth: u8, pos: u16, xor: u8 },
    Wait { millis: u16 },
    /// The publishing client sends `data`, parsed as RTP, on its track (its SSRC unless `raw`).
    ClientRtp { video: bool, raw: bool, data: Vec<u8> },
    /// The receiver peer sends `data`, parsed as RTP, on its track, as the forwarder would.
    ServerRtp { video: bool, data: Vec<u8> },
    /// 0: the server asks the publisher for a keyframe; 1: the receiving client asks the server
    /// for one; 2: a server peer closes; 3: a trickled candidate (`data`) for a server peer.
    Control { what: u8, peer: u8, data: Vec<u8> },
}

impl Op {
    /// Reads one step: `0 from len(u16) bytes`, `1 from peer flags tie`, `2 rounds`,
    /// `3 dir nth pos(u16) xor`, `4 millis(u16)`, `5 flags len(u16) bytes`, `6 flags len(u16)
    /// bytes`, `7 what peer len(u8) bytes`.
    fn read(data: &mut &[u8]) -> Option<Op> {
        let code = take(data, 1)?[0];
        let bytes = |data: &mut &[u8], long: bool| -> Option<Vec<u8>> {
            let len = if long { take(data, 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))? } else { usize::from(take(data, 1)?[0]) };
            Some(take(data, len.min(data.len()))?.to_vec())
        };
        Some(match code % 8 {
            0 => Op::Inject { from: take(data, 1)?[0], data: bytes(data, true)? },
            1 => {
                let a = take(data, 4)?;
                Op::Stun { from: a[0], peer: a[1], flags: a[2], tie: a[3] }
            }
            2 => Op::Pump { rounds: take(data, 1)?[0] },
            3 => {
                let a = take(data, 5)?;
                Op::Tamper { to_server: a[0] & 1 == 1, nth: a[1], pos: u16::from_be_bytes([a[2], a[3]]), xor: a[4] }
            }
            4 => {
                let a = take(data, 2)?;
                Op::Wait { millis: u16::from_be_bytes([a[0], a[1]]) }
            }
            5 => {
                let f = take(data, 1)?[0];
                Op::ClientRtp { video: f & 1 == 1, raw: f & 2 == 2, data: bytes(data, true)? }
            }
            6 => Op::ServerRtp { video: take(data, 1)?[0] & 1 == 1, data: bytes(data, true)? },
            _ => {
                let a = take(data, 2)?;
                Op::Control { what: a[0], peer: a[1], data: bytes(data, false)? }
            }
        })
    }
}

/// The next `n` bytes of the script, if there are that many.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = data.split_at_checked(n)?;
    *data = rest;
    Some(head)
}

/// An `a=` attribute's value from an SDP.
fn sdp_attr(sdp: &str, name: &str) -> String {
    sdp.lines().find_map(|l| l.trim().strip_prefix(&format!("a={name}:"))).unwrap_or_default().to_owned()
}

/// A server peer and what the script knows about it.
struct ServerPeer {
    peer: Option<Peer>,
    /// Its ICE credentials, and the far end's username fragment (from the SDP).
    ufrag: String,
    pwd: String,
    remote_ufrag: String,
    /// Addresses whose datagrams were routed to it: the only ones it may send to.
    seen: HashSet<SocketAddr>,
    connected: bool,
    /// Published tracks (publish peers): receiver and SSRC.
    tracks: Vec<(TrackKind, rtc::rtp_transceiver::RTCRtpReceiverId, u32)>,
    /// Sent tracks (the receive peer).
    sends: Vec<SendTrack>,
}

impl ServerPeer {
    fn new(peer: Peer, own_sdp: &str, remote_sdp: &str, sends: Vec<SendTrack>) -> Self {
        ServerPeer {
            ufrag: peer.ufrag.clone(),
            pwd: sdp_attr(own_sdp, "ice-pwd"),
            remote_ufrag: sdp_attr(remote_sdp, "ice-ufrag"),
            peer: Some(peer),
            seen: HashSet::new(),
            connected: false,
            tracks: Vec::new(),
            sends,
        }
    }
}

/// A real client at `ADDRS[at]`.
struct Client {
    pc: RTCPeerConnection,
    at: SocketAddr,
    /// Its tracks (the publishing client): sender, SSRC and payload type.
    senders: Vec<(TrackKind, RTCRtpSenderId, u32, u8)>,
}

impl Client {
    fn build(now: Instant, at: SocketAddr) -> Client {
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        let registry = register_default_interceptors(rtc::interceptor::Registry::new(), &mut media).expect("interceptors");
        let pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(now)
            .expect("client");
        Client { pc, at, senders: Vec::new() }
    }

    fn add_host_candidate(&mut self) {
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.at.ip().to_string(),
                port: self.at.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .expect("candidate");
        self.pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().expect("json")).expect("local candidate");
    }

    /// A publishing client's offer (VP8 and Opus).
    fn publisher(now: Instant) -> (Client, String) {
        let mut c = Client::build(now, ADDRS[C_PUBLISHER]);
        for (kind, mime, clock, channels, pt) in
            [(TrackKind::Video, MIME_TYPE_VP8, 90000, 0, 96u8), (TrackKind::Audio, MIME_TYPE_OPUS, 48000, 2, 111)]
        {
            let ssrc = 0x1000 + u32::from(pt);
            let codec = RTCRtpCodec { mime_type: mime.to_owned(), clock_rate: clock, channels, ..Default::default() };
            let codec_kind = if kind == TrackKind::Video { RtpCodecKind::Video } else { RtpCodecKind::Audio };
            let encoding = RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec,
                ..Default::default()
            };
            let id = format!("{kind:?}");
            let track = rtc::media_stream::MediaStreamTrack::new("fuzz".into(), id.clone(), id, codec_kind, vec![encoding]);
            let sender = c.pc.add_track(track).expect("track");
            c.senders.push((kind, sender, ssrc, pt));
        }
        c.add_host_candidate();
        let offer = c.pc.create_offer(None).expect("offer");
        c.pc.set_local_description(now, offer.clone()).expect("local offer");
        (c, offer.sdp)
    }

    /// A receiving client's answer to the server's offer.
    fn receiver(now: Instant, offer: &str) -> (Client, String) {
        let mut c = Client::build(now, ADDRS[C_RECEIVER]);
        c.pc.set_remote_description(now, RTCSessionDescription::offer(offer.to_owned()).expect("offer")).expect("remote offer");
        c.add_host_candidate();
        let answer = c.pc.create_answer(None).expect("answer");
        c.pc.set_local_description(now, answer.clone()).expect("local answer");
        (c, answer.sdp)
    }

    fn handle(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let transport = TransportContext { local_addr: self.at, peer_addr: from, transport_protocol: TransportProtocol::UDP, ecn: None };
        let _ = self.pc.handle_read(TaggedBytesMut { now, transport, message: BytesMut::from(data) });
        while self.pc.poll_event().is_some() {}
        while self.pc.poll_read().is_some() {}
    }
}

/// A STUN binding request to a server peer: USERNAME `server:client`, PRIORITY, the ICE role,
/// USE-CANDIDATE if `flags & 1`, then MESSAGE-INTEGRITY with the server's password (a wrong one
/// if `flags & 4`) and FINGERPRINT (left out if `flags & 8`), as RFC 8445 and 5389 lay them out.
fn binding_request(sp: &ServerPeer, flags: u8, tie: u8, txid: u32) -> Vec<u8> {
    let mut attrs = Vec::new();
    let mut attr = |typ: u16, value: &[u8]| {
        attrs.extend_from_slice(&typ.to_be_bytes());
        attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attrs.extend_from_slice(value);
        attrs.resize(attrs.len().next_multiple_of(4), 0);
    };
    attr(0x0006, format!("{}:{}", sp.ufrag, sp.remote_ufrag).as_bytes());
    attr(0x0024, &0x6e7f_1effu32.to_be_bytes());
    attr(if flags & 2 == 2 { 0x802A } else { 0x8029 }, &u64::from(tie).to_be_bytes());
    if flags & 1 == 1 {
        attr(0x0025, &[]);
    }
    let mut m = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&txid.to_be_bytes());
    m.extend_from_slice(&[7; 8]);
    m.extend_from_slice(&attrs);
    let set_len = |m: &mut Vec<u8>, extra: usize| {
        let len = (m.len() - 20 + extra) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
    };
    let pwd = if flags & 4 == 4 { "not the password" } else { sp.pwd.as_str() };
    set_len(&mut m, 24);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, pwd.as_bytes());
    let mac = ring::hmac::sign(&key, &m);
    m.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
    m.extend_from_slice(mac.as_ref());
    if flags & 8 == 0 {
        set_len(&mut m, 8);
        let crc = crc32(&m) ^ 0x5354_554E;
        m.extend_from_slice(&[0x80, 0x28, 0x00, 0x04]);
        m.extend_from_slice(&crc.to_be_bytes());
    } else {
        set_len(&mut m, 0);
    }
    m
}

/// CRC-32 (IEEE), for the STUN FINGERPRINT.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Parses `data` as RTP, or makes it the payload of a plain packet.
fn rtp_packet(data: &[u8]) -> rtc::rtp::Packet {
    rtc::rtp::Packet::unmarshal(&mut &data[..]).unwrap_or_else(|_| rtc::rtp::Packet {
        header: rtc::rtp::header::Header { version: 2, ..Default::default() },
        payload: bytes::Bytes::copy_from_slice(data),
    })
}

struct World {
    now: Instant,
    peers: Vec<ServerPeer>,
    /// The receiving client (`ADDRS[C_RECEIVER]`) and the publishing one.
    clients: Vec<Client>,
    demux: demux::Demux<usize>,
    to_server: VecDeque<(SocketAddr, Vec<u8>)>,
    to_clients: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Pending corruptions: towards the server?, datagrams to let pass first, where, what.
    tampers: Vec<(bool, u8, u16, u8)>,
    stun_id: u32,
}

impl World {
    fn new() -> World {
        let now = Instant::now();
        let (chromium, answer) = Peer::publish(now, SERVER, CHROMIUM_OFFER.to_owned()).expect("the Chromium offer is answered");
        let (mut publisher, offer) = Client::publisher(now);
        let (published, answer2) = Peer::publish(now, SERVER, offer.clone()).expect("the client's offer is answered");
        let remote = RTCSessionDescription::answer(answer2.clone()).expect("answer");
        publisher.pc.set_remote_description(now, remote).expect("the client takes the answer");
        let kinds = [TrackKind::Video, TrackKind::Audio];
        let (mut receive, sends, offer3) = Peer::receive(now, SERVER, &kinds, "s1").expect("a receive peer");
        let (receiver, answer3) = Client::receiver(now, &offer3);
        receive.apply_answer(now, answer3.clone()).expect("the client's answer applies");
        let peers = vec![
            ServerPeer::new(chromium, &answer, CHROMIUM_OFFER, Vec::new()),
            ServerPeer::new(published, &answer2, &offer, Vec::new()),
            ServerPeer::new(receive, &offer3, &answer3, sends),
        ];
        let mut demux = demux::Demux::default();
        for (i, p) in peers.iter().enumerate() {
            demux.add(p.ufrag.clone(), i);
        }
        let clients = vec![receiver, publisher];
        World { now, peers, clients, demux, to_server: VecDeque::new(), to_clients: VecDeque::new(), tampers: Vec::new(), stun_id: 0 }
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Inject { from, data } => self.deliver_to_server(ADDRS[usize::from(from) % ADDRS.len()], &data),
            Op::Stun { from, peer, flags, tie } => {
                self.stun_id += 1;
                let request = binding_request(&self.peers[usize::from(peer) % PEERS], flags, tie, self.stun_id);
                self.deliver_to_server(ADDRS[usize::from(from) % ADDRS.len()], &request);
            }
            Op::Pump { rounds } => {
                for _ in 0..rounds.min(64) {
                    self.pump();
                }
            }
            Op::Tamper { to_server, nth, pos, xor } => {
                if self.tampers.len() < 8 {
                    self.tampers.push((to_server, nth, pos, xor));
                }
            }
            Op::Wait { millis } => self.advance(Duration::from_millis(u64::from(millis))),
            Op::ClientRtp { video, raw, data } => self.client_rtp(video, raw, &data),
            Op::ServerRtp { video, data } => self.server_rtp(video, &data),
            Op::Control { what, peer, data } => self.control(what, peer, &data),
        }
        self.drain();
    }

    /// A datagram arrives at the server's port: the engine's demultiplexer picks the peer.
    fn deliver_to_server(&mut self, from: SocketAddr, data: &[u8]) {
        let Some(i) = self.demux.route(from, data) else { return };
        let sp = &mut self.peers[i];
        let Some(peer) = sp.peer.as_mut() else { return };
        sp.seen.insert(from);
        peer.handle_datagram(self.now, from, data);
    }

    /// What is in flight is delivered (or lost, or corrupted), then 5 ms pass.
    fn pump(&mut self) {
        for (from, data) in std::mem::take(&mut self.to_server) {
            if let Some(data) = self.tamper(true, data) {
                self.deliver_to_server(from, &data);
            }
        }
        for (to, data) in std::mem::take(&mut self.to_clients) {
            let Some(data) = self.tamper(false, data) else { continue };
            if let Some(c) = self.clients.iter_mut().find(|c| c.at == to) {
                c.handle(self.now, SERVER, &data);
            }
        }
        self.drain();
        self.advance(Duration::from_millis(5));
    }

    /// Applies a pending corruption that is due to this datagram; `None` if it is lost.
    fn tamper(&mut self, to_server: bool, mut data: Vec<u8>) -> Option<Vec<u8>> {
        let mut lost = false;
        self.tampers.retain_mut(|(dir, nth, pos, xor)| {
            if *dir != to_server {
                return true;
            }
            if *nth > 0 {
                *nth -= 1;
                return true;
            }
            match (*xor, data.len()) {
                (0, _) => lost = true,
                (_, 0) => {}
                (x, len) => data[usize::from(*pos) % len] ^= x,
            }
            false
        });
        (!lost).then_some(data)
    }

    /// Time passes: every due timer runs.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for sp in &mut self.peers {
            if let Some(peer) = sp.peer.as_mut() {
                if peer.poll_timeout().is_some_and(|t| t <= now) {
                    peer.handle_timeout(now);
                }
            }
        }
        for c in &mut self.clients {
            if c.pc.poll_timeout().is_some_and(|t| t <= now) {
                let _ = c.pc.handle_timeout(now);
            }
        }
        self.drain();
    }
}

impl World {
    /// Takes everything the server peers and the clients produced: the server's datagrams are
    /// checked (destination proven, no media before DTLS, bounded) and put in flight.
    fn drain(&mut self) {
        for i in 0..PEERS {
            self.drain_peer(i);
        }
        for c in &mut self.clients {
            let mut n = 0;
            while let Some(m) = c.pc.poll_write() {
                n += 1;
                assert!(n <= MAX_OUT, "a client without end of output");
                if self.to_server.len() < IN_FLIGHT {
                    self.to_server.push_back((c.at, m.message.to_vec()));
                }
            }
            while c.pc.poll_event().is_some() {}
            while c.pc.poll_read().is_some() {}
        }
    }

    fn drain_peer(&mut self, i: usize) {
        let sp = &mut self.peers[i];
        let Some(peer) = sp.peer.as_mut() else { return };
        let mut n = 0;
        while let Some(event) = peer.poll_event() {
            n += 1;
            assert!(n <= MAX_OUT, "peer {i}: events without end");
            match event {
                PeerEvent::Connected => sp.connected = true,
                PeerEvent::TrackOpened { kind, ssrc, receiver, .. } => sp.tracks.push((kind, receiver, ssrc)),
                PeerEvent::Gone => {
                    // As the engine does: the peer is closed and forgotten.
                    peer.close();
                    sp.peer = None;
                    self.demux.remove(i);
                    return;
                }
                PeerEvent::Rtp { .. } | PeerEvent::KeyframeRequest { .. } => {}
            }
        }
        let mut n = 0;
        while let Some((to, data)) = peer.poll_datagram() {
            n += 1;
            assert!(n <= MAX_OUT, "peer {i}: datagrams without end");
            assert!(sp.seen.contains(&to), "peer {i} sent to {to}, which never sent it a datagram");
            let media = data.first().is_some_and(|b| (128..=191).contains(b));
            assert!(!media || peer.is_connected(), "peer {i} sent RTP or RTCP before DTLS was up");
            if self.to_clients.len() < IN_FLIGHT {
                self.to_clients.push_back((to, data.to_vec()));
            }
        }
    }

    /// The publishing client sends a packet on its track.
    fn client_rtp(&mut self, video: bool, raw: bool, data: &[u8]) {
        let publisher = &mut self.clients[C_PUBLISHER];
        let kind = if video { TrackKind::Video } else { TrackKind::Audio };
        let Some(&(_, sender, ssrc, pt)) = publisher.senders.iter().find(|s| s.0 == kind) else { return };
        let mut packet = rtp_packet(data);
        if !raw {
            packet.header.ssrc = ssrc;
            packet.header.payload_type = pt;
        }
        if let Some(mut s) = publisher.pc.rtp_sender(sender) {
            let _ = s.write_rtp(self.now, packet);
        }
    }

    /// The receive peer sends a packet as the engine forwards one: the sink's SSRC and payload
    /// type, no header extensions.
    fn server_rtp(&mut self, video: bool, data: &[u8]) {
        let sp = &mut self.peers[2];
        let Some(peer) = sp.peer.as_mut() else { return };
        let kind = if video { TrackKind::Video } else { TrackKind::Audio };
        let Some(send) = sp.sends.iter().find(|s| s.kind == kind) else { return };
        let mut packet = rtp_packet(data);
        packet.header.ssrc = send.ssrc;
        packet.header.payload_type = if video { 96 } else { 111 };
        packet.header.extension = false;
        packet.header.extensions.clear();
        peer.send_rtp(self.now, send.sender, packet);
    }

    fn control(&mut self, what: u8, peer: u8, data: &[u8]) {
        let now = self.now;
        match what % 4 {
            0 => {
                let sp = &mut self.peers[usize::from(peer) % 2];
                if let (Some(p), Some(&(_, receiver, ssrc))) = (sp.peer.as_mut(), sp.tracks.first()) {
                    p.request_keyframe(now, receiver, ssrc);
                }
            }
            1 => {
                let media_ssrc = self.peers[2].sends.first().map_or(0, |s| s.ssrc);
                let c = &mut self.clients[C_RECEIVER];
                let ids: Vec<_> = c.pc.get_receivers().collect();
                if let Some(mut r) = ids.first().and_then(|id| c.pc.rtp_receiver(*id)) {
                    let _ = r.write_rtcp(now, vec![Box::new(PictureLossIndication { sender_ssrc: 1, media_ssrc })]);
                }
            }
            2 => {
                if let Some(p) = self.peers[usize::from(peer) % PEERS].peer.as_mut() {
                    p.close();
                }
            }
            _ => {
                let candidate = RTCIceCandidateInit {
                    candidate: String::from_utf8_lossy(data).into_owned(),
                    sdp_mid: Some("0".to_owned()),
                    sdp_mline_index: Some(0),
                    ..Default::default()
                };
                if let Some(p) = self.peers[usize::from(peer) % PEERS].peer.as_mut() {
                    let _ = p.add_remote_candidate(candidate);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut world = World::new();
    let mut data = data;
    let mut steps = 0;
    while let Some(op) = Op::read(&mut data) {
        world.run(op);
        steps += 1;
        if steps >= 256 {
            break;
        }
    }
});
