//! The backup folder's format, shared by `livegate backup` ([`super::backup`]) and `livegate
//! restore` ([`super::restore`]): a manifest (`manifest.json`, frozen by a golden file), the
//! database snapshot, and the keys folder sealed to the operator's passphrase (`keys.sealed`).
//!
//! The sealed keys are Argon2id (parameters in the header, so they can grow) deriving an
//! AES-256-GCM key from the passphrase; the whole header is the AEAD's associated data, so no
//! byte of it can change unnoticed. Inside is the list of key files and the database
//! snapshot's SHA-256: the manifest's hashes catch a damaged file, the sealed copy of the
//! database's hash catches a replaced one (that needs the passphrase). A wrong passphrase and a
//! damaged file are told apart because the manifest's hash of `keys.sealed` is checked first.

use std::path::{Path, PathBuf};

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// The backup format this Livegate writes and the newest it reads.
pub const FORMAT: u32 = 1;
/// The manifest's file name inside a backup folder.
pub const MANIFEST: &str = "manifest.json";
/// The sealed keys' file name.
pub const KEYS_FILE: &str = "keys.sealed";
/// The database snapshot's file name, by store.
pub const SQLITE_FILE: &str = "database.sqlite";
pub const PG_FILE: &str = "database.pgdump";
/// The environment variable a passphrase may come from (never a command-line argument, which
/// any user sees in `ps`).
pub const PASSPHRASE_ENV: &str = "LIVEGATE_BACKUP_PASSPHRASE";
/// The shortest passphrase `backup` accepts.
pub const MIN_PASSPHRASE: usize = 12;

const MAGIC: &[u8; 8] = b"LGBKKEYS";
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1 + 12 + SALT_LEN + 12;
/// Argon2id cost for new backups: 64 MiB, 3 passes (a second or so, once per backup).
pub const KDF: Kdf = Kdf {
    m_kib: 64 * 1024,
    t: 3,
    p: 1,
};
/// The most a sealed file may ask of us (a crafted header must not exhaust the machine).
const KDF_LIMIT: Kdf = Kdf {
    m_kib: 1024 * 1024,
    t: 16,
    p: 8,
};
/// The most key files, and bytes of them, a backup may hold.
pub const MAX_KEY_FILES: usize = 10_000;
pub const MAX_KEYS_BYTES: u64 = 16 * 1024 * 1024;

/// Why a backup or a restore stopped. Nothing was written (a backup's partial folder and a
/// restore's temporary files are removed).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no passphrase: give --passphrase-file FILE or set {PASSPHRASE_ENV}")]
    NoPassphrase,
    #[error("the passphrase is shorter than {MIN_PASSPHRASE} characters")]
    WeakPassphrase,
    #[error("the passphrase file {path}: {source}")]
    PassphraseFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} already exists and is not empty: give a new folder for the backup")]
    OutNotEmpty { path: PathBuf },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` was not found on PATH: install PostgreSQL's client tools (Debian: apt install postgresql-client) of the server's major version or newer")]
    ToolMissing(&'static str),
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: &'static str,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{path} is not a Livegate backup: {why}")]
    NotABackup { path: PathBuf, why: String },
    #[error("this backup's format is version {0}; this Livegate reads up to version {FORMAT}: restore it with the Livegate that made it or a newer one")]
    NewerFormat(u32),
    #[error("this backup's database is at schema version {found}, newer than this Livegate's {known} (it was made by Livegate {by}): restore it with that version or a newer one")]
    NewerSchema { found: i64, known: i64, by: String },
    #[error("this backup holds a {backup} database but the target is {target}: restore onto the same kind")]
    WrongStore { backup: &'static str, target: &'static str },
    #[error("the backup is damaged: {0} does not match its manifest; nothing was restored")]
    Damaged(String),
    #[error("wrong passphrase for this backup's keys; nothing was restored")]
    WrongPassphrase,
    #[error("the target is not empty ({0}); restore only onto a fresh data folder and an empty database; nothing was changed")]
    TargetNotEmpty(String),
    #[error("the restored database's audit chain does not verify ({0}); nothing was restored")]
    ChainBroken(String),
    #[error("an in-memory database cannot be backed up or restored; give a database file or PostgreSQL")]
    InMemory,
    #[error("the database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the database: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Which database a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Sqlite,
    Postgresql,
}

impl StoreKind {
    /// The kind of a database URL.
    pub fn of(url: &str) -> StoreKind {
        if url.starts_with("sqlite:") {
            StoreKind::Sqlite
        } else {
            StoreKind::Postgresql
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "SQLite",
            StoreKind::Postgresql => "PostgreSQL",
        }
    }

    /// The snapshot's file name in the backup folder.
    pub fn file(self) -> &'static str {
        match self {
            StoreKind::Sqlite => SQLITE_FILE,
            StoreKind::Postgresql => PG_FILE,
        }
    }
}

/// One file of the backup and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The database's schema version (its newest migration).
    pub schema_version: i64,
    pub store: StoreKind,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    pub livegate_version: String,
    pub database: FileEntry,
    pub keys: FileEntry,
    /// A reminder for whoever finds the folder: recordings are not in it.
    pub recordings: String,
}

/// What a newer manifest has in common with this one: enough to refuse it clearly.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

/// The note every manifest carries about recordings.
pub const RECORDINGS_NOTE: &str = "not included: recordings stay in the object store; restore points at the same store";

impl Manifest {
    /// Reads a backup folder's manifest, refusing a format newer than this Livegate's.
    pub fn read(dir: &Path) -> Result<Manifest, BackupError> {
        let path = dir.join(MANIFEST);
        let not = |why: String| BackupError::NotABackup {
            path: dir.to_owned(),
            why,
        };
        let text = std::fs::read(&path).map_err(|e| not(format!("{MANIFEST}: {e}")))?;
        let format: FormatOnly = serde_json::from_slice(&text).map_err(|e| not(format!("{MANIFEST}: {e}")))?;
        if format.format > FORMAT {
            return Err(BackupError::NewerFormat(format.format));
        }
        serde_json::from_slice(&text).map_err(|e| not(format!("{MANIFEST}: {e}")))
    }
}

/// The SHA-256 of a file, hex, and its length.
pub fn digest_file(path: &Path) -> Result<(String, u64), BackupError> {
    use std::io::Read;
    let io = |source| BackupError::Io {
        what: "reading",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        ctx.update(&buf[..n]);
    }
    Ok((hex(ctx.finish().as_ref()), total))
}

/// A file's entry for the manifest.
pub fn entry(dir: &Path, file: &str) -> Result<FileEntry, BackupError> {
    let (sha256, bytes) = digest_file(&dir.join(file))?;
    Ok(FileEntry {
        file: file.to_owned(),
        bytes,
        sha256,
    })
}

/// Checks a file of the backup against its manifest entry.
pub fn check(dir: &Path, entry: &FileEntry) -> Result<(), BackupError> {
    if !is_plain_name(&entry.file) {
        return Err(BackupError::Damaged(entry.file.clone()));
    }
    match digest_file(&dir.join(&entry.file)) {
        Ok((sha, bytes)) if sha == entry.sha256 && bytes == entry.bytes => Ok(()),
        _ => Err(BackupError::Damaged(entry.file.clone())),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file name with no folder part, hidden prefix or odd characters.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Argon2id's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kdf {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

/// What `keys.sealed` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysPayload {
    /// The database snapshot's SHA-256, so a replaced snapshot is caught.
    pub database_sha256: String,
    pub files: Vec<KeyFile>,
}

/// One file of the keys folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub name: String,
    /// The file's bytes, base64 (standard alphabet).
    pub base64: String,
}

impl KeyFile {
    pub fn new(name: String, data: &[u8]) -> KeyFile {
        KeyFile {
            name,
            base64: base64::engine::general_purpose::STANDARD.encode(data),
        }
    }

    pub fn data(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(&self.base64).ok()
    }
}

fn derive(passphrase: &[u8], salt: &[u8], kdf: Kdf) -> Result<LessSafeKey, BackupError> {
    let params = argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32)).map_err(|_| BackupError::WrongPassphrase)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase, salt, &mut key)
        .map_err(|_| BackupError::WrongPassphrase)?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| BackupError::WrongPassphrase)?;
    Ok(LessSafeKey::new(unbound))
}

/// Seals the payload to the passphrase with this cost.
pub fn seal(payload: &KeysPayload, passphrase: &[u8], kdf: Kdf) -> Result<Vec<u8>, BackupError> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; 12];
    let random = |_| BackupError::Io {
        what: "drawing random bytes for",
        path: PathBuf::from(KEYS_FILE),
        source: std::io::Error::other("no system randomness"),
    };
    rng.fill(&mut salt).map_err(random)?;
    rng.fill(&mut nonce).map_err(random)?;
    let mut out = Vec::with_capacity(HEADER_LEN + 256);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT as u8);
    for v in [kdf.m_kib, kdf.t, kdf.p] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let key = derive(passphrase, &salt, kdf)?;
    let mut body = serde_json::to_vec(payload).expect("the payload serialises");
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&out[..]), &mut body)
        .map_err(|_| BackupError::WrongPassphrase)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens sealed keys; `WrongPassphrase` if the passphrase (or any byte) is wrong.
pub fn open(sealed: &[u8], passphrase: &[u8]) -> Result<KeysPayload, BackupError> {
    let damaged = || BackupError::Damaged(KEYS_FILE.to_owned());
    if sealed.len() < HEADER_LEN + 16 || &sealed[..MAGIC.len()] != MAGIC {
        return Err(damaged());
    }
    if u32::from(sealed[MAGIC.len()]) > FORMAT {
        return Err(BackupError::NewerFormat(u32::from(sealed[MAGIC.len()])));
    }
    let word = |i: usize| {
        let at = MAGIC.len() + 1 + 4 * i;
        u32::from_be_bytes([sealed[at], sealed[at + 1], sealed[at + 2], sealed[at + 3]])
    };
    let kdf = Kdf {
        m_kib: word(0),
        t: word(1),
        p: word(2),
    };
    if kdf.m_kib > KDF_LIMIT.m_kib || kdf.t > KDF_LIMIT.t || kdf.p > KDF_LIMIT.p {
        return Err(damaged());
    }
    let salt_at = MAGIC.len() + 13;
    let salt = &sealed[salt_at..salt_at + SALT_LEN];
    let nonce: [u8; 12] = sealed[salt_at + SALT_LEN..HEADER_LEN]
        .try_into()
        .map_err(|_| damaged())?;
    let key = derive(passphrase, salt, kdf)?;
    let mut body = sealed[HEADER_LEN..].to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&sealed[..HEADER_LEN]),
            &mut body,
        )
        .map_err(|_| BackupError::WrongPassphrase)?;
    serde_json::from_slice(plain).map_err(|_| damaged())
}

/// The passphrase from `--passphrase-file` (its trailing line break dropped) or from
/// [`PASSPHRASE_ENV`].
pub fn passphrase(file: Option<&Path>, env: Option<String>) -> Result<Vec<u8>, BackupError> {
    let mut text = match (file, env) {
        (Some(path), _) => std::fs::read(path).map_err(|source| BackupError::PassphraseFile {
            path: path.to_owned(),
            source,
        })?,
        (None, Some(v)) => v.into_bytes(),
        (None, None) => return Err(BackupError::NoPassphrase),
    };
    while text.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        text.pop();
    }
    if text.is_empty() {
        return Err(BackupError::NoPassphrase);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Kdf = Kdf { m_kib: 64, t: 1, p: 1 };

    fn payload() -> KeysPayload {
        KeysPayload {
            database_sha256: "ab".repeat(32),
            files: vec![KeyFile::new("sch_demo.key".into(), b"00112233")],
        }
    }

    fn golden(name: &str, bytes: &[u8]) -> Vec<u8> {
        let path = format!("{}/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, bytes).unwrap();
        }
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn the_manifest_format_is_frozen() {
        let m = Manifest {
            format: FORMAT,
            schema_version: 7,
            store: StoreKind::Sqlite,
            created_at: "2026-12-07T22:00:00Z".into(),
            livegate_version: "0.1.0".into(),
            database: FileEntry {
                file: SQLITE_FILE.into(),
                bytes: 4096,
                sha256: "0".repeat(64),
            },
            keys: FileEntry {
                file: KEYS_FILE.into(),
                bytes: 200,
                sha256: "f".repeat(64),
            },
            recordings: RECORDINGS_NOTE.into(),
        };
        let text = serde_json::to_string_pretty(&m).unwrap() + "\n";
        let frozen = golden("backup-manifest-v1.json", text.as_bytes());
        assert_eq!(
            text.as_bytes(),
            frozen,
            "the backup manifest changed: bump FORMAT and keep reading version 1"
        );
        assert_eq!(serde_json::from_slice::<Manifest>(&frozen).unwrap(), m);
    }

    #[test]
    fn sealed_keys_of_format_1_still_open() {
        // A file sealed once (with a cheap cost) and kept: the layout may never change.
        let sealed = seal(&payload(), b"correct horse battery", CHEAP).unwrap();
        let frozen = golden("backup-keys-v1.sealed", &sealed);
        assert_eq!(open(&frozen, b"correct horse battery").unwrap(), payload());
    }

    #[test]
    fn a_wrong_passphrase_or_a_changed_byte_opens_nothing() {
        let sealed = seal(&payload(), b"correct horse battery", CHEAP).unwrap();
        assert!(matches!(
            open(&sealed, b"correct horse batterz"),
            Err(BackupError::WrongPassphrase)
        ));
        for at in [MAGIC.len() + 12, HEADER_LEN - 1, HEADER_LEN + 3, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(open(&bad, b"correct horse battery").is_err(), "byte {at}");
        }
        assert!(matches!(open(&sealed[..20], b"x"), Err(BackupError::Damaged(_))));
        // A header asking for more than the limit is refused before any work.
        let mut greedy = sealed.clone();
        greedy[MAGIC.len() + 1..MAGIC.len() + 5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            open(&greedy, b"correct horse battery"),
            Err(BackupError::Damaged(_))
        ));
    }

    #[test]
    fn a_newer_manifest_is_refused_by_its_format_alone() {
        let dir = std::env::temp_dir().join(format!("lg-manifest-{}", livegate_core::ids::random_token(6)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(MANIFEST), r#"{"format": 2, "something_new": true}"#).unwrap();
        assert!(matches!(Manifest::read(&dir), Err(BackupError::NewerFormat(2))));
        std::fs::write(dir.join(MANIFEST), "not json").unwrap();
        assert!(matches!(Manifest::read(&dir), Err(BackupError::NotABackup { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_passphrase_comes_from_a_file_or_the_environment() {
        assert!(matches!(passphrase(None, None), Err(BackupError::NoPassphrase)));
        assert_eq!(passphrase(None, Some("abc\n".into())).unwrap(), b"abc");
        assert!(matches!(
            passphrase(None, Some("\n".into())),
            Err(BackupError::NoPassphrase)
        ));
        assert!(matches!(
            passphrase(Some(Path::new("/nonexistent/pass")), None),
            Err(BackupError::PassphraseFile { .. })
        ));
        assert!(is_plain_name("sch_demo.old-ab12.key"));
        assert!(!is_plain_name("../x") && !is_plain_name(".hidden") && !is_plain_name("a/b"));
    }
}
