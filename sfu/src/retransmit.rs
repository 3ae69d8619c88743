//! Which NACKed packets a subscriber gets again: a retransmission budget per subscriber.
//!
//! A subscriber's NACK names packets it did not receive. Answering every one in full, again and
//! again, is how a pupil behind a thin link made the server offer fifteen times the lesson's
//! rate (issue 11, item 7): the link was full, so the retransmissions were lost too, and were
//! asked for again. A [`Retransmitter`] answers from a bounded history of what it sent one
//! subscriber (the rewritten packets, as they went on the wire), under five rules:
//!
//! - **Budget.** Every media byte sent earns the subscriber [`SHARE_PERCENT`] of a byte of
//!   retransmission, scaled down by the loss its receiver reports (so the budget follows what its
//!   link carries, not what the server offers), up to a burst of [`BURST_BYTES`]. A packet is
//!   resent only while the budget covers it. (libwebrtc caps retransmissions at its bandwidth
//!   estimate in the same spirit; the estimate itself is issue 18.)
//! - **Once per round trip.** A packet is not resent again within the subscriber's round-trip
//!   time (from its receiver reports, at least [`RTT_FLOOR`]): the copy on its way would be
//!   sent twice.
//! - **A few tries.** At most [`MAX_TRIES`] retransmissions per packet.
//! - **Still playable.** Nothing first sent more than [`HORIZON`] ago: it would arrive too late to
//!   be played.
//! - **Media first.** Retransmissions wait behind the subscriber's new media, at most
//!   [`MAX_PENDING`] of them; when the subscriber's send queue reaches [`QUEUE_LIMIT`] packets,
//!   retransmissions are dropped (the oldest first) and media is not.
//!
//! Where a packet is asked for repeatedly, those never retransmitted go first. Whether a resend
//! is RFC 4588 RTX (its own SSRC and payload type) or the original packet again follows what the
//! subscriber negotiated. Nothing here reads a clock: time comes in with every call, so the tests
//! run in virtual time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;
use rtc::rtp;

/// The share of its media bytes a subscriber may receive again as retransmissions, in percent.
pub const SHARE_PERCENT: u64 = 25;

/// The most retransmission budget a subscriber can save up, in bytes (about 13 full packets):
/// enough to repair a short loss burst at once, too little to multiply anyone's output.
pub const BURST_BYTES: u64 = 16_000;

/// The shortest time between two retransmissions of one packet, whatever the reported round
/// trip (a browser asks again after about one round trip, 100 ms before it has measured one).
pub const RTT_FLOOR: Duration = Duration::from_millis(100);

/// Retransmissions of one packet, at most.
pub const MAX_TRIES: u8 = 3;

/// How long after it was first sent a packet can still be played, so is worth sending again
/// (a browser's video jitter buffer waits well under a second for a missing packet).
pub const HORIZON: Duration = Duration::from_secs(1);

/// Sent packets kept per stream (a power of two): over three seconds of a 2.5 Mbit/s video.
pub const HISTORY_PACKETS: usize = 1024;

/// Retransmissions waiting to go out, at most.
pub const MAX_PENDING: usize = 64;

/// A subscriber's send queue (media waiting plus retransmissions) at which retransmissions are
/// dropped rather than queued: the forwarder's own bound on what waits for one subscriber.
pub const QUEUE_LIMIT: usize = crate::forwarder::SINK_QUEUE_PACKETS;

/// Sender reports remembered per stream, to match the receiver's reports against.
const REPORTS: usize = 4;

/// RTP's fixed header: what a packet costs on the wire besides its payload.
const RTP_HEADER_BYTES: u64 = 12;

/// The budget is counted in these fractions of a byte, so that earning `SHARE_PERCENT` scaled by
/// the reported loss (out of 256) stays in integers.
const UNITS_PER_BYTE: u64 = 100 * 256;

/// How a subscriber negotiated RFC 4588 retransmission for a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxParams {
    pub ssrc: u32,
    pub payload_type: u8,
}

/// What became of the sequence numbers subscribers asked for, and what was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetransmitStats {
    /// Media bytes sent on the streams that can be retransmitted (payload and RTP header).
    pub media_bytes: u64,
    /// Sequence numbers NACKed (each mention counts).
    pub asked: u64,
    /// Retransmissions sent (taken by [`Retransmitter::poll_retransmission`]), and their bytes.
    pub sent: u64,
    pub sent_bytes: u64,
    /// Refused: never sent or no longer kept, or of a stream that is not retransmitted.
    pub unknown: u64,
    /// Refused: first sent more than [`HORIZON`] ago.
    pub too_old: u64,
    /// Refused: resent less than a round trip ago.
    pub too_soon: u64,
    /// Refused: resent [`MAX_TRIES`] times already.
    pub out_of_tries: u64,
    /// Refused: over the budget.
    pub over_budget: u64,
    /// Dropped for the subscriber's new media (queue at [`QUEUE_LIMIT`], or [`MAX_PENDING`]).
    pub queue_full: u64,
}

/// One packet as it was sent.
struct Sent {
    packet: rtp::Packet,
    at: Instant,
    tries: u8,
    resent_at: Option<Instant>,
}

/// One outgoing stream of the subscriber that negotiated NACK.
struct Stream {
    ssrc: u32,
    rtx: Option<RtxParams>,
    rtx_seq: u16,
    history: Vec<Option<Sent>>,
    /// The receiver's latest loss fraction for this stream, out of 256.
    loss: u8,
    /// Recent sender reports: the middle 32 bits of their NTP time, and when they left.
    reports: [Option<(u32, Instant)>; REPORTS],
    next_report: usize,
}

impl Stream {
    fn slot(seq: u16) -> usize {
        usize::from(seq) & (HISTORY_PACKETS - 1)
    }
}

/// One subscriber's retransmission policy and history (one peer connection's send streams).
pub struct Retransmitter {
    streams: Vec<Stream>,
    /// Budget in 1/[`UNITS_PER_BYTE`] bytes.
    tokens: u64,
    rtt: Option<Duration>,
    pending: VecDeque<rtp::Packet>,
    stats: RetransmitStats,
}

impl Default for Retransmitter {
    fn default() -> Self {
        Self::new()
    }
}

/// What a packet costs on the wire, in bytes.
fn wire_bytes(packet: &rtp::Packet) -> u64 {
    packet.payload.len() as u64 + RTP_HEADER_BYTES
}

/// Every sequence number a NACK pair names, in order.
fn nacked(pairs: &[NackPair]) -> impl Iterator<Item = u16> + '_ {
    pairs.iter().flat_map(|p| {
        let lost = (0..16u16).filter(move |&i| p.lost_packets & (1u16 << i) != 0);
        std::iter::once(p.packet_id).chain(lost.map(move |i| p.packet_id.wrapping_add(i + 1)))
    })
}

impl Retransmitter {
    /// A subscriber with a full burst of budget (a loss right after joining can be repaired).
    pub fn new() -> Self {
        Self {
            streams: Vec::new(),
            tokens: BURST_BYTES * UNITS_PER_BYTE,
            rtt: None,
            pending: VecDeque::new(),
            stats: RetransmitStats::default(),
        }
    }

    /// The subscriber negotiated NACK for the stream `ssrc`, with RTX if `rtx`; RTX packets
    /// are numbered from `rtx_seq` (chosen at random by the caller).
    pub fn bind(&mut self, ssrc: u32, rtx: Option<RtxParams>, rtx_seq: u16) {
        self.unbind(ssrc);
        let history = std::iter::repeat_with(|| None).take(HISTORY_PACKETS).collect();
        self.streams.push(Stream {
            ssrc,
            rtx,
            rtx_seq,
            history,
            loss: 0,
            reports: [None; REPORTS],
            next_report: 0,
        });
    }

    /// The stream `ssrc` stopped.
    pub fn unbind(&mut self, ssrc: u32) {
        self.streams.retain(|s| s.ssrc != ssrc);
    }

    /// A media packet was sent (`queued` packets wait ahead of the retransmissions, this one
    /// included): keep it, and earn budget for it.
    pub fn on_sent(&mut self, now: Instant, packet: &rtp::Packet, queued: usize) {
        let seq = packet.header.sequence_number;
        let Some(stream) = self.streams.iter_mut().find(|s| s.ssrc == packet.header.ssrc) else {
            return;
        };
        let bytes = wire_bytes(packet);
        self.stats.media_bytes += bytes;
        let earned = bytes * SHARE_PERCENT * (256 - u64::from(stream.loss));
        self.tokens = (self.tokens + earned).min(BURST_BYTES * UNITS_PER_BYTE);
        // Cloning shares the payload and copies a header without extensions: no allocation.
        stream.history[Stream::slot(seq)] = Some(Sent {
            packet: packet.clone(),
            at: now,
            tries: 0,
            resent_at: None,
        });
        while !self.pending.is_empty() && queued + self.pending.len() > QUEUE_LIMIT {
            if let Some(dropped) = self.pending.pop_front() {
                self.refund(&dropped);
            }
        }
    }

    /// The subscriber's sender report for `ssrc` left at `now`, stamped `ntp_time`.
    pub fn on_sender_report(&mut self, now: Instant, ssrc: u32, ntp_time: u64) {
        if let Some(stream) = self.streams.iter_mut().find(|s| s.ssrc == ssrc) {
            stream.reports[stream.next_report] = Some(((ntp_time >> 16) as u32, now));
            stream.next_report = (stream.next_report + 1) % REPORTS;
        }
    }

    /// The subscriber reported on `ssrc`: the fraction it lost (out of 256), and the sender
    /// report it last had (`lsr`, 0 for none) and how long it held it (`dlsr`, in 1/65536 s),
    /// which give the round trip (RFC 3550, 6.4.1).
    pub fn on_receiver_report(&mut self, now: Instant, ssrc: u32, fraction_lost: u8, lsr: u32, dlsr: u32) {
        let Some(stream) = self.streams.iter_mut().find(|s| s.ssrc == ssrc) else {
            return;
        };
        stream.loss = fraction_lost;
        let Some((_, sent)) = stream
            .reports
            .iter()
            .flatten()
            .find(|(mid, _)| lsr != 0 && *mid == lsr)
            .copied()
        else {
            return;
        };
        let held = Duration::from_secs_f64(f64::from(dlsr) / 65536.0);
        let Some(rtt) = now.checked_duration_since(sent).and_then(|d| d.checked_sub(held)) else {
            return;
        };
        // Smoothed as TCP does, and never past the horizon: a report claiming a longer round
        // trip only makes its sender wait longer for its own retransmissions.
        let rtt = rtt.min(HORIZON);
        self.rtt = Some(self.rtt.map_or(rtt, |old| (old * 7 + rtt) / 8));
    }

    /// The subscriber NACKed `pairs` of `ssrc` while `queued` packets wait in its send queue:
    /// queue what the rules allow, packets never retransmitted before the others.
    pub fn on_nack(&mut self, now: Instant, ssrc: u32, pairs: &[NackPair], queued: usize) {
        let asked = nacked(pairs).count() as u64;
        self.stats.asked += asked;
        let Some(index) = self.streams.iter().position(|s| s.ssrc == ssrc) else {
            self.stats.unknown += asked;
            return;
        };
        for first_tries in [true, false] {
            for seq in nacked(pairs) {
                self.consider(now, index, seq, first_tries, queued);
            }
        }
    }

    /// One NACKed `seq`, in the pass for packets never retransmitted (`first_tries`) or in the
    /// pass for the others. A packet resent in this same NACK is passed over in silence.
    fn consider(&mut self, now: Instant, index: usize, seq: u16, first_tries: bool, queued: usize) {
        let gap = self.retransmit_gap();
        let stream = &mut self.streams[index];
        let Some(sent) = stream.history[Stream::slot(seq)]
            .as_mut()
            .filter(|s| s.packet.header.sequence_number == seq)
        else {
            if first_tries {
                self.stats.unknown += 1;
            }
            return;
        };
        if (sent.tries == 0) != first_tries || sent.resent_at == Some(now) {
            return;
        }
        let refused = if now.saturating_duration_since(sent.at) > HORIZON {
            Some(&mut self.stats.too_old)
        } else if sent.tries >= MAX_TRIES {
            Some(&mut self.stats.out_of_tries)
        } else if sent.resent_at.is_some_and(|t| now.saturating_duration_since(t) < gap) {
            Some(&mut self.stats.too_soon)
        } else {
            None
        };
        if let Some(counter) = refused {
            *counter += 1;
            return;
        }
        let cost = (wire_bytes(&sent.packet) + if stream.rtx.is_some() { 2 } else { 0 }) * UNITS_PER_BYTE;
        if cost > self.tokens {
            self.stats.over_budget += 1;
            return;
        }
        if self.pending.len() >= MAX_PENDING || queued + self.pending.len() >= QUEUE_LIMIT {
            self.stats.queue_full += 1;
            return;
        }
        self.tokens -= cost;
        sent.tries += 1;
        sent.resent_at = Some(now);
        let packet = match stream.rtx {
            Some(rtx) => {
                let packet = rtx_packet(&sent.packet, rtx, stream.rtx_seq);
                stream.rtx_seq = stream.rtx_seq.wrapping_add(1);
                packet
            }
            None => sent.packet.clone(),
        };
        self.pending.push_back(packet);
    }

    /// Gives back the budget of a retransmission dropped before it was sent.
    fn refund(&mut self, packet: &rtp::Packet) {
        self.tokens = (self.tokens + wire_bytes(packet) * UNITS_PER_BYTE).min(BURST_BYTES * UNITS_PER_BYTE);
        self.stats.queue_full += 1;
    }

    /// The next retransmission to send, once the subscriber's media has gone.
    pub fn poll_retransmission(&mut self) -> Option<rtp::Packet> {
        let packet = self.pending.pop_front()?;
        self.stats.sent += 1;
        self.stats.sent_bytes += wire_bytes(&packet);
        Some(packet)
    }

    /// The round trip used to space retransmissions of one packet.
    pub fn retransmit_gap(&self) -> Duration {
        self.rtt.unwrap_or(RTT_FLOOR).max(RTT_FLOOR)
    }

    /// What was asked for, refused and sent so far.
    pub fn stats(&self) -> RetransmitStats {
        self.stats
    }
}

/// `original` as an RFC 4588 retransmission: the RTX stream's SSRC, payload type and sequence
/// number, and the original sequence number before the payload.
fn rtx_packet(original: &rtp::Packet, rtx: RtxParams, seq: u16) -> rtp::Packet {
    let mut payload = BytesMut::with_capacity(2 + original.payload.len());
    payload.put_u16(original.header.sequence_number);
    payload.extend_from_slice(&original.payload);
    rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            ssrc: rtx.ssrc,
            payload_type: rtx.payload_type,
            sequence_number: seq,
            timestamp: original.header.timestamp,
            marker: original.header.marker,
            ..Default::default()
        },
        payload: payload.freeze(),
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as the origin of virtual time
mod tests {
    use super::*;
    use bytes::Bytes;

    const VIDEO: u32 = 0x1111;
    const RTX: RtxParams = RtxParams {
        ssrc: 0x2222,
        payload_type: 97,
    };
    /// 1,000 bytes on the wire.
    const PAYLOAD: usize = 988;

    fn packet(seq: u16) -> rtp::Packet {
        rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                ssrc: VIDEO,
                payload_type: 96,
                sequence_number: seq,
                timestamp: u32::from(seq) * 3000,
                ..Default::default()
            },
            payload: Bytes::from(vec![seq as u8; PAYLOAD]),
        }
    }

    fn nack(seqs: &[u16]) -> Vec<NackPair> {
        seqs.iter().map(|&s| NackPair::new(s)).collect()
    }

    /// A subscriber of one video stream with RTX (or without), and no budget saved up.
    fn subscriber(rtx: Option<RtxParams>) -> Retransmitter {
        let mut r = Retransmitter::new();
        r.tokens = 0;
        r.bind(VIDEO, rtx, 500);
        r
    }

    /// Sends `seqs` at `now`.
    fn send(r: &mut Retransmitter, now: Instant, seqs: std::ops::Range<u16>) {
        for seq in seqs {
            r.on_sent(now, &packet(seq), 1);
        }
    }

    fn drain(r: &mut Retransmitter) -> Vec<rtp::Packet> {
        std::iter::from_fn(|| r.poll_retransmission()).collect()
    }

    #[test]
    fn honest_loss_is_repaired_with_rtx_as_negotiated() {
        let t0 = Instant::now();
        let mut r = subscriber(Some(RTX));
        send(&mut r, t0, 0..100);
        r.on_nack(t0, VIDEO, &nack(&[10, 11, 40]), 0);
        let out = drain(&mut r);
        assert_eq!(out.len(), 3);
        for (p, (seq, rtx_seq)) in out.iter().zip([(10u16, 500u16), (11, 501), (40, 502)]) {
            assert_eq!(
                (
                    p.header.ssrc,
                    p.header.payload_type,
                    p.header.sequence_number,
                    p.header.version
                ),
                (RTX.ssrc, 97, rtx_seq, 2)
            );
            assert_eq!(p.header.timestamp, u32::from(seq) * 3000);
            assert_eq!(
                &p.payload[..2],
                &seq.to_be_bytes(),
                "the original sequence number first"
            );
            assert_eq!(&p.payload[2..], &packet(seq).payload[..]);
        }
        // Without RTX the packet goes again as it was.
        let mut plain = subscriber(None);
        send(&mut plain, t0, 0..100);
        plain.on_nack(t0, VIDEO, &nack(&[7]), 0);
        assert_eq!(drain(&mut plain), vec![packet(7)]);
        assert_eq!(plain.stats().sent_bytes, 1000);
    }

    #[test]
    fn retransmissions_stay_within_a_share_of_the_media() {
        let t0 = Instant::now();
        let mut r = subscriber(None);
        // 40 packets of media earn 10 packets of retransmission.
        send(&mut r, t0, 0..40);
        r.on_nack(t0, VIDEO, &nack(&(0..40).collect::<Vec<_>>()), 0);
        assert_eq!(r.stats().sent, 0, "queued, not yet sent");
        assert_eq!(drain(&mut r).len(), 10);
        assert_eq!((r.stats().sent, r.stats().over_budget), (10, 30));
        // The budget never saves up more than the burst, however long the media ran clean.
        send(&mut r, t0, 40..1000);
        r.on_nack(t0, VIDEO, &nack(&(40..1000).collect::<Vec<_>>()), 0);
        assert_eq!(drain(&mut r).len() as u64, BURST_BYTES / 1000);
    }

    #[test]
    fn reported_loss_shrinks_the_budget() {
        let t0 = Instant::now();
        let mut r = subscriber(None);
        r.on_receiver_report(t0, VIDEO, 192, 0, 0); // three quarters lost: the link carries a quarter
        send(&mut r, t0, 0..160);
        r.on_nack(t0, VIDEO, &nack(&(0..160).collect::<Vec<_>>()), 0);
        assert_eq!(drain(&mut r).len(), 10, "a quarter of the share of 160 packets");
    }

    #[test]
    fn a_packet_is_not_resent_within_a_round_trip() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut r = subscriber(None);
        r.tokens = BURST_BYTES * UNITS_PER_BYTE;
        send(&mut r, t0, 0..10);
        r.on_nack(t0, VIDEO, &nack(&[5, 5]), 0);
        assert_eq!(drain(&mut r).len(), 1, "named twice in one NACK, sent once");
        r.on_nack(t0 + ms(50), VIDEO, &nack(&[5]), 0);
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.stats().too_soon, 1);
        r.on_nack(t0 + ms(100), VIDEO, &nack(&[5]), 0);
        assert_eq!(drain(&mut r).len(), 1, "after the floor of {RTT_FLOOR:?}");
        // A measured round trip of 300 ms: a sender report out at 200 ms, the receiver's
        // report at 560 ms after holding it 60 ms.
        r.on_sender_report(t0 + ms(200), VIDEO, 0x0000_1234_5678_0000);
        r.on_receiver_report(t0 + ms(560), VIDEO, 0, 0x1234_5678, 65536 * 60 / 1000);
        let gap = r.retransmit_gap();
        assert!(gap > ms(295) && gap < ms(305), "{gap:?}");
        r.on_nack(t0 + ms(300), VIDEO, &nack(&[5]), 0);
        assert!(drain(&mut r).is_empty(), "200 ms after the last resend");
        r.on_nack(t0 + ms(401), VIDEO, &nack(&[5]), 0);
        assert_eq!(drain(&mut r).len(), 1);
        // A report for a sender report never sent, or claiming an absurd round trip, cannot
        // shorten the gap below the floor or stretch it past the horizon.
        r.on_receiver_report(t0 + ms(600), VIDEO, 0, 0x0bad_0bad, 0);
        r.on_sender_report(t0 + ms(600), VIDEO, 0x0000_4321_0000_0000);
        r.on_receiver_report(t0 + ms(900), VIDEO, 0, 0x4321_0000, 65536 * 10);
        assert!(r.retransmit_gap() >= RTT_FLOOR && r.retransmit_gap() <= HORIZON);
    }

    #[test]
    fn a_packet_is_resent_a_few_times_at_most() {
        let t0 = Instant::now();
        let mut r = subscriber(Some(RTX));
        r.tokens = BURST_BYTES * UNITS_PER_BYTE;
        send(&mut r, t0, 0..10);
        for i in 0..10u32 {
            r.on_nack(t0 + RTT_FLOOR * i, VIDEO, &nack(&[3]), 0);
        }
        assert_eq!(drain(&mut r).len(), usize::from(MAX_TRIES));
        assert_eq!(r.stats().out_of_tries, 10 - u64::from(MAX_TRIES));
    }

    #[test]
    fn a_packet_too_old_to_play_is_not_resent() {
        let t0 = Instant::now();
        let mut r = subscriber(None);
        r.tokens = BURST_BYTES * UNITS_PER_BYTE;
        send(&mut r, t0, 0..10);
        r.on_nack(t0 + HORIZON + Duration::from_millis(1), VIDEO, &nack(&[1, 2]), 0);
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.stats().too_old, 2);
        // Nor one never sent, one no longer kept, or one of a stream without NACK.
        send(&mut r, t0 + HORIZON, 10..(10 + HISTORY_PACKETS as u16));
        r.on_nack(t0 + HORIZON, VIDEO, &nack(&[9, 5000]), 0);
        r.on_nack(t0 + HORIZON, 0x9999, &nack(&[20]), 0);
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.stats().unknown, 3);
    }

    #[test]
    fn packets_never_resent_go_before_those_resent_already() {
        let t0 = Instant::now();
        let mut r = subscriber(None);
        r.tokens = 1000 * UNITS_PER_BYTE;
        send(&mut r, t0, 0..10);
        r.on_nack(t0, VIDEO, &nack(&[1]), 0);
        assert_eq!(drain(&mut r).len(), 1);
        // Budget for one packet: the NACK names 1 again first, but 2 was never resent.
        r.tokens = 1000 * UNITS_PER_BYTE;
        r.on_nack(t0 + RTT_FLOOR, VIDEO, &nack(&[1, 2]), 0);
        let out = drain(&mut r);
        assert_eq!(
            out.iter().map(|p| p.header.sequence_number).collect::<Vec<_>>(),
            vec![2]
        );
    }

    #[test]
    fn retransmissions_give_way_to_media_when_the_queue_is_full() {
        let t0 = Instant::now();
        let mut r = subscriber(None);
        r.tokens = BURST_BYTES * UNITS_PER_BYTE;
        send(&mut r, t0, 0..20);
        // The subscriber's queue is full of media: nothing is added to it.
        r.on_nack(t0, VIDEO, &nack(&[1, 2]), QUEUE_LIMIT);
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.stats().queue_full, 2);
        // Queued retransmissions are dropped, oldest first, for media arriving at a full queue,
        // and their budget comes back.
        r.on_nack(t0, VIDEO, &nack(&[3, 4, 5]), QUEUE_LIMIT - 10);
        let tokens = r.tokens;
        r.on_sent(t0, &packet(20), QUEUE_LIMIT - 1);
        let out = drain(&mut r);
        assert_eq!(
            out.iter().map(|p| p.header.sequence_number).collect::<Vec<_>>(),
            vec![5]
        );
        assert!(r.tokens > tokens);
        // At most MAX_PENDING wait at once.
        send(&mut r, t0, 21..200);
        r.tokens = BURST_BYTES * UNITS_PER_BYTE * 100;
        r.on_nack(t0, VIDEO, &nack(&(21..200).collect::<Vec<_>>()), 0);
        assert_eq!(drain(&mut r).len(), MAX_PENDING);
    }

    /// A client that NACKs every packet it was sent, every 10 ms for ten seconds of a
    /// 2.5 Mbit/s video, gets a quarter of the media again at most: before the budget, each
    /// NACK was answered in full.
    #[test]
    fn a_client_nacking_everything_gets_its_budget_only() {
        let t0 = Instant::now();
        let mut r = subscriber(Some(RTX));
        let mut seq = 0u16;
        let mut resent = 0u64;
        for tick in 0..1000u32 {
            let now = t0 + Duration::from_millis(10) * tick;
            send(&mut r, now, seq..seq + 3);
            seq += 3;
            let everything: Vec<u16> = (0..HISTORY_PACKETS as u16).map(|i| seq.wrapping_sub(i)).collect();
            r.on_nack(now, VIDEO, &nack(&everything), 0);
            resent += drain(&mut r).iter().map(wire_bytes).sum::<u64>();
        }
        let s = r.stats();
        assert_eq!(s.media_bytes, 3000 * 1000);
        assert!(
            resent <= s.media_bytes * SHARE_PERCENT / 100 + BURST_BYTES,
            "{resent} resent for {s:?}"
        );
        assert!(
            resent >= s.media_bytes * SHARE_PERCENT / 100 * 9 / 10,
            "the honest share is used: {s:?}"
        );
    }
}
