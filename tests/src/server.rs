//! Starts one `livegate demo` process per test on ephemeral ports, waits for its ready line,
//! keeps its stderr log, and kills it when dropped (printing the log tail if the test did not
//! finish cleanly).

use anyhow::{anyhow, bail, Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the server may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How many stderr lines to print when a test fails.
const LOG_TAIL: usize = 150;

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub http_base: String,
    pub http_addr: SocketAddr,
    /// The one UDP port all media goes through.
    pub media_addr: SocketAddr,
    /// Where `GET /metrics` listens, when the server was started with `metrics_http`.
    pub metrics_addr: Option<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
    finished: bool,
    /// Runs under `sh` (see [`Server::launch_shared`]).
    tied: bool,
}

/// The server binary: `LIVEGATE_BIN`, else `<repo>/target/debug/livegate`.
pub fn binary_path() -> PathBuf {
    if let Ok(p) = std::env::var("LIVEGATE_BIN") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("debug")
        .join("livegate")
}

/// Parses `livegate ready http=http://127.0.0.1:PORT media=127.0.0.1:PORT` (or `https://`).
pub fn parse_ready_line(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.trim().strip_prefix("livegate ready ")?;
    let mut http = None;
    let mut media = None;
    for field in rest.split_whitespace() {
        if let Some(v) = field.strip_prefix("http=") {
            let v = v.strip_prefix("http://").or_else(|| v.strip_prefix("https://"))?;
            http = v.trim_end_matches('/').parse().ok();
        } else if let Some(v) = field.strip_prefix("media=") {
            media = v.parse().ok();
        }
    }
    Some((http?, media?))
}

/// The `metrics=http://127.0.0.1:PORT` field a ready line ends with when `metrics_http` is set.
pub fn parse_metrics_field(line: &str) -> Option<SocketAddr> {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("metrics=http://"))
        .and_then(|v| v.parse().ok())
}

impl Server {
    /// Spawns `livegate demo --http 127.0.0.1:0 --media-port 0 --advertise-ip 127.0.0.1`.
    pub async fn start() -> Result<Server> {
        Server::start_with_args(&[]).await
    }

    /// Like [`start`](Self::start), with extra command-line flags (for example
    /// `--teacher-absent-timeout-secs 2`).
    pub async fn start_with_args(extra: &[&str]) -> Result<Server> {
        Server::launch("demo", extra, &[]).await
    }

    /// Runs `livegate <subcommand>` (`demo` or `serve`) on ephemeral loopback ports with extra
    /// flags and environment variables (for example `LIVEGATE_S3_*`).
    pub async fn launch(subcommand: &str, extra: &[&str], env: &[(String, String)]) -> Result<Server> {
        Server::launch_with(subcommand, extra, env, false).await
    }

    /// Like [`launch`](Self::launch), for a server kept in a `static` (shared by many tests,
    /// so never dropped): it runs under `sh`, which kills it when the test process exits and
    /// its stdin closes.
    pub async fn launch_shared(subcommand: &str, extra: &[&str], env: &[(String, String)]) -> Result<Server> {
        Server::launch_with(subcommand, extra, env, true).await
    }

    async fn launch_with(subcommand: &str, extra: &[&str], env: &[(String, String)], tied: bool) -> Result<Server> {
        let bin = binary_path();
        if !bin.exists() {
            bail!(
                "server binary {} not found (build it with `cargo build -p livegate` or set LIVEGATE_BIN)",
                bin.display()
            );
        }
        let mut command = if tied {
            let mut c = Command::new("sh");
            c.args(["-c", "\"$@\" & pid=$!; read _line; kill $pid 2>/dev/null", "sh"])
                .arg(&bin);
            c.stdin(Stdio::piped());
            c
        } else {
            let mut c = Command::new(&bin);
            c.stdin(Stdio::null());
            c
        };
        let mut child = command
            .args([
                subcommand,
                "--http",
                "127.0.0.1:0",
                "--media-port",
                "0",
                "--advertise-ip",
                "127.0.0.1",
            ])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "RUST_LOG",
                std::env::var("LIVEGATE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(!tied)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;

        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().unwrap().push(line);
                }
            });
        }

        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(addrs) = parse_ready_line(&line) {
                            return Ok((addrs, line.contains("http=https://"), parse_metrics_field(&line)));
                        }
                        log.lock().unwrap().push(format!("[stdout] {line}"));
                    }
                    Ok(None) => return Err(anyhow!("server closed stdout before the ready line")),
                    Err(e) => return Err(anyhow!("reading server stdout: {e}")),
                }
            }
        })
        .await;

        let ((http_addr, media_addr), https, metrics_addr) = match ready {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => {
                let tail = tail(&log, LOG_TAIL);
                let _ = child.start_kill();
                bail!("{e}; server log:\n{tail}");
            }
            Err(_) => {
                let tail = tail(&log, LOG_TAIL);
                let _ = child.start_kill();
                bail!("no ready line within {READY_TIMEOUT:?}; server log:\n{tail}");
            }
        };
        let scheme = if https { "https" } else { "http" };
        // Keep draining stdout so the server never blocks on a full pipe.
        {
            let log = log.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().unwrap().push(format!("[stdout] {line}"));
                }
            });
        }

        Ok(Server {
            child,
            http_base: format!("{scheme}://{http_addr}"),
            http_addr,
            media_addr,
            metrics_addr,
            log,
            finished: false,
            tied,
        })
    }

    /// `ws://127.0.0.1:PORT{path}` (`wss://` for a server speaking HTTPS).
    pub fn ws_url(&self, path: &str) -> String {
        let scheme = if self.http_base.starts_with("https://") {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}{}", self.http_addr, path)
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's process id (for reading its CPU time from /proc).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no chance to clean up) and waits for it to exit.
    pub async fn kill9(&mut self) -> Result<()> {
        self.child.start_kill().context("sending SIGKILL to the server")?;
        self.child.wait().await.context("waiting for the killed server")?;
        Ok(())
    }

    /// Sends the server SIGTERM (a graceful stop), without waiting for it to exit.
    pub fn terminate(&self) -> Result<()> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow!("the server has already exited"))?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {pid}: {status}");
        }
        Ok(())
    }

    /// Waits up to `within` for the server to exit and returns its exit status.
    pub async fn wait_exit(&mut self, within: Duration) -> Result<std::process::ExitStatus> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.context("waiting for the server to exit"),
            Err(_) => bail!("the server did not exit within {within:?}"),
        }
    }

    /// The last `n` lines the server logged.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }

    /// Every line the server logged so far (stderr, and stdout after the ready line).
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Marks the test as passed: the log is not printed on drop.
    pub fn finish(mut self) {
        self.finished = true;
    }
}

fn tail(log: &Arc<Mutex<Vec<String>>>, n: usize) -> String {
    let log = log.lock().unwrap();
    let start = log.len().saturating_sub(n);
    log[start..].join("\n")
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.tied {
            // Closing its stdin makes the `sh` wrapper end the server, then itself; killing
            // the wrapper would leave the server running.
            drop(self.child.stdin.take());
        } else {
            let _ = self.child.start_kill();
        }
        if !self.finished || std::env::var_os("LIVEGATE_TEST_LOGS").is_some() {
            eprintln!(
                "---- livegate server log (last {LOG_TAIL} lines, http={}) ----\n{}\n---- end of server log ----",
                self.http_base,
                self.log_tail(LOG_TAIL)
            );
        }
    }
}

/// What a one-shot `livegate` command (an operator's command) printed and how it ended.
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `livegate <args>` to its end with these extra environment variables (and without
/// `LIVEGATE_BACKUP_PASSPHRASE` from the test's own environment).
pub async fn run_livegate(args: &[String], env: &[(&str, &str)]) -> Result<Ran> {
    let out = Command::new(binary_path())
        .args(args)
        .env_remove("LIVEGATE_BACKUP_PASSPHRASE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .context("running livegate")?;
    Ok(Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
