//! `livegate restore --from DIR`: a backup ([`super::archive`]) onto a fresh data folder and an
//! empty database, pointing at the same object store as before (recordings were never in the
//! backup).
//!
//! Every check comes before anything is written: the manifest's format and schema version
//! (nothing newer than this Livegate), the kind of database, every file's digest, the
//! passphrase, and that the target is empty. Then the keys are written into a hidden folder
//! and a SQLite database into a hidden file beside their places, the copy is migrated to this
//! Livegate's schema and its audit chain verified, and only then are both moved into place (a
//! rename, and a link that fails rather than replace a file that appeared meanwhile).
//! PostgreSQL is restored by `pg_restore` in one transaction: all of it or none.

use std::path::{Path, PathBuf};

use sqlx::Row;

use super::archive::{self, BackupError, KeysPayload, Manifest, StoreKind};
use super::backup::{hidden_beside, run_pg_tool, split_password, write_file};
use super::OperatorError;
use crate::config::Config;
use crate::store::Store;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// The schema version the database is at now (this Livegate's).
    pub schema_version: i64,
    pub key_files: usize,
    /// Entries on the restored audit chain (it verifies).
    pub audit_entries: i64,
}

/// Restores the backup in `from` onto the installation `config` names.
pub async fn restore(config: &Config, from: &Path, passphrase: &[u8]) -> Result<Restored, OperatorError> {
    let url = config.database_url();
    let (manifest, keys) = read_backup(from, &url, passphrase)?;
    let keys_dir = config.keys_dir();
    if std::fs::read_dir(&keys_dir).is_ok_and(|mut d| d.next().is_some()) {
        let why = format!("the keys folder {} has files", keys_dir.display());
        return Err(BackupError::TargetNotEmpty(why).into());
    }
    let database = from.join(&manifest.database.file);
    let (schema_version, audit_entries) = match manifest.store {
        StoreKind::Sqlite => restore_sqlite(&url, &database, &keys_dir, &keys).await?,
        StoreKind::Postgresql => restore_postgres(&url, &database, &keys_dir, &keys).await?,
    };
    Ok(Restored {
        manifest,
        schema_version,
        key_files: keys.files.len(),
        audit_entries,
    })
}

/// Reads and checks a backup for a target of `url`: the manifest, the digests, the passphrase.
fn read_backup(from: &Path, url: &str, passphrase: &[u8]) -> Result<(Manifest, KeysPayload), BackupError> {
    let manifest = Manifest::read(from)?;
    let known = crate::store::latest_schema_version();
    if manifest.schema_version > known {
        return Err(BackupError::NewerSchema {
            found: manifest.schema_version,
            known,
            by: manifest.livegate_version.clone(),
        });
    }
    if url.contains(":memory:") {
        return Err(BackupError::InMemory);
    }
    let target = StoreKind::of(url);
    if target != manifest.store || manifest.database.file != manifest.store.file() {
        return Err(BackupError::WrongStore {
            backup: manifest.store.name(),
            target: target.name(),
        });
    }
    archive::check(from, &manifest.database)?;
    archive::check(from, &manifest.keys)?;
    let sealed_path = from.join(&manifest.keys.file);
    let sealed = std::fs::read(&sealed_path).map_err(|source| BackupError::Io {
        what: "reading",
        path: sealed_path,
        source,
    })?;
    let keys = archive::open(&sealed, passphrase)?;
    let total: usize = keys.files.iter().map(|f| f.base64.len()).sum();
    let sound = keys.database_sha256 == manifest.database.sha256
        && keys.files.len() <= archive::MAX_KEY_FILES
        && total as u64 <= archive::MAX_KEYS_BYTES
        && keys
            .files
            .iter()
            .all(|f| archive::is_plain_name(&f.name) && f.data().is_some());
    if !sound {
        return Err(BackupError::Damaged(manifest.database.file.clone()));
    }
    Ok((manifest, keys))
}

/// Writes the key files into a new hidden folder beside `keys_dir`.
fn stage_keys(keys_dir: &Path, keys: &KeysPayload) -> Result<PathBuf, BackupError> {
    if let Some(parent) = keys_dir.parent() {
        std::fs::create_dir_all(parent).map_err(|source| BackupError::Io {
            what: "creating",
            path: parent.to_owned(),
            source,
        })?;
    }
    let staged = hidden_beside(keys_dir, "restoring")?;
    for file in &keys.files {
        let data = file.data().unwrap_or_default();
        if let Err(e) = write_file(&staged.join(&file.name), &data) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e);
        }
    }
    Ok(staged)
}

/// Moves staged keys into place; fails if the folder gained files meanwhile.
fn install_keys(staged: &Path, keys_dir: &Path) -> Result<(), BackupError> {
    std::fs::rename(staged, keys_dir).map_err(|source| {
        let _ = std::fs::remove_dir_all(staged);
        match source.kind() {
            std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists => {
                BackupError::TargetNotEmpty(format!("the keys folder {} has files", keys_dir.display()))
            }
            _ => BackupError::Io {
                what: "moving the keys into",
                path: keys_dir.to_owned(),
                source,
            },
        }
    })
}

/// The file of a `sqlite:` URL.
fn sqlite_path(url: &str) -> PathBuf {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    PathBuf::from(path.split('?').next().unwrap_or(path))
}

/// Opens a restored database at this Livegate's schema and verifies its audit chain.
async fn migrate_and_verify(url: &str) -> Result<(i64, i64), BackupError> {
    let store = Store::open(url).await?;
    let verified = store.verify_audit().await;
    let version = super::backup::schema_version(store.pool()).await;
    store.pool().close().await;
    match verified? {
        Ok((entries, _)) => Ok((version?, entries)),
        Err(fault) => Err(BackupError::ChainBroken(fault.to_string())),
    }
}

async fn restore_sqlite(
    url: &str,
    database: &Path,
    keys_dir: &Path,
    keys: &KeysPayload,
) -> Result<(i64, i64), BackupError> {
    let target = sqlite_path(url);
    if std::fs::metadata(&target).is_ok_and(|m| m.len() > 0) {
        let why = format!("the database file {} exists", target.display());
        return Err(BackupError::TargetNotEmpty(why));
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| BackupError::Io {
            what: "creating",
            path: parent.to_owned(),
            source,
        })?;
    }
    let folder = hidden_beside(&target, "restoring")?;
    let staged_db = folder.join("livegate.db");
    let done = async {
        std::fs::copy(database, &staged_db).map_err(|source| BackupError::Io {
            what: "copying the database to",
            path: staged_db.clone(),
            source,
        })?;
        let counts = migrate_and_verify(&format!("sqlite:{}", staged_db.display())).await?;
        let staged_keys = stage_keys(keys_dir, keys)?;
        install_keys(&staged_keys, keys_dir)?;
        // A link, not a rename: it fails rather than replace a database that appeared since.
        if let Err(source) = std::fs::remove_file(&target)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .and_then(|()| std::fs::hard_link(&staged_db, &target))
        {
            let _ = std::fs::remove_dir_all(keys_dir);
            return Err(BackupError::Io {
                what: "moving the database into",
                path: target.clone(),
                source,
            });
        }
        Ok(counts)
    }
    .await;
    let _ = std::fs::remove_dir_all(&folder);
    done
}

async fn restore_postgres(
    url: &str,
    database: &Path,
    keys_dir: &Path,
    keys: &KeysPayload,
) -> Result<(i64, i64), BackupError> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_one(&pool)
    .await;
    pool.close().await;
    let tables: i64 = row?.try_get("n")?;
    if tables > 0 {
        return Err(BackupError::TargetNotEmpty(format!(
            "the database has {tables} table(s)"
        )));
    }
    let staged_keys = stage_keys(keys_dir, keys)?;
    install_keys(&staged_keys, keys_dir)?;
    let (url_alone, password) = split_password(url);
    let mut cmd = tokio::process::Command::new("pg_restore");
    cmd.args([
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
    ])
    .arg(format!("--dbname={url_alone}"))
    .arg(database);
    if let Err(e) = run_pg_tool("pg_restore", cmd, password).await {
        let _ = std::fs::remove_dir_all(keys_dir);
        return Err(e);
    }
    migrate_and_verify(url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_of_a_url() {
        assert_eq!(
            sqlite_path("sqlite:/var/lib/livegate/livegate.db"),
            PathBuf::from("/var/lib/livegate/livegate.db")
        );
        assert_eq!(sqlite_path("sqlite:db.sqlite?mode=rwc"), PathBuf::from("db.sqlite"));
        assert_eq!(sqlite_path("sqlite:///tmp/x.db"), PathBuf::from("/tmp/x.db"));
    }
}
