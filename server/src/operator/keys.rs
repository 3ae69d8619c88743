//! `livegate keys rotate --school ID`: a new key-encryption key for a school, and every
//! recording's data key re-wrapped with it, so the old key can then be deleted.
//!
//! A recording's wrapped data key has up to three copies: in the object store beside its
//! segments (`<recording>/key`, what playback reads), in the spool while the recording is not
//! yet all uploaded (`key.wrapped`), and in the database. The rotation runs in steps that can
//! each be cut short (`kill -9`, a power cut) and simply run again:
//!
//! 1. the new key is written to `<id>.next.key` (whole, mode 0600), or the one already there
//!    from an interrupted run is taken up again;
//! 2. every copy of every recording's data key that the new key alone does not open is
//!    re-wrapped with it, each copy replaced whole (a rename, or one object put);
//! 3. the current key is kept as `<id>.old-<key id>.key` and the new key replaces it (a
//!    rename); from then on servers wrap new recordings with it;
//! 4. step 2 again, for recordings a running server began with the old key in between;
//! 5. a check that the new key alone opens every copy; only then `<id>.next.key` goes, and the
//!    rotation is on the school's audit chain.
//!
//! At every moment each copy is wrapped by a key on disk (the old one is never removed by the
//! rotation), and a server opens a recording with any of them (`crate::recording::keys`), so
//! no recording is ever left that no key opens. The operator deletes the old key file once
//! the rotation says it is no longer needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use livegate_core::ids::SchoolId;
use livegate_recorder::keys::Kek;
use livegate_recorder::objstore::{self, Objects};
use livegate_recorder::spool::key_object;
use serde_json::json;

use super::{Operator, OperatorError};
use crate::recording::keys::{current_file, next_file, retired_file, retired_paths, write_key_file};
use crate::store::unhex;

/// What a finished rotation did.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub school: SchoolId,
    /// The new key's public id.
    pub new_key: String,
    /// The replaced key's public id and where it is kept (absent when a run that had already
    /// replaced it was resumed).
    pub old_key: Option<(String, PathBuf)>,
    /// Copies of data keys re-wrapped by this run (object, spool and database copies).
    pub rewrapped: usize,
    /// Recordings the school has (destroyed ones have no key left to re-wrap).
    pub recordings: usize,
    /// True if this run took up a rotation an earlier run left unfinished.
    pub resumed: bool,
}

/// What the rotation reports as it goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Starting (or taking up again) a rotation to this key.
    Started {
        new_key: String,
        resumed: bool,
        recordings: usize,
    },
    /// One recording's copies now open with the new key.
    Rewrapped { recording: String, done: usize, of: usize },
    /// The new key is now the school's current key.
    Promoted,
}

/// The keys a rotation works with.
struct RotationKeys {
    /// The new key alone: what every copy must open with at the end.
    new_alone: Kek,
    /// The new key carrying every other key on disk: what any copy opens with.
    any: Kek,
}

impl Operator {
    /// Rotates a school's key (or resumes an interrupted rotation), waiting `pause` between
    /// recordings to spare a shared object store.
    pub async fn rotate_key(
        &self,
        school: &str,
        pause: Duration,
        mut progress: impl FnMut(Progress),
    ) -> Result<Rotated, OperatorError> {
        let id = self.known_school(school).await?;
        let env = id.as_str().to_ascii_uppercase();
        if std::env::var_os(format!("LIVEGATE_KEK_{env}")).is_some() {
            return Err(OperatorError::KeyFromEnvironment(id.to_string(), env));
        }
        let current_path = self.keys_dir.join(current_file(id.as_str()));
        let next_path = self.keys_dir.join(next_file(id.as_str()));
        if !current_path.exists() {
            return Err(OperatorError::NoKey {
                school: id.to_string(),
                path: current_path,
            });
        }
        let current_hex = read_hex(&current_path)?;
        let resumed = next_path.exists();
        let next_hex = if resumed {
            read_hex(&next_path)?
        } else {
            let hex = livegate_recorder::keys::generate_hex().map_err(|e| self.folder(std::io::Error::other(e)))?;
            write_key_file(&next_path, &hex).map_err(|e| self.folder(e))?;
            hex
        };
        let objects = Objects::open(&self.objects)?;
        let keys = self.rotation_keys(&id, &next_hex)?;
        if !resumed {
            let detail = json!({"new_key": keys.new_alone.id()});
            self.store
                .audit_operator(&self.actor, &id, "keys.rotate.begin", &detail)
                .await?;
        }
        let recordings = self.store.wrapped_keys(&id).await?;
        progress(Progress::Started {
            new_key: keys.new_alone.id().to_owned(),
            resumed,
            recordings: recordings.len(),
        });
        let mut rewrapped = self.rewrap_all(&id, &objects, &keys, pause, &mut progress).await?;
        let old_key = if current_hex != next_hex {
            let old = kek(&current_hex, &current_path)?;
            let kept = self.keys_dir.join(retired_file(id.as_str(), old.id()));
            write_key_file(&kept, &current_hex).map_err(|e| self.folder(e))?;
            write_key_file(&current_path, &next_hex).map_err(|e| self.folder(e))?;
            progress(Progress::Promoted);
            Some((old.id().to_owned(), kept))
        } else {
            None
        };
        // Recordings a running server began with the old key while step 2 ran.
        rewrapped += self
            .rewrap_all(&id, &objects, &keys, Duration::ZERO, &mut |_| {})
            .await?;
        self.check_all(&id, &objects, &keys.new_alone).await?;
        std::fs::remove_file(&next_path).map_err(|e| self.folder(e))?;
        let detail = json!({
            "new_key": keys.new_alone.id(),
            "old_key": old_key.as_ref().map(|(k, _)| k),
            "rewrapped": rewrapped,
            "resumed": resumed,
        });
        self.store
            .audit_operator(&self.actor, &id, "keys.rotate", &detail)
            .await?;
        tracing::info!(school = %id, new_key = keys.new_alone.id(), rewrapped, actor = %self.actor, "key rotated");
        Ok(Rotated {
            school: id,
            new_key: keys.new_alone.id().to_owned(),
            old_key,
            rewrapped,
            recordings: recordings.len(),
            resumed,
        })
    }

    fn folder(&self, source: std::io::Error) -> OperatorError {
        OperatorError::KeysFolder {
            path: self.keys_dir.clone(),
            source,
        }
    }

    /// The new key alone, and the new key with every other key of the school on disk.
    fn rotation_keys(&self, school: &SchoolId, next_hex: &str) -> Result<RotationKeys, OperatorError> {
        let next_path = self.keys_dir.join(next_file(school.as_str()));
        let current_path = self.keys_dir.join(current_file(school.as_str()));
        let mut others = vec![kek(&read_hex(&current_path)?, &current_path)?];
        for path in retired_paths(&self.keys_dir, school.as_str()) {
            others.push(kek(&read_hex(&path)?, &path)?);
        }
        Ok(RotationKeys {
            new_alone: kek(next_hex, &next_path)?,
            any: kek(next_hex, &next_path)?.with_older(others),
        })
    }

    /// Re-wraps every copy of every recording's data key that the new key alone does not
    /// open. Returns how many copies it re-wrapped.
    async fn rewrap_all(
        &self,
        school: &SchoolId,
        objects: &Objects,
        keys: &RotationKeys,
        pause: Duration,
        progress: &mut impl FnMut(Progress),
    ) -> Result<usize, OperatorError> {
        let rows = self.store.wrapped_keys(school).await?;
        let (mut count, mut unopenable) = (0, Vec::new());
        for (n, row) in rows.iter().enumerate() {
            match self
                .rewrap_one(school, objects, keys, &row.recording, row.wrapped_key.as_deref())
                .await?
            {
                Some(0) => continue,
                Some(copies) => count += copies,
                None => {
                    unopenable.push(row.recording.clone());
                    continue;
                }
            }
            progress(Progress::Rewrapped {
                recording: row.recording.clone(),
                done: n + 1,
                of: rows.len(),
            });
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        if unopenable.is_empty() {
            Ok(count)
        } else {
            Err(OperatorError::Unopenable(unopenable))
        }
    }

    /// Re-wraps one recording's copies (spool first: the uploader sends what the spool holds;
    /// then the object store; then the database). `None` if a copy opens with no key.
    async fn rewrap_one(
        &self,
        school: &SchoolId,
        objects: &Objects,
        keys: &RotationKeys,
        recording: &str,
        in_db: Option<&str>,
    ) -> Result<Option<usize>, OperatorError> {
        let mut copies = 0;
        let spooled = self.spool_dir.join(recording).join("key.wrapped");
        if let Some(wrapped) = read_optional(&spooled).map_err(|e| self.spool(e))? {
            match rewrapped(keys, recording, &wrapped) {
                Err(()) => return Ok(None),
                Ok(Some(new)) => match replace_file(&spooled, &new) {
                    Ok(()) => copies += 1,
                    // Uploaded whole and cleared meanwhile: the object store's copy is next.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.spool(e)),
                },
                Ok(None) => {}
            }
        }
        if let Some(wrapped) = get_optional(objects, &key_object(recording)).await? {
            match rewrapped(keys, recording, &wrapped) {
                Err(()) => return Ok(None),
                Ok(Some(new)) => {
                    objects.put(&key_object(recording), &new).await?;
                    copies += 1;
                }
                Ok(None) => {}
            }
        }
        if let Some(hex) = in_db {
            let wrapped = unhex(hex).unwrap_or_default();
            match rewrapped(keys, recording, &wrapped) {
                Err(()) => return Ok(None),
                Ok(Some(new)) => {
                    let new_hex: String = new.iter().map(|b| format!("{b:02x}")).collect();
                    // A recording destroyed meanwhile keeps no key: not replacing it is right.
                    if self.store.replace_wrapped_key(school, recording, hex, &new_hex).await? {
                        copies += 1;
                    }
                }
                Ok(None) => {}
            }
        }
        Ok(Some(copies))
    }

    /// Checks that the new key alone opens every copy of every recording's data key.
    async fn check_all(&self, school: &SchoolId, objects: &Objects, new_alone: &Kek) -> Result<(), OperatorError> {
        let mut left = Vec::new();
        for row in self.store.wrapped_keys(school).await? {
            let r = &row.recording;
            let spooled = read_optional(&self.spool_dir.join(r).join("key.wrapped")).map_err(|e| self.spool(e))?;
            let stored = get_optional(objects, &key_object(r)).await?;
            let in_db = row.wrapped_key.as_deref().map(|h| unhex(h).unwrap_or_default());
            let opens = |w: &Vec<u8>| new_alone.unwrap(r, w).is_ok();
            if ![spooled, stored, in_db].iter().flatten().all(opens) {
                left.push(r.clone());
            }
        }
        if left.is_empty() {
            Ok(())
        } else {
            Err(OperatorError::Unopenable(left))
        }
    }

    fn spool(&self, source: std::io::Error) -> OperatorError {
        OperatorError::Spool {
            path: self.spool_dir.clone(),
            source,
        }
    }
}

/// The copy re-wrapped with the new key: `Ok(None)` if the new key alone already opens it,
/// `Err` if no key opens it.
fn rewrapped(keys: &RotationKeys, recording: &str, wrapped: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    if keys.new_alone.unwrap(recording, wrapped).is_ok() {
        return Ok(None);
    }
    let data_key = keys.any.unwrap(recording, wrapped).map_err(|_| ())?;
    keys.new_alone.wrap(recording, &data_key).map(Some).map_err(|_| ())
}

fn read_hex(path: &Path) -> Result<String, OperatorError> {
    let text = std::fs::read_to_string(path).map_err(|e| OperatorError::BadKey {
        path: path.to_owned(),
        source: livegate_recorder::keys::KeyError::Read(e),
    })?;
    Ok(text.trim().to_owned())
}

fn kek(hex: &str, path: &Path) -> Result<Kek, OperatorError> {
    Kek::from_hex(hex).map_err(|source| OperatorError::BadKey {
        path: path.to_owned(),
        source,
    })
}

fn read_optional(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

async fn get_optional(objects: &Objects, key: &str) -> Result<Option<Vec<u8>>, OperatorError> {
    match objects.get(key).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(objstore::StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a file whole: a synced temporary file renamed over it.
fn replace_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    objstore::write_durably(&tmp, data)?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
