//! The server's SDP handling: a publisher's offer goes through `media::check_offer` for each
//! stream kind before any peer connection is built. Bad SDP must be an error, never a panic,
//! and an accepted offer must send what its kind allows.

#![no_main]

use libfuzzer_sys::fuzz_target;
use livegate::media::check_offer;
use livegate_core::proto::StreamKind;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else { return };
    for kind in [StreamKind::Camera, StreamKind::Microphone, StreamKind::Screen] {
        if let Ok(summary) = check_offer(kind, sdp) {
            match kind {
                StreamKind::Camera => assert!(summary.video),
                StreamKind::Microphone => assert!(summary.audio && !summary.video),
                StreamKind::Screen => assert!(summary.video && !summary.audio),
            }
        }
    }
});
