//! Where a pupil's join time goes: subscribe → offer → ICE → DTLS → first RTP → first keyframe,
//! and for the keyframe it started on, when the publisher was asked for it and when it sent it.
//! All times are CLOCK_REALTIME in one process (the generator plays publisher and subscribers),
//! so the phases of both SFUs are measured the same way.

use serde::{Deserialize, Serialize};

use crate::engine::{Publisher, Subscriber};
use crate::measure;

/// One phase of the join, over the subscribers that reached both of its ends.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Phase {
    pub name: String,
    pub n: usize,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
}

/// The join timeline of one run.
#[derive(Serialize, Deserialize, Default, Clone, Debug)]
pub struct Timeline {
    pub phases: Vec<Phase>,
    /// Subscribers whose first keyframe was one the publisher sent because it was asked.
    pub requested_keyframes: usize,
    /// Subscribers whose first keyframe was the trace's own (every 2 s), not a requested one.
    pub natural_keyframes: usize,
    /// Keyframe requests the publishers took (default model: every one, served at most every
    /// 200 ms) and dropped (`--browser-keyframes`: less than 300 ms after the last taken), over
    /// the whole run.
    pub requests_honoured: usize,
    pub requests_ignored: u64,
    /// PLIs the subscribers sent (`--browser-keyframes` only: on a first frame that was not a
    /// keyframe, then every 200 ms).
    pub subscriber_plis: u64,
}

/// The keyframe (sent time, requested?) that subscriber's first keyframe came from: the last one
/// the publisher sent before it arrived.
fn source_keyframe(p: &Publisher, arrived: i64) -> Option<(i64, bool)> {
    p.keyframes_at.iter().rev().find(|(t, _)| *t <= arrived).copied()
}

/// The last keyframe request the publisher received at or before `t`.
fn request_before(p: &Publisher, t: i64) -> Option<i64> {
    p.requests_at.iter().rev().find(|r| **r <= t).copied()
}

/// The first keyframe request the publisher received at or after `t`.
fn request_after(p: &Publisher, t: i64) -> Option<i64> {
    p.requests_at.iter().find(|r| **r >= t).copied()
}

/// Builds the timeline from the engine's records.
pub fn build(publishers: &[Publisher], subscribers: &[Subscriber]) -> Timeline {
    let names = [
        "subscribe→offer",
        "offer→ICE connected",
        "ICE→DTLS connected",
        "DTLS→first RTP",
        "DTLS→first keyframe",
        "DTLS→next request taken by publisher",
        "request→keyframe sent (its source)",
        "DTLS→source request",
        "keyframe sent→received",
        "subscribe→first keyframe",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut t = Timeline {
        requests_honoured: publishers.iter().map(|p| p.requests_at.len()).sum(),
        requests_ignored: publishers.iter().map(|p| p.keyframe_requests_ignored).sum(),
        subscriber_plis: subscribers.iter().map(|s| s.plis as u64).sum(),
        ..Timeline::default()
    };
    let ms = |a: i64, b: i64| (b - a) as f64 / 1e6;
    for s in subscribers {
        let p = &publishers[s.class];
        let mut push = |i: usize, a: Option<i64>, b: Option<i64>| {
            if let (Some(a), Some(b)) = (a, b) {
                samples[i].push(ms(a, b));
            }
        };
        push(0, Some(s.subscribe_ns), s.offer_ns);
        push(1, s.offer_ns, s.ice_ns);
        push(2, s.ice_ns, s.connected_ns);
        push(3, s.connected_ns, s.first_rtp_ns);
        push(4, s.connected_ns, s.first_keyframe_ns);
        push(5, s.connected_ns, s.ice_ns.and_then(|ice| request_after(p, ice)));
        if let Some(k) = s.first_keyframe_ns {
            if let Some((sent, requested)) = source_keyframe(p, k) {
                push(8, Some(sent), Some(k));
                if requested {
                    t.requested_keyframes += 1;
                    let req = request_before(p, sent);
                    push(6, req, Some(sent));
                    push(7, s.connected_ns, req);
                } else {
                    t.natural_keyframes += 1;
                }
            }
        }
        push(9, Some(s.subscribe_ns), s.first_keyframe_ns);
    }
    for (name, mut v) in names.iter().zip(samples) {
        t.phases.push(Phase {
            name: (*name).to_owned(),
            n: v.len(),
            p50_ms: measure::quantile(&mut v, 0.5),
            p90_ms: measure::quantile(&mut v, 0.9),
        });
    }
    t
}

impl Timeline {
    /// One line per phase, for the generator's log.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.phases {
            let f = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "  {:<42} n={:<4} p50={:>8} p90={:>8} ms\n",
                p.name,
                p.n,
                f(p.p50_ms),
                f(p.p90_ms)
            ));
        }
        out.push_str(&format!(
            "  first keyframe was a requested one for {}, the trace's own for {}\n",
            self.requested_keyframes, self.natural_keyframes
        ));
        out.push_str(&format!(
            "  publisher requests taken {}, dropped {}; subscriber PLIs {}\n",
            self.requests_honoured, self.requests_ignored, self.subscriber_plis
        ));
        out
    }
}

/// Writes every raw timestamp (ns) as JSON to `path`, for a closer look (`LOADGEN_TIMELINE_DUMP`).
pub fn dump(path: &str, publishers: &[Publisher], subscribers: &[Subscriber]) {
    let subs: Vec<serde_json::Value> = subscribers
        .iter()
        .map(|s| {
            serde_json::json!({
                "class": s.class, "subscribe": s.subscribe_ns, "offer": s.offer_ns, "ice": s.ice_ns,
                "connected": s.connected_ns, "first_rtp": s.first_rtp_ns, "first_keyframe": s.first_keyframe_ns,
            })
        })
        .collect();
    let pubs: Vec<serde_json::Value> = publishers
        .iter()
        .map(|p| serde_json::json!({"requests": p.requests_at, "ignored": p.ignored_at, "keyframes": p.keyframes_at}))
        .collect();
    let doc = serde_json::json!({"subscribers": subs, "publishers": pubs});
    if let Err(e) = std::fs::write(path, doc.to_string()) {
        eprintln!("loadgen: writing {path}: {e}");
    }
}
