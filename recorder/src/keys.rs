//! The school's key-encryption key (KEK) and wrapping of recording data keys.
//!
//! A recording's data key is stored only wrapped: AES-256-GCM under the school's KEK, with the
//! recording id as associated data so a wrapped key cannot be moved to another recording. The
//! KEK itself comes from a secret file or an environment variable, never from the database,
//! so a copy of the database and the bucket together still do not open a recording.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};

use crate::seal::{DataKey, SealError};

const WRAP_VERSION: u8 = 1;
const WRAPPED_LEN: usize = 1 + 12 + 32 + 16;

/// A school's key-encryption key, with any older keys it replaced that may still open some
/// recordings while a rotation (`livegate keys rotate`) is under way: new data keys are
/// wrapped with the newest key only; unwrapping tries it first, then the older ones. Never
/// printed.
pub struct Kek {
    key: LessSafeKey,
    id: String,
    older: Vec<LessSafeKey>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

/// Why a KEK could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key file could not be read: {0}")]
    Read(std::io::Error),
    #[error("a key must be 64 hexadecimal characters (32 bytes)")]
    Format,
}

impl Kek {
    /// Parses a key written as 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        if t.len() != 64 {
            return Err(KeyError::Format);
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(t.get(2 * i..2 * i + 2).ok_or(KeyError::Format)?, 16)
                .map_err(|_| KeyError::Format)?;
        }
        // A public name for the key (in the audit chain and the operator's output): a hash
        // that reveals nothing of it.
        let id = ring::digest::digest(
            &ring::digest::SHA256,
            &[b"livegate kek id v1:".as_slice(), &bytes].concat(),
        )
        .as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::Format)?),
            id,
            older: Vec::new(),
        })
    }

    /// This key, also opening data keys wrapped by `older` (and by the keys they carry).
    pub fn with_older(mut self, older: impl IntoIterator<Item = Kek>) -> Self {
        for k in older {
            self.older.push(k.key);
            self.older.extend(k.older);
        }
        self
    }

    /// The key's public name: 16 hex characters of a hash of it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads a key file (as written by [`generate_hex`]).
    pub fn from_file(path: &std::path::Path) -> Result<Self, KeyError> {
        Self::from_hex(&std::fs::read_to_string(path).map_err(KeyError::Read)?)
    }

    /// Wraps a recording's data key.
    pub fn wrap(&self, recording: &str, key: &DataKey) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; 12];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buf = key.expose().to_vec();
        let aad = [b"livegate data key v1:".as_slice(), recording.as_bytes()].concat();
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut buf)
            .map_err(|_| SealError::Tampered)?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Unwraps a recording's data key, with this key or else any older one it carries.
    pub fn unwrap(&self, recording: &str, wrapped: &[u8]) -> Result<DataKey, SealError> {
        if wrapped.len() != WRAPPED_LEN || wrapped[0] != WRAP_VERSION {
            return Err(SealError::NotSealed);
        }
        std::iter::once(&self.key)
            .chain(&self.older)
            .find_map(|key| open_wrapped(key, recording, wrapped))
            .ok_or(SealError::Tampered)
    }
}

fn open_wrapped(key: &LessSafeKey, recording: &str, wrapped: &[u8]) -> Option<DataKey> {
    let nonce: [u8; 12] = wrapped[1..13].try_into().expect("12 bytes");
    let mut buf = wrapped[13..].to_vec();
    let aad = [b"livegate data key v1:".as_slice(), recording.as_bytes()].concat();
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut buf)
        .ok()?;
    let bytes: [u8; 32] = plain.try_into().ok()?;
    Some(DataKey::from_bytes(bytes))
}

/// A new random key as 64 hex characters, for a key file.
pub fn generate_hex() -> Result<String, SealError> {
    let mut k = [0u8; 32];
    SystemRandom::new().fill(&mut k).map_err(|_| SealError::Random)?;
    Ok(k.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trip_and_binding() {
        let kek = Kek::from_hex(&generate_hex().unwrap()).unwrap();
        let dk = DataKey::generate().unwrap();
        let wrapped = kek.wrap("rec_a", &dk).unwrap();
        assert_eq!(kek.unwrap("rec_a", &wrapped).unwrap().expose(), dk.expose());
        assert_eq!(kek.unwrap("rec_b", &wrapped).unwrap_err(), SealError::Tampered);
        let other = Kek::from_hex(&generate_hex().unwrap()).unwrap();
        assert!(other.unwrap("rec_a", &wrapped).is_err());
        for i in 0..wrapped.len() {
            let mut bad = wrapped.clone();
            bad[i] ^= 0x40;
            assert!(kek.unwrap("rec_a", &bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn an_older_key_still_opens_and_the_newest_wraps() {
        let (old_hex, new_hex) = (generate_hex().unwrap(), generate_hex().unwrap());
        let old = Kek::from_hex(&old_hex).unwrap();
        let dk = DataKey::generate().unwrap();
        let under_old = old.wrap("rec_a", &dk).unwrap();
        let both = Kek::from_hex(&new_hex)
            .unwrap()
            .with_older([Kek::from_hex(&old_hex).unwrap()]);
        assert_eq!(both.unwrap("rec_a", &under_old).unwrap().expose(), dk.expose());
        let under_new = both.wrap("rec_a", &dk).unwrap();
        let new_alone = Kek::from_hex(&new_hex).unwrap();
        assert_eq!(new_alone.unwrap("rec_a", &under_new).unwrap().expose(), dk.expose());
        assert!(old.unwrap("rec_a", &under_new).is_err(), "the newest key wraps");
        assert!(new_alone.unwrap("rec_a", &under_old).is_err());
        assert_eq!(both.id(), new_alone.id());
        assert_ne!(old.id(), new_alone.id());
        assert_eq!(old.id().len(), 16);
    }

    #[test]
    fn key_text_is_checked() {
        assert!(Kek::from_hex("abc").is_err());
        assert!(Kek::from_hex(&"zz".repeat(32)).is_err());
        assert!(Kek::from_hex(&format!(" {} \n", "ab".repeat(32))).is_ok());
        assert_eq!(
            format!("{:?}", Kek::from_hex(&"ab".repeat(32)).unwrap()),
            "Kek(<redacted>)"
        );
    }
}
