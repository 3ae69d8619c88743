//! HTTP requests through the real router, end to end in process (`fuzz/src/school.rs`): the input
//! picks up to three requests, each a route of `route_table()` (every method and path with its
//! declared access, the WebSocket upgrade aside: `fuzz_signalling` covers its messages), who
//! sends it, its path parameters (real ids of the seed's schools or fuzzed bytes), a query
//! string, a content type and the body bytes.
//!
//! Nothing may panic, and every answer must be one the protocol allows: a non-2xx answer is the
//! JSON error shape `{"error": {"code", "message"}}` with a known code, the status that code
//! maps to and its sentence; a 5xx only for `store_unavailable`, `server_stopping` (the store
//! or the server going away, which a fuzz input cannot cause, so in practice never) or
//! `recording_tampered` (a recording failing its integrity check, a 500 by design). After every
//! input the store's audit chain still verifies.
//!
//! Format (see `Req::read`; bodies may name real rows, see `fill`): per request `route role content-type flags`, then for each path
//! parameter a selector byte (below 0xC0: the n-th real id of its kind; from 0xC0: a length byte
//! and that many fuzzed bytes, percent-encoded), then, if `flags & 1`, a length byte and the
//! query string, then a `u16` length and the body. A route byte of 0xFF is followed by a length
//! byte and `METHOD /path` as the route table spells it (what the seeds use, so they survive a
//! change in the table's order).

#![no_main]

use axum::body::Body;
use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use livegate::http::{route_table, Access};

use livegate_fuzz::school::{self, check, School, RECORDING};

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    None,
    Some("text/csv"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
];

/// One request of the input.
#[derive(Debug)]
struct Req {
    route: usize,
    role: usize,
    content_type: Option<&'static str>,
    cross_site: bool,
    params: Vec<Param>,
    query: Option<Vec<u8>>,
    body: Vec<u8>,
}

#[derive(Debug)]
enum Param {
    Real(u8),
    Fuzzed(Vec<u8>),
}

/// The routes a request can take: the table without the WebSocket.
fn routes() -> Vec<(Method, &'static str, Access)> {
    route_table().into_iter().filter(|(_, path, _, _)| *path != "/ws").map(|(m, p, a, _)| (m, p, a)).collect()
}

impl Req {
    fn read(data: &mut &[u8], routes: &[(Method, &'static str, Access)]) -> Option<Req> {
        let route = match take(data, 1)?[0] {
            0xFF => {
                let len = take(data, 1)?[0];
                let name = std::str::from_utf8(take(data, usize::from(len))?).ok()?;
                routes.iter().position(|(m, p, _)| format!("{m} {p}") == name)?
            }
            b => usize::from(b) % routes.len(),
        };
        let head = take(data, 3)?;
        let (role, content_type, flags) = (usize::from(head[0]), CONTENT_TYPES[usize::from(head[1]) % CONTENT_TYPES.len()], head[2]);
        let mut params = Vec::new();
        for _ in 0..routes[route].1.matches('{').count() {
            let sel = take(data, 1)?[0];
            params.push(if sel >= 0xC0 {
                let len = take(data, 1)?[0];
                Param::Fuzzed(take(data, usize::from(len).min(data.len()))?.to_vec())
            } else {
                Param::Real(sel)
            });
        }
        let query = if flags & 1 == 1 {
            let len = take(data, 1)?[0];
            Some(take(data, usize::from(len).min(data.len()))?.to_vec())
        } else {
            None
        };
        let len = take(data, 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))).unwrap_or(0);
        let body = take(data, len.min(data.len()))?.to_vec();
        Some(Req { route, role, content_type, cross_site: flags & 2 == 2, params, query, body })
    }
}

/// The next `n` bytes, if there are that many.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = data.split_at_checked(n)?;
    *data = rest;
    Some(head)
}

/// Every byte but the unreserved ones (and, in a query, `=` and `&`) percent-encoded.
fn encode(bytes: &[u8], query: bool) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (query && b"=&".contains(&b)) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The path with its parameters filled in: real ids of the seed (`Param::Real`) or fuzzed ones.
fn path(school: &School, app: &livegate::app::App, template: &str, params: &[Param]) -> String {
    let mut params = params.iter();
    let segments = template.split('/').map(|seg| {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else { return seg.to_owned() };
        let i = match params.next() {
            Some(Param::Fuzzed(bytes)) => return encode(bytes, false),
            Some(Param::Real(i)) => usize::from(*i),
            None => 0,
        };
        let pick = |list: &[String]| list.get(i % list.len().max(1)).cloned().unwrap_or_default();
        match name {
            "user_id" => pick(&school.ids.users),
            "consent_id" => pick(&school.ids.consents),
            "class_id" => pick(&["7a", "8b", "9c"].map(String::from)),
            "domain" => pick(&["demo.sch.uk", "pupils.demo.sch.uk", "partner.sch.uk", "other.sch.uk"].map(String::from)),
            "recording_id" => pick(&[RECORDING.to_owned(), "rec_ffffffffffffffffffffffff".to_owned()]),
            "label" => pick(&["s1", "s2"].map(String::from)),
            // A segment's position: the first ones, and past the end (one past a usize too).
            "n" => pick(&["0", "1", "2", "3", "4294967296", "18446744073709551616"].map(String::from)),
            "lesson_id" => {
                // A lesson an earlier request of this input started, or one that does not exist.
                let live: Vec<String> = app.lessons.ids().iter().map(|k| k.to_string()).collect();
                live.get(i).cloned().unwrap_or_else(|| "les_00000000000000000000".to_owned())
            }
            other => panic!("a route parameter this target does not know: {other}"),
        }
    });
    segments.collect::<Vec<_>>().join("/")
}

/// The body with its placeholders filled in: `$u` and a digit is the n-th real user id, `$k` and
/// a digit the n-th consent record's id, so a seed can name rows whose ids are random per process.
fn fill(school: &School, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let list = match body.get(i..i + 2) {
            Some(b"$u") => Some(&school.ids.users),
            Some(b"$k") => Some(&school.ids.consents),
            _ => None,
        };
        match (list, body.get(i + 2).filter(|d| d.is_ascii_digit())) {
            (Some(list), Some(d)) if !list.is_empty() => {
                out.extend_from_slice(list[usize::from(d - b'0') % list.len()].as_bytes());
                i += 3;
            }
            _ => {
                out.push(body[i]);
                i += 1;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let routes = routes();
    let mut reqs = Vec::new();
    let mut data = data;
    while reqs.len() < 3 {
        match Req::read(&mut data, &routes) {
            Some(r) => reqs.push(r),
            None => break,
        }
    }
    if reqs.is_empty() {
        return;
    }
    let mut school = school::school();
    let run = school.begin();
    for req in reqs {
        let (method, template, _) = &routes[req.route];
        let mut uri = path(&school, &run.app, template, &req.params);
        if let Some(q) = &req.query {
            uri = format!("{uri}?{}", encode(q, true));
        }
        let mut builder = school::request(&school, method.clone(), &uri, req.role);
        if let Some(ct) = req.content_type {
            builder = builder.header("content-type", ct);
        }
        if req.cross_site {
            builder = builder.header("origin", "https://evil.example");
        }
        let Ok(request) = builder.body(Body::from(fill(&school, &req.body))) else { continue };
        let (res, body) = school.rt.block_on(school::send(&run.app, request));
        check(&format!("{method} {uri}"), res.status(), &body);
    }
    school.end(run);
});
