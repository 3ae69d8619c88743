//! The composition root: what `livegate serve`, `livegate demo` and the bench server start, in
//! order. It opens the store (and seeds the demo school), binds the media socket, starts the
//! recording service with its retention loop and the livestream log's supervision, builds the
//! application state, and serves HTTP; then it waits for SIGTERM or Ctrl-C and stops gracefully.
//!
//! This is the one place that knows every layer: it sits above them all (nothing imports it but
//! `main.rs` and the bench server), so the layers below never have to reach up to be wired.

use std::sync::Arc;

use crate::app::{self, App, Livegate};
use crate::config::{Config, StartupError};
use crate::http;
use crate::store::{self, Store};

/// Opens the configured store, creating its folder for a SQLite file. For the demo, seeds the
/// demo school and gives the demo schools key-encryption keys of their own (a real school's
/// superuser provides one, `livegate-recorder keygen`, or its lessons admit no pupils). On
/// PostgreSQL, follows the other nodes' changes.
pub async fn open_store(config: &Config, demo: bool) -> anyhow::Result<Store> {
    if config.database_url().starts_with("sqlite:") && !config.database_url().contains(":memory:") {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store = Store::open(&config.database_url()).await?;
    if demo && store::seed::seed_if_empty(&store).await? {
        crate::logs::console("Loaded the demo school.");
    }
    if demo {
        let keyring = crate::recording::Keyring::new(config.keys_dir());
        for school in ["sch_demo", "sch_other"] {
            keyring.ensure(school)?;
        }
        crate::logs::console(&format!(
            "Demo data (encrypted recordings, keys) is in {}",
            config.data_dir.display()
        ));
    }
    if store.school_count().await? == 0 {
        // A new installation: say how to begin, on the console and in the log.
        tracing::warn!(
            command = http::ops::CREATE_SCHOOL_COMMAND,
            "this server has no school yet: create one with `livegate school add`"
        );
        crate::logs::console(&format!(
            "Livegate has no school yet. Create the first one (it prints the superuser's invite link):\n  {}",
            http::ops::CREATE_SCHOOL_COMMAND
        ));
    }
    if !config.database_url().contains(":memory:") {
        // Several nodes may share this database, and the operator's commands (`livegate
        // school disable`) change it from another process: hear about each other's changes.
        store.follow_other_nodes(std::time::Duration::from_millis(500));
    }
    Ok(store)
}

/// A running server: where it listens, and the task serving HTTP.
pub struct Running {
    pub http: std::net::SocketAddr,
    /// True when this server speaks HTTPS itself (`tls` configured).
    pub https: bool,
    pub media: std::net::SocketAddr,
    /// Where `GET /metrics` listens, when `metrics_http` is set.
    pub metrics: Option<std::net::SocketAddr>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    app: App,
    /// Tells the HTTP server to stop accepting and finish its open requests.
    stop_http: tokio::sync::watch::Sender<bool>,
    /// Tells systemd when this server is ready and when it stops.
    notifier: app::notify::Notifier,
}

impl Running {
    /// Stops gracefully within `within` ([`app::shutdown`]): refuses new work, ends every live
    /// lesson with `server_stopping`, waits for their recordings and logs and sockets, then
    /// stops HTTP. Says what was left unfinished if the time ran out.
    pub async fn stop(mut self, within: std::time::Duration) -> app::shutdown::Report {
        self.notifier.stopping();
        let deadline = tokio::time::Instant::now() + within;
        let mut report = app::shutdown::stop_lessons(&self.app, deadline).await;
        let _ = self.stop_http.send(true);
        if tokio::time::timeout_at(deadline, &mut self.task).await.is_err() {
            report.unfinished.push("HTTP requests still open".to_owned());
            self.task.abort();
        }
        report
    }
}

/// Binds the media socket and the HTTP listener and starts serving.
pub async fn serve(config: Config, store: Store) -> Result<Running, StartupError> {
    serve_with(config, store, crate::media::Options::default()).await
}

/// [`serve`] with the media engine's options: only the benchmark's server changes them.
pub async fn serve_with(
    mut config: Config,
    store: Store,
    options: crate::media::Options,
) -> Result<Running, StartupError> {
    // Sign-in registrations whose secret cannot be read stop start-up too.
    app::sso::Sso::check(&config)?;
    // A bad certificate or key stops start-up before anything listens.
    let acceptor = config.tls.as_ref().map(http::tls::acceptor).transpose()?;
    let media_bind = std::net::SocketAddr::new(std::net::IpAddr::from([0, 0, 0, 0]), config.media_port);
    let media = crate::media::start(media_bind, config.advertise_ip(), options).await?;
    let listener = tokio::net::TcpListener::bind(config.http).await?;
    let http = listener.local_addr()?;
    if config.public_url.is_none() {
        // Where a sign-in provider sends people back, when no public URL is configured: the
        // address actually bound (port 0 picks one).
        let scheme = if config.https() { "https" } else { "http" };
        let host = if http.ip().is_unspecified() {
            format!("localhost:{}", http.port())
        } else {
            http.to_string()
        };
        config.public_url = Some(format!("{scheme}://{host}"));
    }
    let (gate, stored) = app::shutdown::Gate::with_signal();
    let recordings = start_recordings(&config, &store, stored).await;
    let app = Livegate::new(config, store, media.clone(), recordings, gate);
    if let Some(r) = app.recordings.clone() {
        tokio::spawn(crate::recording::retention(app.store.clone(), r));
    }
    // Closes what a crashed server left open in the livestream log.
    app.store.supervise_log();
    let https = acceptor.is_some();
    let limits = http::listen::Limits::new(&app.config, http::listen::descriptor_limit());
    tracing::info!(?limits, "HTTP connection limits");
    let (stop_http, stopping) = tokio::sync::watch::channel(false);
    let metrics = serve_metrics(&app, limits.clone(), stopping.clone()).await?;
    let task = tokio::spawn(http::listen::serve(
        listener,
        acceptor,
        limits,
        http::router(app.clone()),
        stopping,
    ));
    let notifier = app::notify::Notifier::start(app.clone());
    Ok(Running {
        http,
        https,
        media: media.local_addr(),
        metrics,
        task,
        app,
        stop_http,
        notifier,
    })
}

/// Serves `GET /metrics` on `metrics_http`, its own address, if set (off by default: no
/// recorder installed, no port opened). It stops with the application's HTTP.
async fn serve_metrics(
    app: &App,
    limits: http::listen::Limits,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<std::net::SocketAddr>, StartupError> {
    let Some(addr) = app.config.metrics_http else {
        return Ok(None);
    };
    if addr == app.config.http && addr.port() != 0 {
        return Err(StartupError::Config(
            "metrics_http must be an address of its own, not the same as http".into(),
        ));
    }
    let handle = crate::telemetry::install()
        .ok_or_else(|| StartupError::Config("metrics: another metrics recorder is installed".into()))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = http::metrics::router(app.clone(), handle);
    tokio::spawn(http::listen::serve(listener, None, limits, router, stopping));
    tracing::info!(%bound, "metrics listening (GET /metrics)");
    Ok(Some(bound))
}

/// Starts the recording service; a failure is logged and lessons then refuse pupils.
async fn start_recordings(
    config: &Config,
    store: &Store,
    stored: app::shutdown::StoredSignal,
) -> Option<Arc<crate::recording::Recordings>> {
    let done_store = store.clone();
    let handle = tokio::runtime::Handle::current();
    let on_finished = move |f: crate::recording::Finished| {
        let (store, stored) = (done_store.clone(), stored.clone());
        handle.spawn(async move {
            if let Err(e) = store
                .finish_recording(&f.recording, f.interrupted, &f.manifest_sha256)
                .await
            {
                tracing::error!(recording = %f.recording, error = %e, "could not record a finished recording");
            }
            // Written or not, a shutdown waiting for this recording reads its row again.
            stored.notify();
        });
    };
    match crate::recording::Recordings::start(config.spool_dir(), &config.objects(), config.keys_dir(), on_finished) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "recording is unavailable; lessons will not admit pupils");
            None
        }
    }
}

/// Serves until the HTTP task ends or SIGTERM or Ctrl-C arrives, then stops gracefully
/// ([`crate::app::shutdown`]): exits 0 if everything finished within the deadline, else 1 after saying
/// what was left for the next start-up to close. A second signal exits at once.
pub async fn until_signal(mut running: Running, mut term: tokio::signal::unix::Signal) -> anyhow::Result<()> {
    use crate::app::shutdown::DEADLINE;
    let signal = tokio::select! {
        r = &mut running.task => { r??; return Ok(()); }
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    };
    crate::logs::console(&format!(
        "{signal}: stopping (ending live lessons, at most {} s; a second signal exits at once)",
        DEADLINE.as_secs()
    ));
    let report = tokio::select! {
        report = running.stop(DEADLINE) => report,
        _ = tokio::signal::ctrl_c() => stop_now(),
        _ = term.recv() => stop_now(),
    };
    if report.unfinished.is_empty() {
        tracing::info!(
            lessons = report.lessons_ended,
            "stopped cleanly: every lesson ended, its recording and log finished"
        );
        crate::logs::console(&format!(
            "livegate stopped cleanly ({} live lesson(s) ended)",
            report.lessons_ended
        ));
        return Ok(());
    }
    for what in &report.unfinished {
        tracing::warn!(unfinished = %what, "left unfinished at the shutdown deadline");
    }
    crate::logs::console(&format!(
        "livegate stopped at the {} s deadline with {} thing(s) unfinished",
        DEADLINE.as_secs(),
        report.unfinished.len()
    ));
    std::process::exit(1);
}

/// A second signal during a graceful stop: exit now, leaving the rest to the next start-up.
fn stop_now() -> ! {
    crate::logs::console("a second signal: exiting now; the next start-up closes what is still open");
    std::process::exit(1);
}
