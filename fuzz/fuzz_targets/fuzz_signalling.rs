//! Signalling messages: whatever a WebSocket client sends is parsed as the server parses it
//! (`serde_json` into `ClientMsg`, as `http::ws` does); anything that parses must survive a
//! round trip unchanged, so the written protocol and the parser agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use livegate_core::proto::{ClientMsg, ServerMsg};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(msg) = serde_json::from_str::<ClientMsg>(text) {
            let again = serde_json::to_string(&msg).expect("a parsed message serialises");
            let back: ClientMsg = serde_json::from_str(&again).expect("a serialised message parses");
            assert_eq!(back, msg, "round trip changed the message");
        }
    }
    let _ = serde_json::from_slice::<ClientMsg>(data);
    // The client side (web client, test harness) parses server messages the same way.
    if let Ok(msg) = serde_json::from_slice::<ServerMsg>(data) {
        let again = serde_json::to_vec(&msg).expect("a parsed message serialises");
        let back: ServerMsg = serde_json::from_slice(&again).expect("a serialised message parses");
        assert_eq!(back, msg, "round trip changed the message");
    }
});
