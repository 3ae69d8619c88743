//! HTTPS served directly with rustls (ring as the crypto provider) when `--tls-cert` and
//! `--tls-key` are configured; otherwise a reverse proxy in front terminates TLS
//! (`infra/proxy/`).
//!
//! Handshakes run in a task per connection with a deadline, so a client that opens a socket
//! and never speaks cannot hold up anyone else's handshake; only finished handshakes reach
//! axum through [`TlsListener`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::linger::Lingering;
use crate::config::TlsConfig;
use crate::error::Error;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for axum to take them.
const BACKLOG: usize = 128;

/// Reads the certificate chain and private key (PEM) into a rustls acceptor speaking
/// HTTP/1.1 (WebSocket upgrades need it).
pub fn acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, Error> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::Config(format!("TLS {what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| bad("certificate", &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", &e))?;
    if certs.is_empty() {
        return Err(Error::Config("TLS certificate: the file holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| bad("key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate and key", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A listener that hands axum only connections whose TLS handshake finished.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<Lingering>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener`; each handshake runs in its own task.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(BACKLOG);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "accepting a TCP connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // As for plain HTTP (see `serve`): no Nagle delay on signalling messages.
                let _ = tcp.set_nodelay(true);
                let (acceptor, handed) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(Lingering::new(tcp))).await {
                        Ok(Ok(tls)) => {
                            let _ = handed.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(Self { ready, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<Lingering>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ended (the runtime is shutting down): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, n: u8, cert: &str, key: &str) -> TlsConfig {
        let (c, k) = (dir.join(format!("cert{n}.pem")), dir.join(format!("key{n}.pem")));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        TlsConfig { cert: c, key: k }
    }

    /// A missing, empty or garbled certificate or key stops start-up with a configuration
    /// error naming which, rather than serving without TLS. (A good pair is served by the
    /// hostile catalogue's HTTPS case.)
    #[test]
    fn bad_certificates_and_keys_are_configuration_errors() {
        let dir = std::env::temp_dir().join(format!("livegate-tls-{}", crate::ids::random_token(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = TlsConfig { cert: dir.join("nope.pem"), key: dir.join("nope.key") };
        let cert_block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let cases = [
            (missing, "certificate"),
            (config(&dir, 1, "", ""), "no certificate"),
            (config(&dir, 2, "not pem at all", "x"), "no certificate"),
            (config(&dir, 3, cert_block, "no key here"), "key"),
        ];
        for (tls, want) in cases {
            match acceptor(&tls) {
                Err(Error::Config(msg)) => assert!(msg.contains(want), "{msg:?} should mention {want:?}"),
                Err(e) => panic!("want a configuration error, got {e}"),
                Ok(_) => panic!("{tls:?} was accepted"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
