//! The server's log (standard error) and two rules that keep it safe under attack.
//!
//! 1. Libraries that quote what they receive never reach the log, whatever `LIVEGATE_LOG`
//!    says: webrtc-rs (`rtc*`) writes one or two warnings per refused datagram quoting the ICE
//!    usernames it expected and got, and tungstenite traces whole frames (join tickets, SDP
//!    with ICE passwords). The media engine and the HTTP side log what matters themselves,
//!    with ids and counts.
//! 2. A line that could fire once per datagram or per packet goes through a [`Throttle`]: one
//!    summary at most every [`Throttle::PERIOD`], with the count since the last line, so a
//!    flood cannot flood the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Targets (by prefix) whose lines are never written: see the module comment.
const QUIET_LIBRARIES: [&str; 3] = ["rtc", "tungstenite", "tokio_tungstenite"];

/// What is logged when `LIVEGATE_LOG` is not set.
pub const DEFAULT_DIRECTIVES: &str = "info";

/// Whether lines of `target` may be written.
pub fn target_allowed(target: &str) -> bool {
    !QUIET_LIBRARIES.iter().any(|quiet| target.starts_with(quiet))
}

/// The formatting layer with both filters: `directives` (the `LIVEGATE_LOG` syntax) and the
/// quiet libraries.
pub fn layer<S, W>(directives: &str, writer: W, ansi: bool) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let directives = tracing_subscriber::EnvFilter::try_new(directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_DIRECTIVES));
    let quiet = tracing_subscriber::filter::filter_fn(|meta| target_allowed(meta.target()));
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_filter(directives)
        .with_filter(quiet)
}

/// Installs the log for the process: standard error, `LIVEGATE_LOG` or
/// [`DEFAULT_DIRECTIVES`]; lines of the `log` crate (webrtc-rs, tungstenite) pass the same
/// filters.
pub fn init() {
    let directives = std::env::var("LIVEGATE_LOG").unwrap_or_else(|_| DEFAULT_DIRECTIVES.to_owned());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::registry()
        .with(layer(&directives, std::io::stderr, ansi))
        .init();
}

/// Lets one line through per [`Throttle::PERIOD`], carrying how many occurrences it stands for.
/// The first occurrence is logged at once; the ones after it are counted into the next line.
pub struct Throttle {
    state: Mutex<ThrottleState>,
}

struct ThrottleState {
    next: Option<Instant>,
    count: u64,
}

impl Throttle {
    /// The shortest time between two lines of one throttle.
    pub const PERIOD: Duration = Duration::from_secs(10);

    pub const fn new() -> Self {
        Self {
            state: Mutex::new(ThrottleState { next: None, count: 0 }),
        }
    }

    /// Counts one occurrence at `now`. When a line is due, returns how many occurred since the
    /// last line (this one included).
    pub fn hit(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        s.count += 1;
        match s.next {
            Some(next) if now < next => None,
            _ => {
                s.next = Some(now + Self::PERIOD);
                Some(std::mem::take(&mut s.count))
            }
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer that keeps what is written.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    /// The WebRTC library's per-datagram warnings (they quote ICE usernames) and tungstenite's
    /// frame traces (tickets, ICE passwords) are not written, even when `LIVEGATE_LOG` asks for
    /// everything; the server's own lines are.
    #[test]
    fn quiet_libraries_never_reach_the_log() {
        let out = Captured::default();
        let subscriber =
            tracing_subscriber::registry().with(layer("trace,rtc_ice=trace,tungstenite=trace", out.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "rtc_ice::agent", "discard message, expected(srvufrag:cli) actual(srvufrag:evil)");
            tracing::warn!(target: "rtc::peer_connection::handler", "ice.handle_read got error: expected(srvufrag:cli)");
            tracing::trace!(target: "tungstenite::protocol", "Received message {{\"ticket\":\"secret-ticket\"}}");
            tracing::info!(target: "livegate::media", "the server's own line");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("the server's own line"), "{text}");
        for secret in ["srvufrag", "secret-ticket"] {
            assert!(!text.contains(secret), "{secret} reached the log: {text}");
        }
        assert!(target_allowed("livegate::http") && !target_allowed("rtc_dtls::conn"));
    }

    /// A burst of a thousand in one period makes one line; the next line, a period later,
    /// carries the count of everything in between.
    #[test]
    fn a_throttle_logs_once_per_period_with_the_count() {
        let t = Throttle::new();
        let t0 = Instant::now();
        assert_eq!(t.hit(t0), Some(1), "the first occurrence is logged at once");
        let lines: Vec<u64> = (1..1000).filter_map(|i| t.hit(t0 + Duration::from_millis(i))).collect();
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(t.hit(t0 + Throttle::PERIOD), Some(1000));
        assert_eq!(t.hit(t0 + Throttle::PERIOD + Duration::from_secs(1)), None);
    }
}
