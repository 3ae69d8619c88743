//! HTTPS served directly with rustls (ring as the crypto provider) when `--tls-cert` and
//! `--tls-key` are configured; otherwise a reverse proxy in front terminates TLS
//! (`infra/proxy/`).
//!
//! Handshakes run in each connection's own task (`listen`), within the connection's deadline
//! for its first request head, so a client that opens a socket and never speaks holds up
//! nobody else's handshake and is closed like a silent plain-HTTP connection.

use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::{StartupError, TlsConfig};

/// Reads the certificate chain and private key (PEM) into a rustls acceptor speaking
/// HTTP/1.1 (WebSocket upgrades need it).
pub fn acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, StartupError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| StartupError::Config(format!("TLS {what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| bad("certificate", &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", &e))?;
    if certs.is_empty() {
        return Err(StartupError::Config(
            "TLS certificate: the file holds no certificate".into(),
        ));
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
        let dir = std::env::temp_dir().join(format!("livegate-tls-{}", livegate_core::ids::random_token(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = TlsConfig {
            cert: dir.join("nope.pem"),
            key: dir.join("nope.key"),
        };
        let cert_block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let cases = [
            (missing, "certificate"),
            (config(&dir, 1, "", ""), "no certificate"),
            (config(&dir, 2, "not pem at all", "x"), "no certificate"),
            (config(&dir, 3, cert_block, "no key here"), "key"),
        ];
        for (tls, want) in cases {
            match acceptor(&tls) {
                Err(StartupError::Config(msg)) => assert!(msg.contains(want), "{msg:?} should mention {want:?}"),
                Err(e) => panic!("want a configuration error, got {e}"),
                Ok(_) => panic!("{tls:?} was accepted"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
