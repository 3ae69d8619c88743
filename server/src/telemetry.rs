//! The operator's metrics (`GET /metrics` on `metrics_http`, Prometheus text format): every
//! series' name and help in one table, the one-line counters the code calls where something
//! happens (a refused join, a failed sign-in, a store error, a packet the recorder could not
//! take), and the Prometheus recorder behind them.
//!
//! The `metrics` facade does nothing until a recorder is installed, and one is installed only
//! when `metrics_http` is set ([`install`]): with metrics off (the default) a counter below costs
//! a load and a branch. What the server already counts itself (the media engine's packets, the
//! live lessons, the spool) is not pushed here as it happens but read when a scrape comes
//! (`crate::app::metrics`), so forwarding does no work for metrics.
//!
//! No label carries personal data or an id: every label value is from a closed set (a role, an
//! `ErrorCode`, a reason named here), so nothing about a person, and no lesson, can appear in a
//! scrape, and the number of series stays fixed.

use std::sync::OnceLock;

use livegate_core::codes::ErrorCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Live lessons on this server (gauge).
pub const LESSONS_LIVE: &str = "livegate_lessons_live";
/// People in this server's live lessons, by `role` (`teacher`, `pupil`, `guest`) (gauge).
pub const PARTICIPANTS: &str = "livegate_participants";
/// Staff waiting in a lobby for the teacher (gauge).
pub const LOBBY_WAITING: &str = "livegate_lobby_waiting";
/// The media engine's peer connections, by `direction` (`publish`, `receive`) (gauge).
pub const MEDIA_STREAMS: &str = "livegate_media_streams";
/// RTP packets received from publishers (counter).
pub const RECEIVED_PACKETS: &str = "livegate_received_packets_total";
/// RTP packets forwarded to receivers (counter).
pub const FORWARDED_PACKETS: &str = "livegate_forwarded_packets_total";
/// Bytes sent to receivers' peer connections, as UDP payload (counter).
pub const FORWARDED_BYTES: &str = "livegate_forwarded_bytes_total";
/// Packets dropped, by `reason` ([`DROP_REASONS`]) (counter).
pub const DROPPED_PACKETS: &str = "livegate_dropped_packets_total";
/// Admission refusals, by `code` (the `ErrorCode` string) (counter).
pub const JOIN_REFUSALS: &str = "livegate_join_refusals_total";
/// Recordings in the database, by `state` ([`RECORDING_STATES`]) (gauge).
pub const RECORDINGS: &str = "livegate_recordings";
/// Sealed segments in the spool waiting for the object store (gauge).
pub const BACKLOG_SEGMENTS: &str = "livegate_upload_backlog_segments";
/// Their bytes (gauge).
pub const BACKLOG_BYTES: &str = "livegate_upload_backlog_bytes";
/// Recordings in the spool, finished or not, not yet wholly in the object store (gauge).
pub const BACKLOG_RECORDINGS: &str = "livegate_upload_backlog_recordings";
/// Database errors, by `kind` (`unavailable`, `query`) (counter).
pub const STORE_ERRORS: &str = "livegate_store_errors_total";
/// Sign-ins refused, by `reason` (the `ErrorCode` string) (counter).
pub const SIGN_IN_FAILURES: &str = "livegate_sign_in_failures_total";

/// Why a packet was dropped: the `reason` label of [`DROPPED_PACKETS`].
pub const DROP_REASONS: [&str; 6] = [
    // A receiver's queue was full (it could not keep up); it restarts on a keyframe.
    "slow_receiver",
    // Queued for a receiver whose connection was not (or no longer) up.
    "not_connected",
    // A datagram on the media port that belongs to no peer connection.
    "unknown_peer",
    // RTP on a track the publisher's checked offer did not open (not granted, or a second one).
    "track_not_accepted",
    // The socket's send buffer was full.
    "socket_full",
    // The lesson's recorder was behind: its copy of the packet was dropped.
    "recorder_behind",
];

/// A recording's states, as the database keeps them: the `state` label of [`RECORDINGS`].
pub const RECORDING_STATES: [&str; 5] = ["recording", "complete", "interrupted", "failed", "destroyed"];

/// The sign-in refusals counted: the `reason` label of [`SIGN_IN_FAILURES`].
const SIGN_IN_REASONS: [ErrorCode; 4] = [
    ErrorCode::BadCredentials,
    ErrorCode::TooManyAttempts,
    ErrorCode::AccountDisabled,
    ErrorCode::SchoolDisabled,
];

/// Every series: name, whether a counter, and its `# HELP` line.
const DESCRIBED: [(&str, bool, &str); 15] = [
    (LESSONS_LIVE, false, "Live lessons on this server."),
    (PARTICIPANTS, false, "People in this server's live lessons, by role."),
    (
        LOBBY_WAITING,
        false,
        "Staff waiting in a lesson's lobby for the teacher.",
    ),
    (
        MEDIA_STREAMS,
        false,
        "The media engine's peer connections, by direction.",
    ),
    (RECEIVED_PACKETS, true, "RTP packets received from publishers."),
    (FORWARDED_PACKETS, true, "RTP packets forwarded to receivers."),
    (
        FORWARDED_BYTES,
        true,
        "Bytes sent to receivers' peer connections (UDP payload: media and its control traffic).",
    ),
    (DROPPED_PACKETS, true, "Packets dropped, by reason."),
    (
        JOIN_REFUSALS,
        true,
        "Admission refusals (ticket, join or lesson page), by error code.",
    ),
    (
        RECORDINGS,
        false,
        "Recordings in the database, by state (the whole database: every node sharing it reports the same).",
    ),
    (
        BACKLOG_SEGMENTS,
        false,
        "Sealed segments in the spool waiting for the object store.",
    ),
    (
        BACKLOG_BYTES,
        false,
        "Bytes of the sealed segments waiting for the object store.",
    ),
    (
        BACKLOG_RECORDINGS,
        false,
        "Recordings in the spool not yet wholly in the object store.",
    ),
    (
        STORE_ERRORS,
        true,
        "Database errors, by kind (unavailable: not reached; query: any other).",
    ),
    (SIGN_IN_FAILURES, true, "Sign-ins refused, by reason."),
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process) and returns its handle, which renders
/// the scrape. Every series is described, and the counters that only move on rare events are
/// registered at zero, so a scrape shows them (and `rate()` works) before the first event.
/// `None` if another recorder was installed first (only a test harness could).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok()?;
            for (name, counter, help) in DESCRIBED {
                if counter {
                    metrics::describe_counter!(name, help);
                } else {
                    metrics::describe_gauge!(name, help);
                }
            }
            for reason in SIGN_IN_REASONS {
                metrics::counter!(SIGN_IN_FAILURES, "reason" => reason.as_str()).absolute(0);
            }
            for kind in ["unavailable", "query"] {
                metrics::counter!(STORE_ERRORS, "kind" => kind).absolute(0);
            }
            metrics::counter!(DROPPED_PACKETS, "reason" => "recorder_behind").absolute(0);
            Some(handle)
        })
        .clone()
}

/// The admission gate (or the lesson, seating someone) refused a join with `code`.
pub fn join_refused(code: ErrorCode) {
    metrics::counter!(JOIN_REFUSALS, "code" => code.as_str()).increment(1);
}

/// A sign-in was refused with `code`: one of [`SIGN_IN_REASONS`]; any other counts as
/// `bad_credentials`, so the label stays a closed set.
pub fn sign_in_failed(code: ErrorCode) {
    let code = if SIGN_IN_REASONS.contains(&code) {
        code
    } else {
        ErrorCode::BadCredentials
    };
    metrics::counter!(SIGN_IN_FAILURES, "reason" => code.as_str()).increment(1);
}

/// A database call failed: `unavailable` when the database could not be reached.
pub fn store_error(unavailable: bool) {
    let kind = if unavailable { "unavailable" } else { "query" };
    metrics::counter!(STORE_ERRORS, "kind" => kind).increment(1);
}

/// A lesson's recorder was behind and its copy of a packet was dropped.
pub fn recorder_dropped() {
    metrics::counter!(DROPPED_PACKETS, "reason" => "recorder_behind").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        for (name, counter, help) in DESCRIBED {
            assert!(name.starts_with("livegate_"), "{name}");
            assert_eq!(
                counter,
                name.ends_with("_total"),
                "{name}: counters, and only they, end in _total"
            );
            assert!(!help.is_empty() && !help.contains('\n'), "{name}");
        }
        for (reason, _) in crate::media::Dropped::default().by_reason() {
            assert!(DROP_REASONS.contains(&reason), "{reason} is not a documented reason");
        }
    }
}
