//! Routes datagrams on the shared UDP port to peer connections: the server's media loop asks
//! [`Demux::route`] which peer each datagram it reads belongs to, naming peers by its own keys.
//!
//! A STUN binding request names the server's ICE username fragment in its USERNAME attribute
//! (`server:client`), which finds the peer; that peer then owns the sender's address, so the
//! DTLS, SRTP and SRTCP that follow from the same address reach it too. A client that moves
//! (a network change) sends new checks from its new address and is re-routed. Both maps are
//! keyed by what clients send, so they keep std's flooding-resistant hash.
//!
//! A binding request that claims the controlled role is dropped here, before any peer sees
//! it. The server is ICE-lite, so it is always the controlled agent and a real client always
//! says ICE-CONTROLLING. The `rtc` agent handles a role conflict before it checks a request's
//! integrity: one forged request with ICE-CONTROLLED and a small tie-breaker, from anywhere,
//! would switch the server to the controlling role, and a lite agent that controls falls back
//! to a full one and sends checks to every candidate the client named, addresses the server
//! has never heard from (found by `fuzz/fuzz_media_engine`).

use std::collections::HashMap;
use std::net::SocketAddr;

const STUN_MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const BINDING_REQUEST: [u8; 2] = [0x00, 0x01];
const ATTR_USERNAME: u16 = 0x0006;
/// The ICE-CONTROLLED attribute (RFC 8445): a check claiming the controlled role is dropped.
pub const ATTR_ICE_CONTROLLED: u16 = 0x8029;

/// The value of the first attribute of type `attr` in a STUN message, if it is one and has it.
fn stun_attribute(data: &[u8], attr: u16) -> Option<&[u8]> {
    if data.len() < 20 || data[0] & 0xc0 != 0 || data[4..8] != STUN_MAGIC {
        return None;
    }
    let len = u16::from_be_bytes([data[2], data[3]]) as usize;
    let body = data.get(20..20 + len)?;
    let mut i = 0;
    while i + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[i], body[i + 1]]);
        let alen = u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize;
        let value = body.get(i + 4..i + 4 + alen)?;
        if typ == attr {
            return Some(value);
        }
        i += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// The server's username fragment from a STUN message's USERNAME, if it is one.
pub fn stun_server_ufrag(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(stun_attribute(data, ATTR_USERNAME)?).ok()?;
    text.split(':').next()
}

/// True for a binding request that claims the controlled role (see the module comment).
fn claims_controlled(data: &[u8]) -> bool {
    data.starts_with(&BINDING_REQUEST) && stun_attribute(data, ATTR_ICE_CONTROLLED).is_some()
}

/// A binding request as a client's check looks to the demultiplexer: its USERNAME and no
/// MESSAGE-INTEGRITY (append attributes and fix the length to forge one). For tests, here and
/// in the server's media engine, of what is routed and what is dropped.
pub fn binding_request(username: &str) -> Vec<u8> {
    let mut attr = Vec::new();
    attr.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    m.extend_from_slice(&STUN_MAGIC);
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&attr);
    m
}

/// Maps ufrags and addresses to peers of type `K`.
#[derive(Debug)]
pub struct Demux<K> {
    by_ufrag: HashMap<String, K>,
    by_addr: HashMap<SocketAddr, K>,
}

impl<K: Copy + Eq> Default for Demux<K> {
    fn default() -> Self {
        Self {
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq> Demux<K> {
    /// Registers a peer's ufrag.
    pub fn add(&mut self, ufrag: String, key: K) {
        self.by_ufrag.insert(ufrag, key);
    }

    /// Forgets a peer entirely.
    pub fn remove(&mut self, key: K) {
        self.by_ufrag.retain(|_, k| *k != key);
        self.by_addr.retain(|_, k| *k != key);
    }

    /// Which peer a datagram from `from` belongs to; `None` drops it.
    pub fn route(&mut self, from: SocketAddr, data: &[u8]) -> Option<K> {
        if claims_controlled(data) {
            return None;
        }
        if let Some(ufrag) = stun_server_ufrag(data) {
            let key = *self.by_ufrag.get(ufrag)?;
            self.by_addr.insert(from, key);
            return Some(key);
        }
        self.by_addr.get(&from).copied()
    }

    /// How many addresses are routed, for tests and stats.
    #[cfg(test)]
    pub fn addresses(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_ufrag_then_address() {
        let mut d = Demux::default();
        d.add("srv1".into(), 1u32);
        d.add("srv2".into(), 2u32);
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        assert_eq!(d.route(a, &binding_request("srv2:cli")), Some(2));
        assert_eq!(
            d.route(a, &[0x16, 0xfe, 0xfd]),
            Some(2),
            "DTLS from the learned address"
        );
        assert_eq!(d.route(b, &[0x80, 0x60]), None, "unknown address");
        assert_eq!(d.route(b, &binding_request("nope:cli")), None);
        // The client moves: new checks from a new address re-route it.
        assert_eq!(d.route(b, &binding_request("srv2:cli")), Some(2));
        d.remove(2);
        assert_eq!(d.route(a, &[0x16]), None);
        assert_eq!(d.addresses(), 0);
    }

    #[test]
    fn malformed_stun_never_panics() {
        let good = binding_request("srv1:cli");
        for len in 0..good.len() {
            let _ = stun_server_ufrag(&good[..len]);
        }
        let mut lying = good.clone();
        lying[2] = 0xff;
        assert_eq!(stun_server_ufrag(&lying), None);
        let mut huge_attr = good;
        huge_attr[22] = 0xff;
        assert_eq!(stun_server_ufrag(&huge_attr), None);
    }
}
