//! `playback-bench`: the server's memory while leaders play long recordings (BENCHMARKS.md,
//! "Recording playback"; run through `tests/bench/playback-memory.sh`, not in CI).
//!
//! It starts `livegate demo` on a data folder of its own, writes synthetic recordings straight
//! into the local object folder with the recorder library (sealed VP8 + Opus WebM segments of
//! about two seconds, about 150 MB per hour like a real lesson; made once and kept in the
//! folder for the next run), registers them in the database, adds leaders, and has each leader
//! open one recording and fetch all of it at full speed: segment by segment (`--route
//! segments`, one request in flight per stream, as the player does with nothing to wait for)
//! or, for the code before streaming playback, the whole joined stream (`--route whole`). It
//! samples the server's resident memory every 100 ms and prints idle, peak and the kernel's
//! high-water mark.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use livegate_recorder::frames::Cut;
use livegate_recorder::keys::Kek;
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{self, Meta, RecordingWriter, Status};
use livegate_recorder::webm::{Frame, Layout, Track};
use livegate_tests::recording::{open_db, LEADER, LEADER_PASSWORD};
use livegate_tests::Server;
use serde_json::{json, Value};

const USAGE: &str = "usage: playback-bench --data DIR [--leaders 5] [--minutes 60] [--route segments|whole]";
/// Video frames per second and the bytes they average, with Opus at 50 frames a second: about
/// 330 kbit/s, 150 MB an hour, what the issue measured for a real lesson's camera.
const FPS: i64 = 30;
const KEYFRAME_BYTES: usize = 12_000;
const DELTA_BYTES: usize = 1_100;
const OPUS_BYTES: usize = 60;

struct Args {
    data: PathBuf,
    leaders: usize,
    minutes: i64,
    route: String,
}

fn args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        data: PathBuf::new(),
        leaders: 5,
        minutes: 60,
        route: "segments".into(),
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--data" => a.data = PathBuf::from(value),
            "--leaders" => a.leaders = value.parse()?,
            "--minutes" => a.minutes = value.parse()?,
            "--route" if value == "segments" || value == "whole" => a.route = value,
            _ => bail!("unknown flag {flag} {value}\n{USAGE}"),
        }
    }
    if a.data.as_os_str().is_empty() {
        bail!("--data is required\n{USAGE}");
    }
    Ok(a)
}

/// Deterministic filler bytes (their content does not matter to the server).
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Two seconds of a 640x480 camera with sound, from `start_ms`: a VP8 keyframe first.
fn segment_frames(start_ms: i64, seed: u64) -> Vec<Frame> {
    let mut frames = Vec::new();
    for i in 0..2 * FPS {
        let key = i == 0;
        let mut data = filler(if key { KEYFRAME_BYTES } else { DELTA_BYTES }, seed + i as u64);
        // Version 0 in the frame tag: the recorder refuses a tag it cannot read back (over 3).
        data[0] &= 0xf1;
        if key {
            // A keyframe header: key bit clear, start code, 640x480.
            data[0] &= 0xfe;
            data[3..10].copy_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
        } else {
            data[0] |= 1;
        }
        frames.push(Frame {
            track: Track::Video,
            time_ms: start_ms + i * 1000 / FPS,
            keyframe: key,
            data,
        });
    }
    for i in 0..100 {
        frames.push(Frame {
            track: Track::Audio,
            time_ms: start_ms + i * 20,
            keyframe: true,
            data: filler(OPUS_BYTES, seed ^ i as u64),
        });
    }
    frames.sort_by_key(|f| f.time_ms);
    frames
}

/// One synthetic recording of `minutes`, sealed into the spool and uploaded to the objects.
/// Returns the manifest's hash.
async fn make_recording(dir: &Path, kek: &Kek, id: &str, minutes: i64) -> Result<String> {
    let spool = dir.join("bench-spool");
    let meta = Meta {
        recording: id.to_owned(),
        school: "sch_demo".into(),
        started_at: livegate_now_ms(),
    };
    let key = DataKey::generate().map_err(|e| anyhow!("{e}"))?;
    let writer = RecordingWriter::create(&spool, meta, key, kek).map_err(|e| anyhow!("spool: {e}"))?;
    let layout = Layout {
        video: Some((640, 480)),
        audio: true,
    };
    for n in 0..minutes * 30 {
        let start_ms = n * 2000;
        let cut = Cut {
            layout,
            frames: segment_frames(start_ms, n as u64 * 7919),
            start_ms,
            end_ms: start_ms + 2000,
        };
        writer
            .write_segment("s1", &cut)
            .map_err(|e| anyhow!("segment {n}: {e}"))?;
    }
    writer.finish(Status::Complete).map_err(|e| anyhow!("manifest: {e}"))?;
    let objects = Objects::open(&ObjectStoreConfig::Local {
        path: dir.join("recordings"),
    })
    .map_err(|e| anyhow!("{e}"))?;
    let done = spool::drain_once(&spool, &objects)
        .await
        .map_err(|e| anyhow!("upload: {e}"))?;
    done.into_iter()
        .find(|u| u.recording == id)
        .map(|u| u.manifest_sha256)
        .ok_or_else(|| anyhow!("{id} was not uploaded"))
}

fn livegate_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The bench's recordings, made on the first run and listed in `bench-recordings.json`.
async fn recordings(dir: &Path, count: usize, minutes: i64) -> Result<Vec<(String, String)>> {
    let list = dir.join("bench-recordings.json");
    let mut made: Vec<(String, String, i64)> = std::fs::read(&list)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    made.retain(|(_, _, m)| *m == minutes);
    let kek = Kek::from_file(&dir.join("keys").join("sch_demo.key")).map_err(|e| anyhow!("the demo key: {e}"))?;
    while made.len() < count {
        let id = format!("rec_bench{:02}m{minutes}", made.len() + 1);
        let started = Instant::now();
        let hash = make_recording(dir, &kek, &id, minutes).await?;
        eprintln!("made {id} ({minutes} min) in {:.1} s", started.elapsed().as_secs_f64());
        made.push((id, hash, minutes));
        std::fs::write(&list, serde_json::to_vec(&made)?)?;
    }
    Ok(made.into_iter().take(count).map(|(id, hash, _)| (id, hash)).collect())
}

/// Registers the recordings as complete lessons of 7A and adds leaders `dsl2@`... with the demo
/// leader's password; returns the leaders' emails.
async fn register(db_path: &Path, recs: &[(String, String)], leaders: usize) -> Result<Vec<String>> {
    let db = open_db(db_path).await?;
    for (i, (id, hash)) in recs.iter().enumerate() {
        sqlx::query(
            "INSERT OR IGNORE INTO recordings (id, school_id, lesson_id, class_id, teacher_id, started_at, ended_at, status, \
             manifest_sha256, legal_hold) SELECT ?, 'sch_demo', ?, '7a', id, ?, ?, 'complete', ?, 0 FROM users WHERE email = 'teacher@demo.sch.uk'",
        )
        .bind(id)
        .bind(format!("les_bench{i}"))
        .bind(livegate_now_ms())
        .bind(livegate_now_ms())
        .bind(hash)
        .execute(&db)
        .await?;
    }
    let mut emails = vec![LEADER.to_owned()];
    for n in 2..=leaders {
        let email = format!("dsl{n}@demo.sch.uk");
        sqlx::query(
            "INSERT OR IGNORE INTO users (id, school_id, email, display_name, role, password_hash, disabled, created_at) \
             SELECT ?, school_id, ?, 'Bench leader', 'leader', password_hash, 0, created_at FROM users WHERE email = ?",
        )
        .bind(format!("usr_benchdsl{n}"))
        .bind(&email)
        .bind(LEADER)
        .execute(&db)
        .await?;
        emails.push(email);
    }
    db.close().await;
    Ok(emails)
}

/// Resident set size and its high-water mark of a process, in KiB.
fn memory(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow!("no {name}"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| anyhow!("bad {name}"))?
            .parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// A leader's client, signed in with two factors (before the idle figure is taken: a sign-in's password hash
/// alone takes about 19 MiB for a moment).
async fn sign_in(base: &str, email: &str) -> Result<reqwest::Client> {
    // A long timeout: the old route joins the whole stream before it sends a byte.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .timeout(Duration::from_secs(1800))
        .build()?;
    let signed = client
        .post(format!("{base}/api/session"))
        .json(&json!({"email": email, "password": LEADER_PASSWORD}))
        .send()
        .await?;
    if !signed.status().is_success() {
        bail!("sign-in as {email}: {}", signed.status());
    }
    // Opening recordings needs a two-factor session: enrol an authenticator, which raises it.
    let enrolment: serde_json::Value = client
        .post(format!("{base}/api/account/second-factor/totp"))
        .send()
        .await?
        .json()
        .await?;
    let secret = enrolment["secret"]
        .as_str()
        .ok_or_else(|| anyhow!("no secret for {email}"))?;
    let confirmed = client
        .post(format!("{base}/api/account/second-factor/totp/confirm"))
        .json(&json!({"code": livegate_tests::mfa::code_now(secret)?}))
        .send()
        .await?;
    if !confirmed.status().is_success() {
        bail!("enrolling {email}: {}", confirmed.status());
    }
    Ok(client)
}

/// A leader's whole viewing: opens the recording and fetches every byte of it.
async fn play(client: reqwest::Client, base: String, rec: String, route: String, served: Arc<AtomicU64>) -> Result<()> {
    let opened = client
        .post(format!("{base}/api/recordings/{rec}/views"))
        .json(&json!({"reason": "Benchmark of playback memory"}))
        .send()
        .await?;
    if !opened.status().is_success() {
        bail!(
            "opening {rec}: {} {}",
            opened.status(),
            opened.text().await.unwrap_or_default()
        );
    }
    let view: Value = opened.json().await?;
    let token = view["view"]
        .as_str()
        .ok_or_else(|| anyhow!("no view token"))?
        .to_owned();
    let mut tasks = Vec::new();
    for stream in view["streams"].as_array().cloned().unwrap_or_default() {
        let label = stream["label"].as_str().unwrap_or_default().to_owned();
        let prefix = format!("{base}/api/recordings/{rec}/streams/{label}");
        let urls: Vec<String> = if route == "whole" {
            vec![format!("{prefix}?view={token}")]
        } else {
            let count = stream["segments"].as_array().map(Vec::len).unwrap_or(0);
            (0..count)
                .map(|n| format!("{prefix}/segments/{n}?view={token}"))
                .collect()
        };
        let (client, served) = (client.clone(), served.clone());
        tasks.push(tokio::spawn(async move { fetch_all(&client, &urls, &served).await }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Fetches each URL in turn (one in flight), counting the bytes and dropping them.
async fn fetch_all(client: &reqwest::Client, urls: &[String], served: &AtomicU64) -> Result<()> {
    for url in urls {
        let mut res = client.get(url).send().await?;
        if res.status() != 200 {
            bail!("GET {url}: {} {}", res.status(), res.text().await.unwrap_or_default());
        }
        while let Some(chunk) = res.chunk().await? {
            served.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    std::fs::create_dir_all(&a.data)?;
    let data = a.data.canonicalize()?;
    let flags = [
        "--data-dir".to_owned(),
        data.display().to_string(),
        "--database-url".into(),
        format!("sqlite:{}", data.join("db.sqlite").display()),
    ];
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::launch("demo", &flag_refs, &[]).await?;
    let pid = server.pid().context("the server has no pid")?;
    let recs = recordings(&data, a.leaders, a.minutes).await?;
    let leaders = register(&data.join("db.sqlite"), &recs, a.leaders).await?;
    let mut clients = Vec::new();
    for email in &leaders {
        clients.push(sign_in(&server.http_base, email).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, hwm_before) = memory(pid)?;
    let served = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(memory(pid).map(|m| m.0).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let started = Instant::now();
    let mut players = Vec::new();
    for (client, (rec, _)) in clients.into_iter().zip(&recs) {
        players.push(tokio::spawn(play(
            client,
            server.http_base.clone(),
            rec.clone(),
            a.route.clone(),
            served.clone(),
        )));
    }
    for p in players {
        p.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    let (after, hwm) = memory(pid)?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let report: Value = json!({
        "route": a.route, "leaders": a.leaders, "minutes": a.minutes,
        "idle_rss_mib": mib(idle), "peak_rss_mib": mib(peak), "peak_above_idle_mib": mib(peak.saturating_sub(idle)),
        "hwm_before_mib": mib(hwm_before), "hwm_after_mib": mib(hwm), "rss_after_mib": mib(after),
        "served_mib": mib(served.load(Ordering::Relaxed) / 1024), "seconds": seconds,
    });
    println!("{report}");
    server.finish();
    Ok(())
}
