//! One WebRTC peer connection on the shared UDP port: a thin, typed layer over the sans-IO
//! `rtc` crate.
//!
//! Livegate uses one peer connection per stream (as Galene does): a publisher's stream is
//! offered by the client and answered here; each receiver's copy is offered from here and
//! answered by the client. So there is never renegotiation, and a peer is either a
//! [`Direction::Publish`] (receive-only here) or a [`Direction::Receive`] (send-only here).
//!
//! The server is ICE-lite with one host candidate, the shared socket's advertised address. Its
//! ICE username fragment is chosen here, so the demultiplexer can route a STUN check to the
//! right peer before it knows the client's address.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use rtc::interceptor::{
    NackGeneratorBuilder, ReceiverReportBuilder, Registry, SenderReportBuilder, Slot, TwccReceiverBuilder,
};
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::TaggedBytesMut;

use super::retransmit::RetransmitInterceptor;
use livegate_core::ids::random_token;
use livegate_sfu::profile::{self, is_keyframe_request, media_engine, KeyframeRequestTap, Remb};
use livegate_sfu::TrackKind;

/// Which way media flows on this peer, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client sends; the server receives.
    Publish,
    /// The server sends; the client receives.
    Receive,
}

/// What happened on a peer, for the engine.
#[derive(Debug)]
pub enum PeerEvent {
    /// DTLS and ICE are up: media can flow.
    Connected,
    /// The connection failed or closed; the engine drops the peer.
    Gone,
    /// A published track started (publish peers only).
    TrackOpened {
        track_id: String,
        kind: TrackKind,
        ssrc: u32,
        receiver: RTCRtpReceiverId,
    },
    /// RTP from the client on a published track.
    Rtp { track_id: String, packet: rtp::Packet },
    /// The client asked for a keyframe on a track we send (receive peers only).
    KeyframeRequest { track_id: String },
}

/// A track this server sends on a receive peer.
#[derive(Debug, Clone)]
pub struct SendTrack {
    pub kind: TrackKind,
    pub track_id: String,
    pub ssrc: u32,
    pub sender: RTCRtpSenderId,
}

/// Why a peer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("bad sdp: {0}")]
    BadSdp(String),
    #[error("webrtc: {0}")]
    Rtc(String),
}

fn rtc_err(e: impl std::fmt::Display) -> PeerError {
    PeerError::Rtc(e.to_string())
}

/// One peer connection and the bookkeeping the engine needs about it.
pub struct Peer {
    pc: RTCPeerConnection,
    pub direction: Direction,
    pub ufrag: String,
    local_addr: SocketAddr,
    events: VecDeque<PeerEvent>,
    connected: bool,
    /// Receive peers: datagrams that came before the client's answer was applied, replayed
    /// once it is (see [`EARLY_DATAGRAMS`]); `None` once answered, and for publish peers.
    early: Option<Vec<(SocketAddr, BytesMut)>>,
}

/// How many datagrams a receive peer keeps from before its answer. The client answers and
/// starts its connectivity checks at once, so its first check can overtake the answer (which
/// goes through the lesson task); dropped, the check would be repeated only after the client's
/// retransmission timeout, about 200 ms later. A few are enough for its first checks, and the
/// bound keeps a client that sends checks without answering from growing anything.
const EARLY_DATAGRAMS: usize = 4;

impl Peer {
    /// A publish peer from the client's offer. Returns the peer and the answer SDP.
    pub fn publish(now: Instant, local_addr: SocketAddr, offer_sdp: String) -> Result<(Peer, String), PeerError> {
        let offer = RTCSessionDescription::offer(offer_sdp).map_err(|e| PeerError::BadSdp(e.to_string()))?;
        let mut peer = Self::build(now, local_addr, Direction::Publish)?;
        peer.pc
            .set_remote_description(now, offer)
            .map_err(|e| PeerError::BadSdp(e.to_string()))?;
        peer.add_host_candidate()?;
        let answer = peer.pc.create_answer(None).map_err(rtc_err)?;
        let sdp = answer.sdp.clone();
        peer.pc.set_local_description(now, answer).map_err(rtc_err)?;
        peer.drain_events();
        Ok((peer, sdp))
    }

    /// A receive peer sending the given kinds of track. Returns the peer, its tracks and the offer.
    pub fn receive(
        now: Instant,
        local_addr: SocketAddr,
        kinds: &[TrackKind],
        stream_label: &str,
    ) -> Result<(Peer, Vec<SendTrack>, String), PeerError> {
        let mut peer = Self::build(now, local_addr, Direction::Receive)?;
        let mut tracks = Vec::new();
        for kind in kinds {
            let ssrc = rand::random::<u32>() | 1;
            let track_id = format!("t{}", random_token(6));
            let track = profile::send_track(stream_label, &track_id, &track_id, *kind, Remb::Offered, ssrc);
            let sender = peer.pc.add_track(track).map_err(rtc_err)?;
            tracks.push(SendTrack {
                kind: *kind,
                track_id,
                ssrc,
                sender,
            });
        }
        peer.add_host_candidate()?;
        let offer = peer.pc.create_offer(None).map_err(rtc_err)?;
        let sdp = offer.sdp.clone();
        peer.pc.set_local_description(now, offer).map_err(rtc_err)?;
        peer.drain_events();
        Ok((peer, tracks, sdp))
    }

    /// Applies the client's answer to our offer (receive peers).
    pub fn apply_answer(&mut self, now: Instant, sdp: String) -> Result<(), PeerError> {
        let answer = RTCSessionDescription::answer(sdp).map_err(|e| PeerError::BadSdp(e.to_string()))?;
        self.pc
            .set_remote_description(now, answer)
            .map_err(|e| PeerError::BadSdp(e.to_string()))?;
        self.drain_events();
        for (from, data) in self.early.take().unwrap_or_default() {
            self.handle_datagram(now, from, &data);
        }
        Ok(())
    }

    /// Adds a trickled remote candidate. Optional: the server learns addresses from checks.
    pub fn add_remote_candidate(&mut self, candidate: RTCIceCandidateInit) -> Result<(), PeerError> {
        self.pc.add_remote_candidate(candidate).map_err(rtc_err)
    }

    /// A datagram from the socket for this peer.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if let Some(early) = &mut self.early {
            if early.len() < EARLY_DATAGRAMS && data.len() <= 1500 {
                early.push((from, BytesMut::from(data)));
            }
            return;
        }
        let msg = TaggedBytesMut {
            now,
            transport: profile::udp_transport(self.local_addr, from),
            message: BytesMut::from(data),
        };
        if self.pc.handle_read(msg).is_err() {
            // One per hostile datagram, and the library's reason quotes ICE usernames: count
            // them, never print the reason.
            static REFUSED: crate::logs::Throttle = crate::logs::Throttle::new();
            if let Some(datagrams) = REFUSED.hit(now) {
                let why = "forged or stale ICE checks, bad DTLS or SRTP; one line per 10 s at most";
                tracing::info!(datagrams, why, "peer connections refused datagrams");
            }
        }
        self.drain_events();
    }

    /// Advances the peer's timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.pc.handle_timeout(now).is_err() {
            static FAILED: crate::logs::Throttle = crate::logs::Throttle::new();
            if let Some(times) = FAILED.hit(now) {
                tracing::debug!(times, "peer connection timers failed; one line per 10 s at most");
            }
        }
        self.drain_events();
    }

    /// When the peer next needs [`Peer::handle_timeout`].
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }

    /// The next datagram to send, with its destination.
    pub fn poll_datagram(&mut self) -> Option<(SocketAddr, BytesMut)> {
        self.pc.poll_write().map(|m| (m.transport.peer_addr, m.message))
    }

    /// The next thing that happened.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// True once ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Sends one RTP packet on a track of a receive peer.
    pub fn send_rtp(&mut self, now: Instant, sender: RTCRtpSenderId, packet: rtp::Packet) -> bool {
        match self.pc.rtp_sender(sender) {
            Some(mut s) => s.write_rtp(now, packet).is_ok(),
            None => false,
        }
    }

    /// Asks the client for a keyframe on a published track.
    pub fn request_keyframe(&mut self, now: Instant, receiver: RTCRtpReceiverId, ssrc: u32) {
        if let Some(mut r) = self.pc.rtp_receiver(receiver) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            if r.write_rtcp(now, vec![Box::new(pli)]).is_err() {
                static FAILED: crate::logs::Throttle = crate::logs::Throttle::new();
                if let Some(times) = FAILED.hit(now) {
                    tracing::debug!(
                        times,
                        "keyframe requests could not be written; one line per 10 s at most"
                    );
                }
            }
        }
    }

    /// Closes the connection.
    pub fn close(&mut self) {
        let _ = self.pc.close();
    }

    fn build(now: Instant, local_addr: SocketAddr, direction: Direction) -> Result<Peer, PeerError> {
        let mut media = media_engine().map_err(rtc_err)?;
        // The default set's codecs, feedback and header extensions (so the SDP is the same for
        // both directions), but only the interceptors this direction uses: every packet walks
        // the whole chain, and a send-only peer never runs a receiver's (and the reverse). NACKs
        // are answered under the subscriber's retransmission budget (`livegate_sfu::retransmit`), in the
        // library responder's place.
        let _ = register_default_interceptors(Registry::new(), &mut media).map_err(rtc_err)?;
        let registry = match direction {
            Direction::Publish => Registry::new()
                .with(Slot::NackGenerator, NackGeneratorBuilder::new().build())
                .with(Slot::TwccReceiver, TwccReceiverBuilder::new().build())
                .with(Slot::ReceiverReport, ReceiverReportBuilder::new().build()),
            Direction::Receive => Registry::new()
                .with(Slot::NackResponder, RetransmitInterceptor::default())
                .with(Slot::SenderReport, SenderReportBuilder::new().build())
                .with(profile::KEYFRAME_REQUEST_TAP_SLOT, KeyframeRequestTap::default()),
        };
        let ufrag = random_token(8);
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_ice_credentials(ufrag.clone(), random_token(16))
            .build();
        let pc = profile::peer_connection(now, settings, media, registry).map_err(rtc_err)?;
        let early = (direction == Direction::Receive).then(Vec::new);
        Ok(Peer {
            pc,
            direction,
            ufrag,
            local_addr,
            events: VecDeque::new(),
            connected: false,
            early,
        })
    }

    fn add_host_candidate(&mut self) -> Result<(), PeerError> {
        let init = profile::host_candidate(self.local_addr).map_err(rtc_err)?;
        self.pc.add_local_candidate(init).map_err(rtc_err)
    }

    /// Turns the library's events and reads into [`PeerEvent`]s.
    fn drain_events(&mut self) {
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                    RTCPeerConnectionState::Connected if !self.connected => {
                        self.connected = true;
                        self.events.push_back(PeerEvent::Connected);
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        self.events.push_back(PeerEvent::Gone);
                    }
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let Some(receiver) = self.pc.rtp_receiver(init.receiver_id) else {
                        continue;
                    };
                    let track = receiver.track();
                    let kind = match track.kind() {
                        RtpCodecKind::Video => TrackKind::Video,
                        _ => TrackKind::Audio,
                    };
                    let Some(ssrc) = track.ssrcs().next() else { continue };
                    self.events.push_back(PeerEvent::TrackOpened {
                        track_id: init.track_id.clone(),
                        kind,
                        ssrc,
                        receiver: init.receiver_id,
                    });
                }
                _ => {}
            }
        }
        while let Some(msg) = self.pc.poll_read() {
            match msg.message {
                RTCMessage::RtpPacket(track_id, packet) => self.events.push_back(PeerEvent::Rtp { track_id, packet }),
                RTCMessage::RtcpPacket(track_id, packets)
                    if packets.iter().any(|p| is_keyframe_request(p.as_ref())) =>
                {
                    self.events.push_back(PeerEvent::KeyframeRequest { track_id });
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livegate_sfu::demux::{binding_request, Demux, ATTR_ICE_CONTROLLED};
    use rtc::peer_connection::configuration::RTCConfigurationBuilder;
    use rtc::peer_connection::RTCPeerConnectionBuilder;

    fn receive_peer(now: Instant) -> Peer {
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        Peer::receive(now, local, &[TrackKind::Video], "s1").unwrap().0
    }

    #[test]
    fn datagrams_before_the_answer_are_kept_up_to_a_bound() {
        let now = Instant::now();
        let mut peer = receive_peer(now);
        let from: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        for i in 0..100u8 {
            peer.handle_datagram(now, from, &[0, 1, 0, 0, i]);
        }
        peer.handle_datagram(now, from, &[0u8; 4000]);
        assert_eq!(peer.early.as_ref().map(Vec::len), Some(EARLY_DATAGRAMS));
        // A bad answer changes nothing: still waiting, nothing replayed.
        assert!(peer.apply_answer(now, "not sdp".to_owned()).is_err());
        assert_eq!(peer.early.as_ref().map(Vec::len), Some(EARLY_DATAGRAMS));
        assert!(!peer.is_connected());
    }

    #[test]
    fn the_answer_replays_what_came_before_it() {
        let now = Instant::now();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (mut peer, _, offer) = Peer::receive(now, local, &[TrackKind::Video], "s1").unwrap();
        let from: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        peer.handle_datagram(now, from, &[0, 1, 0, 0]);
        // A client answering the offer, as a browser would.
        let mut client = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine().unwrap())
            .build(now)
            .unwrap();
        client
            .set_remote_description(now, RTCSessionDescription::offer(offer).unwrap())
            .unwrap();
        let answer = client.create_answer(None).unwrap();
        client.set_local_description(now, answer.clone()).unwrap();
        peer.apply_answer(now, answer.sdp).unwrap();
        assert!(peer.early.is_none(), "replayed, and nothing more is kept back");
        // Datagrams now go straight to the connection (this one is not STUN: dropped there).
        peer.handle_datagram(now, from, &[0, 1, 0, 0]);
        assert!(peer.early.is_none());
        // A publish peer never keeps anything back.
        let publish = Peer::build(now, local, Direction::Publish).unwrap();
        assert!(publish.early.is_none());
    }

    /// Found by fuzz/fuzz_media_engine: a forged binding request that claims the controlled role
    /// (a wrong MESSAGE-INTEGRITY, from an address the server never heard from) switched the
    /// lite server to controlling, and it then sent checks to the candidate the offer named.
    /// The demultiplexer (`livegate_sfu::demux`) drops such requests; a client's own
    /// ICE-CONTROLLING checks still route.
    #[test]
    fn a_forged_controlled_check_cannot_make_the_server_contact_named_candidates() {
        let now = std::time::Instant::now();
        let victim = "192.0.2.66:9";
        let offer = format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\na=ice-ufrag:cli1\r\n\
             a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 {}\r\na=setup:actpass\r\na=rtcp-mux\r\n\
             a=candidate:1 1 udp 2122194687 {} {} typ host\r\n",
            ["AB"; 32].join(":"),
            victim.split(':').next().unwrap(),
            victim.split(':').nth(1).unwrap(),
        );
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (mut peer, _answer) = Peer::publish(now, local, offer).unwrap();
        let mut demux = Demux::default();
        demux.add(peer.ufrag.clone(), 1u32);
        let attacker: SocketAddr = "203.0.113.5:4000".parse().unwrap();
        let mut forged = binding_request(&format!("{}:cli1", peer.ufrag));
        for (typ, value) in [(ATTR_ICE_CONTROLLED, vec![0; 8]), (0x0008, vec![0xab; 20])] {
            forged.extend_from_slice(&typ.to_be_bytes());
            forged.extend_from_slice(&(value.len() as u16).to_be_bytes());
            forged.extend_from_slice(&value);
        }
        let len = (forged.len() - 20) as u16;
        forged[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(demux.route(attacker, &forged), None, "dropped before any peer sees it");
        if demux.route(attacker, &forged).is_some() {
            peer.handle_datagram(now, attacker, &forged);
        }
        let mut sent = Vec::new();
        for ms in (0..5000).step_by(50) {
            peer.handle_timeout(now + std::time::Duration::from_millis(ms));
            while let Some((to, _)) = peer.poll_datagram() {
                sent.push(to);
            }
        }
        assert!(sent.is_empty(), "the server contacted {sent:?}");
        // The honest client's checks claim ICE-CONTROLLING, and still reach the peer.
        let mut honest = binding_request(&format!("{}:cli1", peer.ufrag));
        honest.extend_from_slice(&[0x80, 0x2a, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
        let len = (honest.len() - 20) as u16;
        honest[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(demux.route(attacker, &honest), Some(1));
    }

    /// Every golden offer (real browsers' publishes, `server/golden/sdp/`) gets an answer that
    /// receives each section the offer sends: port 9, `recvonly`, its codec kept.
    #[test]
    fn real_browser_offers_get_answers_that_receive_them() {
        let now = Instant::now();
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        for (name, _, offer) in super::super::offer::tests::golden_offers() {
            let (_, answer) = Peer::publish(now, local, offer.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let sections: Vec<&str> = answer.split("m=").skip(1).collect();
            assert_eq!(
                sections.len(),
                offer.matches("\r\nm=").count(),
                "{name}: one answer section per offered one"
            );
            for section in sections {
                assert!(
                    section.starts_with("audio 9 ") || section.starts_with("video 9 "),
                    "{name}: {section:.40}"
                );
                assert!(section.contains("a=recvonly"), "{name}: {section:.40}");
                assert!(
                    section.contains(" VP8/90000") || section.contains(" opus/48000/2"),
                    "{name}"
                );
            }
        }
    }

    /// The answers real browsers gave to the server's offer of a camera stream (video, then
    /// audio) as a receive-only pupil apply to a fresh receive peer of the same kinds.
    #[test]
    fn real_browser_answers_apply() {
        let dir = format!("{}/golden/sdp", env!("CARGO_MANIFEST_DIR"));
        let mut engines = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !name.ends_with("-answer.sdp") {
                continue;
            }
            let answer = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            let now = Instant::now();
            let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
            let (mut peer, _, _) = Peer::receive(now, local, &[TrackKind::Video, TrackKind::Audio], "s1").unwrap();
            peer.apply_answer(now, answer).unwrap_or_else(|e| panic!("{name}: {e}"));
            engines.push(name.split('-').next().unwrap_or_default().to_owned());
        }
        engines.sort();
        engines.dedup();
        assert_eq!(engines, ["chromium", "firefox"], "a golden answer from each engine");
    }
}
