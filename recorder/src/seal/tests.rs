//! The sealed format: round trips, golden files, and every kind of tampering detected.

use super::*;

fn key() -> DataKey {
    DataKey::from_bytes([7u8; 32])
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

const REC: &str = "rec_0123456789abcdef";

#[test]
fn round_trips_at_chunk_boundaries() {
    for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
        let plain = sample(len);
        let sealed = seal(&key(), REC, Kind::Media, 4, &plain).unwrap();
        assert_eq!(open(&key(), REC, Kind::Media, 4, &sealed).unwrap(), plain, "len {len}");
        assert_eq!(sealed.len(), HEADER_LEN + len + len.div_ceil(CHUNK).max(1) * TAG);
        assert_eq!(peek(&sealed).unwrap(), (Kind::Media, 4));
    }
}

#[test]
fn golden_files_freeze_the_format() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");
    let cases: [(&str, usize); 2] = [("segment-small.sealed", 100), ("segment-two-chunks.sealed", CHUNK + 10)];
    for (name, len) in cases {
        let sealed = seal_with_prefix(&key(), REC, Kind::Media, 2, &[1, 2, 3, 4, 5, 6, 7], &sample(len));
        let path = format!("{dir}/{name}");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &sealed).unwrap();
        }
        let golden = std::fs::read(&path).unwrap();
        assert_eq!(
            sealed, golden,
            "{name}: the sealed format changed; bump VERSION instead"
        );
        assert_eq!(open(&key(), REC, Kind::Media, 2, &golden).unwrap(), sample(len));
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let sealed = seal(&key(), REC, Kind::Media, 1, &sample(300)).unwrap();
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut bad = sealed.clone();
            bad[byte] ^= 1 << bit;
            assert!(
                open(&key(), REC, Kind::Media, 1, &bad).is_err(),
                "flip at byte {byte} bit {bit} went unnoticed"
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_is_detected() {
    let plain = sample(2 * CHUNK + 5);
    let sealed = seal(&key(), REC, Kind::Media, 1, &plain).unwrap();
    for len in 0..sealed.len() {
        assert!(
            open(&key(), REC, Kind::Media, 1, &sealed[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = sealed.clone();
    longer.extend_from_slice(&[0; 16]);
    assert!(open(&key(), REC, Kind::Media, 1, &longer).is_err());
}

fn chunks(sealed: &[u8]) -> Vec<Vec<u8>> {
    sealed[HEADER_LEN..].chunks(CHUNK + TAG).map(<[u8]>::to_vec).collect()
}

fn assemble(header: &[u8], parts: &[Vec<u8>]) -> Vec<u8> {
    let mut v = header.to_vec();
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

#[test]
fn swapped_reordered_duplicated_or_dropped_chunks_are_detected() {
    let sealed = seal(&key(), REC, Kind::Media, 1, &sample(3 * CHUNK)).unwrap();
    let head = &sealed[..HEADER_LEN];
    let c = chunks(&sealed);
    assert_eq!(c.len(), 3);
    let variants = [
        vec![c[1].clone(), c[0].clone(), c[2].clone()],
        vec![c[0].clone(), c[2].clone(), c[1].clone()],
        vec![c[0].clone(), c[0].clone(), c[2].clone()],
        vec![c[0].clone(), c[2].clone()],
        vec![c[0].clone(), c[1].clone()],
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_eq!(
            open(&key(), REC, Kind::Media, 1, &assemble(head, v)),
            Err(SealError::Tampered),
            "variant {i}"
        );
    }
    // A chunk taken from another segment of the same recording does not fit either.
    let other = seal(&key(), REC, Kind::Media, 2, &sample(3 * CHUNK)).unwrap();
    let mixed = vec![c[0].clone(), chunks(&other)[1].clone(), c[2].clone()];
    assert_eq!(
        open(&key(), REC, Kind::Media, 1, &assemble(head, &mixed)),
        Err(SealError::Tampered)
    );
}

#[test]
fn segments_cannot_move_between_positions_or_recordings() {
    let sealed = seal(&key(), REC, Kind::Media, 5, &sample(1000)).unwrap();
    assert_eq!(open(&key(), REC, Kind::Media, 6, &sealed), Err(SealError::WrongSegment));
    assert_eq!(
        open(&key(), REC, Kind::Manifest, 5, &sealed),
        Err(SealError::WrongSegment)
    );
    assert_eq!(
        open(&key(), "rec_another", Kind::Media, 5, &sealed),
        Err(SealError::Tampered)
    );
    assert_eq!(
        open(&DataKey::from_bytes([8; 32]), REC, Kind::Media, 5, &sealed),
        Err(SealError::Tampered)
    );
    // Rewriting the index in the header does not help: the header is authenticated and the
    // key depends on the index.
    let mut moved = sealed.clone();
    moved[6..14].copy_from_slice(&6u64.to_be_bytes());
    assert_eq!(open(&key(), REC, Kind::Media, 6, &moved), Err(SealError::Tampered));
}

#[test]
fn garbage_never_panics() {
    for bad in [
        &b""[..],
        b"LGSG",
        b"LGSG\x02\x00",
        b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        &[0u8; HEADER_LEN + 15],
    ] {
        assert!(open(&key(), REC, Kind::Media, 0, bad).is_err());
    }
    assert_eq!(
        peek(b"LGSG\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
        Err(SealError::Version(9))
    );
}
