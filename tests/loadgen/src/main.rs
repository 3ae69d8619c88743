//! `livegate-loadgen`: the benchmark load generator and its report.
//!
//! `livegate-loadgen run --sfu livegate|janus ...` runs one segment against one running SFU:
//! publishes the trace from one teacher per class, subscribes the pupils, warms up, measures,
//! and appends one JSON line of results. Everything runs on one thread: a current-thread tokio
//! runtime carrying the signalling adapters and the media engine (see `engine`), so pinning the
//! process with `taskset` pins the whole generator to one core.
//!
//! `livegate-loadgen report FILE` turns the JSON lines into the table in BENCHMARKS.md.

mod client;
mod engine;
mod janus;
mod livegate;
mod measure;
mod net;
mod procfs;
mod report;
mod timeline;
mod trace;

use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use futures_util::stream::{self, StreamExt};

use client::Srtp;
use engine::Engine;
use report::RunResult;

#[derive(Parser)]
#[command(
    name = "livegate-loadgen",
    about = "WebRTC SFU benchmark load generator (Livegate, Janus VideoRoom)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one measured segment against a running SFU and append a JSON line of results.
    Run(RunArgs),
    /// Print the results table from JSON lines.
    Report {
        /// Files of JSON lines written by `run`.
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Sfu {
    Livegate,
    Janus,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Scenario {
    /// One teacher to N pupils.
    Fanout,
    /// K classes, each one teacher to N pupils.
    Classes,
    /// One teacher; N pupils all start joining within one second.
    Storm,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum SrtpArg {
    Cm,
    Gcm,
}

#[derive(Parser, Clone)]
struct RunArgs {
    #[arg(long, value_enum)]
    sfu: Sfu,
    /// Livegate: http://HOST:PORT; Janus: http://127.0.0.1:8088/janus.
    #[arg(long)]
    url: String,
    /// The address the generator's sockets bind (the SFU's media address family and path).
    #[arg(long)]
    media_ip: IpAddr,
    /// The SFU's process id, for its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, value_enum, default_value = "fanout")]
    scenario: Scenario,
    /// Pupils per class.
    #[arg(long, default_value_t = 10)]
    subscribers: usize,
    #[arg(long, default_value_t = 1)]
    classes: usize,
    #[arg(long, default_value_t = 10.0)]
    warmup: f64,
    #[arg(long, default_value_t = 60.0)]
    measure: f64,
    /// Directory with video.ivf and audio.ogg (tests/bench/make-trace.sh); synthetic if absent.
    #[arg(long)]
    trace: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cm")]
    srtp: SrtpArg,
    /// Free text recorded with the result (e.g. the run's position in the ABBA order).
    #[arg(long, default_value = "")]
    label: String,
    /// Append the JSON result line here (also printed on stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The SFU's name in the result, if not `--sfu` (e.g. `livegate-norec` for a bench server
    /// with recording off).
    #[arg(long)]
    sfu_label: Option<String>,
    /// The scenario's name in the result, if not `--scenario` (e.g. `recording`).
    #[arg(long)]
    scenario_label: Option<String>,
    /// Subscriptions in flight at once while ramping up (the storm scenario ignores it).
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Treat keyframe requests as browsers do (engine::Engine::browser_keyframes): publishers
    /// drop a request less than 300 ms after the last they honoured, subscribers send PLIs.
    #[arg(long)]
    browser_keyframes: bool,
    /// The client's ICE check interval in ms (0: rtc's default, 200 ms; browsers check faster).
    #[arg(long, default_value_t = 0)]
    ice_check_interval_ms: u64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Report { files } => report::print(&files),
        Command::Run(args) => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let local = tokio::task::LocalSet::new();
            let result = local.block_on(&rt, run(args.clone()));
            let result = match result {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("loadgen: run failed: {e:#}");
                    let mut r = RunResult::empty(
                        &format!("{:?}", args.sfu).to_lowercase(),
                        &format!("{:?}", args.scenario).to_lowercase(),
                    );
                    r.sfu = args.sfu_label.clone().unwrap_or(r.sfu);
                    r.scenario = args.scenario_label.clone().unwrap_or(r.scenario);
                    r.error = Some(format!("{e:#}"));
                    r
                }
            };
            let line = serde_json::to_string(&result)?;
            println!("{line}");
            if let Some(path) = &args.out {
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                writeln!(f, "{line}")?;
            }
            if let Some(t) = &result.timeline {
                eprint!("join timeline ({} {}):\n{}", result.sfu, result.scenario, t.render());
            }
            eprintln!("{}", result.summary());
            std::process::exit(if result.ok { 0 } else { 1 });
        }
    }
}

/// The SFU's signalling, either kind.
enum Adapter {
    Livegate(livegate::Livegate, RefCell<Vec<Option<livegate::Account>>>),
    Janus(janus::Janus),
}

impl Adapter {
    async fn subscribe(&self, class: usize, pupil: usize, per_class: usize) -> Result<usize> {
        match self {
            Adapter::Livegate(lg, accounts) => {
                let account = accounts.borrow_mut()[class * per_class + pupil]
                    .take()
                    .context("pupil not signed in")?;
                lg.subscribe(account).await
            }
            Adapter::Janus(j) => j.subscribe(class).await,
        }
    }
}

async fn run(args: RunArgs) -> Result<RunResult> {
    let trace = Rc::new(match &args.trace {
        Some(dir) if dir.join("video.ivf").exists() => trace::Trace::load(dir)?,
        _ => trace::Trace::synthetic(),
    });
    let srtp = match args.srtp {
        SrtpArg::Cm => Srtp::Cm,
        SrtpArg::Gcm => Srtp::Gcm,
    };
    let classes = if args.scenario == Scenario::Classes {
        args.classes
    } else {
        1
    };
    let per_class = args.subscribers;
    let total = classes * per_class;
    let engine = Rc::new(RefCell::new(Engine::new(trace.clone(), srtp, args.media_ip)?));
    engine.borrow_mut().browser_keyframes = args.browser_keyframes;
    client::ICE_CHECK_INTERVAL_MS.store(args.ice_check_interval_ms, std::sync::atomic::Ordering::Relaxed);
    let engine_task = tokio::task::spawn_local({
        let e = engine.clone();
        async move {
            if let Err(err) = engine::run(e).await {
                eprintln!("loadgen: engine stopped: {err:#}");
            }
        }
    });

    // Publishers first, then (Livegate) every pupil signs in before any subscription starts.
    let adapter = match args.sfu {
        Sfu::Livegate => {
            let lg = livegate::Livegate::new(&args.url, engine.clone())?;
            for k in 0..classes {
                let teacher = lg.sign_in(k, None).await?;
                lg.publish(teacher).await?;
            }
            let ids: Vec<(usize, usize)> = (0..classes).flat_map(|k| (0..per_class).map(move |i| (k, i))).collect();
            let accounts: Vec<Result<livegate::Account>> = stream::iter(ids)
                .map(|(k, i)| lg.sign_in(k, Some(i)))
                .buffered(4)
                .collect()
                .await;
            let accounts = accounts.into_iter().map(|a| a.map(Some)).collect::<Result<Vec<_>>>()?;
            Adapter::Livegate(lg, RefCell::new(accounts))
        }
        Sfu::Janus => {
            let j = janus::Janus::connect(&args.url, engine.clone()).await?;
            for k in 0..classes {
                j.publish(k).await?;
            }
            Adapter::Janus(j)
        }
    };
    wait_until(Duration::from_secs(20), || {
        engine.borrow().publishers.iter().all(|p| p.connected)
    })
    .await
    .context("publishers did not connect")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = args.server_pid;
    let rss_base = pid.and_then(|p| procfs::rss_kib(p).ok());

    // Subscribers.
    let started = Instant::now();
    let jobs: Vec<(usize, usize)> = (0..classes).flat_map(|k| (0..per_class).map(move |i| (k, i))).collect();
    let outcomes: Vec<Result<usize>> = if args.scenario == Scenario::Storm {
        let spacing = Duration::from_secs(1) / total.max(1) as u32;
        let futs = jobs.iter().enumerate().map(|(n, &(k, i))| {
            let adapter = &adapter;
            async move {
                tokio::time::sleep(spacing * n as u32).await;
                adapter.subscribe(k, i, per_class).await
            }
        });
        futures_util::future::join_all(futs).await
    } else {
        stream::iter(jobs)
            .map(|(k, i)| adapter.subscribe(k, i, per_class))
            .buffer_unordered(args.parallel.max(1))
            .collect()
            .await
    };
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(|e| format!("{e:#}")))
        .collect();
    if let Some(first) = failures.first() {
        eprintln!(
            "loadgen: {} of {total} subscriptions failed; first: {first}",
            failures.len()
        );
    }
    let keyframe_timeout = Duration::from_secs(30) + Duration::from_millis(100 * total as u64);
    let all_media = wait_until(keyframe_timeout, || {
        let e = engine.borrow();
        e.subscribers
            .iter()
            .all(|s| s.first_keyframe_ns.is_some() || s.failed || s.peer.is_none())
    })
    .await;
    eprintln!(
        "loadgen: {total} subscriptions set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if all_media.is_err() {
        eprintln!("loadgen: some subscribers got no keyframe in {keyframe_timeout:?}");
    }

    // Warm-up, then the measured window.
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let cpu0 = pid.and_then(|p| procfs::cpu_seconds(p).ok());
    let gen0 = procfs::cpu_seconds(std::process::id()).ok();
    let t0 = Instant::now();
    engine.borrow_mut().start_window();
    let tail = args.measure.min(1.0);
    tokio::time::sleep(Duration::from_secs_f64(args.measure - tail)).await;
    engine.borrow_mut().mark_loss_end();
    tokio::time::sleep(Duration::from_secs_f64(tail)).await;
    engine.borrow_mut().end_window();
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(|p| procfs::cpu_seconds(p).ok());
    let gen1 = procfs::cpu_seconds(std::process::id()).ok();
    let rss = pid.and_then(|p| procfs::rss_kib(p).ok());
    let loadavg = procfs::loadavg().ok();
    let threads = pid.and_then(|p| procfs::threads(p).ok());

    let mut r = {
        let e = engine.borrow();
        let loss = e.loss();
        let (published, keyframe_requests) = e.publisher_totals();
        let mut joins: Vec<f64> = e
            .subscribers
            .iter()
            .filter_map(|s| s.first_keyframe_ns.map(|k| (k - s.subscribe_ns) as f64 / 1e6))
            .collect();
        let mut r = RunResult::empty(
            &format!("{:?}", args.sfu).to_lowercase(),
            &format!("{:?}", args.scenario).to_lowercase(),
        );
        r.label = args.label.clone();
        if let Some(sfu) = &args.sfu_label {
            r.sfu = sfu.clone();
        }
        if let Some(scenario) = &args.scenario_label {
            r.scenario = scenario.clone();
        }
        r.classes = classes;
        r.subscribers = total;
        r.warmup_s = args.warmup;
        r.measure_s = elapsed;
        r.srtp = format!("{:?}", args.srtp).to_lowercase();
        r.trace = format!("{} ({:.2} Mbit/s video)", trace.source, trace.video_bitrate() / 1e6);
        r.subscribers_connected = e.subscribers.iter().filter(|s| s.connected_ns.is_some()).count();
        r.subscribers_with_keyframe = e.subscribers.iter().filter(|s| s.first_keyframe_ns.is_some()).count();
        r.forwarded = e.window.forwarded;
        r.forwarded_pps = e.window.forwarded as f64 / elapsed;
        r.loss_pct = if loss.expected > 0 {
            100.0 * (1.0 - loss.received as f64 / loss.expected as f64)
        } else {
            100.0
        };
        r.unmatched = loss.unmatched;
        r.latency_p50_ms = e.window.latency.quantile_ms(0.50);
        r.latency_p99_ms = e.window.latency.quantile_ms(0.99);
        r.join_p50_ms = measure::quantile(&mut joins, 0.50);
        r.join_p99_ms = measure::quantile(&mut joins, 0.99);
        let mut connects: Vec<f64> = e
            .subscribers
            .iter()
            .filter_map(|s| s.connected_ns.map(|c| (c - s.subscribe_ns) as f64 / 1e6))
            .collect();
        r.connect_p50_ms = measure::quantile(&mut connects, 0.50);
        r.timeline = Some(timeline::build(&e.publishers, &e.subscribers));
        if let Ok(path) = std::env::var("LOADGEN_TIMELINE_DUMP") {
            timeline::dump(&path, &e.publishers, &e.subscribers);
        }
        r.publisher_packets = published;
        r.keyframe_requests = keyframe_requests;
        r.subscription_failures = failures.len();
        r
    };
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        r.server_cpu_s = Some(b - a);
        r.server_cpu_util = Some((b - a) / elapsed);
        if r.forwarded > 0 {
            r.server_us_per_pkt = Some((b - a) * 1e6 / r.forwarded as f64);
        }
    }
    if let (Some(a), Some(b)) = (gen0, gen1) {
        r.generator_cpu_util = Some((b - a) / elapsed);
    }
    r.server_rss_base_kib = rss_base;
    r.server_rss_kib = rss;
    r.server_threads = threads;
    r.loadavg_1m = loadavg;
    if let (Some(base), Some(end)) = (rss_base, rss) {
        r.server_kib_per_subscriber = Some((end as f64 - base as f64) / total.max(1) as f64);
    }
    r.ok = r.subscribers_with_keyframe == total && r.forwarded > 0;
    if !r.ok && r.error.is_none() {
        r.error = Some(format!(
            "{} of {total} subscribers received a keyframe",
            r.subscribers_with_keyframe
        ));
    }

    match &adapter {
        Adapter::Livegate(lg, _) => lg.stop(),
        Adapter::Janus(j) => j.stop().await,
    }
    engine_task.abort();
    Ok(r)
}

/// Polls `done` every 50 ms until it holds or `limit` passes.
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
    let end = Instant::now() + limit;
    while !done() {
        if Instant::now() > end {
            bail!("timed out after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
