//! Transport: raw datagrams at the one media port from addresses ICE never validated (garbage,
//! STUN with a wrong or forged username, DTLS ClientHellos, spoofed RTP, truncated packets,
//! floods): the stable answer to all of them is silence, the hostile socket receives zero
//! bytes, the lesson goes on, and the log gets a counted summary with no ICE username in it.

use crate::fixture::*;
use anyhow::{anyhow, ensure, Context, Result};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera, SIGNAL_TIMEOUT};
use livegate_tests::{seed, Participant, Server, Subscription};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// How long a hostile socket listens for any answer.
const LISTEN: Duration = Duration::from_millis(1500);

/// A raw UDP socket on loopback aimed at the media port.
async fn raw(s: &Shared) -> Result<UdpSocket> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    sock.connect(s.server.media_addr).await?;
    Ok(sock)
}

/// Sends every datagram, then counts the bytes that come back within [`LISTEN`] (must be 0).
async fn send_all_expect_silence(s: &Shared, datagrams: &[Vec<u8>]) -> Result<()> {
    let sock = raw(s).await?;
    for d in datagrams {
        sock.send(d).await?;
    }
    let mut buf = vec![0u8; 2048];
    let mut received = 0usize;
    let deadline = tokio::time::Instant::now() + LISTEN;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
        received += n;
    }
    ensure!(received == 0, "the hostile socket received {received} bytes from the media port");
    s.control_keeps_receiving().await
}

/// The server's ICE username fragment, from an offer it sent.
fn server_ufrag(sub: &Subscription) -> Result<String> {
    sub.offer_sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:").map(str::to_string))
        .ok_or_else(|| anyhow!("no a=ice-ufrag in the server's offer"))
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A STUN Binding request with USERNAME, a MESSAGE-INTEGRITY that is random bytes, and a
/// correct FINGERPRINT (so only the integrity check can reject it).
fn stun_binding(username: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    let mut push = |ty: u16, value: &[u8]| {
        attrs.extend_from_slice(&ty.to_be_bytes());
        attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attrs.extend_from_slice(value);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
    };
    push(0x0006, username.as_bytes());
    push(0x0024, &0x6e7f_1effu32.to_be_bytes()); // PRIORITY
    push(0x8029, &rand::random::<u64>().to_be_bytes()); // ICE-CONTROLLED
    let integrity: [u8; 20] = rand::random();
    push(0x0008, &integrity);
    let mut msg = Vec::new();
    msg.extend_from_slice(&0x0001u16.to_be_bytes());
    msg.extend_from_slice(&((attrs.len() + 8) as u16).to_be_bytes());
    msg.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    msg.extend_from_slice(&rand::random::<[u8; 12]>());
    msg.extend_from_slice(&attrs);
    let fp = crc32(&msg) ^ 0x5354_554e;
    msg.extend_from_slice(&0x8028u16.to_be_bytes());
    msg.extend_from_slice(&4u16.to_be_bytes());
    msg.extend_from_slice(&fp.to_be_bytes());
    msg
}

/// An RTP packet (version 2, VP8's payload type) with a random SSRC.
fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&rand::random::<u32>().to_be_bytes());
    p.extend_from_slice(&rand::random::<u32>().to_be_bytes());
    p.extend_from_slice(&[0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a]);
    p.extend(std::iter::repeat_n(0xab, 900));
    p
}

#[test]
fn garbage_datagrams_get_no_answer() {
    shared_case("garbage_datagrams_get_no_answer", |s| async move {
        let datagrams: Vec<Vec<u8>> = (0..300).map(|i| (0..(1 + (i * 37) % 1400)).map(|_| rand::random::<u8>()).collect()).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn stun_with_unknown_username_gets_no_answer() {
    shared_case("stun_with_unknown_username_gets_no_answer", |s| async move {
        let datagrams: Vec<Vec<u8>> = (0..20).map(|i| stun_binding(&format!("nosuch{i}:attacker"))).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn stun_with_a_real_username_and_forged_integrity_gets_no_answer() {
    shared_case("stun_with_a_real_username_and_forged_integrity_gets_no_answer", |s| async move {
        // Another address claiming to be the control pupil's subscriber connection: without
        // the ICE password it cannot take the path over.
        let ufrag = server_ufrag(&s.control_sub)?;
        let datagrams: Vec<Vec<u8>> = (0..20).map(|i| stun_binding(&format!("{ufrag}:hijack{i}"))).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn dtls_client_hello_from_an_unvalidated_port_gets_no_answer() {
    shared_case("dtls_client_hello_from_an_unvalidated_port_gets_no_answer", |s| async move {
        let mut hello = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        let body: Vec<u8> = [vec![0x01, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0xfe, 0xfd], (0..50).map(|_| rand::random::<u8>()).collect()].concat();
        hello.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hello.extend_from_slice(&body);
        send_all_expect_silence(s, &vec![hello; 10]).await
    });
}

#[test]
fn spoofed_rtp_from_an_unknown_address_gets_no_answer() {
    shared_case("spoofed_rtp_from_an_unknown_address_gets_no_answer", |s| async move {
        let datagrams: Vec<Vec<u8>> = (0..500).map(rtp).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn truncated_stun_rtp_and_rtcp_get_no_answer() {
    shared_case("truncated_stun_rtp_and_rtcp_get_no_answer", |s| async move {
        let stun = stun_binding("x:y");
        let datagrams = vec![
            stun[..20].to_vec(),                                  // header claiming attributes that are not there
            vec![0x00, 0x01, 0xff, 0xff, 0x21, 0x12, 0xa4, 0x42], // length past the end
            vec![0x80],                                           // one byte of RTP
            vec![0x80, 0xc8, 0xff, 0xff, 0, 0, 0, 1],             // RTCP SR claiming 256 KiB
            vec![0x81, 0xcb, 0x00, 0x05, 0, 0, 0, 1, 0xff],       // RTCP BYE with a reason past the end
            vec![],
        ];
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn udp_flood_leaves_the_lesson_serving() {
    shared_case("udp_flood_leaves_the_lesson_serving", |s| async move {
        let before = s.control_sub.stats.video();
        let sock = raw(s).await?;
        let junk = vec![0x42u8; 1200];
        for i in 0..20_000u32 {
            // A full socket buffer drops datagrams; that is the flood's problem, not ours.
            let _ = sock.send(if i % 2 == 0 { &junk[..] } else { &junk[..64] }).await;
        }
        s.control_keeps_receiving().await.context("after the flood")?;
        ensure!(s.control_sub.stats.video() > before, "the control pupil received nothing during the flood");
        Ok(())
    });
}

/// Slack on every deadline, for a loaded two-core machine.
const MARGIN: Duration = Duration::from_secs(10);

/// The control pupil still receives new video and answers on his socket.
async fn keeps_receiving(dev: &Participant, sub: &Subscription) -> Result<()> {
    let before = sub.stats.video();
    let deadline = Instant::now() + MARGIN;
    while sub.stats.video() < before + 15 {
        ensure!(Instant::now() < deadline, "the control pupil stopped receiving ({})", sub.stats.summary());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dev.conn.ping_pong(SIGNAL_TIMEOUT).await.context("the control pupil's socket")?;
    ensure!(dev.conn.closed().is_none(), "the control pupil's socket closed: {:?}", dev.conn.closed());
    Ok(())
}

/// A burst of STUN checks naming the server's real ICE username fragment (forged remote
/// part, random MESSAGE-INTEGRITY) used to write one or two WARN lines each quoting both ICE
/// usernames. Now the log carries no ICE username at all, and the burst writes at most a
/// counted summary line, not a thousand.
#[test]
fn hostile_stun_leaves_no_ice_username_in_the_log() {
    own_case_within("hostile_stun_leaves_no_ice_username_in_the_log", Duration::from_secs(60), async {
        let server = Server::launch("demo", &[], &[]).await?;
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (dev, sub) = pupil_receives_teacher_camera(&server, &lesson, seed::DEV).await?;
        let ufrag = server_ufrag(&sub)?;
        let before = server.log_lines().len();
        let sock = UdpSocket::bind("127.0.0.1:0").await?;
        sock.connect(server.media_addr).await?;
        for i in 0..500 {
            sock.send(&stun_binding(&format!("{ufrag}:hijack{i}"))).await?;
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        keeps_receiving(&dev, &sub).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let lines = server.log_lines();
        let leaked: Vec<&String> = lines.iter().filter(|l| l.contains(&ufrag)).collect();
        ensure!(leaked.is_empty(), "{} log lines carry the server's ICE username, e.g. {:?}", leaked.len(), leaked.first());
        let burst = &lines[before..];
        ensure!(burst.len() <= 5, "the burst of 500 datagrams wrote {} log lines, e.g. {:?}", burst.len(), burst.first());
        server.finish();
        Ok(())
    });
}
