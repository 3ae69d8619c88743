//! The one typed configuration: defaults, then a TOML file (unknown keys refused), then
//! `LIVEGATE_*` environment variables, then command-line flags. Validated once at start-up.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::Deserialize;

mod sso;
pub use sso::{AppRegistration, SsoConfig};

/// Why Livegate could not start: a configuration it refuses (file, environment or flags), or an
/// I/O failure while reading its files or binding its sockets. A refusal on the wire is a
/// `livegate_core::codes::ErrorCode` instead; this one only ever reaches the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything Livegate can be told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the HTTP server listens.
    pub http: SocketAddr,
    /// The UDP port for all media (0 picks a free one).
    pub media_port: u16,
    /// The address put in ICE candidates: the one clients can reach. Defaults to the first
    /// non-loopback IPv4 address of this machine, else 127.0.0.1.
    pub advertise_ip: Option<IpAddr>,
    /// Whether the public URL is https (sets the cookie's Secure flag and sends HSTS, for a
    /// reverse proxy that terminates TLS).
    pub secure_cookies: bool,
    /// Serve HTTPS directly with rustls (`[tls]` in the file: `cert` and `key`, PEM files).
    pub tls: Option<TlsConfig>,
    /// `sqlite:path` or `postgres://...`. Default: `sqlite:<data_dir>/livegate.db` (for
    /// `livegate demo`, an in-memory database that starts from the demo seed).
    pub database_url: Option<String>,
    /// Where Livegate keeps its files.
    pub data_dir: std::path::PathBuf,
    /// Sessions and sign-in limits (`[accounts]` in the file).
    pub accounts: AccountsConfig,
    /// A live lesson with no teacher connected for this long ends (seconds, at least 1).
    pub teacher_absent_timeout_secs: u64,
    /// Where recordings go (`[recording]` in the file).
    pub recording: RecordingConfig,
    /// How long a join ticket stays valid (seconds, at least 1).
    pub ticket_lifetime_secs: u64,
    /// HTTP connection deadlines and caps (`[connections]` in the file).
    pub connections: ConnectionsConfig,
    /// The address people open, such as `https://live.example.sch.uk` (behind a proxy, the
    /// proxy's): the start of the invite links `livegate school add` prints. Default: this
    /// server's own `http` address.
    pub public_url: Option<String>,
    /// How the server's log lines are written: `"text"` (the default) or `"json"`, one object
    /// per line (`crate::logs::LogFormat`).
    pub log_format: crate::logs::LogFormat,
    /// Where `GET /metrics` (Prometheus text format) listens, such as `127.0.0.1:9464`: an
    /// address of its own, apart from `http`, so it is never on the public side. Off by default.
    pub metrics_http: Option<SocketAddr>,
    /// The app registrations for sign-in with Microsoft or Google (`[sso.microsoft]`,
    /// `[sso.google]`; `config/sso.rs`).
    pub sso: SsoConfig,
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Recording settings. Unset paths live under `data_dir`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// The object store: `{kind = "local", path = ...}` (default `<data_dir>/recordings`) or
    /// `{kind = "s3", endpoint, region, bucket, access_key, secret_key}`; the `LIVEGATE_S3_*`
    /// environment variables select S3 too.
    pub objects: Option<livegate_recorder::objstore::ObjectStoreConfig>,
    /// The local spool where segments wait for the store (default `<data_dir>/spool`).
    pub spool_dir: Option<std::path::PathBuf>,
    /// Where the schools' key files are (`<school id>.key`; default `<data_dir>/keys`).
    pub keys_dir: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            media_port: 0,
            advertise_ip: None,
            secure_cookies: false,
            tls: None,
            database_url: None,
            data_dir: "data".into(),
            accounts: AccountsConfig::default(),
            teacher_absent_timeout_secs: 600,
            recording: RecordingConfig::default(),
            ticket_lifetime_secs: 30,
            connections: ConnectionsConfig::default(),
            public_url: None,
            log_format: crate::logs::LogFormat::Text,
            metrics_http: None,
            sso: SsoConfig::default(),
        }
    }
}

impl Config {
    /// Loads the file (if any) over the defaults, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, StartupError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StartupError::Config(format!("{}: {e}", path.display())))?;
                toml::from_str(&text).map_err(|e| StartupError::Config(format!("{}: {e}", path.display())))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    /// Applies `LIVEGATE_HTTP`, `LIVEGATE_MEDIA_PORT`, `LIVEGATE_ADVERTISE_IP`, `LIVEGATE_SECURE_COOKIES`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), StartupError> {
        fn parse<T: std::str::FromStr>(key: &str, v: String) -> Result<T, StartupError> {
            v.parse()
                .map_err(|_| StartupError::Config(format!("{key} has an invalid value")))
        }
        if let Some(v) = get("LIVEGATE_HTTP") {
            self.http = parse("LIVEGATE_HTTP", v)?;
        }
        if let Some(v) = get("LIVEGATE_MEDIA_PORT") {
            self.media_port = parse("LIVEGATE_MEDIA_PORT", v)?;
        }
        if let Some(v) = get("LIVEGATE_ADVERTISE_IP") {
            self.advertise_ip = Some(parse("LIVEGATE_ADVERTISE_IP", v)?);
        }
        if let Some(v) = get("LIVEGATE_SECURE_COOKIES") {
            self.secure_cookies = parse("LIVEGATE_SECURE_COOKIES", v)?;
        }
        match (get("LIVEGATE_TLS_CERT"), get("LIVEGATE_TLS_KEY")) {
            (Some(cert), Some(key)) => {
                self.tls = Some(TlsConfig {
                    cert: cert.into(),
                    key: key.into(),
                })
            }
            (None, None) => {}
            _ => {
                return Err(StartupError::Config(
                    "LIVEGATE_TLS_CERT and LIVEGATE_TLS_KEY must be set together".into(),
                ))
            }
        }
        if let Some(v) = get("LIVEGATE_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("LIVEGATE_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(endpoint) = get("LIVEGATE_S3_ENDPOINT") {
            let need = |k: &str| {
                get(k).ok_or_else(|| StartupError::Config(format!("{k} must be set with LIVEGATE_S3_ENDPOINT")))
            };
            self.recording.objects = Some(livegate_recorder::objstore::ObjectStoreConfig::S3 {
                endpoint,
                region: get("LIVEGATE_S3_REGION").unwrap_or_else(|| "garage".into()),
                bucket: need("LIVEGATE_S3_BUCKET")?,
                access_key: need("LIVEGATE_S3_ACCESS_KEY")?,
                secret_key: need("LIVEGATE_S3_SECRET_KEY")?,
            });
        }
        if let Some(v) = get("LIVEGATE_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("LIVEGATE_METRICS_HTTP") {
            self.metrics_http = Some(parse("LIVEGATE_METRICS_HTTP", v)?);
        }
        if let Some(v) = get("LIVEGATE_TICKET_LIFETIME_SECS") {
            self.ticket_lifetime_secs = parse("LIVEGATE_TICKET_LIFETIME_SECS", v)?;
        }
        if let Some(v) = get("LIVEGATE_TEACHER_ABSENT_TIMEOUT_SECS") {
            self.teacher_absent_timeout_secs = parse("LIVEGATE_TEACHER_ABSENT_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("LIVEGATE_LOG_FORMAT") {
            self.log_format = parse("LIVEGATE_LOG_FORMAT", v)?;
        }
        self.sso.apply_env(&get);
        let c = &mut self.connections;
        for (key, field) in [
            ("LIVEGATE_HEADER_TIMEOUT_SECS", &mut c.header_timeout_secs),
            ("LIVEGATE_IDLE_TIMEOUT_SECS", &mut c.idle_timeout_secs),
        ] {
            if let Some(v) = get(key) {
                *field = parse(key, v)?;
            }
        }
        let caps = [
            ("LIVEGATE_MAX_CONNECTIONS_PER_ADDRESS", &mut c.max_per_address),
            ("LIVEGATE_MAX_CONNECTIONS", &mut c.max_total),
        ];
        for (key, field) in caps {
            if let Some(v) = get(key) {
                *field = parse(key, v)?;
            }
        }
        Ok(())
    }

    /// The recording object store, resolving the default.
    pub fn objects(&self) -> livegate_recorder::objstore::ObjectStoreConfig {
        self.recording
            .objects
            .clone()
            .unwrap_or_else(|| livegate_recorder::objstore::ObjectStoreConfig::Local {
                path: self.data_dir.join("recordings"),
            })
    }

    /// The spool folder, resolving the default.
    pub fn spool_dir(&self) -> std::path::PathBuf {
        self.recording
            .spool_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("spool"))
    }

    /// The key folder, resolving the default.
    pub fn keys_dir(&self) -> std::path::PathBuf {
        self.recording
            .keys_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// The database URL, resolving the default.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("livegate.db").display()))
    }

    /// How long a join ticket stays valid.
    pub fn ticket_lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ticket_lifetime_secs.max(1))
    }

    /// How long a lesson may run without a teacher connected before it ends.
    pub fn teacher_absent_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.teacher_absent_timeout_secs.max(1))
    }

    /// Whether browsers reach this server over HTTPS (directly or through a proxy): then
    /// responses carry HSTS.
    pub fn https(&self) -> bool {
        self.tls.is_some() || self.secure_cookies
    }

    /// The advertised media address, resolving the default.
    pub fn advertise_ip(&self) -> IpAddr {
        self.advertise_ip.unwrap_or_else(default_advertise_ip)
    }
}

/// Sessions and sign-in limits. They live in the database, so nodes sharing one should be
/// configured alike. Zero values are raised to 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// A session unused for this long ends (minutes).
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, used or not (hours).
    pub session_lifetime_hours: u64,
    /// Failed sign-ins for one email within the window before it is held: from one client
    /// address (for that address), on one known device (for that device), or from anywhere
    /// (for every address that has failed for it once). See `app::access::SignInLimits`.
    pub failures_per_email: u32,
    /// Failed sign-ins from one client address (an IPv6 /64), any email, within the window
    /// before the address is held.
    pub failures_per_address: u32,
    /// The failure window (minutes).
    pub failure_window_minutes: u64,
    /// Take the client address from the last `X-Forwarded-For` entry. Only behind a reverse
    /// proxy that sets it: otherwise clients could pick their own address.
    pub trust_forwarded_for: bool,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 120,
            session_lifetime_hours: 12,
            failures_per_email: 5,
            failures_per_address: 30,
            failure_window_minutes: 15,
            trust_forwarded_for: false,
        }
    }
}

/// HTTP connection deadlines and caps, the same for plain HTTP and TLS. Zero timeouts are
/// raised to 1 second.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// From a connection's accept to its first complete request head, the TLS handshake
    /// included (seconds): a client that sends nothing, or a byte at a time, is closed.
    pub header_timeout_secs: u64,
    /// How long a kept-alive connection may wait for its next request head, and a request
    /// body may stall while its handler waits for it (seconds). An upgraded WebSocket is no
    /// longer HTTP: its own heartbeat watches it.
    pub idle_timeout_secs: u64,
    /// Open connections (WebSockets included) from one client address, an IPv6 /64 counting as
    /// one; 0 for no cap. Not applied with `[accounts] trust_forwarded_for` (behind a reverse
    /// proxy every connection comes from the proxy, which should limit each client itself).
    pub max_per_address: usize,
    /// Open connections in all (WebSockets included); kept below the process's descriptor
    /// limit with room for the database, the recordings and the media socket.
    pub max_total: usize,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            idle_timeout_secs: 30,
            max_per_address: 1000,
            max_total: 8192,
        }
    }
}

/// The address of the interface that routes outward, found without sending anything.
fn default_advertise_ip() -> IpAddr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.connect("192.0.2.1:9")?;
        s.local_addr()
    });
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let mut c: Config = toml::from_str("http = \"0.0.0.0:9000\"\nmedia_port = 5000\n").unwrap();
        assert_eq!(c.media_port, 5000);
        c.apply_env(|k| (k == "LIVEGATE_MEDIA_PORT").then(|| "6000".to_string()))
            .unwrap();
        assert_eq!(c.media_port, 6000);
        assert_eq!(c.http.port(), 9000);
    }

    #[test]
    fn teacher_absent_timeout_from_file_and_env() {
        assert_eq!(
            Config::default().teacher_absent_timeout(),
            std::time::Duration::from_secs(600)
        );
        let mut c: Config = toml::from_str("teacher_absent_timeout_secs = 30\n").unwrap();
        assert_eq!(c.teacher_absent_timeout_secs, 30);
        c.apply_env(|k| (k == "LIVEGATE_TEACHER_ABSENT_TIMEOUT_SECS").then(|| "2".to_string()))
            .unwrap();
        assert_eq!(c.teacher_absent_timeout(), std::time::Duration::from_secs(2));
        assert!(c
            .apply_env(|k| (k == "LIVEGATE_TEACHER_ABSENT_TIMEOUT_SECS").then(|| "soon".to_string()))
            .is_err());
        c.teacher_absent_timeout_secs = 0;
        assert_eq!(
            c.teacher_absent_timeout(),
            std::time::Duration::from_secs(1),
            "never zero"
        );
    }

    #[test]
    fn tls_from_file_and_env() {
        let c: Config = toml::from_str("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n").unwrap();
        assert_eq!(
            c.tls,
            Some(TlsConfig {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        assert!(c.https());
        assert!(
            toml::from_str::<Config>("[tls]\ncert = \"c.pem\"\n").is_err(),
            "a key is required"
        );
        let mut c = Config::default();
        assert!(!c.https());
        assert!(
            c.apply_env(|k| (k == "LIVEGATE_TLS_CERT").then(|| "c.pem".to_string()))
                .is_err(),
            "cert without key"
        );
        assert_eq!(c.tls, None);
        c.apply_env(|k| matches!(k, "LIVEGATE_TLS_CERT" | "LIVEGATE_TLS_KEY").then(|| "x.pem".to_string()))
            .unwrap();
        assert!(c.tls.is_some());
    }

    #[test]
    fn connection_limits_from_file_and_env() {
        assert_eq!(Config::default().connections.header_timeout_secs, 10);
        let mut c: Config = toml::from_str("[connections]\nheader_timeout_secs = 3\nmax_per_address = 50\n").unwrap();
        assert_eq!(
            (c.connections.header_timeout_secs, c.connections.max_per_address),
            (3, 50)
        );
        assert_eq!(c.connections.idle_timeout_secs, 30, "unset keys keep their defaults");
        c.apply_env(|k| match k {
            "LIVEGATE_IDLE_TIMEOUT_SECS" => Some("4".into()),
            "LIVEGATE_MAX_CONNECTIONS" => Some("200".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.connections.idle_timeout_secs, c.connections.max_total), (4, 200));
        assert!(c
            .apply_env(|k| (k == "LIVEGATE_MAX_CONNECTIONS_PER_ADDRESS").then(|| "-1".to_string()))
            .is_err());
        assert!(
            toml::from_str::<Config>("[connections]\nmax_conections = 5\n").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn log_format_from_file_and_env() {
        use crate::logs::LogFormat;
        assert_eq!(Config::default().log_format, LogFormat::Text);
        let mut c: Config = toml::from_str("log_format = \"json\"\n").unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        c.apply_env(|k| (k == "LIVEGATE_LOG_FORMAT").then(|| "text".to_string()))
            .unwrap();
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(toml::from_str::<Config>("log_format = \"xml\"\n").is_err());
        assert!(c
            .apply_env(|k| (k == "LIVEGATE_LOG_FORMAT").then(|| "JSON!".to_string()))
            .is_err());
    }

    /// The fields a table of the configuration accepts, as the parser itself names them when
    /// it refuses the unknown `no_such_key` in `doc`.
    fn fields_of(doc: &str) -> Vec<String> {
        let refusal = toml::from_str::<Config>(doc).unwrap_err().to_string();
        let expected = refusal.rsplit("expected").next().unwrap_or_default();
        expected.split('`').skip(1).step_by(2).map(str::to_owned).collect()
    }

    /// The example configurations (`infra/config/`) load through the real parser, so a key
    /// renamed or removed here fails this test, and say what they must; between them they set
    /// or mention (commented out) every key the parser knows, so a new key gets explained.
    #[test]
    fn the_example_configurations_load_and_explain_every_key() {
        use livegate_recorder::objstore::ObjectStoreConfig;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/config");
        let one = Config::load(Some(&dir.join("one-school.toml"))).unwrap();
        assert!(one.database_url().starts_with("sqlite:/var/lib/livegate/"));
        assert!(matches!(one.objects(), ObjectStoreConfig::Local { .. }));
        assert!(one.tls.is_some() && one.https() && one.secure_cookies);
        assert_eq!(one.http.port(), 443);
        assert!(!one.accounts.trust_forwarded_for);
        let trust = Config::load(Some(&dir.join("trust.toml"))).unwrap();
        assert!(trust.database_url().starts_with("postgres://"));
        assert!(matches!(trust.objects(), ObjectStoreConfig::S3 { .. }));
        assert!(trust.tls.is_none() && trust.secure_cookies && trust.accounts.trust_forwarded_for);
        assert!(trust.http.ip().is_loopback(), "behind a proxy, on loopback only");
        assert_eq!(trust.log_format, crate::logs::LogFormat::Json);

        let text = ["one-school.toml", "trust.toml"]
            .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
            .join("\n");
        let mentioned = |key: &str| {
            text.match_indices(key).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + key.len()..].trim_start_matches(' ');
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with('=')
            }) || text.contains(&format!("[{key}]"))
        };
        let tables = ["", "[tls]\n", "[recording]\n", "[accounts]\n", "[connections]\n"];
        let docs = tables.map(|t| format!("{t}no_such_key = 1\n")).into_iter().chain(
            ["s3", "local"].map(|kind| format!("[recording]\nobjects = {{ kind = \"{kind}\", no_such_key = 1 }}\n")),
        );
        for doc in docs {
            let fields = fields_of(&doc);
            assert!(!fields.is_empty(), "{doc}");
            for key in fields {
                assert!(mentioned(&key), "`{key}` ({doc:?}) is in no example in infra/config/");
            }
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("htpp = \"x\"").is_err());
        let mut c = Config::default();
        assert!(c
            .apply_env(|k| (k == "LIVEGATE_HTTP").then(|| "nope".to_string()))
            .is_err());
        assert_eq!(c, Config::default(), "a bad value changes nothing");
    }
}
