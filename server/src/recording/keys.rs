//! The schools' key-encryption keys on disk, and how a server reads them: `<keys_dir>/<school
//! id>.key` is a school's current key (64 hex characters, file mode 0600), or the environment
//! variable `LIVEGATE_KEK_<SCHOOL ID IN CAPITALS>`. Never the database.
//!
//! A key rotation (`livegate keys rotate`, in `crate::operator::keys`) leaves two more kinds of
//! file beside it: `<id>.next.key`, the new key while recordings are being re-wrapped to it,
//! and `<id>.old-<key id>.key`, a key it replaced, kept until the operator deletes it. A
//! server reads the files at each use (no cache), so a rotation run beside it takes effect at
//! once: new recordings are wrapped with the current key, and any recording opens with any key
//! on disk, whatever the rotation had reached when it stopped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use livegate_recorder::keys::Kek;

/// The file name of a school's current key.
pub fn current_file(school: &str) -> String {
    format!("{school}.key")
}

/// The file name of the key a rotation in progress is moving a school's recordings to.
pub fn next_file(school: &str) -> String {
    format!("{school}.next.key")
}

/// The file name a replaced key is kept under (`id` is [`Kek::id`]).
pub fn retired_file(school: &str, id: &str) -> String {
    format!("{school}.old-{id}.key")
}

/// Every replaced key of a school on disk, by path.
pub fn retired_paths(dir: &Path, school: &str) -> Vec<PathBuf> {
    let prefix = format!("{school}.old-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".key"))
        })
        .collect();
    paths.sort();
    paths
}

/// Writes a key file whole or not at all: to a temporary file created with mode 0600 (never
/// readable by others, not even for a moment), synced, then renamed over `path`, and the
/// folder synced so the rename survives a crash.
pub fn write_key_file(path: &Path, hex: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a key file needs a folder"))?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    {
        // A temporary file left by an earlier crash keeps its mode: set it again.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(format!("{hex}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The schools' keys as a server sees them.
pub struct Keyring {
    dir: PathBuf,
}

impl Keyring {
    /// A keyring reading from this folder.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The folder the key files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The school's current key, carrying the keys of a rotation in progress and the replaced
    /// keys still on disk so that every recording opens; `None` if the school has no key.
    pub fn get(&self, school: &str) -> Option<Arc<Kek>> {
        let env = format!("LIVEGATE_KEK_{}", school.to_ascii_uppercase());
        let current = match std::env::var(&env) {
            Ok(hex) => Kek::from_hex(&hex).ok()?,
            Err(_) => Kek::from_file(&self.dir.join(current_file(school))).ok()?,
        };
        let next = std::iter::once(self.dir.join(next_file(school)));
        let older = next
            .chain(retired_paths(&self.dir, school))
            .filter_map(|p| Kek::from_file(&p).ok());
        Some(Arc::new(current.with_older(older)))
    }

    /// Writes a new key file for a school that has none (the demo does this at start-up).
    pub fn ensure(&self, school: &str) -> std::io::Result<()> {
        if self.get(school).is_some() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let hex = livegate_recorder::keys::generate_hex().map_err(std::io::Error::other)?;
        write_key_file(&self.dir.join(current_file(school)), &hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livegate_recorder::seal::DataKey;

    #[test]
    fn a_key_file_is_private_from_the_start_and_every_key_on_disk_opens() {
        let dir = std::env::temp_dir().join(format!("lg_keys_{}", livegate_core::ids::random_token(6)));
        let ring = Keyring::new(dir.clone());
        ring.ensure("sch_a").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("sch_a.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let old = ring.get("sch_a").unwrap();
        let dk = DataKey::generate().unwrap();
        let under_old = old.wrap("rec_1", &dk).unwrap();
        // A rotation moves the current key aside and puts a new one in its place.
        let old_hex = std::fs::read_to_string(dir.join("sch_a.key")).unwrap();
        write_key_file(&dir.join(retired_file("sch_a", old.id())), old_hex.trim()).unwrap();
        let new_hex = livegate_recorder::keys::generate_hex().unwrap();
        write_key_file(&dir.join("sch_a.key"), &new_hex).unwrap();
        let now = ring.get("sch_a").unwrap();
        assert_ne!(now.id(), old.id(), "read again, not cached");
        assert_eq!(now.unwrap("rec_1", &under_old).unwrap().expose(), dk.expose());
        let under_new = now.wrap("rec_1", &dk).unwrap();
        assert!(Kek::from_hex(&new_hex).unwrap().unwrap("rec_1", &under_new).is_ok());
        assert!(ring.get("sch_b").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
