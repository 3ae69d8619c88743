//! A private, throwaway PostgreSQL cluster for one test, run by `infra/postgres.sh` in its own
//! directory, so a test may stop and start it (a database outage mid-lesson) without touching
//! the cluster other tests share through `LIVEGATE_TEST_POSTGRES_URL`.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// One cluster; stopped and deleted when dropped.
pub struct PgCluster {
    dir: PathBuf,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`; the same after a restart.
    pub url: String,
}

/// Whether PostgreSQL tests should run: `LIVEGATE_TEST_POSTGRES_URL` is set (tests/run.sh sets
/// it once PostgreSQL is installed). Without it a test says so loudly and passes, except under
/// CI (`CI` set), where it fails.
pub fn enabled(test: &str) -> Result<bool> {
    if std::env::var_os("LIVEGATE_TEST_POSTGRES_URL").is_some() {
        return Ok(true);
    }
    if std::env::var_os("CI").is_some() {
        bail!("CI must run {test}: set LIVEGATE_TEST_POSTGRES_URL (tests/run.sh does)");
    }
    eprintln!("SKIPPED {test}: LIVEGATE_TEST_POSTGRES_URL is not set (run infra/postgres.sh start)");
    Ok(false)
}

/// A fresh, empty database on the shared test server (`LIVEGATE_TEST_POSTGRES_URL`), named
/// `lg_<label>_<random>`; `None` when PostgreSQL tests are not enabled (see [`enabled`]).
pub async fn fresh_database(label: &str) -> Result<Option<String>> {
    if !enabled(label)? {
        return Ok(None);
    }
    let admin = std::env::var("LIVEGATE_TEST_POSTGRES_URL")?;
    let name = format!("lg_{label}_{:016x}", rand::random::<u64>());
    let pool = sqlx::postgres::PgPool::connect(&admin)
        .await
        .context("connecting to LIVEGATE_TEST_POSTGRES_URL")?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
    pool.close().await;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("odd LIVEGATE_TEST_POSTGRES_URL"))?;
    Ok(Some(format!("{base}/{name}")))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("infra")
        .join("postgres.sh")
}

impl PgCluster {
    /// Creates and starts a cluster in a fresh directory.
    pub async fn start() -> Result<PgCluster> {
        let dir = std::env::temp_dir().join(format!("livegate-pg-{}-{}", std::process::id(), rand::random::<u32>()));
        let mut cluster = PgCluster {
            dir,
            url: String::new(),
        };
        cluster.url = cluster.run("start").await?;
        Ok(cluster)
    }

    /// Stops the server (fast shutdown: open connections are cut), keeping its data.
    pub async fn halt(&self) -> Result<()> {
        self.run("halt").await.map(|_| ())
    }

    /// Starts it again on the same data and port.
    pub async fn resume(&self) -> Result<()> {
        let url = self.run("start").await?;
        if url != self.url {
            bail!("PostgreSQL came back at {url}, not {}", self.url);
        }
        Ok(())
    }

    async fn run(&self, cmd: &str) -> Result<String> {
        let out = tokio::process::Command::new("bash")
            .arg(script())
            .arg(cmd)
            .env("LIVEGATE_PG_DIR", &self.dir)
            .output()
            .await
            .with_context(|| format!("running infra/postgres.sh {cmd}"))?;
        if !out.status.success() {
            bail!("infra/postgres.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .arg("stop")
            .env("LIVEGATE_PG_DIR", &self.dir)
            .output();
    }
}
