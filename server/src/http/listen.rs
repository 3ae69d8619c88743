//! The HTTP accept loop, for plain HTTP and TLS alike. Every connection is counted against a
//! global cap and a per-address cap before anything is read from it; it has
//! [`Limits::header`] from its accept to its first complete request head (the TLS handshake
//! included), and [`Limits::idle`] for each later head on a kept-alive connection; it holds
//! its [`Slot`] until its socket is closed, an upgraded WebSocket included (the slot travels
//! inside the socket, below the WebSocket, which no HTTP timeout reaches).
//!
//! `axum::serve` does none of this (hyper gets no timer there, so no header timeout, and
//! nothing is capped): connections that sent nothing, or one header byte a second, stayed open
//! for ever, and enough of them used up the process's descriptors, after which nobody could
//! connect and recordings could not be opened.
//!
//! Over a cap, a connection is refused unserved: plain HTTP gets a fixed `503 server_busy`
//! JSON answer, TLS is closed (an answer would cost a handshake). The global cap stays below
//! the descriptor limit, with room for the database, the recordings and the media socket
//! ([`total_cap`]). A request body that stalls for [`Limits::idle`] is abandoned too
//! ([`Stalling`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::linger::Lingering;
use crate::app::access::address_bucket as bucket;
use crate::config::Config;
use crate::logs::Throttle;

/// Refused connections closed gently at once (their answer read before the close); past this
/// they are closed straight, so refusing never holds many descriptors.
const GENTLE_REFUSALS: usize = 64;
/// How long a refused plain-HTTP connection may take to send its request before the answer.
const REFUSAL_WAIT: Duration = Duration::from_secs(1);
/// The descriptor limit asked for at start-up (the soft limit is raised towards the hard one).
const WANTED_DESCRIPTORS: u64 = 65_536;

/// The connection limits in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// From accept to the first complete request head (TLS handshake included).
    pub header: Duration,
    /// On a kept-alive connection, from the end of one answer to the next complete head.
    pub idle: Duration,
    /// Open connections per client address (IPv6: per /64); `None` for no cap.
    pub per_address: Option<usize>,
    /// Open connections in all.
    pub total: usize,
}

impl Limits {
    /// The configured limits, the global cap kept below `descriptors` (the process's limit).
    /// Behind a reverse proxy (`trust_forwarded_for`) every connection comes from the proxy,
    /// so there is no per-address cap: the proxy limits each client.
    pub fn new(config: &Config, descriptors: Option<u64>) -> Self {
        let c = &config.connections;
        let per_address = (c.max_per_address > 0 && !config.accounts.trust_forwarded_for).then_some(c.max_per_address);
        Self {
            header: Duration::from_secs(c.header_timeout_secs.max(1)),
            idle: Duration::from_secs(c.idle_timeout_secs.max(1)),
            per_address,
            total: total_cap(c.max_total, descriptors),
        }
    }
}

/// The global cap: `configured`, but at most the descriptor limit less a reserve (a quarter,
/// at least 256) for everything else the server opens; never below 16.
pub fn total_cap(configured: usize, descriptors: Option<u64>) -> usize {
    let Some(limit) = descriptors else {
        return configured.max(1);
    };
    let room = limit.saturating_sub((limit / 4).max(256)).max(16);
    configured.clamp(1, usize::try_from(room).unwrap_or(usize::MAX))
}

/// Raises the soft descriptor limit towards the hard one (up to [`WANTED_DESCRIPTORS`]) and
/// returns the limit in force, if it can be read.
pub fn descriptor_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let wanted = lim.rlim_max.min(WANTED_DESCRIPTORS);
    if lim.rlim_cur < wanted {
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = wanted;
        }
    }
    Some(lim.rlim_cur)
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    Address,
}

/// The open connections, in all and per address.
pub struct Slots {
    limits: Limits,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
    refusals: usize,
}

/// A counted connection (or a refusal being closed); dropping it frees its place.
pub struct Slot {
    slots: Arc<Slots>,
    /// The address bucket of a connection; `None` for a refusal.
    address: Option<IpAddr>,
}

impl Slots {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: Mutex::new(Open::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a connection from `peer`, or the cap that refuses it.
    pub fn take(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refused> {
        let key = bucket(peer);
        let mut open = self.lock();
        if open.total >= self.limits.total {
            return Err(Refused::Total);
        }
        let from_here = open.by_address.entry(key).or_default();
        if self.limits.per_address.is_some_and(|cap| *from_here >= cap) {
            return Err(Refused::Address);
        }
        *from_here += 1;
        open.total += 1;
        Ok(Slot {
            slots: self.clone(),
            address: Some(key),
        })
    }

    /// A place for closing a refused connection gently, if few are being closed.
    fn take_refusal(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.lock();
        (open.refusals < GENTLE_REFUSALS).then(|| {
            open.refusals += 1;
            Slot {
                slots: self.clone(),
                address: None,
            }
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        let Some(key) = self.address else {
            open.refusals -= 1;
            return;
        };
        open.total -= 1;
        if let Some(n) = open.by_address.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&key);
            }
        }
    }
}

/// Serves `router` on `listener` (TLS when `tls` is given) within `limits` until `stop` turns
/// true, then lets open requests finish and returns when every connection task has ended.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    router: Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Slots::new(limits);
    // Each connection task holds a receiver; `closed()` resolves when the last has ended.
    let (alive, alive_rx) = watch::channel(());
    static ACCEPT_FAILED: Throttle = Throttle::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and the like: wait rather than spin.
                    if let Some(times) = ACCEPT_FAILED.hit(std::time::Instant::now()) {
                        tracing::warn!(error = %e, times, "accepting a TCP connection failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        match slots.take(peer.ip()) {
            Ok(slot) => {
                let conn = Connection {
                    peer,
                    router: router.clone(),
                    limits: slots.limits.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(conn.run(tcp, slot, tls.clone(), alive_rx.clone()));
            }
            Err(cap) => refuse(tcp, cap, tls.is_none(), &slots),
        }
    }
    drop((listener, alive_rx));
    alive.closed().await;
    Ok(())
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: dropped here, inside.
    let _ = stop.wait_for(|s| *s).await;
}

/// Answers a connection over a cap (plain HTTP: `503 server_busy`) and closes it.
fn refuse(tcp: TcpStream, cap: Refused, plain: bool, slots: &Arc<Slots>) {
    static REFUSED: Throttle = Throttle::new();
    if let Some(connections) = REFUSED.hit(std::time::Instant::now()) {
        tracing::warn!(
            connections,
            ?cap,
            open = slots.open(),
            "connections refused at a cap; one line per 10 s at most"
        );
    }
    // Gently (an answer, then a close the client reads to the end) while few are; past that,
    // closed straight.
    let Some(slot) = slots.take_refusal() else { return };
    if !plain {
        drop(Lingering::counted(tcp, slot));
        return;
    }
    tokio::spawn(async move {
        // An HTTP client that is answered before it has sent its request takes the answer
        // for a broken connection: wait (briefly) until it has spoken.
        let _ = tokio::time::timeout(REFUSAL_WAIT, tcp.peek(&mut [0u8; 1])).await;
        // A fresh socket's send buffer takes the whole answer at once.
        let _ = tcp.try_write(&busy_response());
        drop(Lingering::counted(tcp, slot));
    });
}

/// The fixed answer to a connection refused at a cap.
fn busy_response() -> Vec<u8> {
    let body = super::rejection::body_bytes(livegate_core::codes::ErrorCode::ServerBusy);
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 5\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    [head.into_bytes(), body].concat()
}

/// One accepted connection and what serving it needs.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    stop: watch::Receiver<bool>,
}

impl Connection {
    /// Finishes the TLS handshake (if any) and serves HTTP, all within the deadlines.
    async fn run(self, tcp: TcpStream, slot: Slot, tls: Option<TlsAcceptor>, _alive: watch::Receiver<()>) {
        let first_head = Instant::now() + self.limits.header;
        // Each signalling message goes out at once: with Nagle's algorithm a second small
        // write (the offer after `joined`) waits for the client's delayed ACK, about 40 ms.
        let _ = tcp.set_nodelay(true);
        // Dropped connections linger so the client reads the server's last words.
        let io = Lingering::counted(tcp, slot);
        match tls {
            None => self.http(io, first_head).await,
            Some(acceptor) => match tokio::time::timeout_at(first_head, acceptor.accept(io)).await {
                Ok(Ok(stream)) => self.http(stream, first_head).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            },
        }
    }

    /// Serves HTTP/1.1 with upgrades: the first head must be in by `first_head`, each later
    /// one within [`Limits::idle`] of the answer before (hyper's header timer), and a request
    /// body may not stall for longer than that either ([`Stalling`]).
    async fn http<I>(mut self, io: I, first_head: Instant)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let seen = Arc::new(AtomicBool::new(false));
        let service = {
            let (seen, peer, router, idle) = (seen.clone(), self.peer, self.router.clone(), self.limits.idle);
            hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                seen.store(true, Ordering::Relaxed);
                // The peer address feeds the per-address sign-in limit (`ClientIp`).
                req.extensions_mut().insert(ConnectInfo(peer));
                let req = req.map(|body| Body::new(Stalling::new(body, idle)));
                tower::ServiceExt::oneshot(router.clone(), req)
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.limits.idle);
        let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
        tokio::pin!(conn);
        let deadline = tokio::time::sleep_until(first_head);
        tokio::pin!(deadline);
        let (mut armed, mut stopping) = (true, false);
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "HTTP connection ended with an error");
                    }
                    return;
                }
                () = &mut deadline, if armed => {
                    if !seen.load(Ordering::Relaxed) {
                        return; // no request head in time: drop the connection
                    }
                    armed = false;
                }
                () = stopped(&mut self.stop), if !stopping => {
                    conn.as_mut().graceful_shutdown();
                    stopping = true;
                }
            }
        }
    }
}

/// A request body that fails once nothing has come for `stall` while its handler waits for
/// it: a client that sends a head promising a body and then nothing (or a byte now and then,
/// slower than that) cannot hold a handler and a connection for ever. The handler sees an
/// error (`bad_request`); the connection closes after the answer.
struct Stalling {
    inner: Incoming,
    stall: Duration,
    /// Made when the handler first waits; `waiting` says whether it runs for this wait.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    waiting: bool,
}

impl Stalling {
    fn new(inner: Incoming, stall: Duration) -> Self {
        Self {
            inner,
            stall,
            deadline: None,
            waiting: false,
        }
    }
}

impl http_body::Body for Stalling {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let until = Instant::now() + this.stall;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                if !std::mem::replace(&mut this.waiting, true) {
                    deadline.as_mut().reset(until);
                }
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err("the request body stalled".into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(per_address: Option<usize>, total: usize) -> Limits {
        let ms = Duration::from_millis(300);
        Limits {
            header: ms,
            idle: ms,
            per_address,
            total,
        }
    }

    #[test]
    fn slots_count_per_address_and_in_all_and_free_on_drop() {
        let slots = Slots::new(limits(Some(2), 3));
        let (a, b, c) = (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        );
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert_eq!(slots.take(a).err(), Some(Refused::Address));
        let _b1 = slots.take(b).unwrap();
        assert_eq!(slots.take(c).err(), Some(Refused::Total), "three open in all");
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _c1 = slots.take(c).unwrap();
        assert_eq!(
            slots.take("2001:db8::ffff".parse().unwrap()).err(),
            Some(Refused::Total)
        );
        // A whole IPv6 /64 is one address; an IPv4-mapped one is its IPv4 address.
        assert_eq!(
            bucket("2001:db8::1".parse().unwrap()),
            bucket("2001:db8::ffff:1234".parse().unwrap())
        );
        assert_ne!(
            bucket("2001:db8::1".parse().unwrap()),
            bucket("2001:db8:0:1::1".parse().unwrap())
        );
        assert_eq!(bucket("::ffff:10.0.0.1".parse().unwrap()), a);
        let unlimited = Slots::new(limits(None, 10));
        let held: Vec<Slot> = (0..10).map(|_| unlimited.take(a).unwrap()).collect();
        assert_eq!((unlimited.open(), unlimited.take(b).err()), (10, Some(Refused::Total)));
        drop(held);
        assert_eq!(unlimited.open(), 0);
    }

    #[test]
    fn the_global_cap_stays_below_the_descriptor_limit() {
        assert_eq!(total_cap(8192, Some(1024)), 768);
        assert_eq!(total_cap(8192, Some(65_536)), 8192);
        assert_eq!(total_cap(100, Some(1024)), 100);
        assert_eq!(total_cap(8192, Some(100)), 16, "never below 16");
        assert_eq!(total_cap(0, None), 1);
        let limit = descriptor_limit().expect("the descriptor limit can be read");
        let cap = Limits::new(&Config::default(), Some(limit)).total;
        assert!((cap as u64) < limit, "cap {cap} under the limit {limit}");
    }

    /// Starts `serve` on a loopback port with a one-route router.
    async fn start(limits: Limits) -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route("/body", axum::routing::post(|body: String| async move { body }));
        let (stop, stopping) = watch::channel(false);
        tokio::spawn(serve(listener, None, limits, router, stopping));
        (addr, stop)
    }

    /// Reads until the server closes; what it said, or `None` if it kept the socket open.
    async fn closed_within(tcp: &mut TcpStream, within: Duration) -> Option<String> {
        let mut got = Vec::new();
        let read = tokio::time::timeout(within, async {
            let mut buf = [0u8; 1024];
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        read.await.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
    }

    /// Silent, one-byte-at-a-time and idle kept-alive connections are closed at their
    /// deadlines; past the per-address cap a connection gets `503 server_busy` at once.
    #[tokio::test]
    async fn slow_and_idle_connections_close_and_the_cap_answers_busy() {
        let (addr, _stop) = start(limits(Some(3), 100)).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut slow = TcpStream::connect(addr).await.unwrap();
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut over = TcpStream::connect(addr).await.unwrap();
        let busy = closed_within(&mut over, Duration::from_secs(5))
            .await
            .expect("refused at once");
        assert!(
            busy.starts_with("HTTP/1.1 503") && busy.contains("\"server_busy\""),
            "{busy}"
        );
        let dripping = tokio::spawn(async move {
            for b in b"GET / HTTP/1.1\r\nHost: x\r\n" {
                if slow.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            slow
        });
        assert_eq!(
            closed_within(&mut silent, Duration::from_secs(5)).await.as_deref(),
            Some(""),
            "silent"
        );
        let answered = closed_within(&mut kept, Duration::from_secs(5))
            .await
            .expect("idle kept-alive closed");
        assert!(
            answered.starts_with("HTTP/1.1 200") && answered.ends_with("ok"),
            "{answered}"
        );
        let mut slow = dripping.await.unwrap();
        assert!(
            closed_within(&mut slow, Duration::from_secs(5)).await.is_some(),
            "slowloris closed"
        );
    }

    /// A body promised by its head and then not sent fails its handler's read once it has
    /// stalled for the idle deadline: the answer is an error and the connection closes.
    #[tokio::test]
    async fn a_stalled_request_body_is_abandoned() {
        let (addr, _stop) = start(limits(None, 100)).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nten bytes.")
            .await
            .unwrap();
        let answer = closed_within(&mut tcp, Duration::from_secs(5)).await.expect("closed");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
}
