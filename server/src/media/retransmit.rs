//! The retransmission budget in a receive peer's interceptor chain: the glue between the `rtc`
//! crate's packets and [`livegate_sfu::retransmit::Retransmitter`].
//!
//! It takes the place of the library's `NackResponder`, which answers every NACK in full from its
//! own buffer. Sitting where that did (wire-ward of the sender reports), it sees every media
//! packet and sender report the peer sends, and every NACK and receiver report the subscriber
//! sends back, and hands them to the policy; the retransmissions the policy allows leave after
//! the media of the same turn, tagged as retransmissions. Streams without NACK negotiated
//! (Opus) are never retransmitted, as before.
//!
//! The send queue the policy is told about is this interceptor's own: the chain takes its
//! output at every walk and the engine sends every turn's datagrams at once, so today it holds
//! one walk's packets at most, and what bounds a NACK's retransmissions in practice is the budget
//! and `MAX_PENDING`; the rule matters once packets wait here between turns.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, AttributedPacket, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::TransportContext;

use livegate_sfu::retransmit::{Retransmitter, RtxParams};

/// A receive peer's retransmission interceptor.
#[derive(Default)]
pub struct RetransmitInterceptor {
    policy: Retransmitter,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
    /// When the last NACK arrived: the time its retransmissions are stamped with.
    nacked_at: Option<Instant>,
}

impl RetransmitInterceptor {
    fn receiver_reports(&mut self, now: Instant, reports: &[ReceptionReport]) {
        for r in reports {
            self.policy
                .on_receiver_report(now, r.ssrc, r.fraction_lost, r.last_sender_report, r.delay);
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RetransmitInterceptor {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for p in packets {
                let any = p.as_any();
                if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                    self.policy
                        .on_nack(msg.now, nack.media_ssrc, &nack.nacks, self.write.len());
                    self.nacked_at = Some(msg.now);
                } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    self.receiver_reports(msg.now, &rr.reports);
                } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    self.receiver_reports(msg.now, &sr.reports);
                }
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        match &msg.message.packet {
            Packet::Rtp(packet) => self.policy.on_sent(msg.now, packet, self.write.len() + 1),
            Packet::Rtcp(packets) => {
                for sr in packets.iter().filter_map(|p| p.as_any().downcast_ref::<SenderReport>()) {
                    self.policy.on_sender_report(msg.now, sr.ssrc, sr.ntp_time);
                }
            }
            _ => {}
        }
        self.write.push_back(msg);
        Ok(())
    }

    /// Media and reports first, then the retransmissions the policy allowed.
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        if let Some(msg) = self.write.pop_front() {
            return Some(msg);
        }
        let now = self.nacked_at?;
        let packet = self.policy.poll_retransmission()?;
        Some(TaggedPacket {
            now,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)).with(Attribute::Retransmission),
        })
    }

    fn close(&mut self) -> Result<(), Self::Error> {
        let s = self.policy.stats();
        if s.asked > 0 {
            tracing::debug!(
                media_bytes = s.media_bytes,
                asked = s.asked,
                sent = s.sent,
                sent_bytes = s.sent_bytes,
                unknown = s.unknown,
                too_old = s.too_old,
                too_soon = s.too_soon,
                out_of_tries = s.out_of_tries,
                over_budget = s.over_budget,
                queue_full = s.queue_full,
                "retransmissions"
            );
        }
        Ok(())
    }
}

impl Interceptor for RetransmitInterceptor {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if info
            .rtcp_feedback
            .iter()
            .any(|fb| fb.typ == "nack" && fb.parameter.is_empty())
        {
            let rtx = info
                .ssrc_rtx
                .zip(info.payload_type_rtx)
                .map(|(ssrc, payload_type)| RtxParams { ssrc, payload_type });
            self.policy.bind(info.ssrc, rtx, rand::random());
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.policy.unbind(info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
