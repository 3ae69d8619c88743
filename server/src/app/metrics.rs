//! What a scrape of `GET /metrics` reads from the running server (`crate::telemetry` has the
//! series and the counters moved where things happen): the live lessons and their people by
//! role (each lesson's shared census, no task asked), the media engine's totals (one command
//! on its queue), the recordings by state (one query) and the spool's upload backlog (one look
//! at its folders). Each part has [`PART_TIMEOUT`]; one that does not answer in time keeps its
//! last values, so a scrape always answers. One scrape gathers at a time: a burst of scrapes
//! cannot multiply the work.

use std::time::Duration;

use crate::lesson::Census;
use crate::telemetry as t;

use super::Livegate;

/// The longest one part of a scrape may take.
pub const PART_TIMEOUT: Duration = Duration::from_secs(2);

/// One scrape at a time gathers.
static GATHERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Livegate {
    /// Reads the server's state into the metrics' gauges and counters, ready to render.
    pub async fn gather_metrics(&self) {
        let _one = GATHERING.lock().await;
        self.gather_lessons();
        let media = tokio::time::timeout(PART_TIMEOUT, self.media.totals());
        let states = tokio::time::timeout(PART_TIMEOUT, self.store.recording_states());
        let spool = self.recordings.as_ref().map(|r| r.spool.clone());
        let backlog = tokio::time::timeout(
            PART_TIMEOUT,
            tokio::task::spawn_blocking(move || spool.map(|s| livegate_recorder::spool::backlog(&s))),
        );
        let (media, states, backlog) = tokio::join!(media, states, backlog);
        if let Ok(Some(m)) = media {
            publish_media(&m);
        }
        if let Ok(Ok(states)) = states {
            publish_recordings(&states);
        }
        if let Ok(Ok(backlog)) = backlog {
            let b = backlog.unwrap_or_default();
            metrics::gauge!(t::BACKLOG_SEGMENTS).set(b.segments as f64);
            metrics::gauge!(t::BACKLOG_BYTES).set(b.bytes as f64);
            metrics::gauge!(t::BACKLOG_RECORDINGS).set(b.recordings as f64);
        }
    }

    /// Live lessons and their people, from each lesson's shared facts.
    fn gather_lessons(&self) {
        let (mut live, mut people) = (0u64, Census::default());
        for lesson in self.lessons.ids().iter().filter_map(|id| self.lessons.get(id)) {
            let shared = lesson.shared.lock().expect("lesson lock");
            if shared.live {
                live += 1;
                people.add(&shared.census);
            }
        }
        metrics::gauge!(t::LESSONS_LIVE).set(live as f64);
        for (role, n) in people.by_role() {
            metrics::gauge!(t::PARTICIPANTS, "role" => role.as_str()).set(n as f64);
        }
        metrics::gauge!(t::LOBBY_WAITING).set(people.waiting as f64);
    }
}

fn publish_media(m: &crate::media::MediaTotals) {
    metrics::gauge!(t::MEDIA_STREAMS, "direction" => "publish").set(m.publish_streams as f64);
    metrics::gauge!(t::MEDIA_STREAMS, "direction" => "receive").set(m.receive_streams as f64);
    metrics::counter!(t::RECEIVED_PACKETS).absolute(m.received_packets);
    metrics::counter!(t::FORWARDED_PACKETS).absolute(m.forwarded_packets);
    metrics::counter!(t::FORWARDED_BYTES).absolute(m.forwarded_bytes);
    for (reason, n) in m.dropped.by_reason() {
        metrics::counter!(t::DROPPED_PACKETS, "reason" => reason).absolute(n);
    }
}

/// Every known state, zero when none is in it; a state the code does not know (none today)
/// is left out rather than made a label from the database's text.
fn publish_recordings(states: &[(String, i64)]) {
    for state in t::RECORDING_STATES {
        let n = states.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
        metrics::gauge!(t::RECORDINGS, "state" => state).set(n as f64);
    }
}
