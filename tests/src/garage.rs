//! A throwaway Garage node (S3-compatible object storage) for the recording tests: started by
//! `infra/garage.sh start DIR` on free loopback ports in a folder of its own, stopped and
//! restarted on the same data and ports to simulate an outage, and removed when dropped.

use anyhow::{anyhow, bail, Context, Result};
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use std::path::PathBuf;

/// A running (or stopped) single-node Garage.
pub struct Garage {
    pub dir: PathBuf,
    /// The `LIVEGATE_S3_*` variables from `DIR/env`, to hand to the server.
    pub env: Vec<(String, String)>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("infra")
        .join("garage.sh")
}

fn garage_installed() -> bool {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("garage").is_file()))
        .unwrap_or(false);
    in_path || home.join(".cargo/bin/garage").is_file()
}

async fn run_script(args: &[&str]) -> Result<String> {
    let out = tokio::process::Command::new("bash")
        .arg(script())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("running infra/garage.sh")?;
    if !out.status.success() {
        bail!(
            "infra/garage.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Garage {
    /// Starts a node with a bucket and a key in a fresh temporary folder.
    pub async fn start() -> Result<Garage> {
        if !garage_installed() {
            bail!("Garage is not installed: run `bash infra/garage.sh install` (tests/run.sh does)");
        }
        let dir = std::env::temp_dir().join(format!(
            "livegate-garage-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir_str = dir.to_str().ok_or_else(|| anyhow!("non-UTF-8 temp path"))?.to_owned();
        // From here on, dropping the fixture stops whatever was started.
        let mut garage = Garage { dir, env: Vec::new() };
        run_script(&["start", &dir_str]).await?;
        let text = std::fs::read_to_string(garage.dir.join("env")).context("reading Garage's env file")?;
        garage.env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        for k in [
            "LIVEGATE_S3_ENDPOINT",
            "LIVEGATE_S3_BUCKET",
            "LIVEGATE_S3_ACCESS_KEY",
            "LIVEGATE_S3_SECRET_KEY",
        ] {
            garage.var(k)?;
        }
        Ok(garage)
    }

    /// One of the `LIVEGATE_S3_*` settings.
    pub fn var(&self, key: &str) -> Result<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| anyhow!("Garage env has no {key}"))
    }

    /// The bucket, opened the way the server opens it.
    pub fn objects(&self) -> Result<Objects> {
        let config = ObjectStoreConfig::S3 {
            endpoint: self.var("LIVEGATE_S3_ENDPOINT")?.to_owned(),
            region: self.var("LIVEGATE_S3_REGION").unwrap_or("garage").to_owned(),
            bucket: self.var("LIVEGATE_S3_BUCKET")?.to_owned(),
            access_key: self.var("LIVEGATE_S3_ACCESS_KEY")?.to_owned(),
            secret_key: self.var("LIVEGATE_S3_SECRET_KEY")?.to_owned(),
        };
        Objects::open(&config).map_err(|e| anyhow!("opening the Garage bucket: {e}"))
    }

    /// The `livegate-recorder` flags that point at this bucket (credentials go in [`env`](Self::env)).
    pub fn recorder_flags(&self) -> Result<Vec<String>> {
        Ok(vec![
            "--s3-endpoint".into(),
            self.var("LIVEGATE_S3_ENDPOINT")?.to_owned(),
            "--s3-bucket".into(),
            self.var("LIVEGATE_S3_BUCKET")?.to_owned(),
            "--s3-region".into(),
            self.var("LIVEGATE_S3_REGION").unwrap_or("garage").to_owned(),
        ])
    }

    fn dir_str(&self) -> Result<&str> {
        self.dir.to_str().ok_or_else(|| anyhow!("non-UTF-8 temp path"))
    }

    /// Stops the node (SIGTERM, then SIGKILL) and waits until it has exited.
    pub async fn stop(&self) -> Result<()> {
        run_script(&["stop", self.dir_str()?]).await.map(|_| ())
    }

    /// Starts the stopped node again on the same data and ports.
    pub async fn restart(&self) -> Result<()> {
        run_script(&["restart", self.dir_str()?]).await.map(|_| ())
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .stdin(std::process::Stdio::null())
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
