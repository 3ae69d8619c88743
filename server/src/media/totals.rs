//! The media engine's totals for the operator's metrics (`telemetry`): peer connections,
//! packets received, forwarded and dropped (by reason), summed when a scrape asks
//! ([`super::MediaHandle::totals`]) from the counters the engine and the forwarder keep anyway
//! (`StreamStats`, `livegate_sfu::SinkStats`). So a forwarded packet costs nothing more; only the
//! drops the forwarder does not see (a datagram for no peer, RTP on a track not accepted, a full
//! socket buffer, a queue discarded for a receiver not connected) are counted where they happen.
//!
//! A stream or sink that goes leaves its counts in the [`Ledger`], so a total never goes back
//! when someone leaves: each is a Prometheus counter.

use super::{Direction, Engine, StreamStats};
use livegate_sfu::SinkStats;

/// The engine's totals since it started, and its peer connections now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaTotals {
    /// Peer connections now: publishers' and receivers'.
    pub publish_streams: u64,
    pub receive_streams: u64,
    /// RTP packets received from publishers.
    pub received_packets: u64,
    /// RTP packets forwarded to receivers, and the bytes sent to receivers' peer connections
    /// (UDP payload: SRTP media and its control traffic).
    pub forwarded_packets: u64,
    pub forwarded_bytes: u64,
    pub dropped: Dropped,
}

/// Packets dropped, by why (the `reason` label, `telemetry::DROP_REASONS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// A receiver's queue was full: it could not keep up.
    pub slow_receiver: u64,
    /// Queued for a receiver whose connection was not up.
    pub not_connected: u64,
    /// Datagrams that belong to no peer connection.
    pub unknown_peer: u64,
    /// RTP on a track the publisher's checked offer did not open.
    pub track_not_accepted: u64,
    /// Datagrams the socket refused (send buffer full).
    pub socket_full: u64,
}

impl Dropped {
    /// Each count with its `reason` label.
    pub fn by_reason(&self) -> [(&'static str, u64); 5] {
        [
            ("slow_receiver", self.slow_receiver),
            ("not_connected", self.not_connected),
            ("unknown_peer", self.unknown_peer),
            ("track_not_accepted", self.track_not_accepted),
            ("socket_full", self.socket_full),
        ]
    }
}

/// What is counted where it happens, and what streams and sinks that are gone had counted.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// The drops counted where they happen (`slow_receiver` is the forwarder's, see `totals`).
    pub dropped: Dropped,
    gone_received: u64,
    gone_forwarded: u64,
    gone_bytes: u64,
    /// Everything the removed sinks dropped (full queues and discarded ones alike).
    gone_sink_drops: u64,
}

impl Ledger {
    /// A stream is removed: keep what it counted.
    pub fn stream_gone(&mut self, direction: Direction, stats: &StreamStats) {
        self.gone_received += stats.rtp_packets_in;
        self.gone_forwarded += stats.rtp_packets_out;
        if direction == Direction::Receive {
            self.gone_bytes += stats.bytes_out;
        }
    }

    /// A sink is about to be removed from the forwarder: keep what it dropped.
    pub fn sink_gone(&mut self, stats: Option<SinkStats>) {
        self.gone_sink_drops += stats.map_or(0, |s| s.dropped);
    }
}

impl Engine {
    /// The totals now: what the live streams and sinks count, plus what the gone ones did.
    pub(super) fn totals(&self) -> MediaTotals {
        let l = &self.ledger;
        let mut t = MediaTotals {
            received_packets: l.gone_received,
            forwarded_packets: l.gone_forwarded,
            forwarded_bytes: l.gone_bytes,
            dropped: l.dropped,
            ..MediaTotals::default()
        };
        for s in self.streams.values() {
            t.received_packets += s.stats.rtp_packets_in;
            t.forwarded_packets += s.stats.rtp_packets_out;
            match s.peer.direction {
                Direction::Publish => t.publish_streams += 1,
                Direction::Receive => {
                    t.receive_streams += 1;
                    t.forwarded_bytes += s.stats.bytes_out;
                }
            }
        }
        let sink_drops: u64 = self
            .sink_owner
            .keys()
            .filter_map(|sink| self.forwarder.sink_stats(*sink))
            .map(|s| s.dropped)
            .sum::<u64>()
            + l.gone_sink_drops;
        // The forwarder counts a discarded queue as dropped too; the engine counted those.
        t.dropped.slow_receiver = sink_drops.saturating_sub(l.dropped.not_connected);
        t
    }
}
