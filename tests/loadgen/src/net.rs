//! The generator's sockets: one non-blocking UDP socket per peer (its own 5-tuple), large
//! buffers, kernel receive timestamps (SO_TIMESTAMPNS), batched reads with `recvmmsg`, and one
//! epoll set over all of them that the tokio loop waits on as a single file descriptor.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Socket buffer size asked for (the kernel caps it at rmem_max/wmem_max unless forced).
const SOCKET_BUFFER: libc::c_int = 4 << 20;
/// Datagrams per `recvmmsg` call.
pub const BATCH: usize = 32;
const DATAGRAM: usize = 2048;

/// CLOCK_REALTIME in nanoseconds: the clock kernel receive timestamps use.
pub fn realtime_ns() -> i64 {
    let mut ts: libc::timespec = unsafe { zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const _ as *const libc::c_void,
            size_of::<libc::c_int>() as u32,
        )
    };
    check(r).map(|_| ())
}

/// A peer's socket, bound to `ip` on an ephemeral port.
pub fn bind(ip: IpAddr) -> io::Result<UdpSocket> {
    let sock = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    sock.set_nonblocking(true)?;
    let fd = sock.as_raw_fd();
    // Forced sizes work as root; fall back to the capped ones otherwise.
    if set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, SOCKET_BUFFER).is_err() {
        set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, SOCKET_BUFFER)?;
    }
    if set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, SOCKET_BUFFER).is_err() {
        set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, SOCKET_BUFFER)?;
    }
    set_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
    Ok(sock)
}

/// One epoll set; `token` is handed back for each ready socket.
pub struct Epoll {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        let events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            events,
        })
    }

    /// Watches `sock` for reading (level-triggered).
    pub fn add(&self, sock: &UdpSocket, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, sock.as_raw_fd(), &mut ev) })
            .map(|_| ())
    }

    /// Tokens of the sockets ready now (never blocks).
    pub fn ready(&mut self, out: &mut Vec<u64>) -> io::Result<()> {
        out.clear();
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as i32,
                0,
            )
        };
        let n = check(n)? as usize;
        out.extend(self.events[..n].iter().map(|e| e.u64));
        Ok(())
    }
}

/// One received datagram.
pub struct Datagram<'a> {
    pub from: SocketAddr,
    pub data: &'a [u8],
    /// Kernel receive time, CLOCK_REALTIME ns (0 if the kernel gave none).
    pub rx_ns: i64,
}

/// Reusable `recvmmsg` buffers.
pub struct RecvBatch {
    bufs: Vec<[u8; DATAGRAM]>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_in>,
    ctrl: Vec<[u64; 8]>,
    hdrs: Vec<libc::mmsghdr>,
    n: usize,
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: vec![[0u8; DATAGRAM]; BATCH],
            iovs: Vec::with_capacity(BATCH),
            addrs: vec![unsafe { zeroed() }; BATCH],
            ctrl: vec![[0u64; 8]; BATCH],
            hdrs: Vec::with_capacity(BATCH),
            n: 0,
        }
    }

    /// Reads up to [`BATCH`] datagrams from `sock`; 0 when nothing is waiting.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        self.iovs.clear();
        self.hdrs.clear();
        for i in 0..BATCH {
            self.iovs.push(libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: DATAGRAM,
            });
        }
        for i in 0..BATCH {
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.ctrl[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_controllen = size_of::<[u64; 8]>();
            self.hdrs.push(h);
        }
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            self.n = 0;
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        self.n = r as usize;
        Ok(self.n)
    }

    /// The `i`th datagram of the last [`RecvBatch::recv`].
    pub fn get(&self, i: usize) -> Datagram<'_> {
        let h = &self.hdrs[i];
        let a = &self.addrs[i];
        let from = SocketAddr::V4(SocketAddrV4::new(
            u32::from_be(a.sin_addr.s_addr).into(),
            u16::from_be(a.sin_port),
        ));
        let mut rx_ns = 0;
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&h.msg_hdr);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                    rx_ns = ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64;
                }
                c = libc::CMSG_NXTHDR(&h.msg_hdr, c);
            }
        }
        Datagram {
            from,
            data: &self.bufs[i][..h.msg_len as usize],
            rx_ns,
        }
    }
}

/// Sends one datagram; a full buffer drops it (as a real client's would).
pub fn send(sock: &UdpSocket, data: &[u8], to: SocketAddr) -> bool {
    sock.send_to(data, to).is_ok()
}
