//! One client peer connection of the generator, on webrtc-rs's sans-IO `rtc` core: a publisher
//! (sends the trace's VP8 and Opus tracks, offers) or a subscriber (receives, answers the
//! SFU's offer). Each has its own UDP socket, ICE agent (full ICE, host candidate only), DTLS
//! session (client role where it answers) and SRTP context; the engine feeds it datagrams and
//! time and sends what it writes.
//!
//! Both SFUs see the same client: VP8 (with nack, nack pli, ccm fir) and Opus, no RTX, no TWCC,
//! only the mid header extension, and the SRTP profile chosen on the command line. Interceptors
//! are rtc's NACK generator and responder and its sender and receiver reports, plus the tap that
//! hands PLI and FIR to the engine so the publisher can jump to a keyframe. The codecs, payload
//! types and the tap are the server's own (`livegate_sfu::profile`), without `goog-remb`.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use anyhow::{anyhow, Result};
use bytes::BytesMut;
use livegate_sfu::profile::{self, is_keyframe_request, Remb};
use livegate_sfu::TrackKind;
use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::interceptor_registry::{configure_nack, configure_rtcp_reports};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::{RTCIceConnectionState, RTCPeerConnectionState};
use rtc::peer_connection::transport::RTCDtlsRole;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpHeaderExtensionCapability, RtpCodecKind};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::TaggedBytesMut;

/// The ICE agent's interval between connectivity checks, in ms (0: `rtc`'s default, 200 ms).
/// With the default the client nominates its pair one interval after the first check succeeds,
/// so about 200 ms of every join on either SFU is this client's own wait (`--ice-check-interval-ms`).
pub static ICE_CHECK_INTERVAL_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Which SRTP protection profile the client offers (the SFU picks among those offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Srtp {
    /// AES_CM_128_HMAC_SHA1_80: the headline profile, available everywhere.
    Cm,
    /// AEAD_AES_128_GCM.
    Gcm,
}

/// What the engine hears from a peer.
pub enum ClientEvent {
    /// ICE found a working pair (DTLS starts now).
    IceConnected,
    /// ICE and DTLS are done: SRTP keys exist.
    Connected,
    Failed,
    /// An RTP packet arrived on a received track.
    Rtp {
        kind: TrackKind,
        packet: rtp::Packet,
    },
    /// The SFU asked this publisher for a keyframe.
    KeyframeRequest,
}

/// A track the publisher sends.
#[derive(Debug, Clone, Copy)]
pub struct SendTrack {
    pub kind: TrackKind,
    pub sender: RTCRtpSenderId,
    pub ssrc: u32,
    pub payload_type: u8,
}

/// One peer connection and its socket.
pub struct ClientPeer {
    pub pc: RTCPeerConnection,
    pub sock: UdpSocket,
    pub local: SocketAddr,
    pub ice_connected: bool,
    pub connected: bool,
    pub failed: bool,
    /// The deadline registered in the engine's timer heap.
    pub deadline: Option<Instant>,
    recv_tracks: Vec<(String, TrackKind)>,
    /// The SSRC of the video the SFU offered to send (subscribers), for keyframe requests.
    video_ssrc: Option<u32>,
}

impl ClientPeer {
    fn build(now: Instant, sock: UdpSocket, srtp: Srtp) -> Result<ClientPeer> {
        let local = sock.local_addr()?;
        let mut media = media_engine()?;
        let registry = configure_nack(Registry::new(), &mut media);
        let registry = profile::with_keyframe_request_tap(configure_rtcp_reports(registry));
        let profile = match srtp {
            Srtp::Cm => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
            Srtp::Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        };
        let check_ms = ICE_CHECK_INTERVAL_MS.load(std::sync::atomic::Ordering::Relaxed);
        let settings = SettingEngineBuilder::new()
            .with_srtp_protection_profiles(vec![profile])
            .with_answering_dtls_role(RTCDtlsRole::Client)
            .with_ice_connection_attempts((check_ms > 0).then(|| std::time::Duration::from_millis(check_ms)), None)
            .build();
        let pc = profile::peer_connection(now, settings, media, registry)
            .map_err(|e| anyhow!("building a peer connection: {e}"))?;
        Ok(ClientPeer {
            pc,
            sock,
            local,
            ice_connected: false,
            connected: false,
            failed: false,
            deadline: None,
            recv_tracks: Vec::new(),
            video_ssrc: None,
        })
    }

    /// A publisher sending VP8 and Opus; returns it, its tracks and its offer.
    pub fn publisher(now: Instant, sock: UdpSocket, srtp: Srtp) -> Result<(ClientPeer, Vec<SendTrack>, String)> {
        let mut peer = Self::build(now, sock, srtp)?;
        let mut tracks = Vec::new();
        for kind in [TrackKind::Audio, TrackKind::Video] {
            let ssrc = rand::random::<u32>() | 1;
            let id = format!("{kind:?}").to_lowercase();
            let track = profile::send_track("loadgen", &id, &id, kind, Remb::Omitted, ssrc);
            let sender = peer.pc.add_track(track).map_err(|e| anyhow!("add_track: {e}"))?;
            tracks.push(SendTrack {
                kind,
                sender,
                ssrc,
                payload_type: profile::payload_type(kind),
            });
        }
        peer.add_host_candidate()?;
        let offer = peer.pc.create_offer(None).map_err(|e| anyhow!("create_offer: {e}"))?;
        let sdp = offer.sdp.clone();
        peer.pc
            .set_local_description(now, offer)
            .map_err(|e| anyhow!("set_local_description: {e}"))?;
        Ok((peer, tracks, sdp))
    }

    /// A subscriber answering the SFU's offer; returns it and its answer.
    pub fn subscriber(now: Instant, sock: UdpSocket, srtp: Srtp, offer_sdp: &str) -> Result<(ClientPeer, String)> {
        let mut peer = Self::build(now, sock, srtp)?;
        peer.video_ssrc = video_ssrc(offer_sdp);
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned()).map_err(|e| anyhow!("bad offer: {e}"))?;
        peer.pc
            .set_remote_description(now, offer)
            .map_err(|e| anyhow!("set_remote_description(offer): {e}"))?;
        peer.add_host_candidate()?;
        let answer = peer.pc.create_answer(None).map_err(|e| anyhow!("create_answer: {e}"))?;
        let sdp = answer.sdp.clone();
        peer.pc
            .set_local_description(now, answer)
            .map_err(|e| anyhow!("set_local_description: {e}"))?;
        Ok((peer, sdp))
    }

    /// Applies the SFU's answer to the publisher's offer.
    pub fn apply_answer(&mut self, now: Instant, sdp: &str) -> Result<()> {
        let answer = RTCSessionDescription::answer(sdp.to_owned()).map_err(|e| anyhow!("bad answer: {e}"))?;
        self.pc
            .set_remote_description(now, answer)
            .map_err(|e| anyhow!("set_remote_description(answer): {e}"))
    }

    fn add_host_candidate(&mut self) -> Result<()> {
        let init = profile::host_candidate(self.local).map_err(|e| anyhow!("host candidate: {e}"))?;
        self.pc
            .add_local_candidate(init)
            .map_err(|e| anyhow!("add_local_candidate: {e}"))
    }

    /// Feeds one datagram.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let msg = TaggedBytesMut {
            now,
            transport: profile::udp_transport(self.local, from),
            message: BytesMut::from(data),
        };
        let _ = self.pc.handle_read(msg);
    }

    /// Drains what happened since the last call into `out`.
    pub fn drain(&mut self, out: &mut VecDeque<ClientEvent>) {
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(RTCIceConnectionState::Connected)
                    if !self.ice_connected =>
                {
                    self.ice_connected = true;
                    out.push_back(ClientEvent::IceConnected);
                }
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                    RTCPeerConnectionState::Connected if !self.connected => {
                        self.connected = true;
                        out.push_back(ClientEvent::Connected);
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed if !self.failed => {
                        self.failed = true;
                        out.push_back(ClientEvent::Failed);
                    }
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let Some(receiver) = self.pc.rtp_receiver(init.receiver_id) else {
                        continue;
                    };
                    let kind = match receiver.track().kind() {
                        RtpCodecKind::Video => TrackKind::Video,
                        _ => TrackKind::Audio,
                    };
                    self.recv_tracks.push((init.track_id.clone(), kind));
                }
                _ => {}
            }
        }
        while let Some(msg) = self.pc.poll_read() {
            match msg.message {
                rtc::peer_connection::message::RTCMessage::RtpPacket(track_id, packet) => {
                    if let Some((_, kind)) = self.recv_tracks.iter().find(|(t, _)| *t == track_id) {
                        out.push_back(ClientEvent::Rtp { kind: *kind, packet });
                    }
                }
                rtc::peer_connection::message::RTCMessage::RtcpPacket(_, packets)
                    if packets.iter().any(|p| is_keyframe_request(p.as_ref())) =>
                {
                    out.push_back(ClientEvent::KeyframeRequest);
                }
                _ => {}
            }
        }
    }

    /// Sends what the peer has written; returns how many datagrams went out.
    pub fn flush(&mut self, mut on_send: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while let Some(m) = self.pc.poll_write() {
            on_send(&m.message);
            crate::net::send(&self.sock, &m.message, m.transport.peer_addr);
            n += 1;
        }
        n
    }

    /// Sends one RTP packet on a publisher track.
    pub fn write_rtp(&mut self, now: Instant, sender: RTCRtpSenderId, packet: rtp::Packet) -> bool {
        match self.pc.rtp_sender(sender) {
            Some(mut s) => s.write_rtp(now, packet).is_ok(),
            None => false,
        }
    }

    /// Sends a PLI for the received video (subscribers); false if there is none yet.
    pub fn request_keyframe(&mut self, now: Instant) -> bool {
        let Some(ssrc) = self.video_ssrc else { return false };
        let ids: Vec<_> = self.pc.get_receivers().collect();
        for id in ids {
            let Some(mut r) = self.pc.rtp_receiver(id) else {
                continue;
            };
            if r.track().kind() == RtpCodecKind::Video {
                // A compound packet (RFC 4585: a receiver report first), as browsers send.
                let rr = ReceiverReport {
                    ssrc: 1,
                    ..Default::default()
                };
                let pli = PictureLossIndication {
                    sender_ssrc: 1,
                    media_ssrc: ssrc,
                };
                return r.write_rtcp(now, vec![Box::new(rr), Box::new(pli)]).is_ok();
            }
        }
        false
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = self.pc.handle_timeout(now);
    }

    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

/// The first `a=ssrc` of the offer's video section.
fn video_ssrc(sdp: &str) -> Option<u32> {
    let video = sdp.split("\nm=").find(|m| m.starts_with("video"))?;
    video
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=ssrc:")?.split(' ').next()?.parse().ok())
}

fn media_engine() -> Result<MediaEngine> {
    let mut m = MediaEngine::default();
    m.register_codec(profile::opus_codec(), RtpCodecKind::Audio)
        .map_err(|e| anyhow!("{e}"))?;
    m.register_codec(profile::vp8_codec(Remb::Omitted), RtpCodecKind::Video)
        .map_err(|e| anyhow!("{e}"))?;
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        m.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: rtc::sdp::extmap::SDES_MID_URI.to_owned(),
            },
            kind,
            None,
        )
        .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(m)
}
