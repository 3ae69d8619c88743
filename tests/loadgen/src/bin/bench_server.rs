//! `livegate-bench-server`: the Livegate server (the `livegate` library's `serve::serve_with`, the same
//! code `livegate demo` runs) on an in-memory store holding the demo seed plus a bench roster:
//! classes `bench1..benchK`, each taught by `bench-teacher{k}@demo.sch.uk` (password
//! `demo-teacher`) with pupils `bench{k}-{i}@pupils.demo.sch.uk` (password `demo-pupil`, consent
//! recorded). The demo seed's classes have four pupils, too few to load an SFU. Prints the same
//! ready line as `livegate demo`.
//!
//! Every Livegate lesson is recorded (pupils are refused when recording is unavailable), so, as
//! `livegate demo` does, the demo school gets a key and recordings go to a local folder under
//! `--data-dir`: the benchmark's Livegate figures include the recorder's work.
//!
//! `--recording off` exists only here, to measure what recording costs: it starts the media
//! engine with `media::Options::tap_enabled` off, so each lesson still starts a healthy recorder
//! (the admission gate works as in production and pupils are admitted) but the media engine
//! hands it no packets, and the 2-second keyframe requests a recording needs are not sent. The
//! `livegate` binary has no such switch: it always starts the engine with the default options,
//! and no configuration or request can turn recording off. Likewise `--unbatched`
//! (`media::Options::batched_sends` off) brings back the send path the batching replaced (each
//! datagram its own system call, video forwarded packet by packet), so BENCHMARKS.md can show
//! both in one session.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};
use clap::Parser;
use livegate::config::Config;
use livegate::store::{self, ConsentInput, MemberKind, Store};
use livegate_core::ids::{ClassId, Email, SchoolId};
use livegate_core::school::Role;

#[derive(Parser)]
#[command(name = "livegate-bench-server")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    http: SocketAddr,
    #[arg(long, default_value_t = 0)]
    media_port: u16,
    #[arg(long)]
    advertise_ip: IpAddr,
    /// Bench classes.
    #[arg(long, default_value_t = 1)]
    classes: usize,
    /// Pupils per bench class.
    #[arg(long, default_value_t = 30)]
    pupils: usize,
    /// Where keys, the spool and recordings go (created; the caller removes it).
    #[arg(long)]
    data_dir: std::path::PathBuf,
    /// `off`: the bench-only "recording off" measurement (see the module comment).
    #[arg(long, value_enum, default_value = "on")]
    recording: Recording,
    /// The "before" send path for BENCHMARKS.md: no frame hold, one system call per datagram.
    #[arg(long)]
    unbatched: bool,
    /// Rewrite this file every second with the number of live tokio tasks (tests/soak/soak.sh
    /// reads it: tasks back at the idle count after a lesson means none leaked).
    #[arg(long)]
    tasks_file: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Recording {
    On,
    Off,
}

#[tokio::main]
async fn main() -> Result<()> {
    livegate::password::return_large_blocks_to_the_system();
    tracing_subscriber_init();
    let args = Args::parse();
    let media = livegate::media::Options {
        batched_sends: !args.unbatched,
        tap_enabled: args.recording == Recording::On,
    };
    let mut config = Config::load(None)?;
    config.http = args.http;
    config.media_port = args.media_port;
    config.advertise_ip = Some(args.advertise_ip);
    config.database_url = Some("sqlite::memory:".into());
    config.data_dir = args.data_dir;
    // Every simulated pupil connects from this one machine: no per-address connection cap.
    config.connections.max_per_address = 0;
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::open(&config.database_url()).await?;
    store::seed::seed_if_empty(&store).await?;
    seed_bench(&store, args.classes, args.pupils).await?;
    livegate::recording::Keyring::new(config.keys_dir()).ensure("sch_demo")?;
    let running = livegate::serve::serve_with(config, store, media).await?;
    if let Some(path) = args.tasks_file {
        tokio::spawn(write_task_count(path));
    }
    println!("livegate ready http=http://{} media={}", running.http, running.media);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = running.task => { r??; }
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// Keeps `path` holding the runtime's count of live tasks (this one included).
async fn write_task_count(path: std::path::PathBuf) {
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, format!("{}\n", metrics.num_alive_tasks())).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// Warnings only (Janus runs at debug_level 3), to standard error; `LIVEGATE_LOG` overrides.
fn tracing_subscriber_init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIVEGATE_LOG").unwrap_or_else(|_| "warn,rtc=error".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

async fn seed_bench(store: &Store, classes: usize, pupils: usize) -> Result<()> {
    let school = SchoolId::parse("sch_demo").context("school id")?;
    // One hash for every bench account: hashing hundreds at start-up would only slow the bench.
    let teacher_hash = livegate::password::hash("demo-teacher");
    let pupil_hash = livegate::password::hash("demo-pupil");
    for k in 1..=classes {
        let class = store
            .create_class(
                "bench",
                &school,
                ClassId::parse(&format!("bench{k}")),
                &format!("Bench class {k}"),
            )
            .await?;
        let email = Email::parse(&format!("bench-teacher{k}@demo.sch.uk")).context("email")?;
        let teacher = store
            .create_user(
                "bench",
                &school,
                &email,
                &format!("Bench teacher {k}"),
                Role::Teacher,
                Some(teacher_hash.clone()),
            )
            .await?;
        store
            .add_member("bench", &school, &class, &teacher, MemberKind::Teacher)
            .await?;
        for i in 1..=pupils {
            let email = Email::parse(&format!("bench{k}-{i}@pupils.demo.sch.uk")).context("email")?;
            let pupil = store
                .create_user(
                    "bench",
                    &school,
                    &email,
                    &format!("Pupil {k}-{i}"),
                    Role::Pupil,
                    Some(pupil_hash.clone()),
                )
                .await?;
            store
                .add_member("bench", &school, &class, &pupil, MemberKind::Pupil)
                .await?;
            let consent = ConsentInput {
                pupil_signed: true,
                parent_name: "Bench Parent".into(),
                signed_on: store::now_ms(),
                method: "paper".into(),
                conduct_version: 1,
                opt_out: false,
            };
            store.record_consent("bench", &school, &pupil, &consent).await?;
        }
    }
    Ok(())
}
