//! The server's log (standard error) and two rules that keep it safe under attack.
//!
//! Lines are text for a person by default, or with `log_format = "json"` one JSON object per
//! line for a log collector ([`LogFormat`]). The log is installed before the configuration is
//! read (the operator's commands log too), so [`init`] installs both writers and
//! [`set_format`] picks one once the server's configuration is known; the lines a person
//! watching the console is meant to read go through [`console`], which keeps standard error
//! all JSON in that mode.
//!
//! 1. Libraries that quote what they receive never reach the log, whatever `LIVEGATE_LOG`
//!    says: webrtc-rs (`rtc*`) writes one or two warnings per refused datagram quoting the ICE
//!    usernames it expected and got, and tungstenite traces whole frames (join tickets, SDP
//!    with ICE passwords). The media engine and the HTTP side log what matters themselves,
//!    with ids and counts.
//! 2. A line that could fire once per datagram or per packet goes through a [`Throttle`]: one
//!    summary at most every [`Throttle::PERIOD`], with the count since the last line, so a
//!    flood cannot flood the log.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// How the log's lines are written (`log_format` in the configuration, `LIVEGATE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event, for a person reading the console or the journal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message` and the event's
    /// fields), for a log collector.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(()),
        }
    }
}

/// Whether the JSON writer is the one in use (see [`set_format`]).
static JSON: AtomicBool = AtomicBool::new(false);

/// Chooses how lines are written from now on; [`init`] starts with text.
pub fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

fn json_chosen() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// A line for the person watching the server start or stop: as it is on standard error in
/// text mode, and as an `info` event (target `livegate::console`) in JSON mode, so every line
/// there stays JSON.
pub fn console(line: &str) {
    if json_chosen() {
        tracing::info!(target: "livegate::console", "{line}");
    } else {
        eprintln!("{line}");
    }
}

/// Both filters of every writer: `directives` (the `LIVEGATE_LOG` syntax) and the quiet
/// libraries.
fn filtered<S, L>(layer: L, directives: &str) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    L: Layer<S>,
{
    let directives = tracing_subscriber::EnvFilter::try_new(directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_DIRECTIVES));
    let quiet = tracing_subscriber::filter::filter_fn(|meta| target_allowed(meta.target()));
    layer.with_filter(directives).with_filter(quiet)
}

/// The text formatting layer with both filters.
pub fn layer<S, W>(directives: &str, writer: W, ansi: bool) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    filtered(
        tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi),
        directives,
    )
}

/// The JSON formatting layer with both filters: one object per line, the event's fields at
/// its top level. Fields are recorded as the event gives them, so a [`Redacted`] value stays
/// redacted here as in text.
///
/// [`Redacted`]: livegate_core::ids::Redacted
pub fn json_layer<S, W>(directives: &str, writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    filtered(
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(writer),
        directives,
    )
}

/// Both writers, only the one [`set_format`] chose writing.
fn switched<S, W>(directives: &str, writer: W, ansi: bool) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    use tracing_subscriber::filter::filter_fn;
    let text = layer(directives, writer.clone(), ansi).with_filter(filter_fn(|_| !json_chosen()));
    let json = json_layer(directives, writer).with_filter(filter_fn(|_| json_chosen()));
    text.and_then(json)
}

/// Installs the log for the process: standard error, `LIVEGATE_LOG` or
/// [`DEFAULT_DIRECTIVES`], in text until [`set_format`] says otherwise; lines of the `log`
/// crate (webrtc-rs, tungstenite) pass the same filters.
pub fn init() {
    let directives = std::env::var("LIVEGATE_LOG").unwrap_or_else(|_| DEFAULT_DIRECTIVES.to_owned());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::registry()
        .with(switched(&directives, std::io::stderr, ansi))
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

    /// `log_format = "json"`: each line is one JSON object with the level, the target, the
    /// message and the event's fields; a redacted value stays redacted, and the quiet
    /// libraries stay out.
    #[test]
    fn json_lines_parse_and_keep_redaction() {
        use livegate_core::ids::Redacted;
        let out = Captured::default();
        let subscriber = tracing_subscriber::registry().with(json_layer("trace,rtc_ice=trace", out.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "rtc_ice::agent", "expected(srvufrag:cli)");
            tracing::info!(target: "livegate::app", email = %Redacted("ada@pupils.example"), lessons = 2, "signed \"in\"");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], "livegate::app");
        assert_eq!(line["message"], "signed \"in\"");
        assert_eq!(line["lessons"], 2);
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(!text.contains("ada@") && !text.contains("srvufrag"), "{text}");
    }

    /// The process's writer writes in the format chosen last, one line per event, never both.
    #[test]
    fn the_chosen_format_alone_writes() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::registry().with(switched("info", out.clone(), false));
        tracing::subscriber::with_default(subscriber, || {
            set_format(LogFormat::Json);
            tracing::info!("as json");
            console("from the console");
            set_format(LogFormat::Text);
            tracing::info!("as text");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (line, message) in lines[..2].iter().zip(["as json", "from the console"]) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["message"], message);
        }
        assert!(lines[2].contains("as text") && !lines[2].starts_with('{'), "{text}");
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert!("yaml".parse::<LogFormat>().is_err());
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
