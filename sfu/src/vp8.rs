//! Just enough of the VP8 RTP payload format (RFC 7741) to see where a keyframe starts.

/// True if this RTP payload is the first packet of a VP8 keyframe.
pub fn is_vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start || partition != 0 {
        return false;
    }
    let mut i = 1;
    if extended {
        let Some(&x) = payload.get(i) else { return false };
        i += 1;
        if x & 0x80 != 0 {
            // PictureID: one byte, or two when its M bit is set.
            let Some(&p) = payload.get(i) else { return false };
            i += if p & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    // The VP8 payload header: bit 0 of the first byte is P, the inverse keyframe flag.
    payload.get(i).is_some_and(|b| b & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keyframes() {
        // S=1, PID=0, no extension; payload header P=0.
        assert!(is_vp8_keyframe_start(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
        // Same but P=1: an interframe.
        assert!(!is_vp8_keyframe_start(&[0x10, 0x01]));
        // Extended with a two-byte picture id, TL0PICIDX and KEYIDX.
        assert!(is_vp8_keyframe_start(&[0x90, 0xf0, 0x81, 0x23, 0x04, 0x05, 0x00]));
        // Not the start of a partition.
        assert!(!is_vp8_keyframe_start(&[0x00, 0x00]));
        // Truncated input never panics.
        for len in 0..7 {
            let _ = is_vp8_keyframe_start(&[0x90, 0xf0, 0x81, 0x23, 0x04, 0x05, 0x00][..len]);
        }
    }

    #[test]
    fn keyframe_detection() {
        // What the test clients' encoder sends (these cases were the test harness's own copy of
        // this check): a keyframe's payload header, then the start code 9d 01 2a.
        let key = [0x10, 0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01];
        assert!(is_vp8_keyframe_start(&key));
        // Same with an extension carrying a 15-bit picture id.
        let key_ext = [0x90, 0x80, 0x81, 0x23, 0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a];
        assert!(is_vp8_keyframe_start(&key_ext));
        // Interframe (P bit set).
        let inter = [0x10, 0x51, 0x00, 0x00, 0x9d, 0x01, 0x2a];
        assert!(!is_vp8_keyframe_start(&inter));
        // Continuation packet (S=0).
        let cont = [0x00, 0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a];
        assert!(!is_vp8_keyframe_start(&cont));
    }
}
