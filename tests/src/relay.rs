//! A userspace UDP impairment relay (reliability.md 5.5: the kernel's netem is not available
//! here). It sits between WebRTC clients and the server's one media port: a client sends to
//! the relay's address, and the relay forwards each client's datagrams to the server from a
//! socket of its own (one per client, so the server sees one steady address per client) and
//! the server's replies back to the client.
//!
//! Each direction can drop, delay, jitter (and so reorder) datagrams, from a seeded RNG so a
//! run can be repeated, and cap the bandwidth like a real bottleneck: a FIFO drained at the
//! link's rate, whose datagrams that would wait longer than its queue allows are dropped
//! (drop-tail). By default only SRTP and SRTCP are impaired (first byte 128..=191):
//! STUN and DTLS pass untouched, so connection set-up is the same on every run and only the
//! media sees the bad network. The RTP and RTCP headers are not encrypted, so the relay also
//! counts what it saw: retransmissions from the server (RTX payload type, or a sequence number
//! seen twice) and NACKs from the client (an SRTCP compound that starts with a generic NACK).

use crate::signal::OfferRewrite;
use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What one direction does to the datagrams it carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impairment {
    /// Fraction of datagrams dropped, 0.0..=1.0.
    pub loss: f64,
    /// Added to every datagram.
    pub delay: Duration,
    /// A datagram picked for jitter waits up to this much longer than the others, so later
    /// datagrams overtake it.
    pub jitter: Duration,
    /// Fraction of datagrams given jitter, 0.0..=1.0.
    pub reorder: f64,
    /// The link's rate in bits per second (0: not capped).
    pub rate: u64,
    /// How long a datagram may wait for the capped link; one that would wait longer is dropped.
    pub queue: Duration,
}

impl Impairment {
    /// "WiFi high loss" from reliability.md 5.5 with reordering: `loss` lost, 30 ms late, one
    /// datagram in ten up to 20 ms later still.
    pub fn lossy(loss: f64) -> Impairment {
        Impairment {
            loss,
            delay: Duration::from_millis(30),
            jitter: Duration::from_millis(20),
            reorder: 0.1,
            ..Default::default()
        }
    }

    /// A link of `rate` bits per second with a 150 ms queue (a home downlink's buffer) and 20 ms
    /// of delay.
    pub fn capped(rate: u64) -> Impairment {
        Impairment {
            rate,
            queue: Duration::from_millis(150),
            delay: Duration::from_millis(20),
            ..Default::default()
        }
    }

    /// When a datagram of `len` bytes arriving `now` leaves a link that is free from `*free`,
    /// or `None` if it would wait past the queue's limit (and is dropped). Moves `*free` on.
    fn bottleneck(&self, now: Instant, free: &mut Instant, len: usize) -> Option<Instant> {
        if self.rate == 0 {
            return Some(now);
        }
        let start = now.max(*free);
        if start - now > self.queue {
            return None;
        }
        let done = start + Duration::from_secs_f64(len as f64 * 8.0 / self.rate as f64);
        *free = done;
        Some(done)
    }
}

/// The relay's settings.
#[derive(Debug, Clone, Copy)]
pub struct RelayConfig {
    /// Server to client.
    pub down: Impairment,
    /// Client to server.
    pub up: Impairment,
    pub seed: u64,
    /// Impair only SRTP/SRTCP; STUN and DTLS always pass at once.
    pub media_only: bool,
}

/// Counters for one direction.
#[derive(Debug, Default)]
pub struct DirStats {
    /// Datagrams that arrived at the relay.
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    /// Of those, dropped because the capped link's queue was full.
    pub overflowed: AtomicU64,
    /// Datagrams sent after one that arrived later than them.
    pub reordered: AtomicU64,
    pub forwarded: AtomicU64,
    /// RTP packets (before any drop), and their bytes.
    pub rtp: AtomicU64,
    pub rtp_bytes: AtomicU64,
    /// RTP packets with the RTX payload type (VP8's is 97).
    pub rtx: AtomicU64,
    /// RTP packets whose (SSRC, sequence number) had been seen before: plain retransmissions.
    pub repeats: AtomicU64,
    /// Bytes of RTX packets and repeats.
    pub retransmitted_bytes: AtomicU64,
    /// SRTCP compounds that start with a generic NACK (RTPFB, FMT 1).
    pub nacks: AtomicU64,
}

impl DirStats {
    /// Retransmissions in this direction, in either form.
    pub fn retransmissions(&self) -> u64 {
        Self::get(&self.rtx) + Self::get(&self.repeats)
    }

    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    pub fn summary(&self) -> String {
        format!(
            "received={} dropped={} (overflowed {}) reordered={} forwarded={} rtp={} ({} B) rtx={} repeats={} ({} B) nacks={}",
            Self::get(&self.received),
            Self::get(&self.dropped),
            Self::get(&self.overflowed),
            Self::get(&self.reordered),
            Self::get(&self.forwarded),
            Self::get(&self.rtp),
            Self::get(&self.rtp_bytes),
            Self::get(&self.rtx),
            Self::get(&self.repeats),
            Self::get(&self.retransmitted_bytes),
            Self::get(&self.nacks)
        )
    }
}

/// What the relay saw and did: `down` is server to client, `up` client to server.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub down: DirStats,
    pub up: DirStats,
}

impl RelayStats {
    pub fn load(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    pub fn summary(&self) -> String {
        format!("down: {}; up: {}", self.down.summary(), self.up.summary())
    }
}

/// A running relay; stops when dropped.
pub struct Relay {
    /// Where clients send (the address to put in the client's remote candidate).
    pub addr: SocketAddr,
    /// The server's media address it forwards to.
    pub server: SocketAddr,
    pub stats: Arc<RelayStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

/// Where a scheduled datagram goes.
enum Dest {
    /// To the server, from this client's own socket.
    Server(Arc<UdpSocket>),
    /// To this client, from the relay's address.
    Client(SocketAddr),
}

/// A datagram waiting for its time.
struct Due {
    at: Instant,
    /// Arrival order, to count reordering and keep equal times in order.
    n: u64,
    dest: Dest,
    data: Vec<u8>,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.n) == (o.at, o.n)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.n).cmp(&(o.at, o.n))
    }
}

/// A datagram that just arrived, for the scheduler.
struct Arrival {
    down: bool,
    dest: Dest,
    data: Vec<u8>,
}

impl Relay {
    /// Starts a relay on 127.0.0.1 in front of `server`.
    pub async fn start(server: SocketAddr, config: RelayConfig) -> Result<Relay> {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.context("binding the relay")?);
        let addr = front.local_addr()?;
        let stats = Arc::new(RelayStats::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let scheduler = tokio::spawn(schedule(rx, front.clone(), server, config, stats.clone()));
        let clients = tokio::spawn(accept(front, server, tx));
        Ok(Relay {
            addr,
            server,
            stats,
            tasks: vec![scheduler, clients],
        })
    }

    /// What the relay carried from the server so far: (RTP bytes, of which retransmissions).
    pub fn offered(&self) -> (u64, u64) {
        (
            RelayStats::load(&self.stats.down.rtp_bytes),
            RelayStats::load(&self.stats.down.retransmitted_bytes),
        )
    }

    /// Moves every candidate on the server's media address to the relay's, for
    /// [`Conn::rewrite_offers`](crate::signal::Conn::rewrite_offers).
    pub fn sdp_rewrite(&self) -> OfferRewrite {
        let (from, to) = (self.server, self.addr);
        Arc::new(move |sdp: &str| rewrite_candidates(sdp, from, to))
    }
}

/// Reads from clients; makes each new client its own upstream socket and reader.
async fn accept(front: Arc<UdpSocket>, server: SocketAddr, tx: mpsc::UnboundedSender<Arrival>) {
    let mut upstream: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut readers = Vec::new();
    let mut buf = vec![0u8; 2048];
    while let Ok((n, client)) = front.recv_from(&mut buf).await {
        let sock = match upstream.get(&client) {
            Some(s) => s.clone(),
            None => {
                let Ok(s) = UdpSocket::bind("127.0.0.1:0").await else {
                    continue;
                };
                let s = Arc::new(s);
                upstream.insert(client, s.clone());
                readers.push(tokio::spawn(from_server(s.clone(), server, client, tx.clone())));
                s
            }
        };
        let data = buf[..n].to_vec();
        let _ = tx.send(Arrival {
            down: false,
            dest: Dest::Server(sock),
            data,
        });
    }
    for r in readers {
        r.abort();
    }
}

/// Reads what the server sends to one client's upstream socket.
async fn from_server(sock: Arc<UdpSocket>, server: SocketAddr, client: SocketAddr, tx: mpsc::UnboundedSender<Arrival>) {
    let mut buf = vec![0u8; 2048];
    while let Ok((n, from)) = sock.recv_from(&mut buf).await {
        if from != server {
            continue;
        }
        if tx
            .send(Arrival {
                down: true,
                dest: Dest::Client(client),
                data: buf[..n].to_vec(),
            })
            .is_err()
        {
            return;
        }
    }
}

/// Applies the impairments and sends every datagram at its time.
async fn schedule(
    mut rx: mpsc::UnboundedReceiver<Arrival>,
    front: Arc<UdpSocket>,
    server: SocketAddr,
    config: RelayConfig,
    stats: Arc<RelayStats>,
) {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut arrivals = 0u64;
    // Highest arrival number sent so far, per direction (down, up).
    let mut sent_max = [0u64; 2];
    // When each direction's capped link is next free.
    let mut free = [Instant::now(); 2];
    let mut seen: [HashSet<(u32, u16)>; 2] = Default::default();
    loop {
        let next = heap.peek().map(|Reverse(d)| d.at);
        tokio::select! {
            a = rx.recv() => {
                let Some(a) = a else { return };
                arrivals += 1;
                let (imp, dir) = if a.down { (config.down, &stats.down) } else { (config.up, &stats.up) };
                dir.received.fetch_add(1, Ordering::Relaxed);
                count_packet(&a.data, dir, &mut seen[usize::from(!a.down)]);
                let impaired = !config.media_only || is_srtp(&a.data);
                let mut at = Instant::now();
                if impaired {
                    if rng.gen_bool(imp.loss.clamp(0.0, 1.0)) {
                        dir.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let Some(out) = imp.bottleneck(at, &mut free[usize::from(!a.down)], a.data.len()) else {
                        dir.dropped.fetch_add(1, Ordering::Relaxed);
                        dir.overflowed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    at = out + imp.delay;
                    if !imp.jitter.is_zero() && rng.gen_bool(imp.reorder.clamp(0.0, 1.0)) {
                        at += imp.jitter.mul_f64(rng.gen_range(0.2..=1.0));
                    }
                }
                heap.push(Reverse(Due { at, n: arrivals, dest: a.dest, data: a.data }));
            }
            () = sleep_until(next) => {}
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Reverse(d) = heap.pop().expect("peeked");
            let (i, dir) = match d.dest {
                Dest::Client(_) => (0, &stats.down),
                Dest::Server(_) => (1, &stats.up),
            };
            if d.n < sent_max[i] {
                dir.reordered.fetch_add(1, Ordering::Relaxed);
            }
            sent_max[i] = sent_max[i].max(d.n);
            let sent = match &d.dest {
                Dest::Client(c) => front.send_to(&d.data, c).await,
                Dest::Server(s) => s.send_to(&d.data, server).await,
            };
            if sent.is_ok() {
                dir.forwarded.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// SRTP or SRTCP (RFC 7983: first byte 128..=191).
fn is_srtp(d: &[u8]) -> bool {
    matches!(d.first(), Some(128..=191))
}

/// RTCP rather than RTP (RFC 5761: payload type 192..=223 in the second byte).
fn is_rtcp(d: &[u8]) -> bool {
    is_srtp(d) && matches!(d.get(1), Some(192..=223))
}

/// An SRTCP compound whose first packet (in the clear) is a generic NACK.
fn is_nack(d: &[u8]) -> bool {
    is_rtcp(d) && d.get(1) == Some(&205) && d.first().map(|b| b & 0x1f) == Some(1)
}

/// Counts NACKs, RTP, RTX (by payload type) and repeats (by SSRC and sequence number).
fn count_packet(d: &[u8], dir: &DirStats, seen: &mut HashSet<(u32, u16)>) {
    if is_nack(d) {
        dir.nacks.fetch_add(1, Ordering::Relaxed);
    }
    if !is_srtp(d) || is_rtcp(d) || d.len() < 12 {
        return;
    }
    dir.rtp.fetch_add(1, Ordering::Relaxed);
    dir.rtp_bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
    let seq = u16::from_be_bytes([d[2], d[3]]);
    let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
    let counter = if d[1] & 0x7f == 97 {
        &dir.rtx
    } else if !seen.insert((ssrc, seq)) {
        &dir.repeats
    } else {
        return;
    };
    counter.fetch_add(1, Ordering::Relaxed);
    dir.retransmitted_bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
}

/// `sdp` with every `a=candidate` on `from` moved to `to`.
pub fn rewrite_candidates(sdp: &str, from: SocketAddr, to: SocketAddr) -> String {
    let needle = format!(" {} {} typ ", from.ip(), from.port());
    let with = format!(" {} {} typ ", to.ip(), to.port());
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out: Vec<String> = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("a=candidate:") {
            out.push(line.replace(&needle, &with));
        } else {
            out.push(line.to_owned());
        }
    }
    let mut s = out.join(eol);
    if sdp.ends_with('\n') {
        s.push_str(eol);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_move_to_the_relay() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 10.0.0.1 5000 typ host\r\n";
        let out = rewrite_candidates(
            sdp,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6000".parse().unwrap(),
        );
        assert_eq!(out, "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 6000 typ host\r\na=candidate:2 1 udp 1 10.0.0.1 5000 typ host\r\n");
    }

    #[test]
    fn classifies_rtcp_nack() {
        assert!(is_nack(&[0x81, 205, 0, 3, 0, 0, 0, 1]));
        assert!(!is_nack(&[0x81, 201, 0, 7]));
        assert!(!is_nack(&[0x80, 96, 0, 1]));
        assert!(!is_srtp(&[0x16, 0xfe, 0xfd]));
    }

    #[test]
    fn a_capped_link_queues_then_drops_the_tail() {
        let imp = Impairment::capped(800_000); // 1,000-byte datagrams take 10 ms each
        let t0 = Instant::now();
        let mut free = t0;
        let out: Vec<Option<Instant>> = (0..40).map(|_| imp.bottleneck(t0, &mut free, 1000)).collect();
        let ms = |t: Option<Instant>| t.map(|t| (t - t0).as_millis());
        assert_eq!(ms(out[0]), Some(10));
        assert_eq!(ms(out[14]), Some(150));
        // The sixteenth waits 150 ms: the queue's limit; the rest would wait longer.
        assert_eq!(ms(out[15]), Some(160));
        assert!(out[16..].iter().all(Option::is_none));
        // Once the queue drains the link carries again, at its rate.
        let later = t0 + Duration::from_millis(500);
        assert_eq!(
            imp.bottleneck(later, &mut free, 1000).map(|t| (t - later).as_millis()),
            Some(10)
        );
        // Uncapped: no wait, nothing dropped.
        assert_eq!(Impairment::default().bottleneck(t0, &mut free, 100_000), Some(t0));
    }

    /// Loss, delay and reordering on a plain UDP echo: about `loss` is dropped, the rest
    /// arrives, some out of order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn impairs_a_udp_stream() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let config = RelayConfig {
            down: Impairment::default(),
            up: Impairment::lossy(0.2),
            seed: 7,
            media_only: true,
        };
        let relay = Relay::start(server_addr, config).await.unwrap();
        // Read while sending: 500 datagrams at once would overflow the socket's buffer.
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while let Ok(Ok((n, _))) =
                tokio::time::timeout(Duration::from_millis(500), server.recv_from(&mut buf)).await
            {
                assert_eq!(n, 12);
                got.push(u16::from_be_bytes([buf[2], buf[3]]));
            }
            got
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..500u16 {
            let mut p = vec![0x80, 96];
            p.extend_from_slice(&i.to_be_bytes());
            p.extend_from_slice(&[0; 8]);
            client.send_to(&p, relay.addr).await.unwrap();
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        let got = reader.await.unwrap();
        let s = &relay.stats;
        let dropped = RelayStats::load(&s.up.dropped);
        assert_eq!(got.len() as u64 + dropped, 500, "{}", s.summary());
        assert!((60..=140).contains(&dropped), "{}", s.summary());
        let out_of_order = got.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(
            out_of_order > 0 && RelayStats::load(&s.up.reordered) > 0,
            "{}",
            s.summary()
        );
    }
}
