//! What the generator measures: per published track, when each sequence number was sent and a
//! fingerprint of its payload; per subscribed track, which of those it received. A received
//! packet is mapped back to the publisher's sequence number through the SFU's constant
//! sequence offset (learnt, and re-learnt if it moves, from the payload fingerprint), so loss
//! counts packets the SFU dropped even when it closes the gap, and latency is kernel receive
//! time minus send time on one clock (CLOCK_REALTIME).

use std::collections::HashMap;

/// Sequence-number space of one track.
const SEQ_SPACE: usize = 1 << 16;

/// A 64-bit fingerprint of an RTP payload (its length, first 32 and last 16 bytes).
pub fn fingerprint(payload: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ payload.len() as u64;
    let head = &payload[..payload.len().min(32)];
    let tail = &payload[payload.len().saturating_sub(16)..];
    for &b in head.iter().chain(tail) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What a publisher sent on one track.
pub struct TxTrack {
    pub sent_ns: Vec<i64>,
    pub fp: Vec<u64>,
    pub by_fp: HashMap<u64, u16>,
    /// The next sequence number to send.
    pub next_seq: u16,
    pub sent: u64,
}

impl TxTrack {
    pub fn new(first_seq: u16) -> TxTrack {
        TxTrack {
            sent_ns: vec![0; SEQ_SPACE],
            fp: vec![0; SEQ_SPACE],
            by_fp: HashMap::new(),
            next_seq: first_seq,
            sent: 0,
        }
    }

    /// Records a packet about to be sent; returns its sequence number.
    pub fn record(&mut self, payload: &[u8], now_ns: i64) -> u16 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        let fp = fingerprint(payload);
        let old = self.fp[seq as usize];
        if self.by_fp.get(&old) == Some(&seq) {
            self.by_fp.remove(&old);
        }
        self.fp[seq as usize] = fp;
        self.sent_ns[seq as usize] = now_ns;
        self.by_fp.insert(fp, seq);
        self.sent += 1;
        seq
    }
}

/// What one subscriber received on one track.
pub struct RxTrack {
    offset: Option<u16>,
    got: Vec<u64>,
    pub packets: u64,
    pub duplicates: u64,
    pub unmatched: u64,
}

/// How a received packet mapped.
pub enum Rx {
    /// First copy of the publisher's packet `seq`, sent at `sent_ns`.
    New { sent_ns: i64 },
    /// A packet already received (a retransmission that crossed a late original).
    Duplicate,
    /// No sent packet has this payload.
    Unmatched,
}

impl RxTrack {
    pub fn new() -> RxTrack {
        RxTrack {
            offset: None,
            got: vec![0; SEQ_SPACE / 64],
            packets: 0,
            duplicates: 0,
            unmatched: 0,
        }
    }

    /// Maps a received packet (the subscriber's sequence number and payload) to the publisher's.
    pub fn receive(&mut self, tx: &TxTrack, seq: u16, payload: &[u8]) -> Rx {
        self.packets += 1;
        let fp = fingerprint(payload);
        let mapped = match self.offset {
            Some(off) if tx.fp[seq.wrapping_sub(off) as usize] == fp => Some(seq.wrapping_sub(off)),
            _ => tx
                .by_fp
                .get(&fp)
                .copied()
                .inspect(|&p| self.offset = Some(seq.wrapping_sub(p))),
        };
        let Some(p) = mapped else {
            self.unmatched += 1;
            return Rx::Unmatched;
        };
        let (word, bit) = (p as usize / 64, p as usize % 64);
        if self.got[word] & (1 << bit) != 0 {
            self.duplicates += 1;
            return Rx::Duplicate;
        }
        self.got[word] |= 1 << bit;
        Rx::New {
            sent_ns: tx.sent_ns[p as usize],
        }
    }

    /// How many of the publisher's packets `from..to` (wrapping) arrived.
    pub fn count_received(&self, from: u16, to: u16) -> u64 {
        let mut n = 0;
        let mut s = from;
        while s != to {
            n += (self.got[s as usize / 64] >> (s as usize % 64)) & 1;
            s = s.wrapping_add(1);
        }
        n
    }
}

/// A latency histogram: 10 µs buckets to 100 ms, then 1 ms buckets to 10 s.
#[derive(Clone)]
pub struct Histogram {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    pub count: u64,
    pub negative: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            fine: vec![0; 10_000],
            coarse: vec![0; 10_000],
            count: 0,
            negative: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, ns: i64) {
        self.count += 1;
        if ns < 0 {
            self.negative += 1;
            self.fine[0] += 1;
            return;
        }
        let us = (ns / 1000) as u64;
        if us < 100_000 {
            self.fine[(us / 10) as usize] += 1;
        } else {
            let ms = (us / 1000).min(9_999) as usize;
            self.coarse[ms] += 1;
        }
    }

    /// The `q` quantile in milliseconds (bucket upper edge), or None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let target = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.fine.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Some((i as f64 + 1.0) * 0.01);
            }
        }
        for (i, c) in self.coarse.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Some(i as f64 + 1.0);
            }
        }
        Some(10_000.0)
    }
}

/// The nearest-rank quantile of samples in milliseconds.
pub fn quantile(samples: &mut [f64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((samples.len() as f64) * q).ceil().max(1.0) as usize;
    Some(samples[rank.min(samples.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_through_offset_changes_and_counts_loss() {
        let mut tx = TxTrack::new(65530);
        let payloads: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i, i.wrapping_mul(7), 1, 2, 3]).collect();
        let seqs: Vec<u16> = payloads.iter().map(|p| tx.record(p, 1000)).collect();
        let mut rx = RxTrack::new();
        // The SFU adds 100 to sequence numbers, drops packet 5, then closes the gap (offset moves).
        for i in 0..5 {
            assert!(matches!(
                rx.receive(&tx, seqs[i].wrapping_add(100), &payloads[i]),
                Rx::New { sent_ns: 1000 }
            ));
        }
        for i in 6..20 {
            assert!(matches!(
                rx.receive(&tx, seqs[i].wrapping_add(99), &payloads[i]),
                Rx::New { .. }
            ));
        }
        assert!(matches!(
            rx.receive(&tx, seqs[7].wrapping_add(99), &payloads[7]),
            Rx::Duplicate
        ));
        assert!(matches!(rx.receive(&tx, 5, b"nothing sent this"), Rx::Unmatched));
        assert_eq!(rx.count_received(seqs[0], seqs[19].wrapping_add(1)), 19);
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::default();
        for i in 0..100 {
            h.record(i * 100_000); // 0..9.9 ms
        }
        h.record(250_000_000);
        // The 51st of 101 samples is 5.0 ms; a quantile reports its bucket's upper bound.
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(close(h.quantile_ms(0.5), 5.01), "{:?}", h.quantile_ms(0.5));
        assert!(close(h.quantile_ms(1.0), 251.0), "{:?}", h.quantile_ms(1.0));
        let mut s = vec![3.0, 1.0, 2.0];
        assert_eq!(quantile(&mut s, 0.5), Some(2.0));
    }
}
