//! Per-subscriber rewriting of SSRC, sequence number and timestamp.
//!
//! Each subscriber sees one continuous stream with its own SSRC, whatever happens upstream:
//! packets the forwarder dropped leave no gap (the subscriber would ask for them in vain), and
//! a change of source SSRC (a publisher reconnecting, or later a simulcast layer switch) keeps
//! sequence numbers and timestamps moving forward.

use rtc::rtp::header::Header;

/// Rewrites headers for one sink.
#[derive(Debug, Clone)]
pub struct Rewriter {
    out_ssrc: u32,
    source_ssrc: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last_out_seq: u16,
    last_out_ts: u32,
    started: bool,
}

impl Rewriter {
    /// A rewriter that starts at the given random sequence number and timestamp.
    pub fn new(out_ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            out_ssrc,
            source_ssrc: None,
            seq_offset: 0,
            ts_offset: 0,
            last_out_seq: first_seq.wrapping_sub(1),
            last_out_ts: first_ts,
            started: false,
        }
    }

    /// `n` source packets were dropped before the next one: close the gap they would leave.
    pub fn skip(&mut self, n: u16) {
        self.seq_offset = self.seq_offset.wrapping_sub(n);
    }

    /// Rewrites one header in place.
    pub fn rewrite(&mut self, header: &mut Header) {
        if self.source_ssrc != Some(header.ssrc) {
            // A new source: continue right after the last packet sent. The timestamp moves on
            // by one tick so the subscriber's jitter buffer sees time going forward.
            self.seq_offset = self.last_out_seq.wrapping_add(1).wrapping_sub(header.sequence_number);
            let next_ts = if self.started {
                self.last_out_ts.wrapping_add(1)
            } else {
                self.last_out_ts
            };
            self.ts_offset = next_ts.wrapping_sub(header.timestamp);
            self.source_ssrc = Some(header.ssrc);
        }
        let seq = header.sequence_number.wrapping_add(self.seq_offset);
        let ts = header.timestamp.wrapping_add(self.ts_offset);
        header.ssrc = self.out_ssrc;
        header.sequence_number = seq;
        header.timestamp = ts;
        // Only move "last" forward, so a reordered packet does not rewind the continuation point.
        if !self.started || seq_newer(seq, self.last_out_seq) {
            self.last_out_seq = seq;
            self.last_out_ts = ts;
        }
        self.started = true;
    }
}

/// True if `a` comes after `b` in 16-bit sequence space.
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ssrc: u32, seq: u16, ts: u32) -> Header {
        Header {
            ssrc,
            sequence_number: seq,
            timestamp: ts,
            ..Default::default()
        }
    }

    #[test]
    fn continuous_across_source_change_and_wrap() {
        let mut r = Rewriter::new(7, 65534, 1000);
        let mut out = Vec::new();
        for i in 0..3u16 {
            let mut h = header(1, 100 + i, 5000 + 3000 * i as u32);
            r.rewrite(&mut h);
            out.push((h.ssrc, h.sequence_number, h.timestamp));
        }
        let mut h = header(2, 9, 77);
        r.rewrite(&mut h);
        out.push((h.ssrc, h.sequence_number, h.timestamp));
        assert_eq!(
            out,
            vec![(7, 65534, 1000), (7, 65535, 4000), (7, 0, 7000), (7, 1, 7001)]
        );
    }

    #[test]
    fn skip_closes_gaps() {
        let mut r = Rewriter::new(7, 10, 0);
        let mut h = header(1, 500, 0);
        r.rewrite(&mut h);
        r.skip(4);
        let mut h = header(1, 505, 0);
        r.rewrite(&mut h);
        assert_eq!(h.sequence_number, 11);
    }

    #[test]
    fn newer_handles_wrap() {
        assert!(seq_newer(1, 65535));
        assert!(!seq_newer(65535, 1));
        assert!(!seq_newer(5, 5));
    }
}
