//! Transport: raw datagrams at the one media port from addresses ICE never validated (garbage,
//! STUN with a wrong or forged username, DTLS ClientHellos, spoofed RTP, truncated packets,
//! floods): the stable answer to all of them is silence, the hostile socket receives zero
//! bytes, the lesson goes on, and the log gets a counted summary with no ICE username in it.
//! One admitted pupil who NACKs every packet over its real session gets its retransmission
//! budget and no more. And TCP connections to the HTTP port that send nothing, a header byte at
//! a time, or more than a cap allows: each is closed at its deadline or refused with
//! `server_busy`, while an honest pupil from another address signs in, joins and receives.

use crate::fixture::*;
use anyhow::{anyhow, bail, ensure, Context, Result};
use livegate_tests::participant::{
    live_7a_with_camera, pupil_receives_teacher_camera, MEDIA_TIMEOUT, MIN_VIDEO_PACKETS, SIGNAL_TIMEOUT,
};
use livegate_tests::relay::{Impairment, Relay, RelayConfig};
use livegate_tests::{seed, Api, Participant, Server, Subscription};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
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
    ensure!(
        received == 0,
        "the hostile socket received {received} bytes from the media port"
    );
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
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
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
    shared_case(|s| async move {
        let datagrams: Vec<Vec<u8>> = (0..300)
            .map(|i| (0..(1 + (i * 37) % 1400)).map(|_| rand::random::<u8>()).collect())
            .collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn stun_with_unknown_username_gets_no_answer() {
    shared_case(|s| async move {
        let datagrams: Vec<Vec<u8>> = (0..20).map(|i| stun_binding(&format!("nosuch{i}:attacker"))).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn stun_with_a_real_username_and_forged_integrity_gets_no_answer() {
    shared_case(|s| async move {
        // Another address claiming to be the control pupil's subscriber connection: without
        // the ICE password it cannot take the path over.
        let ufrag = server_ufrag(&s.control_sub)?;
        let datagrams: Vec<Vec<u8>> = (0..20).map(|i| stun_binding(&format!("{ufrag}:hijack{i}"))).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn dtls_client_hello_from_an_unvalidated_port_gets_no_answer() {
    shared_case(|s| async move {
        let mut hello = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        let body: Vec<u8> = [
            vec![0x01, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0xfe, 0xfd],
            (0..50).map(|_| rand::random::<u8>()).collect(),
        ]
        .concat();
        hello.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hello.extend_from_slice(&body);
        send_all_expect_silence(s, &vec![hello; 10]).await
    });
}

#[test]
fn spoofed_rtp_from_an_unknown_address_gets_no_answer() {
    shared_case(|s| async move {
        let datagrams: Vec<Vec<u8>> = (0..500).map(rtp).collect();
        send_all_expect_silence(s, &datagrams).await
    });
}

#[test]
fn truncated_stun_rtp_and_rtcp_get_no_answer() {
    shared_case(|s| async move {
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
    shared_case(|s| async move {
        let before = s.control_sub.stats.video();
        let sock = raw(s).await?;
        let junk = vec![0x42u8; 1200];
        for i in 0..20_000u32 {
            // A full socket buffer drops datagrams; that is the flood's problem, not ours.
            let _ = sock.send(if i % 2 == 0 { &junk[..] } else { &junk[..64] }).await;
        }
        s.control_keeps_receiving().await.context("after the flood")?;
        ensure!(
            s.control_sub.stats.video() > before,
            "the control pupil received nothing during the flood"
        );
        Ok(())
    });
}

/// The server's retransmission budget (`sfu/src/retransmit.rs`): a quarter of the media
/// bytes and a burst of 16 kB; the relay counts SRTP bytes, a little more than the server's
/// RTP bytes, hence a tenth more room.
fn within_budget(resent: u64, media: u64) -> bool {
    resent * 10 <= (media / 4 + 16_000) * 11
}

#[test]
fn nacking_every_packet_gets_only_the_retransmission_budget() {
    shared_case(|s| async move {
        // Through an unimpaired relay, which counts what the server sends the pupil.
        let relay = Relay::start(
            s.server.media_addr,
            RelayConfig {
                down: Impairment::default(),
                up: Impairment::default(),
                seed: 9,
                media_only: true,
            },
        )
        .await?;
        let email = s.fresh_pupil().await?;
        let pupil = Participant::join_through(&s.server, &email, &s.lesson.id, &relay).await?;
        let sub = pupil
            .wait_stream_from(0, &s.lesson.teacher.id, "camera", SIGNAL_TIMEOUT)
            .await?;
        sub.wait_media(MIN_VIDEO_PACKETS, 0, MEDIA_TIMEOUT).await?;
        let before = relay.offered();
        // Every 50 ms for 5 s, a NACK of the 1,024 packets up to the newest (the whole history
        // the server kept before the budget): each once answered in full.
        for _ in 0..100 {
            let (ssrc, newest) = sub.stats.video_newest().ok_or_else(|| anyhow!("no video"))?;
            let oldest = newest.wrapping_sub(1023);
            let nacks = (0..61u16)
                .map(|i| NackPair {
                    packet_id: oldest.wrapping_add(i * 17),
                    lost_packets: 0xffff,
                })
                .collect();
            sub.send_rtcp(vec![Box::new(TransportLayerNack {
                sender_ssrc: 1,
                media_ssrc: ssrc,
                nacks,
            })])
            .await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = relay.offered();
        let (resent, media) = (after.1 - before.1, (after.0 - before.0) - (after.1 - before.1));
        eprintln!(
            "NACKing everything for 5 s: {resent} bytes retransmitted for {media} bytes of media; {}",
            relay.stats.summary()
        );
        ensure!(media > 0, "no media reached the pupil: {}", relay.stats.summary());
        ensure!(
            within_budget(resent, media),
            "{resent} bytes retransmitted for {media} bytes of media"
        );
        s.control_keeps_receiving().await
    });
}

/// Slack on every deadline, for a loaded two-core machine.
const MARGIN: Duration = Duration::from_secs(10);

/// The control pupil still receives new video and answers on his socket.
async fn keeps_receiving(dev: &Participant, sub: &Subscription) -> Result<()> {
    let before = sub.stats.video();
    let deadline = Instant::now() + MARGIN;
    while sub.stats.video() < before + 15 {
        ensure!(
            Instant::now() < deadline,
            "the control pupil stopped receiving ({})",
            sub.stats.summary()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dev.conn
        .ping_pong(SIGNAL_TIMEOUT)
        .await
        .context("the control pupil's socket")?;
    ensure!(
        dev.conn.closed().is_none(),
        "the control pupil's socket closed: {:?}",
        dev.conn.closed()
    );
    Ok(())
}

/// A burst of STUN checks naming the server's real ICE username fragment (forged remote
/// part, random MESSAGE-INTEGRITY) used to write one or two WARN lines each quoting both ICE
/// usernames. Now the log carries no ICE username at all, and the burst writes at most a
/// counted summary line, not a thousand.
#[test]
fn hostile_stun_leaves_no_ice_username_in_the_log() {
    own_case_within(Duration::from_secs(60), async {
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
        ensure!(
            leaked.is_empty(),
            "{} log lines carry the server's ICE username, e.g. {:?}",
            leaked.len(),
            leaked.first()
        );
        let burst = &lines[before..];
        ensure!(
            burst.len() <= 5,
            "the burst of 500 datagrams wrote {} log lines, e.g. {:?}",
            burst.len(),
            burst.first()
        );
        server.finish();
        Ok(())
    });
}

/// The HTTP deadlines of the servers below (header and idle, seconds): short, so the cases
/// take seconds; every wait for them has [`MARGIN`] on top.
const DEADLINE_SECS: u64 = 3;
/// The per-address cap of the servers below.
const PER_ADDRESS: usize = 20;

/// A server, its live 7a lesson, the teacher's camera, and Dev receiving it.
type Capped = (
    Server,
    livegate_tests::Lesson,
    livegate_tests::Publisher,
    Participant,
    std::sync::Arc<Subscription>,
);

/// A server with short HTTP deadlines and small caps, its 7a lesson live with the teacher's
/// camera, and Dev receiving it (all from 127.0.0.1).
async fn capped_server(max_total: usize) -> Result<Capped> {
    let env = [
        ("LIVEGATE_HEADER_TIMEOUT_SECS", DEADLINE_SECS.to_string()),
        ("LIVEGATE_IDLE_TIMEOUT_SECS", DEADLINE_SECS.to_string()),
        ("LIVEGATE_MAX_CONNECTIONS_PER_ADDRESS", PER_ADDRESS.to_string()),
        ("LIVEGATE_MAX_CONNECTIONS", max_total.to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let server = Server::launch("demo", &[], &env).await?;
    let (lesson, camera) = live_7a_with_camera(&server).await.context("7a with camera")?;
    let (dev, sub) = pupil_receives_teacher_camera(&server, &lesson, seed::DEV)
        .await
        .context("Dev")?;
    Ok((server, lesson, camera, dev, sub))
}

/// A TCP connection to `to` from the loopback address `from` (Linux routes all of 127/8).
pub async fn connect_from(from: [u8; 4], to: SocketAddr) -> Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(IpAddr::from(from), 0))?;
    sock.connect(to)
        .await
        .with_context(|| format!("connecting from {from:?}"))
}

/// Reads until the server closes the connection (EOF or reset) or `deadline` passes; what it
/// sent, or `None` if it was still open.
pub async fn closed_by<R: AsyncReadExt + Unpin>(read: &mut R, deadline: Instant) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout_at(deadline, async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    });
    closed.await.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Sends a request head one byte a second, never finishing it, until the server closes.
pub fn drip<W: AsyncWriteExt + Unpin + Send + 'static>(mut write: W) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let head = b"GET /api/health HTTP/1.1\r\nHost: livegate\r\nX-Slow: ";
        let mut sent = 0;
        for b in head.iter().chain(std::iter::repeat(&b'a')).take(120) {
            if write.write_all(&[*b]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        sent
    })
}

/// `GET /api/health` from `from` is answered 200 within [`MARGIN`]. A connection the server
/// closed holds its place until the client hangs up or the server's lingering close ends
/// (`http::linger`, 2 s), so until then the answer may be `server_busy`: ask again.
async fn health_from(from: [u8; 4], server: &Server) -> Result<()> {
    let deadline = Instant::now() + MARGIN;
    loop {
        let mut tcp = connect_from(from, server.http_addr).await?;
        tcp.write_all(b"GET /api/health HTTP/1.1\r\nHost: livegate\r\nConnection: close\r\n\r\n")
            .await?;
        let said = closed_by(&mut tcp, deadline).await.unwrap_or_default();
        if said.starts_with("HTTP/1.1 200") {
            return Ok(());
        }
        ensure!(
            said.contains("server_busy") && Instant::now() < deadline,
            "health: {said:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// From 127.0.0.2: 7 connections that send nothing, 7 that send a header byte a second and 6
/// that send a sign-in head promising a body and then stall fill the per-address cap; 20
/// more from there are refused at once (`503 server_busy`). Meanwhile Ada, from 127.0.0.1,
/// signs in, gets a ticket, joins over the WebSocket and receives the lesson. All 20 are
/// closed by their deadline (3 s here; the stalled bodies answered `bad_request`), after
/// which 127.0.0.2 is served again; Ada's and Dev's WebSockets, open past every HTTP
/// deadline, are not cut.
#[test]
fn silent_and_slowloris_connections_are_closed_and_capped_per_address() {
    own_case_within(Duration::from_secs(90), async {
        let (server, lesson, _camera, dev, dev_sub) = capped_server(400).await?;
        let attacker = [127, 0, 0, 2];
        let opened = Instant::now();
        let (mut silent, mut dripping, mut stalled) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..PER_ADDRESS {
            let mut tcp = connect_from(attacker, server.http_addr).await?;
            match i % 3 {
                0 => silent.push(tcp),
                1 => {
                    let (read, write) = tcp.into_split();
                    dripping.push((read, drip(write)));
                }
                _ => {
                    let head = "POST /api/session HTTP/1.1\r\nHost: livegate\r\nContent-Type: application/json\r\n";
                    tcp.write_all(format!("{head}Content-Length: 900\r\n\r\n{{\"email\": \"").as_bytes())
                        .await?;
                    stalled.push(tcp);
                }
            }
        }
        // Give the server the time to count them (on a loaded machine) before going over.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for i in 0..PER_ADDRESS {
            let mut over = connect_from(attacker, server.http_addr).await?;
            over.write_all(b"GET /api/health HTTP/1.1\r\nHost: livegate\r\n\r\n")
                .await?;
            let said = closed_by(&mut over, Instant::now() + Duration::from_secs(5)).await;
            let said = said.ok_or_else(|| {
                anyhow!(
                    "connection {} past the cap from 127.0.0.2 was kept open",
                    PER_ADDRESS + i
                )
            })?;
            ensure!(
                said.starts_with("HTTP/1.1 503") && said.contains("\"code\":\"server_busy\""),
                "past the cap: {said:?}"
            );
        }
        let (ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA)
            .await
            .context("Ada during the attack")?;
        let deadline = opened + Duration::from_secs(DEADLINE_SECS) + MARGIN;
        for (i, tcp) in silent.iter_mut().enumerate() {
            ensure!(
                closed_by(tcp, deadline).await.is_some(),
                "silent connection {i} still open {:?} after it opened",
                opened.elapsed()
            );
        }
        for (i, (read, writer)) in dripping.iter_mut().enumerate() {
            ensure!(
                closed_by(read, deadline).await.is_some(),
                "slowloris {i} still open {:?} after it opened",
                opened.elapsed()
            );
            writer.abort();
        }
        for (i, tcp) in stalled.iter_mut().enumerate() {
            let said = closed_by(tcp, deadline).await;
            let said =
                said.ok_or_else(|| anyhow!("stalled body {i} still open {:?} after it opened", opened.elapsed()))?;
            ensure!(
                said.starts_with("HTTP/1.1 400") && said.contains("\"code\":\"bad_request\""),
                "stalled body {i}: {said:?}"
            );
        }
        // Once the attacker hangs up too, its places are free: 127.0.0.2 is served again.
        drop((silent, dripping, stalled));
        health_from(attacker, &server)
            .await
            .context("127.0.0.2 after its connections closed")?;
        keeps_receiving(&ada, &ada_sub).await.context("Ada")?;
        keeps_receiving(&dev, &dev_sub).await.context("Dev")?;
        server.finish();
        Ok(())
    });
}

/// A kept-alive connection idle past its deadline (3 s here) is closed, while Dev's
/// WebSocket, upgraded from the same kind of connection and quiet for longer than that
/// between heartbeats, stays open and keeps receiving.
#[test]
fn idle_keep_alive_is_closed_but_an_open_websocket_is_not() {
    own_case_within(Duration::from_secs(90), async {
        let (server, _lesson, _camera, dev, dev_sub) = capped_server(400).await?;
        let mut kept = TcpStream::connect(server.http_addr).await?;
        for _ in 0..2 {
            // Two requests on one connection: it is kept alive between them.
            kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: livegate\r\n\r\n")
                .await?;
            let mut buf = [0u8; 2048];
            let n = tokio::time::timeout(SIGNAL_TIMEOUT, kept.read(&mut buf)).await??;
            ensure!(
                buf[..n].starts_with(b"HTTP/1.1 200"),
                "health: {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
        let idle_since = Instant::now();
        let said = closed_by(&mut kept, idle_since + Duration::from_secs(DEADLINE_SECS) + MARGIN).await;
        ensure!(
            said.is_some(),
            "the idle kept-alive connection is still open after {:?}",
            idle_since.elapsed()
        );
        // Dev's socket has now outlived the idle deadline several times over.
        tokio::time::sleep(Duration::from_secs(3 * DEADLINE_SECS)).await;
        keeps_receiving(&dev, &dev_sub).await?;
        server.finish();
        Ok(())
    });
}

/// From five other loopback addresses, each under the per-address cap, silent connections fill
/// the global cap (60 here): a new connection from 127.0.0.1 gets `503 server_busy` at once
/// while Dev's open WebSocket keeps receiving. Once the silent ones pass the header deadline,
/// Ada signs in, joins and receives.
#[test]
fn connections_past_the_global_cap_get_server_busy_until_it_frees() {
    own_case_within(Duration::from_secs(90), async {
        let (server, lesson, _camera, dev, dev_sub) = capped_server(60).await?;
        let opened = Instant::now();
        let mut silent = Vec::new();
        // 60 from five addresses: with the teacher's and Dev's sockets, over the cap.
        for host in 2..=6u8 {
            for _ in 0..12 {
                silent.push(connect_from([127, 0, 0, host], server.http_addr).await?);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let refused = reqwest::Client::builder()
            .no_proxy()
            .build()?
            .get(format!("{}/api/health", server.http_base))
            .send()
            .await;
        match refused {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                ensure!(
                    status == 503 && code(&body["error"]) == "server_busy",
                    "at the global cap: {status} {body}"
                );
            }
            Err(e) => bail!("at the global cap: want 503 server_busy, got {e:?}"),
        }
        keeps_receiving(&dev, &dev_sub).await.context("Dev at the global cap")?;
        let deadline = opened + Duration::from_secs(DEADLINE_SECS) + MARGIN;
        for (i, tcp) in silent.iter_mut().enumerate() {
            ensure!(
                closed_by(tcp, deadline).await.is_some(),
                "silent connection {i} still open {:?} after it opened",
                opened.elapsed()
            );
        }
        drop(silent);
        health_from([127, 0, 0, 1], &server)
            .await
            .context("after the silent connections closed")?;
        let (ada, ada_sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA)
            .await
            .context("Ada after the cap freed")?;
        keeps_receiving(&ada, &ada_sub).await?;
        let api = Api::new(&server);
        api.sign_in(seed::BEN, seed::PUPIL_PASSWORD)
            .await
            .context("Ben signs in")?;
        server.finish();
        Ok(())
    });
}
