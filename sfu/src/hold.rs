//! The frame hold: a video frame's packets wait for its last one, so each subscriber gets the
//! frame in one batch (the server's media loop sends a batch in one segmented send).
//!
//! The subscriber cannot decode a frame before its last packet anyway, so the wait delays no
//! picture; a lost last packet (no marker bit) costs at most [`FRAME_HOLD`]. The media loop
//! drives it like the [`Forwarder`](crate::Forwarder): [`FrameHold::hold`] a sink the forwarder
//! made ready with a video packet, [`FrameHold::handle_frame_end`] on the frame's marker bit,
//! [`FrameHold::handle_timeout`] when [`FrameHold::poll_timeout`] is due, then send the sinks
//! [`FrameHold::poll_release`] gives back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::{FastMap, SinkKey, TrackKey};

/// How long a video frame's packets wait for its last one before going out anyway.
pub const FRAME_HOLD: Duration = Duration::from_millis(5);

/// The sinks holding packets of each video track's frame in progress.
#[derive(Default)]
pub struct FrameHold {
    /// Per video track with a frame in progress: since when, and the sinks with packets of it.
    held: FastMap<TrackKey, (Instant, Vec<SinkKey>)>,
    /// A released hold's list, kept for the next one (no allocation per frame).
    spare: Vec<SinkKey>,
    /// Sinks whose held packets may go now, in the order they were held.
    released: VecDeque<SinkKey>,
}

impl FrameHold {
    pub fn new() -> Self {
        Self::default()
    }

    /// `sink` has packets of `track`'s current frame queued: they wait for the frame's end. The
    /// first sink held for a frame starts its [`FRAME_HOLD`].
    pub fn hold(&mut self, now: Instant, track: TrackKey, sink: SinkKey) {
        let spare = &mut self.spare;
        self.held
            .entry(track)
            .or_insert_with(|| (now, std::mem::take(spare)))
            .1
            .push(sink);
    }

    /// `track`'s frame is complete (its marker bit): its sinks are released.
    pub fn handle_frame_end(&mut self, track: TrackKey) {
        if let Some((_, mut sinks)) = self.held.remove(&track) {
            self.released.extend(sinks.drain(..));
            self.spare = sinks;
        }
    }

    /// Releases every frame held for [`FRAME_HOLD`] or longer.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.held.values().any(|(since, _)| *since + FRAME_HOLD <= now) {
            return;
        }
        let due: Vec<TrackKey> = self
            .held
            .iter()
            .filter(|(_, (since, _))| *since + FRAME_HOLD <= now)
            .map(|(t, _)| *t)
            .collect();
        for track in due {
            self.handle_frame_end(track);
        }
    }

    /// Forgets `track`'s frame in progress (the track is gone); its sinks are not released.
    pub fn remove_track(&mut self, track: TrackKey) {
        self.held.remove(&track);
    }

    /// The next sink whose held packets may be sent now.
    pub fn poll_release(&mut self) -> Option<SinkKey> {
        self.released.pop_front()
    }

    /// When the oldest held frame must go out even without its last packet.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.values().map(|(since, _)| *since + FRAME_HOLD).min()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as the origin of virtual time
mod tests {
    use super::*;

    const A: TrackKey = TrackKey(1);
    const B: TrackKey = TrackKey(2);

    fn released(h: &mut FrameHold) -> Vec<u64> {
        std::iter::from_fn(|| h.poll_release()).map(|s| s.0).collect()
    }

    #[test]
    fn a_frame_goes_out_at_its_last_packet_in_the_order_held() {
        let t0 = Instant::now();
        let mut h = FrameHold::new();
        h.hold(t0, A, SinkKey(3));
        h.hold(t0, B, SinkKey(9));
        h.hold(t0 + Duration::from_millis(1), A, SinkKey(1));
        assert!(released(&mut h).is_empty());
        h.handle_frame_end(A);
        assert_eq!(released(&mut h), [3, 1]);
        // B's frame still waits, and its hold started with its own first sink.
        assert_eq!(h.poll_timeout(), Some(t0 + FRAME_HOLD));
        h.handle_frame_end(A);
        assert!(released(&mut h).is_empty(), "nothing is released twice");
    }

    #[test]
    fn a_frame_without_its_last_packet_goes_out_after_the_hold() {
        let t0 = Instant::now();
        let mut h = FrameHold::new();
        assert_eq!(h.poll_timeout(), None);
        h.hold(t0, A, SinkKey(1));
        h.hold(t0 + Duration::from_millis(2), B, SinkKey(2));
        h.handle_timeout(t0 + FRAME_HOLD - Duration::from_micros(1));
        assert!(released(&mut h).is_empty());
        h.handle_timeout(t0 + FRAME_HOLD);
        assert_eq!(released(&mut h), [1]);
        assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_millis(2) + FRAME_HOLD));
        // The next frame of A starts a new hold from its own first packet.
        h.hold(t0 + Duration::from_millis(6), A, SinkKey(1));
        assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_millis(2) + FRAME_HOLD));
    }

    #[test]
    fn a_removed_track_releases_nothing() {
        let t0 = Instant::now();
        let mut h = FrameHold::new();
        h.hold(t0, A, SinkKey(1));
        h.remove_track(A);
        assert_eq!(h.poll_timeout(), None);
        h.handle_timeout(t0 + FRAME_HOLD);
        h.handle_frame_end(A);
        assert!(released(&mut h).is_empty());
    }
}
