//! Virtual-time tests of the forwarding core: no sockets, no clock (one real instant is the
//! origin of virtual time).
#![allow(clippy::disallowed_methods)]

use super::*;
use bytes::Bytes;
use rtc::rtp::header::{Extension, Header};

const VIDEO: TrackKey = TrackKey(1);
const AUDIO: TrackKey = TrackKey(2);

fn packet(ssrc: u32, seq: u16, ts: u32, keyframe: bool) -> rtp::Packet {
    // VP8 descriptor S=1 PID=0, then the payload header with P=0 (key) or 1 (inter).
    let payload = vec![0x10, if keyframe { 0x00 } else { 0x01 }, 0xaa, 0xbb];
    rtp::Packet {
        header: Header {
            version: 2,
            payload_type: 120,
            ssrc,
            sequence_number: seq,
            timestamp: ts,
            extension: true,
            extension_profile: 0xBEDE,
            extensions: vec![Extension {
                id: 3,
                payload: Bytes::from_static(&[1, 2]),
            }],
            ..Default::default()
        },
        payload: Bytes::from(payload),
    }
}

/// A sink's parameters, starting near the wrap of both counters (the caller's random draw).
fn params(ssrc: u32, payload_type: u8) -> SinkParams {
    SinkParams {
        ssrc,
        payload_type,
        first_seq: 65_530,
        first_ts: u32::MAX - 5_000,
    }
}

fn drain(f: &mut Forwarder) -> Vec<Output> {
    std::iter::from_fn(|| f.poll_output()).collect()
}

fn pop_all(f: &mut Forwarder, sink: SinkKey) -> Vec<rtp::Packet> {
    std::iter::from_fn(|| f.pop_packet(sink)).collect()
}

fn setup(now: Instant, sinks: u64) -> Forwarder {
    let mut f = Forwarder::new();
    f.add_track(VIDEO, TrackKind::Video);
    for i in 0..sinks {
        assert!(f.add_sink(now, SinkKey(i), VIDEO, params(1000 + i as u32, 96)));
    }
    f
}

#[test]
fn every_subscriber_gets_every_packet_rewritten_and_gap_free() {
    let t0 = Instant::now();
    let mut f = setup(t0, 3);
    for i in 0..100u16 {
        f.handle_rtp(
            t0 + Duration::from_millis(i as u64 * 10),
            VIDEO,
            &packet(42, 60000u16.wrapping_add(i), i as u32 * 3000, i % 30 == 0),
        );
    }
    for i in 0..3u64 {
        let got = pop_all(&mut f, SinkKey(i));
        assert_eq!(got.len(), 100, "sink {i}");
        for (n, p) in got.iter().enumerate() {
            assert_eq!(p.header.ssrc, 1000 + i as u32);
            assert_eq!(p.header.payload_type, 96);
            assert!(p.header.extensions.is_empty() && !p.header.extension);
            assert_eq!(
                p.header.sequence_number,
                got[0].header.sequence_number.wrapping_add(n as u16)
            );
            assert_eq!(
                p.header.timestamp.wrapping_sub(got[0].header.timestamp),
                n as u32 * 3000
            );
            assert_eq!(p.payload, packet(42, 0, 0, n % 30 == 0).payload);
        }
        assert_eq!(f.sink_stats(SinkKey(i)).unwrap().forwarded, 100);
    }
}

#[test]
fn a_sink_starts_at_the_sequence_number_and_timestamp_it_was_given() {
    let t0 = Instant::now();
    let mut f = setup(t0, 1);
    f.handle_rtp(t0, VIDEO, &packet(42, 7, 123_456, true));
    f.handle_rtp(t0, VIDEO, &packet(42, 8, 126_456, false));
    let got = pop_all(&mut f, SinkKey(0));
    let start = params(0, 0);
    assert_eq!(got[0].header.sequence_number, start.first_seq);
    assert_eq!(got[0].header.timestamp, start.first_ts);
    assert_eq!(got[1].header.sequence_number, start.first_seq + 1);
    assert_eq!(got[1].header.timestamp, start.first_ts.wrapping_add(3000));
}

#[test]
fn video_sinks_start_on_a_keyframe_and_audio_at_once() {
    let t0 = Instant::now();
    let mut f = Forwarder::new();
    f.add_track(VIDEO, TrackKind::Video);
    f.add_track(AUDIO, TrackKind::Audio);
    f.add_sink(t0, SinkKey(1), VIDEO, params(1, 96));
    f.add_sink(t0, SinkKey(2), AUDIO, params(2, 111));
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    f.handle_rtp(t0, VIDEO, &packet(5, 1, 0, false));
    f.handle_rtp(t0, AUDIO, &packet(6, 1, 0, false));
    assert_eq!(drain(&mut f), vec![Output::SinkReady(SinkKey(2))]);
    f.handle_rtp(t0, VIDEO, &packet(5, 2, 0, true));
    assert_eq!(drain(&mut f), vec![Output::SinkReady(SinkKey(1))]);
    assert_eq!(pop_all(&mut f, SinkKey(1)).len(), 1);
}

#[test]
fn keyframe_requests_are_throttled_per_track() {
    let t0 = Instant::now();
    let mut f = setup(t0, 2);
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    // Both subscribers hammer PLI for 2 seconds of virtual time, every 10 ms.
    let mut requests = Vec::new();
    for ms in (0..2000).step_by(10) {
        let now = t0 + Duration::from_millis(ms);
        f.handle_keyframe_request(now, SinkKey(0));
        f.handle_keyframe_request(now, SinkKey(1));
        f.handle_timeout(now);
        for out in drain(&mut f) {
            assert_eq!(out, Output::KeyframeRequest(VIDEO));
            requests.push(ms);
        }
    }
    let step = KEYFRAME_THROTTLE.as_millis() as u64;
    let expected: Vec<u64> = (1..).map(|k| k * step).take_while(|ms| *ms < 2000).collect();
    assert_eq!(requests, expected, "at most one request per throttle window");
    // A request held back by the throttle is sent when the window opens.
    let t1 = t0 + Duration::from_millis(expected.last().copied().unwrap_or(0)) + KEYFRAME_THROTTLE;
    f.handle_keyframe_request(t1, SinkKey(0));
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    f.handle_keyframe_request(t1 + Duration::from_millis(100), SinkKey(0));
    assert!(drain(&mut f).is_empty());
    assert_eq!(f.poll_timeout(), Some(t1 + KEYFRAME_THROTTLE));
    f.handle_timeout(t1 + KEYFRAME_THROTTLE);
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
}

#[test]
fn a_keyframe_cancels_a_held_back_request_it_answered() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut f = setup(t0, 1);
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    // A second subscriber joins before the keyframe: its request is held back by the throttle.
    f.add_sink(ms(10), SinkKey(1), VIDEO, params(7, 96));
    assert!(drain(&mut f).is_empty());
    assert_eq!(f.poll_timeout(), Some(t0 + KEYFRAME_THROTTLE));
    // The keyframe asked for by the first starts both, so nothing is owed any more.
    f.handle_rtp(ms(40), VIDEO, &packet(5, 1, 0, true));
    assert_eq!(pop_all(&mut f, SinkKey(0)).len(), 1);
    assert_eq!(pop_all(&mut f, SinkKey(1)).len(), 1);
    drain(&mut f);
    assert_eq!(f.poll_timeout(), None);
    f.handle_timeout(t0 + KEYFRAME_THROTTLE);
    assert!(drain(&mut f).is_empty(), "no keyframe that nobody needs");
}

#[test]
fn an_unanswered_request_is_repeated_while_a_subscriber_waits() {
    let t0 = Instant::now();
    let mut f = setup(t0, 1);
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    // The publisher ignored it (or it was lost): delta frames only.
    f.handle_rtp(t0 + Duration::from_millis(30), VIDEO, &packet(5, 1, 0, false));
    assert!(drain(&mut f).is_empty());
    assert_eq!(f.poll_timeout(), Some(t0 + KEYFRAME_RETRY));
    f.handle_timeout(t0 + KEYFRAME_RETRY);
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    // Answered: the subscriber starts and nothing more is asked for.
    let t1 = t0 + KEYFRAME_RETRY + Duration::from_millis(40);
    f.handle_rtp(t1, VIDEO, &packet(5, 2, 0, true));
    f.handle_rtp(t1, VIDEO, &packet(5, 3, 0, false));
    assert_eq!(pop_all(&mut f, SinkKey(0)).len(), 2);
    drain(&mut f);
    assert_eq!(f.poll_timeout(), None);
}

#[test]
fn nothing_is_repeated_for_a_subscriber_that_left() {
    let t0 = Instant::now();
    let mut f = setup(t0, 1);
    drain(&mut f);
    f.add_sink(t0 + KEYFRAME_THROTTLE, SinkKey(1), VIDEO, params(7, 96));
    drain(&mut f);
    f.remove_sink(SinkKey(0));
    assert_eq!(
        f.poll_timeout(),
        Some(t0 + KEYFRAME_THROTTLE + KEYFRAME_RETRY),
        "sink 1 still waits"
    );
    f.remove_sink(SinkKey(1));
    assert_eq!(f.poll_timeout(), None);
}

/// Thirty subscribers join 33 ms apart while the publisher behaves like a browser: it honours a
/// request only 300 ms after the last it honoured, and its keyframe arrives 40 ms later.
#[test]
fn a_join_storm_starts_every_subscriber_with_requests_no_closer_than_the_throttle() {
    let t0 = Instant::now();
    let mut f = Forwarder::new();
    f.add_track(VIDEO, TrackKind::Video);
    let (mut honoured, mut keyframe_at, mut sent) = (None::<u64>, None::<u64>, Vec::new());
    let mut started = [false; 30];
    let mut seq = 0u16;
    for ms in 0..3000u64 {
        let now = t0 + Duration::from_millis(ms);
        if ms % 33 == 0 && ms / 33 < 30 {
            f.add_sink(now, SinkKey(ms / 33), VIDEO, params(1, 96));
        }
        if f.poll_timeout().is_some_and(|t| t <= now) {
            f.handle_timeout(now);
        }
        if ms % 33 == 5 || keyframe_at == Some(ms) {
            seq = seq.wrapping_add(1);
            f.handle_rtp(now, VIDEO, &packet(5, seq, 0, keyframe_at == Some(ms)));
        }
        for out in drain(&mut f) {
            if out == Output::KeyframeRequest(VIDEO) {
                sent.push(ms);
                if honoured.is_none_or(|h| ms >= h + 300) {
                    honoured = Some(ms);
                    keyframe_at = Some(ms + 40);
                }
            }
        }
        for (i, s) in started.iter_mut().enumerate() {
            *s |= f
                .sink_stats(SinkKey(i as u64))
                .is_some_and(|st| st.queued > 0 || st.forwarded > 0);
        }
    }
    assert!(started.iter().all(|s| *s), "every subscriber started: {started:?}");
    assert!(
        sent.windows(2)
            .all(|w| w[1] - w[0] >= KEYFRAME_THROTTLE.as_millis() as u64),
        "requests {sent:?}"
    );
}

#[test]
fn a_subscriber_arriving_during_the_latest_keyframe_starts_on_it_at_once() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut f = setup(t0, 1);
    drain(&mut f);
    // A keyframe of three packets (one RTP timestamp) arrives.
    f.handle_rtp(ms(30), VIDEO, &packet(5, 10, 3000, true));
    f.handle_rtp(ms(30), VIDEO, &packet(5, 11, 3000, false));
    drain(&mut f);
    // A subscriber arrives before its last packet: it gets the first two now, asks nothing.
    assert!(f.add_sink(ms(31), SinkKey(1), VIDEO, params(7, 96)));
    assert_eq!(drain(&mut f), vec![Output::SinkReady(SinkKey(1))]);
    f.handle_rtp(ms(32), VIDEO, &packet(5, 12, 3000, false));
    let got = pop_all(&mut f, SinkKey(1));
    assert_eq!(got.len(), 3);
    assert!(is_vp8_keyframe_start(&got[0].payload), "it starts on the keyframe");
    for w in got.windows(2) {
        assert_eq!(w[1].header.sequence_number, w[0].header.sequence_number.wrapping_add(1));
    }
    // The next frame (a delta, which refers to that keyframe) follows as for everyone.
    f.handle_rtp(ms(63), VIDEO, &packet(5, 13, 6000, false));
    assert_eq!(pop_all(&mut f, SinkKey(1)).len(), 1);
    // Once another frame has started, a newcomer waits for a new keyframe and asks for one.
    drain(&mut f);
    f.add_sink(ms(400), SinkKey(2), VIDEO, params(8, 96));
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    f.handle_rtp(ms(401), VIDEO, &packet(5, 14, 6000, false));
    assert!(f.pop_packet(SinkKey(2)).is_none());
}

#[test]
fn a_keyframe_too_large_to_keep_is_not_kept_in_part() {
    let t0 = Instant::now();
    let mut f = setup(t0, 1);
    drain(&mut f);
    for i in 0..=KEYFRAME_PACKETS as u16 {
        f.handle_rtp(t0, VIDEO, &packet(5, i, 3000, i == 0));
    }
    drain(&mut f);
    f.add_sink(t0, SinkKey(1), VIDEO, params(7, 96));
    assert!(f.pop_packet(SinkKey(1)).is_none(), "waits for a whole keyframe");
    assert!(drain(&mut f).contains(&Output::KeyframeRequest(VIDEO)) || f.poll_timeout().is_some());
}

#[test]
fn a_stalled_subscriber_does_not_delay_the_others() {
    let t0 = Instant::now();
    let mut f = setup(t0, 3);
    drain(&mut f);
    // Sink 2 never takes its packets; sinks 0 and 1 take theirs after every packet.
    let total = SINK_QUEUE_PACKETS as u16 * 3;
    let mut got = [0usize; 2];
    for i in 0..total {
        f.handle_rtp(
            t0 + Duration::from_millis(i as u64),
            VIDEO,
            &packet(9, i, i as u32 * 90, i % 100 == 0),
        );
        for (s, n) in got.iter_mut().enumerate() {
            *n += pop_all(&mut f, SinkKey(s as u64)).len();
        }
    }
    assert_eq!(
        got,
        [total as usize, total as usize],
        "healthy subscribers got every packet, at once"
    );
    let stalled = f.sink_stats(SinkKey(2)).unwrap();
    assert!(
        stalled.queued <= SINK_QUEUE_PACKETS,
        "the stalled queue is bounded: {stalled:?}"
    );
    assert!(stalled.dropped > 0);
    // The stall asked the publisher for a keyframe so the subscriber can recover.
    assert!(drain(&mut f).contains(&Output::KeyframeRequest(VIDEO)));
    // When it recovers its stream is still gap-free.
    let out = pop_all(&mut f, SinkKey(2));
    for w in out.windows(2) {
        assert_eq!(w[1].header.sequence_number, w[0].header.sequence_number.wrapping_add(1));
    }
}

#[test]
fn removing_a_track_removes_its_sinks() {
    let t0 = Instant::now();
    let mut f = setup(t0, 2);
    f.remove_track(VIDEO);
    assert!(f.sink_stats(SinkKey(0)).is_none());
    f.handle_rtp(t0, VIDEO, &packet(1, 1, 1, true));
    assert!(f.pop_packet(SinkKey(0)).is_none());
    assert!(!f.add_sink(t0, SinkKey(9), VIDEO, params(1, 96)));
}

#[test]
fn an_unsubscribed_sink_gets_nothing_more() {
    let t0 = Instant::now();
    let mut f = setup(t0, 2);
    f.handle_rtp(t0, VIDEO, &packet(1, 1, 1, true));
    f.remove_sink(SinkKey(1));
    f.handle_rtp(t0, VIDEO, &packet(1, 2, 1, false));
    assert_eq!(pop_all(&mut f, SinkKey(0)).len(), 2);
    assert!(f.pop_packet(SinkKey(1)).is_none());
    assert_eq!(f.sinks_of(VIDEO), &[SinkKey(0)]);
}

proptest::proptest! {
    /// Whatever the source does (reordering, SSRC changes, drops), each sink's output
    /// sequence numbers only ever advance by one between packets taken in order.
    #[test]
    fn output_sequence_is_gap_free(steps in proptest::collection::vec((0u16..3, proptest::bool::ANY, 0u8..4), 1..300)) {
        let t0 = Instant::now();
        let mut f = setup(t0, 1);
        let mut seq = 0u16;
        let mut ssrc = 1u32;
        let mut out = Vec::new();
        for (i, (jump, key, action)) in steps.into_iter().enumerate() {
            seq = seq.wrapping_add(1 + jump);
            if action == 3 { ssrc += 1; }
            f.handle_rtp(t0, VIDEO, &packet(ssrc, seq, i as u32, key || i == 0));
            if action != 0 { out.extend(pop_all(&mut f, SinkKey(0))); }
        }
        out.extend(pop_all(&mut f, SinkKey(0)));
        for w in out.windows(2) {
            let step = w[1].header.sequence_number.wrapping_sub(w[0].header.sequence_number);
            proptest::prop_assert!((1..=3).contains(&step), "step {}", step);
        }
    }
}

/// The recording's rule: a keyframe at least 1.5 s into a segment starts the next; ask 2 s on.
const SEGMENTS: SegmentKeyframes = SegmentKeyframes {
    every: Duration::from_secs(2),
    shortest: Duration::from_millis(1500),
};

/// A recorded video track whose first keyframe arrived at `t0`.
fn recorded(t0: Instant) -> Forwarder {
    let mut f = Forwarder::new();
    f.add_track(VIDEO, TrackKind::Video);
    f.record_keyframes(t0, VIDEO, SEGMENTS);
    f.handle_rtp(t0, VIDEO, &packet(5, 0, 0, true));
    drain(&mut f);
    f
}

/// Runs the timer at every millisecond in `from..to` and returns when requests went out.
fn run_timer(f: &mut Forwarder, t0: Instant, from: u64, to: u64) -> Vec<u64> {
    let mut sent = Vec::new();
    for ms in from..to {
        let now = t0 + Duration::from_millis(ms);
        if f.poll_timeout().is_some_and(|t| t <= now) {
            f.handle_timeout(now);
        }
        sent.extend(
            drain(f)
                .into_iter()
                .filter(|o| *o == Output::KeyframeRequest(VIDEO))
                .map(|_| ms),
        );
    }
    sent
}

#[test]
fn a_recording_asks_for_a_keyframe_at_once_until_the_first_arrives() {
    let t0 = Instant::now();
    let mut f = Forwarder::new();
    f.add_track(VIDEO, TrackKind::Video);
    f.add_track(AUDIO, TrackKind::Audio);
    f.record_keyframes(t0, AUDIO, SEGMENTS);
    assert_eq!(f.poll_timeout(), None, "audio needs no keyframes");
    f.record_keyframes(t0, VIDEO, SEGMENTS);
    // The first packet was not a keyframe (it was lost, or the recording began mid-stream).
    f.handle_rtp(t0, VIDEO, &packet(5, 1, 0, false));
    assert_eq!(f.poll_timeout(), Some(t0));
    f.handle_timeout(t0);
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    // Unanswered, it is asked again a segment later, not sooner.
    assert_eq!(f.poll_timeout(), Some(t0 + SEGMENTS.every));
}

#[test]
fn recording_requests_keep_coming_every_two_seconds_with_no_subscribers() {
    let t0 = Instant::now();
    // A publisher that ignores them all: one request per period, no more.
    let mut f = recorded(t0);
    assert_eq!(run_timer(&mut f, t0, 0, 10_001), vec![2000, 4000, 6000, 8000, 10_000]);
    // A publisher that answers each 40 ms later: the next period counts from the keyframe.
    let mut f = recorded(t0);
    let mut sent = Vec::new();
    for period in 0..5u64 {
        let start = period * 2040;
        let got = run_timer(&mut f, t0, start, start + 2040);
        assert_eq!(got, vec![start + 2000], "period {period}");
        sent.extend(got);
        f.handle_rtp(
            t0 + Duration::from_millis(start + 2040),
            VIDEO,
            &packet(5, period as u16 + 1, 0, true),
        );
    }
    assert_eq!(sent, vec![2000, 4040, 6080, 8120, 10_160]);
}

#[test]
fn a_keyframe_that_can_start_a_segment_resets_the_recordings_period() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut f = recorded(t0);
    // A keyframe 1.7 s in (a pupil's, say) starts the next segment: nothing is asked at 2 s.
    f.handle_rtp(ms(1700), VIDEO, &packet(5, 1, 0, true));
    assert_eq!(f.poll_timeout(), Some(ms(3700)));
    assert!(run_timer(&mut f, t0, 1700, 3700).is_empty());
    // The next, answered 40 ms later, starts a segment; one 0.5 s into that segment (a pupil
    // joining, say) does not start another (the recorder will not cut there), so it does not
    // put off the keyframe the segment ends on.
    assert_eq!(run_timer(&mut f, t0, 3700, 3740), vec![3700]);
    f.handle_rtp(ms(3740), VIDEO, &packet(5, 2, 0, true));
    f.handle_rtp(ms(4240), VIDEO, &packet(5, 3, 0, true));
    assert_eq!(run_timer(&mut f, t0, 3740, 5741), vec![5740]);
}

#[test]
fn a_recording_request_and_a_join_just_after_it_make_one_request() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut f = recorded(t0);
    f.handle_rtp(ms(1990), VIDEO, &packet(5, 1, 1, false));
    assert_eq!(run_timer(&mut f, t0, 1990, 2001), vec![2000]);
    // A pupil joins 100 ms later: the throttle holds its request back ...
    f.add_sink(ms(2100), SinkKey(1), VIDEO, params(7, 96));
    assert!(drain(&mut f).is_empty());
    // ... and the recording's keyframe starts it and cancels the request.
    f.handle_rtp(ms(2140), VIDEO, &packet(5, 2, 2, true));
    assert_eq!(pop_all(&mut f, SinkKey(1)).len(), 1);
    drain(&mut f);
    assert!(run_timer(&mut f, t0, 2140, 4000).is_empty(), "one request for both");
}

#[test]
fn a_join_just_before_the_recordings_request_is_the_only_request() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut f = recorded(t0);
    f.handle_rtp(ms(1800), VIDEO, &packet(5, 1, 1, false));
    f.add_sink(ms(1900), SinkKey(1), VIDEO, params(7, 96));
    assert_eq!(drain(&mut f), vec![Output::KeyframeRequest(VIDEO)]);
    // The recording is due at 2 s, 100 ms after the pupil's request: that request serves it,
    // and no second is sent, now or when the throttle would allow one, even if its keyframe
    // is slow to come.
    assert!(run_timer(&mut f, t0, 1900, 2350).is_empty(), "one request for both");
    // Its keyframe starts the pupil and the next segment.
    f.handle_rtp(ms(2350), VIDEO, &packet(5, 2, 2, true));
    assert_eq!(pop_all(&mut f, SinkKey(1)).len(), 1);
    drain(&mut f);
    assert_eq!(f.poll_timeout(), Some(ms(4350)));
    assert_eq!(run_timer(&mut f, t0, 2350, 4351), vec![4350]);
}

/// Pupils join at random moments through a recorded lesson while the publisher behaves like a
/// browser (honours a request only 300 ms after the last it honoured, answers 40 ms later):
/// the browser ignores none of the requests, every pupil starts, and keyframes come often
/// enough for every segment to be cut about every 2 s.
#[test]
fn joins_during_a_recording_waste_no_request_and_segments_stay_about_two_seconds() {
    let t0 = Instant::now();
    let mut f = recorded(t0);
    let joins: Vec<u64> = (0..12u64).map(|i| 100 + (i * 7919) % 11_000).collect();
    let (mut honoured, mut keyframe_at, mut ignored, mut keyframes) = (None::<u64>, None::<u64>, 0, vec![0u64]);
    let mut seq = 0u16;
    for ms in 1..12_000u64 {
        let now = t0 + Duration::from_millis(ms);
        for (i, _) in joins.iter().enumerate().filter(|(_, j)| **j == ms) {
            f.add_sink(now, SinkKey(i as u64), VIDEO, params(1, 96));
        }
        if f.poll_timeout().is_some_and(|t| t <= now) {
            f.handle_timeout(now);
        }
        if ms % 33 == 5 || keyframe_at == Some(ms) {
            seq = seq.wrapping_add(1);
            f.handle_rtp(now, VIDEO, &packet(5, seq, seq as u32, keyframe_at == Some(ms)));
            if keyframe_at == Some(ms) {
                keyframes.push(ms);
            }
        }
        for out in drain(&mut f) {
            match out {
                Output::KeyframeRequest(_) if honoured.is_none_or(|h| ms >= h + 300) => {
                    honoured = Some(ms);
                    keyframe_at = Some(ms + 40);
                }
                Output::KeyframeRequest(_) => ignored += 1,
                Output::SinkReady(sink) => drop(pop_all(&mut f, sink)),
            }
        }
    }
    assert_eq!(ignored, 0, "requests the browser ignored");
    for (i, at) in joins.iter().enumerate() {
        assert!(
            f.sink_stats(SinkKey(i as u64)).unwrap().forwarded > 0,
            "pupil {i} joining at {at} ms started"
        );
    }
    // The recorder's cuts: the first keyframe at least 1.5 s into each segment.
    let mut cuts = vec![0u64];
    for k in keyframes {
        if k - cuts.last().unwrap() >= 1500 {
            cuts.push(k);
        }
    }
    assert!(
        cuts.windows(2).all(|w| w[1] - w[0] <= 2040),
        "segments start at {cuts:?}"
    );
}
