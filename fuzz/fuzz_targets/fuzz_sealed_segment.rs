//! The sealed-segment reader (`livegate_recorder::seal`), as the leader review and the
//! recorder CLI use it on objects read back from storage: hostile bytes must be refused, never
//! open or panic. A second half seals the input and tampers with the result as the input
//! says: the untouched segment opens to the same bytes, any change is refused.

#![no_main]

use libfuzzer_sys::fuzz_target;
use livegate_recorder::keys::Kek;
use livegate_recorder::seal::{open, peek, seal_with_prefix, DataKey, Kind, HEADER_LEN};

const REC: &str = "rec_0123456789abcdef";

fn key() -> DataKey {
    // The key of the recorder's golden files, so the committed seeds are real segments.
    DataKey::from_bytes([7u8; 32])
}

fuzz_target!(|data: &[u8]| {
    // Read side: arbitrary bytes as a stored object.
    let _ = peek(data);
    for (kind, index) in [(Kind::Media, 2), (Kind::Manifest, 0)] {
        if let Ok(plain) = open(&key(), REC, kind, index, data) {
            // Only a real seal opens; re-sealing with its own prefix reproduces it.
            let prefix: [u8; 7] = data[14..HEADER_LEN].try_into().unwrap();
            assert_eq!(seal_with_prefix(&key(), REC, kind, index, &prefix, &plain), data);
        }
    }
    if let Ok(kek) = Kek::from_hex(&"ab".repeat(32)) {
        let _ = kek.unwrap(REC, data);
    }
    // Write-then-tamper side: the first 3 bytes choose a change, the rest is the plaintext.
    let Some((&[op, at_hi, at_lo], plain)) = data.split_first_chunk::<3>() else { return };
    let sealed = seal_with_prefix(&key(), REC, Kind::Media, 9, &[1, 2, 3, 4, 5, 6, 7], plain);
    assert_eq!(open(&key(), REC, Kind::Media, 9, &sealed).as_deref(), Ok(plain));
    let at = usize::from(u16::from_be_bytes([at_hi, at_lo])) % sealed.len();
    let mut bad = sealed.clone();
    match op % 4 {
        0 => bad[at] ^= 1 << (op >> 5),
        1 => bad.truncate(at),
        2 => bad.insert(at, op),
        _ => bad.extend_from_slice(&[op; 16]),
    }
    assert!(open(&key(), REC, Kind::Media, 9, &bad).is_err(), "a changed segment opened");
    assert!(open(&key(), REC, Kind::Media, 8, &sealed).is_err(), "a segment opened at another index");
    assert!(open(&key(), "rec_other", Kind::Media, 9, &sealed).is_err(), "a segment opened in another recording");
});
