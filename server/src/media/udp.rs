//! Batched sends on the media socket.
//!
//! Forwarding one video frame to one subscriber writes several SRTP packets of (nearly) one size
//! to one address in a row. On Linux these go out in one `sendmsg` with UDP generic
//! segmentation offload (`UDP_SEGMENT`): the kernel walks its UDP/IP stack once for the whole run
//! and cuts it into datagrams at the end, which roughly halves the per-packet kernel cost (the
//! largest single cost of forwarding). The datagrams are passed as an iovec list, so nothing is
//! copied. A run is consecutive datagrams to one address, all of the first one's size except a
//! shorter last one, at most [`MAX_SEGMENTS`] and [`MAX_RUN_BYTES`]. Anything else, and every
//! send where the kernel refuses segmentation, goes out one datagram per call.
//!
//! The system call is declared here rather than through the `libc` crate, for 64-bit Linux
//! only (the layouts below are the kernel ABI there); elsewhere every send is tokio's
//! `try_send_to`. Sends never wait: a full socket buffer drops the datagram.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::net::UdpSocket;

/// Most datagrams in one segmented send (the kernel allows 64 on every version that has GSO).
pub const MAX_SEGMENTS: usize = 64;
/// Most bytes in one segmented send (an IP datagram's payload limit, with room for headers).
pub const MAX_RUN_BYTES: usize = 65_000;

/// What one call to [`Sender::send`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: usize,
    pub bytes: usize,
    /// Datagrams the socket refused (buffer full): dropped, as a router would.
    pub dropped: usize,
    /// System calls made.
    pub calls: usize,
}

/// Sends datagram lists, segmenting runs when the kernel allows.
pub struct Sender {
    gso: bool,
}

impl Default for Sender {
    fn default() -> Self {
        Self {
            gso: cfg!(all(target_os = "linux", target_pointer_width = "64")),
        }
    }
}

impl Sender {
    /// A sender that never segments: one system call per datagram.
    pub fn unsegmented() -> Self {
        Self { gso: false }
    }

    /// Sends every datagram in `out` (in order) and empties it.
    pub fn send(&mut self, socket: &UdpSocket, out: &mut Vec<(SocketAddr, BytesMut)>) -> Sent {
        let mut sent = Sent::default();
        let mut i = 0;
        while i < out.len() {
            let n = if self.gso { run_length(&out[i..]) } else { 1 };
            if n > 1 {
                match sys::send(socket, out[i].0, &out[i..i + n], true) {
                    Ok(bytes) => {
                        sent.datagrams += n;
                        sent.bytes += bytes;
                        sent.calls += 1;
                        i += n;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        sent.dropped += n;
                        sent.calls += 1;
                        i += n;
                        continue;
                    }
                    Err(e) => {
                        // No segmentation here (old kernel, odd route): never try again.
                        tracing::info!(error = %e, "UDP segmentation unavailable; sending datagrams one by one");
                        self.gso = false;
                    }
                }
            }
            let end = i + n;
            for k in i..end {
                sent.calls += 1;
                match sys::send(socket, out[k].0, &out[k..k + 1], false) {
                    Ok(bytes) => {
                        sent.datagrams += 1;
                        sent.bytes += bytes;
                    }
                    Err(_) => sent.dropped += 1,
                }
            }
            i = end;
        }
        out.clear();
        sent
    }
}

/// How many datagrams from the start of `out` form one segmentable run.
pub fn run_length(out: &[(SocketAddr, BytesMut)]) -> usize {
    let Some((to, first)) = out.first() else { return 0 };
    let size = first.len();
    if size == 0 {
        return 1;
    }
    let mut n = 1;
    let mut bytes = size;
    for (addr, data) in &out[1..] {
        if addr != to || data.len() > size || n == MAX_SEGMENTS || bytes + data.len() > MAX_RUN_BYTES {
            break;
        }
        n += 1;
        bytes += data.len();
        if data.len() < size {
            break; // only the last segment may be shorter
        }
    }
    n
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod sys {
    use std::ffi::{c_int, c_void};
    use std::io;
    use std::mem::size_of;
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;

    use bytes::BytesMut;
    use tokio::net::UdpSocket;

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct IoVec {
        base: *const c_void,
        len: usize,
    }

    #[repr(C)]
    struct MsgHdr {
        name: *const c_void,
        namelen: u32,
        iov: *const IoVec,
        iovlen: usize,
        control: *const c_void,
        controllen: usize,
        flags: c_int,
    }

    #[repr(C)]
    struct CmsgHdr {
        len: usize,
        level: c_int,
        kind: c_int,
    }

    #[repr(C)]
    struct SockaddrIn {
        family: u16,
        port: [u8; 2],
        addr: [u8; 4],
        zero: [u8; 8],
    }

    #[repr(C)]
    struct SockaddrIn6 {
        family: u16,
        port: [u8; 2],
        flowinfo: u32,
        addr: [u8; 16],
        scope_id: u32,
    }

    extern "C" {
        fn sendmsg(fd: c_int, msg: *const MsgHdr, flags: c_int) -> isize;
    }

    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    const SOL_UDP: c_int = 17;
    const UDP_SEGMENT: c_int = 103;
    const MSG_DONTWAIT: c_int = 0x40;
    const MSG_NOSIGNAL: c_int = 0x4000;

    /// One `sendmsg` of `run` to `to`: with `segment`, cut at the first datagram's size (which
    /// needs the kernel's UDP segmentation); without, `run` must be one datagram.
    pub fn send(
        socket: &UdpSocket,
        to: SocketAddr,
        run: &[(SocketAddr, BytesMut)],
        segment: bool,
    ) -> io::Result<usize> {
        // On the stack: a run is at most MAX_SEGMENTS datagrams.
        let mut iov = [IoVec {
            base: std::ptr::null(),
            len: 0,
        }; super::MAX_SEGMENTS];
        let run = &run[..run.len().min(super::MAX_SEGMENTS)];
        for (slot, (_, d)) in iov.iter_mut().zip(run) {
            *slot = IoVec {
                base: d.as_ptr().cast(),
                len: d.len(),
            };
        }
        let total: usize = run.iter().map(|(_, d)| d.len()).sum();
        let segment_size = run[0].1.len() as u16;
        // A control buffer for one cmsg carrying a u16, 8-byte aligned: CMSG_SPACE(2) = 24.
        let mut control = [0u64; 3];
        let header = CmsgHdr {
            len: size_of::<CmsgHdr>() + size_of::<u16>(),
            level: SOL_UDP,
            kind: UDP_SEGMENT,
        };
        // SAFETY: `control` is 24 bytes, 8-aligned; the header takes 16 and the u16 follows it.
        unsafe {
            let p = control.as_mut_ptr().cast::<u8>();
            std::ptr::write(p.cast::<CmsgHdr>(), header);
            std::ptr::write_unaligned(p.add(size_of::<CmsgHdr>()).cast::<u16>(), segment_size);
        }
        let v4;
        let v6;
        let (name, namelen): (*const c_void, u32) = match to {
            SocketAddr::V4(a) => {
                v4 = SockaddrIn {
                    family: AF_INET,
                    port: a.port().to_be_bytes(),
                    addr: a.ip().octets(),
                    zero: [0; 8],
                };
                ((&v4 as *const SockaddrIn).cast(), size_of::<SockaddrIn>() as u32)
            }
            SocketAddr::V6(a) => {
                v6 = SockaddrIn6 {
                    family: AF_INET6,
                    port: a.port().to_be_bytes(),
                    flowinfo: a.flowinfo().to_be(),
                    addr: a.ip().octets(),
                    scope_id: a.scope_id(),
                };
                ((&v6 as *const SockaddrIn6).cast(), size_of::<SockaddrIn6>() as u32)
            }
        };
        let msg = MsgHdr {
            name,
            namelen,
            iov: iov.as_ptr(),
            iovlen: run.len(),
            control: if segment {
                control.as_ptr().cast()
            } else {
                std::ptr::null()
            },
            controllen: if segment { size_of::<[u64; 3]>() } else { 0 },
            flags: 0,
        };
        // SAFETY: every pointer in `msg` refers to memory that outlives the call.
        let r = unsafe { sendmsg(socket.as_raw_fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(total)
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
mod sys {
    use std::io;
    use std::net::SocketAddr;

    use bytes::BytesMut;
    use tokio::net::UdpSocket;

    pub fn send(
        socket: &UdpSocket,
        to: SocketAddr,
        run: &[(SocketAddr, BytesMut)],
        segment: bool,
    ) -> io::Result<usize> {
        if segment {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no UDP segmentation on this platform",
            ));
        }
        socket.try_send_to(&run[0].1, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(port: u16, len: usize, fill: u8) -> (SocketAddr, BytesMut) {
        (
            SocketAddr::from(([127, 0, 0, 1], port)),
            BytesMut::from(&vec![fill; len][..]),
        )
    }

    #[test]
    fn runs_are_one_address_equal_sizes_and_a_shorter_tail() {
        let out = vec![
            d(1, 100, 0),
            d(1, 100, 0),
            d(1, 60, 0),
            d(1, 100, 0),
            d(2, 100, 0),
            d(2, 120, 0),
        ];
        assert_eq!(run_length(&out), 3, "the shorter datagram ends the run");
        assert_eq!(run_length(&out[3..]), 1, "another address");
        assert_eq!(run_length(&out[4..]), 1, "a longer datagram cannot follow");
        let many: Vec<_> = (0..100).map(|_| d(1, 1000, 0)).collect();
        assert_eq!(
            run_length(&many),
            64,
            "capped by bytes: 65 x 1000 > 65000, and by segments"
        );
        assert_eq!(run_length(&[]), 0);
    }

    /// Sends runs over loopback and checks the receiver sees the same datagrams in order,
    /// with fewer system calls than datagrams where the kernel segments.
    #[tokio::test]
    async fn segmented_sends_arrive_as_the_original_datagrams() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let to2 = other.local_addr().unwrap();
        let mut out = Vec::new();
        for i in 0..5u8 {
            out.push((to, BytesMut::from(&vec![i; 1100][..])));
        }
        out.push((to, BytesMut::from(&[9u8; 300][..])));
        out.push((to2, BytesMut::from(&[7u8; 50][..])));
        out.push((to, BytesMut::from(&[8u8; 1200][..])));
        let mut sender = Sender::default();
        let sent = sender.send(&tx, &mut out);
        assert!(out.is_empty());
        assert_eq!((sent.datagrams, sent.dropped), (8, 0));
        if cfg!(all(target_os = "linux", target_pointer_width = "64")) {
            assert_eq!(
                sent.calls, 3,
                "one segmented send for the run of six, then two plain ones"
            );
        }
        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        for _ in 0..7 {
            let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            got.push((n, buf[0]));
        }
        assert_eq!(
            got,
            vec![
                (1100, 0),
                (1100, 1),
                (1100, 2),
                (1100, 3),
                (1100, 4),
                (300, 9),
                (1200, 8)
            ]
        );
        let (n, _) = other.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, buf[0]), (50, 7));
    }
}
