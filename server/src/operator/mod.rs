//! The operator's commands, run on the server's machine by the people who run Livegate (the
//! trust's IT team; they have no web role): creating a school with its first superuser and
//! key ([`schools`]), listing, disabling and re-inviting, and rotating a school's
//! key-encryption key ([`keys`]), and backing up and restoring an installation ([`backup`],
//! [`restore`], in the format of [`archive`]). `main.rs` parses the command line and prints; the work is
//! here, over the store and the recording keys.
//!
//! Every command works on SQLite and PostgreSQL, with the server running (sharing the
//! database and the key folder) or stopped. Each change is one database transaction, on the
//! school's audit chain with the operator (`operator:<login name>`) as actor; a file it writes
//! (a key) is written whole or not at all, before the transaction that refers to it, and
//! removed again if that transaction fails.

pub mod archive;
pub mod backup;
pub mod keys;
pub mod restore;
pub mod schools;

use std::path::PathBuf;

use livegate_recorder::objstore::ObjectStoreConfig;

use crate::config::Config;
use crate::store::{Store, StoreError};

/// Why an operator's command changed nothing (or, for a key rotation, stopped where it can
/// resume). Each says what to do in the operator's terms.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("there is no school with the id {0} (`livegate school list` shows them)")]
    UnknownSchool(String),
    #[error("a school named {0:?} already exists")]
    NameTaken(String),
    #[error("an account with the email {0} already exists (each email belongs to one account in one school)")]
    EmailTaken(String),
    #[error("{0:?} is not an email address")]
    BadEmail(String),
    #[error("{0:?} is not a time zone name (for example Europe/London)")]
    BadTimeZone(String),
    #[error("{0}")]
    BadText(#[from] livegate_core::text::TextError),
    #[error("the public URL {0:?} must start with http:// or https://")]
    BadUrl(String),
    #[error("school {0} is disabled; nothing was changed")]
    SchoolDisabled(String),
    #[error("school {school} has no superuser with the email {email}")]
    NotASuperuser { school: String, email: String },
    #[error("the keys folder {path} cannot be written: {source}")]
    KeysFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("school {school} has no key file at {path} (its recordings cannot be rotated)")]
    NoKey { school: String, path: PathBuf },
    #[error("the key file {path} cannot be read: {source}")]
    BadKey {
        path: PathBuf,
        #[source]
        source: livegate_recorder::keys::KeyError,
    },
    #[error(
        "school {0}'s key comes from the environment variable LIVEGATE_KEK_{1}: rotate it by \
         replacing that variable, or move it into the keys folder first"
    )]
    KeyFromEnvironment(String, String),
    #[error("the spool folder {path}: {source}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the object store: {0}")]
    Objects(#[from] livegate_recorder::objstore::StoreError),
    #[error(
        "{} recording(s) have a data key that no key of the school opens: {}; the rotation \
         left every key in place",
        .0.len(),
        .0.join(", ")
    )]
    Unopenable(Vec<String>),
    #[error("the database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Config(#[from] crate::config::StartupError),
    #[error(transparent)]
    Backup(#[from] archive::BackupError),
}

/// What the commands work on: the database, the key folder, the spool and the object store
/// of the configuration the server runs with, and who is acting.
pub struct Operator {
    pub store: Store,
    /// The database's URL (a backup names its kind, and `pg_dump` connects with it).
    pub database_url: String,
    pub keys_dir: PathBuf,
    pub spool_dir: PathBuf,
    pub objects: ObjectStoreConfig,
    /// The scheme, host and port people open, for invite links.
    pub public_url: String,
    /// How the operator appears on the audit chain.
    pub actor: String,
}

impl Operator {
    /// Opens the configured database (migrating it if the server has not yet).
    pub async fn open(config: &Config) -> Result<Self, OperatorError> {
        let url = config.database_url();
        if url.starts_with("sqlite:") && !url.contains(":memory:") {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| OperatorError::KeysFolder {
                path: config.data_dir.clone(),
                source,
            })?;
        }
        if let Some(u) = &config.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(OperatorError::BadUrl(u.clone()));
            }
        }
        Ok(Self {
            store: Store::open(&url).await?,
            database_url: url,
            keys_dir: config.keys_dir(),
            spool_dir: config.spool_dir(),
            objects: config.objects(),
            public_url: public_url(config),
            actor: actor(std::env::var("LOGNAME").or_else(|_| std::env::var("USER")).ok()),
        })
    }
}

/// `operator:<login name>` (only the name's token characters), or `operator`.
fn actor(login: Option<String>) -> String {
    let name: String = login
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(32)
        .collect();
    if name.is_empty() {
        "operator".to_owned()
    } else {
        format!("operator:{name}")
    }
}

/// The address people open: `public_url` if configured, else this server's own listening
/// address (with `localhost` for one that listens on every interface).
fn public_url(config: &Config) -> String {
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let scheme = if config.https() { "https" } else { "http" };
    let host = if config.http.ip().is_unspecified() {
        format!("localhost:{}", config.http.port())
    } else {
        config.http.to_string()
    };
    format!("{scheme}://{host}")
}

/// A one-time set-password link for a token, at the public URL.
pub fn invite_url(public_url: &str, token: &str) -> String {
    format!(
        "{}{}",
        public_url.trim_end_matches('/'),
        crate::app::set_password_path(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_is_the_login_name_and_nothing_else() {
        assert_eq!(actor(Some("ops-1".into())), "operator:ops-1");
        assert_eq!(actor(Some("a b\n\"c".into())), "operator:abc");
        assert_eq!(actor(None), "operator");
        assert_eq!(actor(Some(" ".into())), "operator");
    }

    #[test]
    fn the_invite_link_is_at_the_public_url() {
        let mut config = Config::default();
        assert_eq!(public_url(&config), "http://127.0.0.1:8080");
        config.http = "0.0.0.0:443".parse().unwrap();
        config.secure_cookies = true;
        assert_eq!(public_url(&config), "https://localhost:443");
        config.public_url = Some("https://live.example.sch.uk/".into());
        assert_eq!(
            invite_url(&public_url(&config), "ab12"),
            "https://live.example.sch.uk/#/set-password?token=ab12"
        );
    }
}
