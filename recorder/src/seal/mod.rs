//! Sealed segments: streaming authenticated encryption over AES-256-GCM (ring).
//!
//! Every recording has a random 256-bit data key. Each segment is sealed under its own key,
//! derived with HKDF-SHA256 from the data key, the recording id and the segment's index, so a
//! segment moved to another recording or another position does not open. A segment is a
//! header followed by chunks of at most 64 KiB of plaintext, each with its 16-byte tag:
//!
//! ```text
//! header  = "LGSG" | version (1) | kind (1: 0 media, 1 manifest) | index (u64 BE) | nonce prefix (7)
//! chunk i = AES-256-GCM(segment key, nonce = prefix | i (u32 BE) | last (0 or 1), aad = header, plaintext)
//! ```
//!
//! The header is authenticated with every chunk; the counter in the nonce catches reordered,
//! dropped or duplicated chunks; the last-chunk flag catches truncation (a segment whose final
//! chunk is not flagged last is refused). The format is frozen by golden files in `golden/`.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};

/// Marks a sealed segment.
pub const MAGIC: &[u8; 4] = b"LGSG";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Bytes of header.
pub const HEADER_LEN: usize = 4 + 1 + 1 + 8 + 7;
const TAG: usize = 16;

/// What a sealed object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A media segment (a self-contained WebM file).
    Media = 0,
    /// A recording's manifest.
    Manifest = 1,
}

/// Why a sealed object did not open. Deliberately coarse: a reader learns only that it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed segment")]
    NotSealed,
    #[error("unsupported format version {0}")]
    Version(u8),
    #[error("this segment belongs to another position or recording")]
    WrongSegment,
    #[error("the segment was altered or is incomplete")]
    Tampered,
    #[error("no randomness available")]
    Random,
}

/// A recording's 256-bit data key. Never printed.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, SealError> {
        let mut k = [0u8; 32];
        SystemRandom::new().fill(&mut k).map_err(|_| SealError::Random)?;
        Ok(Self(k))
    }

    /// A key from its bytes (unwrapping, tests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, for wrapping only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

struct Len32;

impl ring::hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn segment_key(key: &DataKey, recording: &str, kind: Kind, index: u64) -> LessSafeKey {
    let salt = Salt::new(HKDF_SHA256, recording.as_bytes());
    let prk = salt.extract(&key.0);
    let kind_byte = [kind as u8];
    let index_bytes = index.to_be_bytes();
    let info: [&[u8]; 3] = [b"livegate segment v1", &kind_byte, &index_bytes];
    let mut out = [0u8; 32];
    // HKDF-expand of 32 bytes from SHA-256 cannot fail.
    prk.expand(&info, Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("hkdf length");
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &out).expect("aes-256 key length"))
}

fn nonce(prefix: &[u8; 7], counter: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

fn header(kind: Kind, index: u64, prefix: &[u8; 7]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    h[5] = kind as u8;
    h[6..14].copy_from_slice(&index.to_be_bytes());
    h[14..].copy_from_slice(prefix);
    h
}

/// Seals `plaintext` as segment `index` of `recording`, with a fresh random nonce prefix.
pub fn seal(key: &DataKey, recording: &str, kind: Kind, index: u64, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut prefix = [0u8; 7];
    SystemRandom::new().fill(&mut prefix).map_err(|_| SealError::Random)?;
    Ok(seal_with_prefix(key, recording, kind, index, &prefix, plaintext))
}

/// Seals with a given nonce prefix: for golden files only; a prefix must never repeat under a key.
pub fn seal_with_prefix(
    key: &DataKey,
    recording: &str,
    kind: Kind,
    index: u64,
    prefix: &[u8; 7],
    plaintext: &[u8],
) -> Vec<u8> {
    let sk = segment_key(key, recording, kind, index);
    let head = header(kind, index, prefix);
    let chunks = plaintext.len().div_ceil(CHUNK).max(1);
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + chunks * TAG);
    out.extend_from_slice(&head);
    for i in 0..chunks {
        let part = &plaintext[(i * CHUNK).min(plaintext.len())..((i + 1) * CHUNK).min(plaintext.len())];
        let mut buf = part.to_vec();
        let last = i + 1 == chunks;
        // A plaintext of any size has at most u32::MAX chunks in practice (256 TiB).
        let tag = sk
            .seal_in_place_separate_tag(nonce(prefix, i as u32, last), Aad::from(&head), &mut buf)
            .expect("aes-gcm seal");
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_ref());
    }
    out
}

/// Reads the header of a sealed object: its kind and index.
pub fn peek(sealed: &[u8]) -> Result<(Kind, u64), SealError> {
    if sealed.len() < HEADER_LEN || &sealed[..4] != MAGIC {
        return Err(SealError::NotSealed);
    }
    if sealed[4] != VERSION {
        return Err(SealError::Version(sealed[4]));
    }
    let kind = match sealed[5] {
        0 => Kind::Media,
        1 => Kind::Manifest,
        _ => return Err(SealError::NotSealed),
    };
    let index = u64::from_be_bytes(sealed[6..14].try_into().expect("8 bytes"));
    Ok((kind, index))
}

/// Opens segment `index` of `recording`; fails unless every chunk authenticates, in order, and
/// the final chunk is the one flagged last.
pub fn open(key: &DataKey, recording: &str, kind: Kind, index: u64, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let (found_kind, found_index) = peek(sealed)?;
    if found_kind != kind || found_index != index {
        return Err(SealError::WrongSegment);
    }
    let head: [u8; HEADER_LEN] = sealed[..HEADER_LEN].try_into().expect("header length");
    let prefix: [u8; 7] = head[14..].try_into().expect("prefix length");
    let sk = segment_key(key, recording, kind, index);
    let body = &sealed[HEADER_LEN..];
    let mut out = Vec::with_capacity(body.len());
    let mut offset = 0;
    let mut counter: u32 = 0;
    loop {
        let remaining = body.len() - offset;
        if remaining < TAG {
            return Err(SealError::Tampered);
        }
        let take = remaining.min(CHUNK + TAG);
        let last = take == remaining;
        let mut buf = body[offset..offset + take].to_vec();
        let plain = sk
            .open_in_place(nonce(&prefix, counter, last), Aad::from(&head), &mut buf)
            .map_err(|_| SealError::Tampered)?;
        out.extend_from_slice(plain);
        offset += take;
        if last {
            return Ok(out);
        }
        counter = counter.checked_add(1).ok_or(SealError::Tampered)?;
    }
}

#[cfg(test)]
mod tests;
