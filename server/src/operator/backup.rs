//! `livegate backup --out DIR`: a consistent snapshot of the database, taken while the server
//! may be running, and the keys folder sealed to the operator's passphrase
//! ([`super::archive`]), with a manifest. Recordings stay in the object store.
//!
//! SQLite is copied with `VACUUM INTO` (one read transaction: a consistent copy, and writers
//! beside it only wait their turn); PostgreSQL with `pg_dump` (its own snapshot) in the custom
//! format. Everything is written into a hidden folder beside `DIR` and renamed into place at
//! the end, so `DIR` is either a whole backup or absent.

use std::path::{Path, PathBuf};

use livegate_core::ids::random_token;
use sqlx::Row;

use super::archive::{self, BackupError, KeyFile, KeysPayload, Manifest, StoreKind};
use super::{Operator, OperatorError};

/// What a finished backup holds.
#[derive(Debug, Clone)]
pub struct BackedUp {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Key files sealed into the backup.
    pub key_files: usize,
    /// Schools whose key is not in the keys folder (it comes from the environment, or is
    /// missing): the operator must keep it safe another way.
    pub keys_elsewhere: Vec<String>,
}

impl Operator {
    /// Writes a backup into `out` (which must not exist, or be an empty folder).
    pub async fn backup(&self, out: &Path, passphrase: &[u8]) -> Result<BackedUp, OperatorError> {
        if passphrase.len() < archive::MIN_PASSPHRASE {
            return Err(BackupError::WeakPassphrase.into());
        }
        if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) || out.is_file() {
            return Err(BackupError::OutNotEmpty { path: out.to_owned() }.into());
        }
        let partial = hidden_beside(out, "partial")?;
        let made = self.write_backup(&partial, passphrase).await;
        let made = made.and_then(|done| {
            // An empty `out` is replaced by the rename; anything else makes it fail.
            std::fs::rename(&partial, out).map_err(|source| BackupError::Io {
                what: "moving the backup into",
                path: out.to_owned(),
                source,
            })?;
            Ok(done)
        });
        match made {
            Ok((manifest, key_files, keys_elsewhere)) => Ok(BackedUp {
                dir: out.to_owned(),
                manifest,
                key_files,
                keys_elsewhere,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&partial);
                Err(e)
            }
        }
    }

    async fn write_backup(
        &self,
        dir: &Path,
        passphrase: &[u8],
    ) -> Result<(Manifest, usize, Vec<String>), OperatorError> {
        let kind = StoreKind::of(&self.database_url);
        let schema_version = schema_version(self.store.pool()).await?;
        let created_at = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or(jiff::Timestamp::now());
        match kind {
            StoreKind::Sqlite => self.vacuum_into(&dir.join(archive::SQLITE_FILE)).await?,
            StoreKind::Postgresql => pg_dump(&self.database_url, &dir.join(archive::PG_FILE)).await?,
        }
        let database = archive::entry(dir, kind.file())?;
        let files = read_keys(&self.keys_dir)?;
        let key_files = files.len();
        let payload = KeysPayload {
            database_sha256: database.sha256.clone(),
            files,
        };
        let sealed = archive::seal(&payload, passphrase, archive::KDF)?;
        write_file(&dir.join(archive::KEYS_FILE), &sealed)?;
        let manifest = Manifest {
            format: archive::FORMAT,
            schema_version,
            store: kind,
            created_at: created_at.to_string(),
            livegate_version: env!("CARGO_PKG_VERSION").to_owned(),
            database,
            keys: archive::entry(dir, archive::KEYS_FILE)?,
            recordings: archive::RECORDINGS_NOTE.to_owned(),
        };
        let text = serde_json::to_string_pretty(&manifest).expect("the manifest serialises") + "\n";
        write_file(&dir.join(archive::MANIFEST), text.as_bytes())?;
        let mut elsewhere = Vec::new();
        for school in self.store.school_summaries().await? {
            let file = crate::recording::keys::current_file(school.id.as_str());
            if !self.keys_dir.join(file).is_file() {
                elsewhere.push(school.id.to_string());
            }
        }
        Ok((manifest, key_files, elsewhere))
    }

    /// `VACUUM INTO` a new file: a consistent, compact copy of the live database.
    async fn vacuum_into(&self, file: &Path) -> Result<(), BackupError> {
        let text = file.to_str().ok_or_else(|| BackupError::Io {
            what: "writing",
            path: file.to_owned(),
            source: std::io::Error::other("the path is not UTF-8"),
        })?;
        let sql = format!("VACUUM INTO '{}'", text.replace('\'', "''"));
        sqlx::query(&sql).execute(self.store.pool()).await?;
        Ok(())
    }
}

/// The database's schema version: its newest applied migration.
pub async fn schema_version(pool: &sqlx::AnyPool) -> Result<i64, BackupError> {
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get("v")?)
}

/// A fresh hidden folder beside `target` (same file system, so a rename moves it).
pub fn hidden_beside(target: &Path, what: &str) -> Result<PathBuf, BackupError> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let path = parent.join(format!(".{name}.{what}-{}", random_token(8)));
    let io = |source| BackupError::Io {
        what: "creating",
        path: path.clone(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&path).map_err(io)?;
    Ok(path)
}

/// Writes a new file (mode 0600) whole and flushed to disk.
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let io = |source| BackupError::Io {
        what: "writing",
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(data).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Every regular file of the keys folder (an absent folder has none).
fn read_keys(dir: &Path) -> Result<Vec<KeyFile>, BackupError> {
    let io = |source| BackupError::Io {
        what: "reading the keys folder",
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Key files only: a half-written `*.tmp` of a key being written is not a key yet.
        if !entry.file_type().map_err(io)?.is_file() || !archive::is_plain_name(&name) || name.ends_with(".tmp") {
            continue;
        }
        let data = std::fs::read(entry.path()).map_err(io)?;
        files.push(KeyFile::new(name, &data));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// `pg_dump` of the database into `file` (custom format). A password in the URL is handed to
/// `pg_dump` in its environment, not its arguments, which any user sees in `ps`.
async fn pg_dump(url: &str, file: &Path) -> Result<(), BackupError> {
    let (url, password) = split_password(url);
    let mut cmd = tokio::process::Command::new("pg_dump");
    cmd.arg("--format=custom")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg(format!("--file={}", file.display()))
        .arg(format!("--dbname={url}"));
    run_pg_tool("pg_dump", cmd, password).await
}

/// Runs a PostgreSQL client tool; its standard error becomes the error.
pub async fn run_pg_tool(
    tool: &'static str,
    mut cmd: tokio::process::Command,
    password: Option<String>,
) -> Result<(), BackupError> {
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.stdin(std::process::Stdio::null());
    let out = match cmd.output().await {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BackupError::ToolMissing(tool)),
        Err(source) => {
            return Err(BackupError::Io {
                what: "running",
                path: PathBuf::from(tool),
                source,
            })
        }
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr: String = String::from_utf8_lossy(&out.stderr).trim().chars().take(2000).collect();
    Err(BackupError::Tool {
        tool,
        status: out.status,
        stderr,
    })
}

/// The URL without its password, and the password (percent-decoded).
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_leaves_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://lg:s%40cret:x@db.example:5432/livegate?sslmode=require"),
            (
                "postgres://lg@db.example:5432/livegate?sslmode=require".into(),
                Some("s@cret:x".into())
            )
        );
        assert_eq!(
            split_password("postgres://lg@localhost/db"),
            ("postgres://lg@localhost/db".into(), None)
        );
        assert_eq!(
            split_password("postgresql:///db?host=/run/pg"),
            ("postgresql:///db?host=/run/pg".into(), None)
        );
    }
}
