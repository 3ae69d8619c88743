//! The server as a system service (issue 15, production deployment), through the real binary:
//! under systemd (`Type=notify`) it says `READY=1` only once `GET /readyz` answers 200 and
//! `STOPPING=1` when SIGTERM begins a graceful stop, to a notify socket the test holds in
//! systemd's place; and with `log_format = "json"` every line it writes to standard error is
//! one JSON object, with no personal data in any. (`systemd-analyze verify` of the unit itself
//! is a gate in `tests/run.sh`, `infra/systemd/verify.sh`.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use livegate_tests::recording::DataDir;
use livegate_tests::{run_test_within, Api, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixDatagram;

const LIMIT: Duration = Duration::from_secs(120);
/// How long a message the server owes may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A stand-in for an S3 object store that fails every request (503) until [`FakeS3::answer`],
/// then answers every request "no such key" (404), which Livegate's readiness check counts as
/// the store answering.
struct FakeS3 {
    endpoint: String,
    answering: Arc<AtomicBool>,
}

impl FakeS3 {
    async fn start() -> Result<FakeS3> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let answering = Arc::new(AtomicBool::new(false));
        let flag = answering.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let reply = if flag.load(Ordering::SeqCst) {
                        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>";
                        format!(
                            "HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                    };
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Ok(FakeS3 { endpoint, answering })
    }

    fn answer(&self) {
        self.answering.store(true, Ordering::SeqCst);
    }

    /// The `LIVEGATE_S3_*` variables that point the server at this store.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("LIVEGATE_S3_ENDPOINT", self.endpoint.as_str()),
            ("LIVEGATE_S3_BUCKET", "recordings"),
            ("LIVEGATE_S3_ACCESS_KEY", "GKtest"),
            ("LIVEGATE_S3_SECRET_KEY", "test-secret"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }
}

/// The notify socket in systemd's place: every datagram the server sent, in order.
struct Systemd {
    socket: UnixDatagram,
    heard: Vec<String>,
}

impl Systemd {
    fn bind(path: &std::path::Path) -> Result<Systemd> {
        let socket = UnixDatagram::bind(path).with_context(|| format!("binding {}", path.display()))?;
        Ok(Systemd {
            socket,
            heard: Vec::new(),
        })
    }

    /// Receives until a message has the line `wanted`; fails after [`PATIENCE`].
    async fn until(&mut self, wanted: &str) -> Result<()> {
        let mut buf = vec![0u8; 4096];
        tokio::time::timeout(PATIENCE, async {
            loop {
                let n = self.socket.recv(&mut buf).await?;
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.heard.push(message.clone());
                if message.lines().any(|l| l == wanted) {
                    return Ok::<_, anyhow::Error>(());
                }
            }
        })
        .await
        .map_err(|_| anyhow!("no {wanted:?} within {PATIENCE:?}; heard {:?}", self.heard))?
    }

    /// Takes whatever has arrived without waiting.
    fn drain(&mut self) {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = self.socket.try_recv(&mut buf) {
            self.heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }

    fn ever(&self, line: &str) -> bool {
        self.heard.iter().any(|m| m.lines().any(|l| l == line))
    }
}

/// Starts `livegate serve` on a fresh folder with extra flags and environment.
async fn serve(dir: &DataDir, extra: &[String], env: &[(String, String)]) -> Result<Server> {
    let mut args = dir.server_args();
    args.extend_from_slice(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::launch("serve", &args, env).await
}

/// The object store does not answer at first: `/readyz` says 503 and systemd hears what the
/// server waits for, never `READY=1`. Once the store answers, `READY=1` comes, and `/readyz`
/// then answers 200; SIGTERM brings `STOPPING=1` and a clean exit.
#[tokio::test]
async fn systemd_hears_ready_only_once_readyz_answers_200_and_stopping_on_sigterm() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("notify")?;
        let mut systemd = Systemd::bind(&dir.path.join("notify.sock"))?;
        let s3 = FakeS3::start().await?;
        let mut env = s3.env();
        env.push((
            "NOTIFY_SOCKET".into(),
            dir.path.join("notify.sock").display().to_string(),
        ));
        let mut server = serve(&dir, &[], &env).await?;
        let api = Api::new(&server);

        // The notifier has checked and found the store away ...
        systemd.until("STATUS=waiting for the object store").await?;
        let (status, body) = api.request(Method::GET, "/readyz", None).await?;
        ensure!(
            status == 503 && body["checks"]["object_store"] == json!(false),
            "{status} {body}"
        );
        // ... and, the store still away, has not said READY=1.
        systemd.drain();
        ensure!(
            !systemd.ever("READY=1"),
            "READY=1 while /readyz said 503: {:?}",
            systemd.heard
        );

        s3.answer();
        systemd.until("READY=1").await?;
        let (status, body) = api.request(Method::GET, "/readyz", None).await?;
        ensure!(status == 200, "READY=1 but /readyz said {status} {body}");
        ensure!(!systemd.ever("STOPPING=1"));

        server.terminate()?;
        systemd.until("STOPPING=1").await?;
        let exit = server.wait_exit(Duration::from_secs(60)).await?;
        ensure!(exit.success(), "{exit}");
        ensure!(
            systemd
                .heard
                .iter()
                .filter(|m| m.lines().any(|l| l == "READY=1"))
                .count()
                == 1,
            "{:?}",
            systemd.heard
        );
        server.finish();
        Ok(())
    })
    .await;
}

/// `log_format = "json"` in the configuration file: every line on standard error, from the
/// start-up notice that there is no school yet, through refused sign-ins, to the graceful stop,
/// is one JSON object with a timestamp, a level, a target and a message; the email and the
/// password tried are in none of them.
#[tokio::test]
async fn json_logs_are_one_object_a_line_without_personal_data() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("jsonlog")?;
        let config = dir.path.join("livegate.toml");
        std::fs::write(&config, "log_format = \"json\"\n")?;
        let mut server = serve(&dir, &["--config".into(), config.display().to_string()], &[]).await?;
        let api = Api::new(&server);
        let email = "ada.lovelace@pupils.hill.sch.uk";
        let mut statuses = Vec::new();
        for _ in 0..8 {
            let body = json!({"email": email, "password": "not-her-password"});
            statuses.push(api.request(Method::POST, "/api/session", Some(body)).await?.0);
        }
        ensure!(statuses.contains(&429), "the sign-in limit never held: {statuses:?}");
        server.terminate()?;
        let exit = server.wait_exit(Duration::from_secs(60)).await?;
        ensure!(exit.success(), "{exit}");

        // The stderr reader may still be taking the last lines.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let lines = loop {
            let lines: Vec<String> = server
                .log_lines()
                .into_iter()
                .filter(|l| !l.starts_with("[stdout] "))
                .collect();
            if lines.iter().any(|l| l.contains("stopped cleanly")) || tokio::time::Instant::now() > deadline {
                break lines;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut messages = Vec::new();
        for line in &lines {
            let v: Value = serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
            for key in ["timestamp", "level", "target", "message"] {
                ensure!(v[key].is_string(), "no {key} in {line}");
            }
            messages.push(v["message"].as_str().unwrap_or_default().to_owned());
        }
        for wanted in [
            "this server has no school yet",
            "sign-in refused: too many failed attempts",
            "SIGTERM: stopping",
            "livegate stopped cleanly",
        ] {
            ensure!(
                messages.iter().any(|m| m.contains(wanted)),
                "no {wanted:?} among {messages:#?}"
            );
        }
        for secret in ["lovelace", "not-her-password"] {
            ensure!(
                !lines.iter().any(|l| l.contains(secret)),
                "{secret} in the log: {lines:#?}"
            );
        }
        server.finish();
        Ok(())
    })
    .await;
}
