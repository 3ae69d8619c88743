//! Bytes as a recording's manifest: the JSON the recorder seals (`livegate_recorder::spool::
//! Manifest`, and its `SegmentInfo` lines as the spool's `segments.jsonl` keeps them), then
//! everything the server does with a manifest when a leader opens the recording, end to end
//! through the HTTP routes (`fuzz/src/school.rs`).
//!
//! Per input: the bytes parse as a `Manifest` or not; one that parses serialises and parses
//! back to itself, and each of its segments gives its object key and tracks as the recorder
//! derives them. Then the bytes are sealed as the manifest of the template's recording (data key
//! `[7; 32]`, wrapped by the demo school's key, three real sealed WebM segments beside it at
//! `s00000000`..`s00000002`), its hash goes on the recording's row as the uploader would put it,
//! and a leader opens it (`POST .../views`) and asks for the segments of every stream it names
//! (`GET .../streams/{label}/segments/{n}`, the first three and one past the last).
//!
//! Checks besides "no panic": every answer is one the protocol allows (`school::check`); the
//! view opens exactly when the bytes parse as a manifest of this recording whose segments each
//! name their own object and a SHA-256 in hex, as the recorder writes them (otherwise
//! `recording_tampered`: opening a view indexes the segments, see `opens`); a segment is served only as a WebM that demuxes, and otherwise refused
//! with `recording_tampered` (a segment that fails its hash, index or authentication) or
//! `not_found` (past the last); the audit chain still verifies.

#![no_main]

use axum::body::Body;
use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use livegate_core::codes::ErrorCode;
use livegate_recorder::seal::{self, DataKey, Kind};
use livegate_recorder::spool::{key_object, manifest_key, segment_key, sha256_hex, tracks_of, Manifest, SegmentInfo};

use livegate_fuzz::school::{self, check, School, RECORDING};

/// The leader of the demo school (`school::ROLES`).
const LEADER: usize = 3;

/// The sealed segments stored beside every manifest, and their SHA-256 (also in
/// make-seeds.py's manifests; the target stops at start-up if they no longer match).
const SEGMENTS: [(&str, &str); 3] = [
    ("segment-av.webm", "ed87433a3394b566e8a17febc5db61065026384a89f7e5084fa3e6ee8af1f8f1"),
    ("segment-audio.webm", "67730ac42957c8898b286aa08b70b2135db3d84589df4eedaee7df25605cab0b"),
    ("segment-video.webm", "daf4ff8b5b93b86c80ebac111f910f1587825c882c3ebc4a6482456b110044c7"),
];

fn data_key() -> DataKey {
    DataKey::from_bytes([7; 32])
}

/// Writes an object where the local object store keeps it.
fn put(school: &School, key: &str, bytes: &[u8]) {
    let path = school.dir.join("objects").join(key);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("object dir");
    std::fs::write(path, bytes).expect("object");
}

/// The recording's objects: the wrapped data key, the three segments and `manifest`, sealed.
fn store_objects(school: &School, manifest: &[u8]) -> String {
    let kek = school.recordings.keyring.get("sch_demo").expect("the demo school's key");
    put(school, &key_object(RECORDING), &kek.wrap(RECORDING, &data_key()).expect("wrap"));
    for (i, sealed) in sealed_segments().iter().enumerate() {
        put(school, &segment_key(RECORDING, i as u64), sealed);
    }
    let sealed = seal::seal(&data_key(), RECORDING, Kind::Manifest, 0, manifest).expect("seal");
    put(school, &manifest_key(RECORDING), &sealed);
    sha256_hex(&sealed)
}

/// The golden segments sealed as segments 0, 1 and 2 of the recording (with a fixed nonce
/// prefix, so their hashes are fixed: a throwaway key, never a pattern for real recordings).
fn sealed_segments() -> &'static [Vec<u8>] {
    static SEALED: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEALED.get_or_init(|| {
        let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../recorder/golden");
        let seal_one = |(i, (name, sha)): (usize, &(&str, &str))| {
            let webm = std::fs::read(format!("{golden}/{name}")).expect("golden segment");
            let sealed = seal::seal_with_prefix(&data_key(), RECORDING, Kind::Media, i as u64, &[9; 7], &webm);
            let got = sha256_hex(&sealed);
            assert_eq!(&got, sha, "{name}, sealed, has another hash now: update SEGMENTS here and in make-seeds.py");
            sealed
        };
        SEGMENTS.iter().enumerate().map(seal_one).collect()
    })
}

/// The recorder's side: parse, round trip, and what it derives from each segment.
fn parse(data: &[u8]) -> Option<Manifest> {
    for line in data.split(|b| *b == b'\n') {
        if let Ok(info) = serde_json::from_slice::<SegmentInfo>(line) {
            let again: SegmentInfo = serde_json::from_slice(&serde_json::to_vec(&info).unwrap()).expect("a segment line parses back");
            assert_eq!(again, info);
        }
    }
    let m: Manifest = serde_json::from_slice(data).ok()?;
    let again: Manifest = serde_json::from_slice(&serde_json::to_vec(&m).expect("serialises")).expect("parses back");
    assert_eq!(again, m, "a manifest changed in a round trip");
    for s in &m.segments {
        let _ = (segment_key(&m.recording, s.index), tracks_of(s));
    }
    Some(m)
}

/// Whether the server opens this manifest: it is this recording's, and every segment names the
/// object its index gives (`segment_key`) and a SHA-256 as 64 hex digits. The recorder writes
/// nothing else; a manifest that names another object is refused when the view opens.
fn opens(m: &Manifest) -> bool {
    let hash = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
    m.recording == RECORDING && m.segments.iter().all(|s| s.object == segment_key(RECORDING, s.index) && hash(&s.sha256))
}

#[derive(serde::Deserialize)]
struct Opened {
    view: String,
    streams: Vec<Stream>,
}

#[derive(serde::Deserialize)]
struct Stream {
    label: String,
    segments: Vec<serde::de::IgnoredAny>,
}

fuzz_target!(|data: &[u8]| {
    let manifest = parse(data);
    let mut school = school::school();
    let run = school.begin();
    let hash = store_objects(&school, data);
    school.rt.block_on(run.store.finish_recording(RECORDING, false, &hash)).expect("the row takes the hash");
    let opens = manifest.as_ref().is_some_and(opens);
    let views = format!("/api/recordings/{RECORDING}/views");
    let req = school::request(&school, Method::POST, &views, LEADER).header("content-type", "application/json");
    let req = req.body(Body::from(r#"{"reason":"A concern was raised"}"#)).unwrap();
    let (res, body) = school.rt.block_on(school::send(&run.app, req));
    let code = check(&views, res.status(), &body);
    if !opens {
        assert_eq!(code, Some(ErrorCode::RecordingTampered), "a manifest that is not this recording's, or names other objects, opened");
        school.end(run);
        return;
    }
    assert_eq!(code, None, "this recording's manifest did not open");
    let opened: Opened = serde_json::from_slice(&body).expect("the view's answer");
    // A label no path can name (empty) is listed but cannot be asked for.
    for stream in opened.streams.iter().filter(|s| !s.label.is_empty()).take(4) {
        let count = stream.segments.len();
        for n in (0..count.min(3)).chain([count]) {
            let uri = format!("/api/recordings/{RECORDING}/streams/{}/segments/{n}?view={}", encode(&stream.label), opened.view);
            let req = school::request(&school, Method::GET, &uri, LEADER).body(Body::empty()).unwrap();
            let (res, body) = school.rt.block_on(school::send(&run.app, req));
            match check(&uri, res.status(), &body) {
                None => {
                    assert!(n < count, "{uri}: served a segment past the last");
                    assert!(body.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]), "{uri}: served something that is not WebM");
                    assert!(livegate_recorder::webm::demux(&body).is_ok(), "{uri}: served a segment that does not demux");
                }
                Some(ErrorCode::NotFound) => assert!(n == count, "{uri}: a listed segment is not_found"),
                Some(code) => assert!(code == ErrorCode::RecordingTampered && n < count, "{uri}: {code:?}"),
            }
        }
    }
    school.end(run);
});

/// A stream label as a path segment.
fn encode(label: &str) -> String {
    label.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}
