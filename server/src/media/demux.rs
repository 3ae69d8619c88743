//! Routes datagrams on the shared UDP port to peer connections.
//!
//! A STUN binding request names the server's ICE username fragment in its USERNAME attribute
//! (`server:client`), which finds the peer; that peer then owns the sender's address, so the
//! DTLS, SRTP and SRTCP that follow from the same address reach it too. A client that moves
//! (a network change) sends new checks from its new address and is re-routed.
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
const ATTR_ICE_CONTROLLED: u16 = 0x8029;

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

/// Maps ufrags and addresses to peers of type `K`.
#[derive(Debug)]
pub struct Demux<K> {
    by_ufrag: HashMap<String, K>,
    by_addr: HashMap<SocketAddr, K>,
}

impl<K: Copy + Eq> Default for Demux<K> {
    fn default() -> Self {
        Self { by_ufrag: HashMap::new(), by_addr: HashMap::new() }
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

    fn binding_request(username: &str) -> Vec<u8> {
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

    #[test]
    fn routes_by_ufrag_then_address() {
        let mut d = Demux::default();
        d.add("srv1".into(), 1u32);
        d.add("srv2".into(), 2u32);
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        assert_eq!(d.route(a, &binding_request("srv2:cli")), Some(2));
        assert_eq!(d.route(a, &[0x16, 0xfe, 0xfd]), Some(2), "DTLS from the learned address");
        assert_eq!(d.route(b, &[0x80, 0x60]), None, "unknown address");
        assert_eq!(d.route(b, &binding_request("nope:cli")), None);
        // The client moves: new checks from a new address re-route it.
        assert_eq!(d.route(b, &binding_request("srv2:cli")), Some(2));
        d.remove(2);
        assert_eq!(d.route(a, &[0x16]), None);
        assert_eq!(d.addresses(), 0);
    }

    /// Found by fuzz/fuzz_media_engine: a forged binding request that claims the controlled role
    /// (a wrong MESSAGE-INTEGRITY, from an address the server never heard from) switched the
    /// lite server to controlling, and it then sent checks to the candidate the offer named.
    /// The demultiplexer drops such requests; a client's own ICE-CONTROLLING checks still route.
    #[test]
    fn a_forged_controlled_check_cannot_make_the_server_contact_named_candidates() {
        let now = std::time::Instant::now();
        let victim = "192.0.2.66:9";
        let offer = format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\na=ice-ufrag:cli1\r\n\
             a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 {}\r\na=setup:actpass\r\na=rtcp-mux\r\n\
             a=candidate:1 1 udp 2122194687 {} {} typ host\r\n",
            ["AB"; 32].join(":"),
            victim.split(':').next().unwrap(),
            victim.split(':').nth(1).unwrap(),
        );
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let (mut peer, _answer) = crate::media::peer::Peer::publish(now, local, offer).unwrap();
        let mut demux = Demux::default();
        demux.add(peer.ufrag.clone(), 1u32);
        let attacker: SocketAddr = "203.0.113.5:4000".parse().unwrap();
        let mut forged = binding_request(&format!("{}:cli1", peer.ufrag));
        for (typ, value) in [(ATTR_ICE_CONTROLLED, vec![0; 8]), (0x0008, vec![0xab; 20])] {
            forged.extend_from_slice(&typ.to_be_bytes());
            forged.extend_from_slice(&(value.len() as u16).to_be_bytes());
            forged.extend_from_slice(&value);
        }
        let len = (forged.len() - 20) as u16;
        forged[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(demux.route(attacker, &forged), None, "dropped before any peer sees it");
        if demux.route(attacker, &forged).is_some() {
            peer.handle_datagram(now, attacker, &forged);
        }
        let mut sent = Vec::new();
        for ms in (0..5000).step_by(50) {
            peer.handle_timeout(now + std::time::Duration::from_millis(ms));
            while let Some((to, _)) = peer.poll_datagram() {
                sent.push(to);
            }
        }
        assert!(sent.is_empty(), "the server contacted {sent:?}");
        // The honest client's checks claim ICE-CONTROLLING, and still reach the peer.
        let mut honest = binding_request(&format!("{}:cli1", peer.ufrag));
        honest.extend_from_slice(&[0x80, 0x2a, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
        let len = (honest.len() - 20) as u16;
        honest[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(demux.route(attacker, &honest), Some(1));
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
