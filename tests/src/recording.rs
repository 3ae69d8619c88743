//! Helpers for the recording tests: a data folder per server (spool, objects, keys, SQLite
//! database), the safeguarding leader's review API, the `livegate-recorder` CLI, ffprobe, a
//! scan for plaintext WebM, reading the server's database (audit log, recordings), and
//! reading a recording's sealed manifest back with the school's key file.

use crate::api::Api;
use crate::server::Server;
use anyhow::{anyhow, bail, Context, Result};
use livegate_recorder::keys::Kek;
use livegate_recorder::objstore::Objects;
use livegate_recorder::spool::Manifest;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The demo school's safeguarding leader.
pub const LEADER: &str = "dsl@demo.sch.uk";
pub const LEADER_PASSWORD: &str = "demo-leader";
/// The demo school's superuser.
pub const ADMIN: &str = "admin@demo.sch.uk";
pub const ADMIN_PASSWORD: &str = "demo-admin";

/// A server's data folder (`--data-dir`) with a file database in it, removed when dropped
/// (kept if `LIVEGATE_KEEP_DATA` is set).
pub struct DataDir {
    pub path: PathBuf,
}

impl DataDir {
    /// A fresh, empty folder.
    pub fn new(label: &str) -> Result<DataDir> {
        let path = std::env::temp_dir().join(format!(
            "livegate-{label}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(DataDir { path })
    }

    fn text(&self) -> String {
        self.path.display().to_string()
    }

    /// `--data-dir DIR --database-url sqlite:DIR/db.sqlite`.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--data-dir".into(),
            self.text(),
            "--database-url".into(),
            format!("sqlite:{}", self.db_path().display()),
        ]
    }

    pub fn db_path(&self) -> PathBuf {
        self.path.join("db.sqlite")
    }

    /// The school's key file (written by `livegate demo`).
    pub fn key_file(&self, school: &str) -> PathBuf {
        self.path.join("keys").join(format!("{school}.key"))
    }

    pub fn spool(&self) -> PathBuf {
        self.path.join("spool")
    }

    /// The local object folder.
    pub fn objects_dir(&self) -> PathBuf {
        self.path.join("recordings")
    }

    /// The local object folder, opened the way the server opens it.
    pub fn objects(&self) -> Result<Objects> {
        let config = livegate_recorder::objstore::ObjectStoreConfig::Local {
            path: self.objects_dir(),
        };
        Objects::open(&config).map_err(|e| anyhow!("opening the object folder: {e}"))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if std::env::var_os("LIVEGATE_KEEP_DATA").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Starts `livegate demo` on this data folder and database, with extra environment variables.
pub async fn start_server(dir: &DataDir, env: &[(String, String)]) -> Result<Server> {
    let args = dir.server_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::launch("demo", &args, env).await
}

/// The demo leader, signed in with two factors (an authenticator enrolled the first time), as
/// opening recordings needs.
pub async fn leader(server: &Server) -> Result<Api> {
    let api = Api::new(server);
    crate::mfa::sign_in_two_factor(&api, LEADER, LEADER_PASSWORD).await?;
    Ok(api)
}

/// `GET /api/recordings` as a list of rows (which must succeed).
pub async fn list(api: &Api) -> Result<Vec<Value>> {
    let (status, body) = api.request(reqwest::Method::GET, "/api/recordings", None).await?;
    let body = Api::check(status, body).map_err(|e| anyhow!("listing recordings: {e}"))?;
    body.get("recordings")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| anyhow!("no `recordings` in {body}"))
}

/// Polls the leader's list until the recording of `lesson_id` has one of the `wanted`
/// statuses and a manifest hash; returns its row.
pub async fn wait_recording(api: &Api, lesson_id: &str, wanted: &[&str], timeout: Duration) -> Result<Value> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        let rows = list(api).await?;
        let row = rows
            .into_iter()
            .find(|r| r.get("lesson_id").and_then(Value::as_str) == Some(lesson_id));
        if let Some(r) = &row {
            let status = r.get("status").and_then(Value::as_str).unwrap_or_default();
            if wanted.contains(&status) && r.get("manifest_sha256").is_some_and(Value::is_string) {
                return Ok(r.clone());
            }
        }
        last = row.or(last);
        if Instant::now() > deadline {
            bail!(
                "the recording of lesson {lesson_id} did not become {wanted:?} within {timeout:?}; last row: {last:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A row's string field.
pub fn field<'a>(row: &'a Value, name: &str) -> Result<&'a str> {
    row.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no string `{name}` in {row}"))
}

/// `POST /api/recordings/{id}/views`: the status and body, whatever they are.
pub async fn try_open_view(api: &Api, recording: &str, body: Value) -> Result<(u16, Value)> {
    api.request(
        reqwest::Method::POST,
        &format!("/api/recordings/{recording}/views"),
        Some(body),
    )
    .await
}

/// Opens a recording with a reason; the view must be granted.
pub async fn open_view(api: &Api, recording: &str, reason: &str) -> Result<Value> {
    let (status, body) = try_open_view(api, recording, json!({"reason": reason})).await?;
    Api::check(status, body).map_err(|e| anyhow!("opening {recording}: {e}"))
}

/// The path of segment `n` of a stream with a view token.
pub fn segment_path(recording: &str, label: &str, n: usize, view: &str) -> String {
    format!("/api/recordings/{recording}/streams/{label}/segments/{n}?view={view}")
}

/// How many segments an opened view lists for a stream.
pub fn segment_count(opened: &Value, label: &str) -> Result<usize> {
    let streams = opened
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("no `streams` in {opened}"))?;
    let stream = streams
        .iter()
        .find(|s| s.get("label").and_then(Value::as_str) == Some(label))
        .ok_or_else(|| anyhow!("no stream {label}"))?;
    stream
        .get("segments")
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| anyhow!("no `segments` in {stream}"))
}

/// Fetches a stream of an opened view segment by segment, in order, as the player does; stops
/// at the first that is not served. Returns the segments served and the refusal, if any
/// (its status and JSON body).
pub async fn fetch_stream(
    api: &Api,
    recording: &str,
    opened: &Value,
    label: &str,
) -> Result<(Vec<Vec<u8>>, Option<(u16, Value)>)> {
    let view = field(opened, "view")?;
    let mut served = Vec::new();
    for n in 0..segment_count(opened, label)? {
        let (status, headers, body) = api.get_raw(&segment_path(recording, label, n, view), None).await?;
        if status != 200 {
            return Ok((
                served,
                Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null))),
            ));
        }
        let kind = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if kind != "video/webm" || !contains_webm(&body[..64.min(body.len())]) {
            bail!("segment {n} of {label} is {kind}, {} bytes, not WebM", body.len());
        }
        served.push(body);
    }
    Ok((served, None))
}

/// The `livegate-recorder` binary: `LIVEGATE_RECORDER_BIN`, else `<repo>/target/debug/livegate-recorder`.
pub fn recorder_bin() -> PathBuf {
    if let Ok(p) = std::env::var("LIVEGATE_RECORDER_BIN") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("debug")
        .join("livegate-recorder")
}

/// Runs `livegate-recorder` with these arguments; fails with its output unless it succeeds.
pub async fn recorder_cli(args: &[String], env: &[(String, String)]) -> Result<String> {
    let bin = recorder_bin();
    if !bin.exists() {
        bail!(
            "{} not found (build it with `cargo build -p livegate-recorder` or set LIVEGATE_RECORDER_BIN)",
            bin.display()
        );
    }
    let out = tokio::process::Command::new(&bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", bin.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("livegate-recorder {args:?} failed: {text}");
    }
    Ok(text)
}

/// What ffprobe says about a media file.
#[derive(Debug)]
pub struct Probe {
    /// (codec_type, codec_name) per stream.
    pub streams: Vec<(String, String)>,
    pub start_s: f64,
    pub duration_s: f64,
}

/// Runs ffprobe on a file.
pub async fn ffprobe(path: &Path) -> Result<Probe> {
    let out = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration,start_time:stream=codec_type,codec_name",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .await
        .context("running ffprobe (is ffmpeg installed?)")?;
    if !out.status.success() {
        bail!(
            "ffprobe {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("ffprobe output is not JSON")?;
    let num = |p: &str| v.pointer(p).and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok());
    let streams = v
        .get("streams")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| {
                    let get = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (get("codec_type"), get("codec_name"))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Probe {
        streams,
        start_s: num("/format/start_time").unwrap_or(0.0),
        duration_s: num("/format/duration").ok_or_else(|| anyhow!("ffprobe gave no duration: {v}"))?,
    })
}

/// True if `data` holds a WebM file anywhere: the EBML magic 1A 45 DF A3 followed closely by
/// the `webm` DocType.
pub fn contains_webm(data: &[u8]) -> bool {
    const MAGIC: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];
    data.windows(4)
        .enumerate()
        .any(|(i, w)| w == MAGIC && data[i + 4..data.len().min(i + 64)].windows(4).any(|d| d == b"webm"))
}

/// Every file under these folders that holds plaintext WebM (there must be none).
pub fn find_plaintext_webm(roots: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = roots.iter().filter(|r| r.exists()).cloned().collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p)
                .with_context(|| format!("reading {}", p.display()))?
                .flatten()
            {
                stack.push(e.path());
            }
        } else if let Ok(data) = std::fs::read(&p) {
            // A file can vanish between listing and reading (the uploader tidies the spool).
            if contains_webm(&data) {
                found.push(p);
            }
        }
    }
    Ok(found)
}

/// How many files are under a folder (recursively).
pub fn count_files(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    entries
        .flatten()
        .map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 })
        .sum()
}

/// Opens the server's SQLite database (alongside the running server).
pub async fn open_db(path: &Path) -> Result<SqlitePool> {
    let opts =
        SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?.busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

/// One audit-log entry.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub seq: i64,
    pub actor: String,
    pub action: String,
    pub detail: Value,
}

/// The audit-log entries with this action, oldest first.
pub async fn audit(db: &SqlitePool, action: &str) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query("SELECT seq, actor, action, detail FROM audit_log WHERE action = ? ORDER BY seq")
        .bind(action)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(AuditEntry {
                seq: r.try_get("seq")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
            })
        })
        .collect()
}

/// A user's id by email, from the database.
pub async fn user_id(db: &SqlitePool, email: &str) -> Result<String> {
    let row = sqlx::query("SELECT id FROM users WHERE email = ?")
        .bind(email)
        .fetch_one(db)
        .await?;
    Ok(row.try_get("id")?)
}

/// Opens a recording's sealed manifest with the school's key file; returns it and its hash.
pub async fn read_manifest(objects: &Objects, key_file: &Path, recording: &str) -> Result<(Manifest, String)> {
    let kek = Kek::from_file(key_file).map_err(|e| anyhow!("key file {}: {e}", key_file.display()))?;
    let (manifest, _, hash) = livegate_recorder::spool::open_recording(objects, &kek, recording)
        .await
        .map_err(|e| anyhow!("opening the manifest of {recording}: {e}"))?;
    Ok((manifest, hash))
}

/// How a stream's segments cover the lesson (ms on the recording's clock).
#[derive(Debug, Clone, Copy)]
pub struct Coverage {
    pub segments: usize,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The largest gap between one segment's end and the next one's start.
    pub max_gap_ms: i64,
    /// The longest segment.
    pub longest_ms: i64,
}

/// How the segments of `stream` cover the lesson; `None` if it has none.
pub fn coverage(manifest: &Manifest, stream: &str) -> Option<Coverage> {
    let mut segs: Vec<_> = manifest.segments.iter().filter(|s| s.stream == stream).collect();
    segs.sort_by_key(|s| s.start_ms);
    Some(Coverage {
        segments: segs.len(),
        first_ms: segs.first()?.start_ms,
        last_ms: segs.iter().map(|s| s.end_ms).max()?,
        max_gap_ms: segs.windows(2).map(|w| w[1].start_ms - w[0].end_ms).max().unwrap_or(0),
        longest_ms: segs.iter().map(|s| s.end_ms - s.start_ms).max()?,
    })
}
