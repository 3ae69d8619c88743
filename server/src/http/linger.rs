//! Lingering close for every HTTP connection: when the server drops a connection, it first
//! sends FIN after what it already wrote, then reads and discards what the client is still
//! sending, so the client receives the server's last words.
//!
//! Linux answers a close with unread data in the receive buffer with a TCP reset, and a reset
//! makes the client's kernel throw away what it received but the client has not read yet. That
//! bites when the server stops reading mid-message: a signalling socket that sent a frame over
//! the limit gets the `message_too_large` error and the close frame 1009, then the socket drops
//! with the rest of the frame unread; without lingering the client often sees only a reset.
//! (The WebSocket library refuses to read after its size error, so the drain has to happen
//! below it, on the TCP stream.)
//!
//! The drain is bounded: it stops at the client's EOF, after [`LINGER_TIME`], or after
//! [`LINGER_BYTES`], whichever comes first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::listen::Slot;

/// The longest a dropped connection is drained.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// The most a dropped connection is drained of.
pub const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// A TCP stream that lingers when dropped (see the module comment).
pub struct Lingering {
    tcp: Option<TcpStream>,
    /// The connection's place under the caps, held until the drain has closed the socket.
    slot: Option<Slot>,
}

impl Lingering {
    /// A stream under no cap (the tests of this module).
    #[cfg(test)]
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp: Some(tcp),
            slot: None,
        }
    }

    /// A stream that holds `slot` until its socket is closed.
    pub fn counted(tcp: TcpStream, slot: Slot) -> Self {
        Self {
            tcp: Some(tcp),
            slot: Some(slot),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        self.tcp.as_ref().expect("present until dropped")
    }

    fn pinned(self: Pin<&mut Self>) -> Pin<&mut TcpStream> {
        Pin::new(self.get_mut().tcp.as_mut().expect("present until dropped"))
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(tcp) = self.tcp.take() else { return };
        let slot = self.slot.take();
        // Outside a runtime (or while it shuts down) the stream just closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                drain(tcp).await;
                drop(slot);
            });
        }
    }
}

/// Half-closes `tcp`, then discards what arrives until EOF or a bound.
async fn drain(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut buf = vec![0u8; 16 * 1024];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

impl AsyncRead for Lingering {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.pinned().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server writes its last words and drops the connection with most of the client's
    /// data unread; the client still reads every byte and then a clean EOF, not a reset.
    #[tokio::test]
    async fn dropped_with_unread_data_ends_in_eof_not_reset() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut server = Lingering::new(server);
        let (mut from_server, mut to_server) = client.into_split();
        // The client sends far more than the server will ever read, then ends its side.
        let sending = tokio::spawn(async move {
            let _ = to_server.write_all(&vec![7u8; 3 * 1024 * 1024]).await;
        });
        let mut first = [0u8; 1];
        server.read_exact(&mut first).await.unwrap();
        server.write_all(b"last words").await.unwrap();
        server.flush().await.unwrap();
        drop(server);
        let mut got = Vec::new();
        from_server.read_to_end(&mut got).await.expect("EOF, not a reset");
        assert_eq!(got, b"last words");
        sending.await.unwrap();
    }
}
