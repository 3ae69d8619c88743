//! Signalling: malformed, oversized, nested and out-of-order messages, floods, bad and
//! oversized SDP, and streams that are not the sender's. A fresh admitted pupil is the
//! hostile peer; each bad message gets its stable code and the socket keeps serving unless the
//! protocol says it closes.

use crate::fixture::*;
use crate::privilege::grant;
use anyhow::{bail, ensure, Result};
use livegate_tests::participant::{open_and_join_as, SIGNAL_TIMEOUT};
use livegate_tests::rtc_client::PendingPublisher;
use livegate_tests::signal::msg_type;
use livegate_tests::{Conn, Participant};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A fresh pupil sends each raw frame and must get `want` for every one; then their socket
/// still answers and the lesson goes on.
async fn frames_get(s: &Shared, frames: &[String], want: &str) -> Result<Participant> {
    let pupil = s.join_fresh().await?;
    for f in frames {
        expect_error_text(&pupil, f, want).await?;
    }
    pupil.conn.ping_pong(SIGNAL_TIMEOUT).await?;
    s.nothing_from(&pupil.id)?;
    s.control_keeps_receiving().await?;
    Ok(pupil)
}

#[test]
fn malformed_json_is_bad_message() {
    shared_case(|s| async move {
        let frames = [
            "{",
            "{\"type\": \"ping\"",
            "null",
            "\"ping\"",
            "[]",
            "{\"type\":\"ping\"}{\"type\":\"ping\"}",
            "",
        ]
        .map(String::from);
        frames_get(s, &frames, "bad_message").await.map(drop)
    });
}

#[test]
fn unknown_message_type_is_bad_message() {
    shared_case(|s| async move {
        let frames = [
            json!({"type": "become_teacher"}),
            json!({"type": "PING"}),
            json!({"type": ""}),
            json!({"no_type": 1}),
        ]
        .map(|v| v.to_string());
        frames_get(s, &frames, "bad_message").await.map(drop)
    });
}

#[test]
fn unknown_field_is_bad_message() {
    shared_case(|s| async move {
        let frames = [
            json!({"type": "hand", "raised": true, "role": "teacher"}),
            json!({"type": "ping", "as": "teacher"}),
            json!({"type": "unpublish", "stream_id": "x", "participant_id": "p_1"}),
        ]
        .map(|v| v.to_string());
        frames_get(s, &frames, "bad_message").await.map(drop)
    });
}

#[test]
fn wrong_field_types_are_bad_message() {
    shared_case(|s| async move {
        let frames = [
            json!({"type": "hand", "raised": "yes"}),
            json!({"type": "hand"}),
            json!({"type": "publish", "stream_id": 7, "kind": "camera", "sdp": "v=0"}),
            json!({"type": "publish", "stream_id": "s", "kind": "hologram", "sdp": "v=0"}),
            json!({"type": "grant", "participant_id": ["a"], "media": "camera"}),
        ]
        .map(|v| v.to_string());
        frames_get(s, &frames, "bad_message").await.map(drop)
    });
}

#[test]
fn bad_ids_are_bad_message() {
    shared_case(|s| async move {
        let long = "s".repeat(5000);
        let frames = [
            json!({"type": "unpublish", "stream_id": "../../etc/passwd"}),
            json!({"type": "unpublish", "stream_id": long}),
            json!({"type": "unpublish", "stream_id": ""}),
            json!({"type": "remove", "participant_id": "p_1; DROP TABLE users"}),
        ]
        .map(|v| v.to_string());
        frames_get(s, &frames, "bad_message").await.map(drop)
    });
}

#[test]
fn binary_and_invalid_utf8_frames_are_bad_message() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        for bytes in [
            vec![0xff, 0xfe, 0x00],
            b"{\"type\":\"ping\"}".to_vec(),
            vec![0xc3, 0x28],
        ] {
            let mark = pupil.conn.mark();
            pupil.conn.send_message(Message::binary(bytes)).await?;
            pupil.conn.expect_error(mark, "bad_message", SIGNAL_TIMEOUT).await?;
        }
        pupil.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn deeply_nested_json_is_bad_message() {
    shared_case(|s| async move {
        // 10,000 levels of nesting in well under the 64 KiB frame limit.
        let depth = 10_000;
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!(
            "{{\"type\":\"hand\",\"raised\":{}true{}}}",
            "{\"a\":".repeat(depth / 2),
            "}".repeat(depth / 2)
        );
        frames_get(s, &[arrays, objects], "bad_message").await.map(drop)
    });
}

#[test]
fn second_join_on_a_joined_socket_is_bad_message() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        let ticket = pupil.api.must_ticket(&s.history.id).await;
        // Not on 8b's roster, so no ticket there; a second join of any kind is refused anyway.
        ensure!(ticket.is_err(), "a 7a pupil got a ticket for 8b");
        let again = json!({"type": "join", "protocol": 1, "ticket": format!("{:032x}", rand::random::<u128>())});
        expect_error(&pupil, again, "bad_message").await?;
        pupil.conn.ping_pong(SIGNAL_TIMEOUT).await?;
        s.control_keeps_receiving().await
    });
}

/// Sends one oversized frame on `conn`; the client must get BOTH the `message_too_large` error
/// and the close frame 1009, not a reset, although the server stops reading mid-frame.
async fn oversized_frame_gets_error_and_1009(conn: &Conn, pad: usize) -> Result<()> {
    let frame = json!({"type": "ping", "pad": "a".repeat(pad)}).to_string();
    let _ = conn.send_text(&frame).await; // the server stops reading mid-frame
    let closed = conn.wait_closed(SIGNAL_TIMEOUT).await?;
    let too_large = conn
        .messages()
        .iter()
        .any(|m| msg_type(m) == "error" && code(m) == "message_too_large");
    ensure!(too_large, "want a message_too_large error, got {closed:?}");
    ensure!(closed.code == Some(1009), "want close 1009, got {closed:?}");
    Ok(())
}

#[test]
fn oversized_frame_closes_with_1009() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        oversized_frame_gets_error_and_1009(&pupil.conn, 70 * 1024).await?;
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn oversized_first_frame_closes_with_1009() {
    shared_case(|s| async move {
        // Just over the limit, and far over it (more than the socket buffers hold).
        for pad in [70 * 1024, 1024 * 1024] {
            let conn = Conn::connect(&s.server.ws_url("/ws"), "oversized-first").await?;
            oversized_frame_gets_error_and_1009(&conn, pad)
                .await
                .map_err(|e| e.context(format!("{pad} bytes")))?;
            no_media(&conn)?;
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn first_message_not_join_is_not_joined() {
    shared_case(|s| async move {
        for msg in every_client_message(&s.lesson.teacher.id) {
            let conn = Conn::connect(&s.server.ws_url("/ws"), "anonymous").await?;
            conn.send(msg.clone()).await?;
            conn.expect_error(0, "not_joined", SIGNAL_TIMEOUT)
                .await
                .map_err(|e| e.context(format!("{msg}")))?;
            ensure!(
                conn.wait_closed(SIGNAL_TIMEOUT).await?.code == Some(1008),
                "{msg}: want close 1008"
            );
            no_media(&conn)?;
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn wrong_protocol_version_is_protocol_mismatch() {
    shared_case(|s| async move {
        let api = s.signed_in(&s.fresh_pupil().await?).await?;
        for version in [0, 2, 4_000_000_000] {
            let ticket = api.must_ticket(&s.lesson.id).await?;
            let (conn, reply) = open_and_join_as(&api, &s.server, "old-client", "/ws", &ticket.ticket, version).await?;
            ensure!(
                msg_type(&reply) == "error" && code(&reply) == "protocol_mismatch",
                "protocol {version}: {reply}"
            );
            conn.wait_closed(SIGNAL_TIMEOUT).await?;
            no_media(&conn)?;
        }
        s.control_keeps_receiving().await
    });
}

#[test]
fn silent_socket_is_closed_not_joined() {
    shared_case(|s| async move {
        // Opens a socket and says nothing: closed after the join timeout (5 s).
        let conn = Conn::connect(&s.server.ws_url("/ws"), "silent").await?;
        let closed = conn.wait_closed(Duration::from_secs(10)).await?;
        ensure!(closed.code == Some(1008), "want close 1008, got {closed:?}");
        ensure!(
            conn.messages().iter().any(|m| code(m) == "not_joined"),
            "no not_joined: {:?}",
            conn.messages()
        );
        no_media(&conn)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn bad_message_flood_gets_an_answer_each() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        let n = 500;
        let mark = pupil.conn.mark();
        for i in 0..n {
            pupil.conn.send_text(&format!("{{\"type\":\"flood{i}\"}}")).await?;
        }
        pupil.conn.ping_pong(Duration::from_secs(20)).await?;
        let errors = pupil
            .conn
            .messages_since(mark)
            .iter()
            .filter(|m| code(m) == "bad_message")
            .count();
        ensure!(errors == n, "{errors} bad_message replies for {n} bad frames");
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn ping_flood_leaves_the_lesson_serving() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        let n = 3000;
        let mark = pupil.conn.mark();
        for _ in 0..n {
            pupil.conn.send(json!({"type": "ping"})).await?;
        }
        let pongs = || {
            pupil
                .conn
                .messages_since(mark)
                .iter()
                .filter(|m| msg_type(m) == "pong")
                .count()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while pongs() < n && pupil.conn.closed().is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ensure!(
            pongs() == n,
            "{} pongs for {n} pings (closed: {:?})",
            pongs(),
            pupil.conn.closed()
        );
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn answer_for_unknown_stream_is_unknown_stream() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        expect_error(
            &pupil,
            json!({"type": "answer", "stream_id": "nope", "sdp": "v=0\r\n"}),
            "unknown_stream",
        )
        .await?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn candidate_before_publish_is_unknown_stream() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        let cand = json!({"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "sdpMid": "0"});
        expect_error(
            &pupil,
            json!({"type": "candidate", "stream_id": "later", "candidate": cand}),
            "unknown_stream",
        )
        .await?;
        s.nothing_from(&pupil.id)?;
        s.control_keeps_receiving().await
    });
}

#[test]
fn unpublish_twice_is_unknown_stream() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        grant(s, &pupil, "microphone").await?;
        let mic = pupil.publish("mic", "microphone", false, true).await?;
        let mark = pupil.conn.mark();
        pupil.send("unpublish", json!({"stream_id": "mic"})).await?;
        let me = pupil.id.clone();
        pupil
            .conn
            .wait_for(mark, SIGNAL_TIMEOUT, "publishing nothing", move |m| {
                msg_type(m) == "participant_updated"
                    && m["participant"]["id"] == json!(me)
                    && m["participant"]["publishing"] == json!([])
            })
            .await?;
        expect_error(
            &pupil,
            json!({"type": "unpublish", "stream_id": "mic"}),
            "unknown_stream",
        )
        .await?;
        expect_error(
            &pupil,
            json!({"type": "candidate", "stream_id": "mic", "candidate": null}),
            "unknown_stream",
        )
        .await?;
        drop(mic);
        s.control_keeps_receiving().await
    });
}

/// A microphone-granted pupil publishes `sdp` as a microphone and must get `want`; nothing
/// of theirs reaches anyone.
async fn publish_sdp(s: &Shared, sdp: &str, want: &str) -> Result<()> {
    let pupil = s.join_fresh().await?;
    grant(s, &pupil, "microphone").await?;
    expect_error(
        &pupil,
        json!({"type": "publish", "stream_id": "m1", "kind": "microphone", "sdp": sdp}),
        want,
    )
    .await?;
    pupil.conn.ping_pong(SIGNAL_TIMEOUT).await?;
    s.nothing_from(&pupil.id)?;
    s.control_keeps_receiving().await
}

#[test]
fn malformed_sdp_is_bad_sdp() {
    shared_case(|s| async move {
        for sdp in [
            "",
            "hello",
            "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\n",
            "v=9\r\nm=audio x RTP/AVP\r\n\0\0\0",
        ] {
            publish_sdp(s, sdp, "bad_sdp").await?;
        }
        Ok(())
    });
}

#[test]
fn oversized_sdp_is_refused() {
    shared_case(|s| async move {
        // Just under the 64 KiB frame: a real offer padded with 60 KiB of attributes.
        // Over the 32 KiB SDP limit, inside the 64 KiB frame: a real offer padded with
        // attributes nobody knows.
        let offer = PendingPublisher::new("pad", false, true).await?;
        let pad: String = (0..1000)
            .map(|i| format!("a=x-pad{i}:{}\r\n", "z".repeat(30)))
            .collect();
        let sdp = format!("{}{}", offer.offer_sdp, pad);
        offer.close().await;
        ensure!(sdp.len() > 40_000 && sdp.len() < 50_000, "sdp is {} bytes", sdp.len());
        publish_sdp(s, &sdp, "bad_sdp").await
    });
}

#[test]
fn nine_hundred_media_sections_are_refused() {
    shared_case(|s| async move {
        // A real offer followed by 900 bare audio sections: still under the SDP size limit.
        let offer = PendingPublisher::new("many", false, true).await?;
        let mut sdp = offer.offer_sdp.clone();
        offer.close().await;
        for _ in 0..900 {
            sdp.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
        }
        ensure!(sdp.len() < 32 * 1024, "sdp is {} bytes", sdp.len());
        publish_sdp(s, &sdp, "unsupported_media").await
    });
}

#[test]
fn video_offered_as_microphone_is_unsupported_media() {
    shared_case(|s| async move {
        let offer = PendingPublisher::new("vid", true, true).await?;
        let sdp = offer.offer_sdp.clone();
        offer.close().await;
        publish_sdp(s, &sdp, "unsupported_media").await
    });
}

/// Issue 14: a section with port 0 and `a=bundle-only` inside the BUNDLE group sends (RFC 8843,
/// as Firefox offers its second section), so video hidden that way in a microphone offer is
/// refused. It was read as "not sending", and the media library took the video anyway.
#[test]
fn bundle_only_video_in_a_microphone_offer_is_unsupported_media() {
    shared_case(|s| async move {
        let offer = PendingPublisher::new("bov", true, true).await?;
        let sdp = offer.offer_sdp.clone();
        offer.close().await;
        let at = sdp
            .find("m=video 9 ")
            .ok_or_else(|| anyhow::anyhow!("no video section in {sdp}"))?;
        let line_end = at + sdp[at..].find("\r\n").unwrap_or(0) + 2;
        let hidden = format!(
            "{}m=video 0 {}a=bundle-only\r\n{}",
            &sdp[..at],
            &sdp[at + "m=video 9 ".len()..line_end],
            &sdp[line_end..]
        );
        ensure!(hidden.contains("a=group:BUNDLE"), "the offer bundles: {hidden}");
        publish_sdp(s, &hidden, "unsupported_media").await
    });
}

#[test]
fn duplicate_stream_id_is_duplicate_stream() {
    shared_case(|s| async move {
        let pupil = s.join_fresh().await?;
        grant(s, &pupil, "microphone").await?;
        let mic = pupil.publish("twin", "microphone", false, true).await?;
        let err = match pupil.try_publish("twin", "microphone", false, true).await? {
            Ok(_) => bail!("a second stream with the same id was accepted"),
            Err(e) => e,
        };
        ensure!(code(&err) == "duplicate_stream", "want duplicate_stream, got {err}");
        drop(mic);
        s.control_keeps_receiving().await
    });
}

#[test]
fn garbage_answer_to_a_real_offer_is_refused() {
    shared_case(|s| async move {
        // The pupil's client answers the camera offer properly; a second, garbage answer for
        // the same stream must not break the stream for anyone.
        let pupil = s.join_fresh().await?;
        let sub = pupil
            .wait_stream_from(0, &s.lesson.teacher.id, "camera", SIGNAL_TIMEOUT)
            .await?;
        let sid = sub.stream_id.clone();
        let mark = pupil.conn.mark();
        pupil
            .send("answer", json!({"stream_id": sid, "sdp": "v=0\r\ngarbage\r\n"}))
            .await?;
        let err = pupil.conn.wait_error(mark, SIGNAL_TIMEOUT).await?;
        ensure!(code(&err) == "bad_sdp", "want bad_sdp, got {err}");
        s.control_keeps_receiving().await
    });
}

#[test]
fn compression_is_never_negotiated() {
    shared_case(|s| async move {
        // A client asking for permessage-deflate (a decompression bomb's way in) gets a socket
        // without it, and the 64 KiB limit applies to what it sends.
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = s.server.ws_url("/ws").into_client_request()?;
        req.headers_mut().insert(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits".parse()?,
        );
        let (ws, resp) = tokio_tungstenite::connect_async(req).await?;
        ensure!(resp.status().as_u16() == 101, "upgrade: {}", resp.status());
        ensure!(
            !resp.headers().contains_key("sec-websocket-extensions"),
            "the server agreed to {:?}",
            resp.headers().get("sec-websocket-extensions")
        );
        drop(ws);
        s.control_keeps_receiving().await
    });
}
