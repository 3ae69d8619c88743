//! The WebRTC profile every Livegate peer speaks: the server's peers (`server/src/media/peer.rs`),
//! the Rust test clients (`tests/src`) and the load generator (`tests/loadgen/src`) build their
//! codecs, payload types and keyframe-request interceptor from here, so a client in a test is
//! the client the server was written for.
//!
//! VP8 (with RTX on the server) and Opus only: what every browser sends, what the recorder
//! remuxes to WebM, and no ambiguity about which payload type a forwarded packet must carry.
//! Everything here builds `rtc` values (sans-IO, like the rest of this crate); the interceptor
//! is handed the time by the peer connection that drives it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet as ChainPacket, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8};
use rtc::peer_connection::configuration::setting_engine::SettingEngine;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TransportContext, TransportProtocol};

use crate::TrackKind;

/// VP8's payload type: the server offers it, a receiver's answer keeps it, and every test
/// client and the load generator offer it too.
pub const VP8_PT: u8 = 96;
/// The payload type of VP8's retransmissions (RTX, RFC 4588), offered by the server.
pub const VP8_RTX_PT: u8 = VP8_PT + 1;
/// Opus's payload type.
pub const OPUS_PT: u8 = 111;

/// Where [`KeyframeRequestTap`] sits in an interceptor chain: above every interceptor of the
/// library (the highest is at 13 000), so they have all seen a request before it is tagged.
pub const KEYFRAME_REQUEST_TAP_SLOT: Slot = Slot::Custom(20_000);

/// Whether a VP8 codec offers receiver-estimated bandwidth feedback (`goog-remb`). The server
/// and the test clients do, as browsers do; the load generator does not, so that the two SFUs it
/// compares see the same client (BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remb {
    Offered,
    Omitted,
}

/// The payload type a forwarded packet of this kind carries.
pub fn payload_type(kind: TrackKind) -> u8 {
    match kind {
        TrackKind::Video => VP8_PT,
        TrackKind::Audio => OPUS_PT,
    }
}

/// VP8 with keyframe requests (FIR, PLI) and NACKs, and REMB if asked.
pub fn vp8_codec(remb: Remb) -> RTCRtpCodecParameters {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    let mut rtcp_feedback = vec![fb("ccm", "fir"), fb("nack", ""), fb("nack", "pli")];
    if remb == Remb::Offered {
        rtcp_feedback.insert(0, fb("goog-remb", ""));
    }
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback,
        },
        payload_type: VP8_PT,
    }
}

/// Stereo Opus at 48 kHz with in-band FEC.
pub fn opus_codec() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: OPUS_PT,
    }
}

/// The codec of a kind of track (VP8 with the given REMB choice, or Opus).
pub fn codec(kind: TrackKind, remb: Remb) -> RTCRtpCodecParameters {
    match kind {
        TrackKind::Video => vp8_codec(remb),
        TrackKind::Audio => opus_codec(),
    }
}

/// The server's media engine: Opus, VP8 with REMB, and VP8's RTX.
pub fn media_engine() -> rtc::shared::error::Result<MediaEngine> {
    let mut m = MediaEngine::default();
    m.register_codec(opus_codec(), RtpCodecKind::Audio)?;
    m.register_codec(vp8_codec(Remb::Offered), RtpCodecKind::Video)?;
    let rtx = RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_RTX.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: format!("apt={VP8_PT}"),
            rtcp_feedback: vec![],
        },
        payload_type: VP8_RTX_PT,
    };
    m.register_codec(rtx, RtpCodecKind::Video)?;
    Ok(m)
}

/// A peer connection with the default configuration (no ICE servers: the server is ICE-lite on
/// one address and clients offer host candidates) and the given settings, codecs and
/// interceptors.
pub fn peer_connection(
    now: Instant,
    settings: SettingEngine,
    media: MediaEngine,
    interceptors: Registry,
) -> rtc::shared::error::Result<RTCPeerConnection> {
    RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_media_engine(media)
        .with_interceptor_registry(interceptors)
        .build(now)
}

/// A track to send: one encoding with the given SSRC and the kind's codec.
pub fn send_track(
    stream_id: &str,
    track_id: &str,
    label: &str,
    kind: TrackKind,
    remb: Remb,
    ssrc: u32,
) -> MediaStreamTrack {
    let codec_kind = match kind {
        TrackKind::Video => RtpCodecKind::Video,
        TrackKind::Audio => RtpCodecKind::Audio,
    };
    MediaStreamTrack::new(
        stream_id.to_owned(),
        track_id.to_owned(),
        label.to_owned(),
        codec_kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: codec(kind, remb).rtp_codec,
            ..Default::default()
        }],
    )
}

/// The one candidate a Livegate peer offers: a UDP host candidate on `addr` (the server's
/// shared port, or a client's own socket).
pub fn host_candidate(addr: SocketAddr) -> rtc::shared::error::Result<RTCIceCandidateInit> {
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    RTCIceCandidate::from(&candidate).to_json()
}

/// How a datagram between `local` and `peer` travels: UDP, no ECN.
pub fn udp_transport(local: SocketAddr, peer: SocketAddr) -> TransportContext {
    TransportContext {
        local_addr: local,
        peer_addr: peer,
        transport_protocol: TransportProtocol::UDP,
        ecn: None,
    }
}

/// Whether an RTCP packet asks for a keyframe (PLI or FIR).
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// `registry` with a [`KeyframeRequestTap`] in its place.
pub fn with_keyframe_request_tap(registry: Registry) -> Registry {
    registry.with(KEYFRAME_REQUEST_TAP_SLOT, KeyframeRequestTap::default())
}

/// Marks inbound RTCP compounds that hold a PLI or FIR for delivery to the application, so a
/// publisher (or the SFU, for a receiver's request) sees the keyframe request: `rtc` delivers
/// inbound RTCP only when an interceptor tags it `DeliverToApplication`. All other RTCP stays
/// with the interceptors; everything is passed on unchanged.
#[derive(Default)]
pub struct KeyframeRequestTap {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let ChainPacket::Rtcp(packets) = &msg.message.packet {
            if packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
                msg.message.attributes.push(Attribute::DeliverToApplication);
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequestTap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_offers_remb_and_the_load_generator_does_not() {
        let types = |remb| {
            vp8_codec(remb)
                .rtp_codec
                .rtcp_feedback
                .iter()
                .map(|f| f.typ.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(types(Remb::Offered), ["goog-remb", "ccm", "nack", "nack"]);
        assert_eq!(types(Remb::Omitted), ["ccm", "nack", "nack"]);
        assert_eq!(payload_type(TrackKind::Video), vp8_codec(Remb::Omitted).payload_type);
        assert_eq!(payload_type(TrackKind::Audio), opus_codec().payload_type);
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // a packet's time stamp; the tap never reads it
    fn only_keyframe_requests_are_tagged_for_the_application() {
        use rtc::interceptor::AttributedPacket;
        use rtc::rtcp::receiver_report::ReceiverReport;
        let tagged = |packets: Vec<Box<dyn rtc::rtcp::Packet>>| {
            let mut tap = KeyframeRequestTap::default();
            let message = AttributedPacket::new(ChainPacket::Rtcp(packets));
            tap.handle_read(TaggedPacket {
                now: Instant::now(),
                transport: TransportContext::default(),
                message,
            })
            .unwrap();
            tap.poll_read()
                .expect("passed on")
                .message
                .has(&Attribute::DeliverToApplication)
        };
        let pli = || {
            Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: 1,
            }) as Box<dyn rtc::rtcp::Packet>
        };
        assert!(tagged(vec![pli()]));
        assert!(tagged(vec![Box::new(ReceiverReport::default()), pli()]));
        assert!(!tagged(vec![Box::new(ReceiverReport::default())]));
    }
}
