//! Where sealed objects live: a local folder (the embedded default) or an S3-compatible bucket
//! (Garage in the tests) through rust-s3, behind one type.
//!
//! Keys are opaque: a random recording id and a segment number. No name, email or class ever
//! appears in a key or in object metadata.

use std::path::{Path, PathBuf};

use s3::creds::Credentials;
use s3::{Bucket, Region};

/// Why an object-store call failed. Callers retry these: the spool keeps the data meanwhile.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object store i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store: {0}")]
    S3(String),
    #[error("no such object")]
    NotFound,
    #[error("invalid object key")]
    BadKey,
}

/// Where to keep objects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ObjectStoreConfig {
    /// A folder on this machine.
    Local { path: PathBuf },
    /// An S3-compatible bucket, addressed path-style.
    S3 {
        endpoint: String,
        region: String,
        bucket: String,
        access_key: String,
        secret_key: String,
    },
}

/// An object store.
pub enum Objects {
    Local(PathBuf),
    S3(Box<Bucket>),
}

/// Keys are `[a-z0-9_]` segments joined by `/`: nothing else is ever stored.
fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 200
        && key.split('/').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadKey)
    }
}

fn s3_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::S3(e.to_string())
}

impl Objects {
    /// Opens the configured store.
    pub fn open(config: &ObjectStoreConfig) -> Result<Self, StoreError> {
        match config {
            ObjectStoreConfig::Local { path } => {
                std::fs::create_dir_all(path)?;
                Ok(Objects::Local(path.clone()))
            }
            ObjectStoreConfig::S3 {
                endpoint,
                region,
                bucket,
                access_key,
                secret_key,
            } => {
                let region = Region::Custom {
                    region: region.clone(),
                    endpoint: endpoint.clone(),
                };
                let creds = Credentials::new(Some(access_key), Some(secret_key), None, None, None).map_err(s3_err)?;
                let bucket = Bucket::new(bucket, region, creds).map_err(s3_err)?.with_path_style();
                Ok(Objects::S3(bucket))
            }
        }
    }

    fn local_path(root: &Path, key: &str) -> PathBuf {
        root.join(key)
    }

    /// Stores an object (replacing any with the same key), durably for the local folder.
    pub async fn put(&self, key: &str, data: &[u8]) -> Result<(), StoreError> {
        check_key(key)?;
        match self {
            Objects::Local(root) => {
                let path = Self::local_path(root, key);
                let dir = path.parent().ok_or(StoreError::BadKey)?.to_owned();
                let tmp = path.with_extension("part");
                let data = data.to_vec();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    write_durably(&tmp, &data)?;
                    std::fs::rename(&tmp, &path)?;
                    std::fs::File::open(&dir)?.sync_all()
                })
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
                Ok(())
            }
            Objects::S3(bucket) => {
                let r = bucket.put_object(key, data).await.map_err(s3_err)?;
                if r.status_code() / 100 == 2 {
                    Ok(())
                } else {
                    Err(StoreError::S3(format!("status {}", r.status_code())))
                }
            }
        }
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        check_key(key)?;
        match self {
            Objects::Local(root) => match tokio::fs::read(Self::local_path(root, key)).await {
                Ok(v) => Ok(v),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound),
                Err(e) => Err(e.into()),
            },
            Objects::S3(bucket) => match bucket.get_object(key).await {
                Ok(r) if r.status_code() == 200 => Ok(r.to_vec()),
                Ok(r) if r.status_code() == 404 => Err(StoreError::NotFound),
                Ok(r) => Err(StoreError::S3(format!("status {}", r.status_code()))),
                Err(e) if e.to_string().contains("404") => Err(StoreError::NotFound),
                Err(e) => Err(s3_err(e)),
            },
        }
    }

    /// Deletes an object; deleting a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        match self {
            Objects::Local(root) => match tokio::fs::remove_file(Self::local_path(root, key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            Objects::S3(bucket) => bucket.delete_object(key).await.map(|_| ()).map_err(s3_err),
        }
    }

    /// The keys under a prefix (a recording id), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        check_key(prefix)?;
        let mut keys = match self {
            Objects::Local(root) => {
                let dir = Self::local_path(root, prefix);
                let mut keys = Vec::new();
                match std::fs::read_dir(&dir) {
                    Ok(entries) => {
                        for e in entries.flatten() {
                            let name = e.file_name().to_string_lossy().into_owned();
                            if check_key(&name).is_ok() {
                                keys.push(format!("{prefix}/{name}"));
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
                keys
            }
            Objects::S3(bucket) => {
                let pages = bucket.list(format!("{prefix}/"), None).await.map_err(s3_err)?;
                pages
                    .into_iter()
                    .flat_map(|p| p.contents.into_iter().map(|o| o.key))
                    .collect()
            }
        };
        keys.sort();
        Ok(keys)
    }
}

impl Objects {
    /// Every key in the store, sorted (for audits and tests: it reads the whole listing).
    pub async fn list_all(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = match self {
            Objects::Local(root) => {
                let mut keys = Vec::new();
                let prefixes = match std::fs::read_dir(root) {
                    Ok(entries) => entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect::<Vec<_>>(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
                for prefix in prefixes.into_iter().filter(|p| check_key(p).is_ok()) {
                    keys.extend(self.list(&prefix).await?);
                }
                keys
            }
            Objects::S3(bucket) => {
                let pages = bucket.list(String::new(), None).await.map_err(s3_err)?;
                pages
                    .into_iter()
                    .flat_map(|p| p.contents.into_iter().map(|o| o.key))
                    .collect()
            }
        };
        keys.sort();
        Ok(keys)
    }
}

/// Writes a file and syncs it to disk before returning.
pub fn write_durably(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_folder_round_trip() {
        let dir = std::env::temp_dir().join(format!("lg_obj_{}", rand::random::<u64>()));
        let store = Objects::open(&ObjectStoreConfig::Local { path: dir.clone() }).unwrap();
        store.put("rec_ab12/s00000001", b"one").await.unwrap();
        store.put("rec_ab12/s00000000", b"zero").await.unwrap();
        assert_eq!(store.get("rec_ab12/s00000001").await.unwrap(), b"one");
        assert_eq!(
            store.list("rec_ab12").await.unwrap(),
            vec!["rec_ab12/s00000000", "rec_ab12/s00000001"]
        );
        store.put("rec_cd34/key", b"k").await.unwrap();
        assert_eq!(
            store.list_all().await.unwrap(),
            vec!["rec_ab12/s00000000", "rec_ab12/s00000001", "rec_cd34/key"]
        );
        store.delete("rec_ab12/s00000001").await.unwrap();
        store.delete("rec_ab12/s00000001").await.unwrap();
        assert!(matches!(
            store.get("rec_ab12/s00000001").await,
            Err(StoreError::NotFound)
        ));
        for bad in ["", "../etc/passwd", "Rec/x", "a//b", "a/b.c", "/abs"] {
            assert!(matches!(store.put(bad, b"x").await, Err(StoreError::BadKey)), "{bad}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
