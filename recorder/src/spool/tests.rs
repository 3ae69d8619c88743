//! The manifest format, frozen by golden files: version 1 (what recordings made before names
//! were recorded hold) still reads, and version 2 is written byte for byte as its golden file.
//! `UPDATE_GOLDEN=1` rewrites the version 2 file (never the version 1 one: old recordings do not
//! change).

use super::*;
use crate::timeline::timelines;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");

fn segment(index: u64, stream: &str, start_ms: i64, tracks: &[&str], source: Option<(&str, &str)>) -> SegmentInfo {
    SegmentInfo {
        index,
        stream: stream.into(),
        start_ms,
        end_ms: start_ms + 2000,
        tracks: tracks.iter().map(|t| (*t).to_owned()).collect(),
        object: segment_key("rec_golden", index),
        sha256: "ed87433a3394b566e8a17febc5db61065026384a89f7e5084fa3e6ee8af1f8f1".into(),
        source: source.map(|(person, kind)| Source {
            person: person.into(),
            kind: kind.into(),
        }),
    }
}

/// A teacher's camera, turned off and on again, and a pupil with an alias speaking.
fn version_2() -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        recording: "rec_golden".into(),
        school: "sch_demo".into(),
        started_at: 1_765_000_000_000,
        status: Status::Interrupted,
        lost_after_ms: Some(12_000),
        segments: vec![
            segment(0, "s1", 0, &["video", "audio"], Some(("usr_rivera", "camera"))),
            segment(1, "s2", 1000, &["audio"], Some(("usr_ada", "microphone"))),
            segment(2, "s3", 10_000, &["video", "audio"], Some(("usr_rivera", "camera"))),
        ],
        people: vec![
            Person {
                person: "usr_rivera".into(),
                role: "teacher".into(),
                name: "Ms Rivera".into(),
                alias: false,
            },
            Person {
                person: "usr_ada".into(),
                role: "pupil".into(),
                name: "Starling".into(),
                alias: true,
            },
        ],
    }
}

#[test]
fn a_version_1_manifest_still_reads_and_names_its_streams_by_label() {
    let bytes = std::fs::read(format!("{GOLDEN}/manifest-v1.json")).unwrap();
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((m.version, m.segments.len(), m.people.len()), (1, 2, 0));
    assert!(m.segments.iter().all(|s| s.source.is_none()));
    let t = timelines(&m);
    assert_eq!(
        t.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(),
        ["Stream s1", "Stream s2"]
    );
    // Nothing new is added to a manifest without sources: it writes back as it was.
    assert_eq!(
        serde_json::to_vec(&m).unwrap(),
        bytes,
        "a version 1 manifest round-trips byte for byte"
    );
}

#[test]
fn the_version_2_manifest_is_frozen_by_its_golden_file() {
    let path = format!("{GOLDEN}/manifest-v2.json");
    let written = serde_json::to_vec(&version_2()).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &written).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&golden),
        "the manifest format changed"
    );
    assert_eq!(serde_json::from_slice::<Manifest>(&golden).unwrap(), version_2());
    let titles: Vec<String> = timelines(&version_2()).into_iter().map(|t| t.title).collect();
    assert_eq!(titles, ["Ms Rivera, camera and microphone", "Starling, microphone"]);
}

/// The spool keeps who published sealed: the names are in no file in the clear, survive a
/// crash (recovery reads them), and a damaged record costs only that person's name.
#[test]
fn people_are_sealed_in_the_spool_and_survive_recovery() {
    let dir = std::env::temp_dir().join(format!("lg_people_{}", rand::random::<u64>()));
    let kek = std::sync::Arc::new(Kek::from_hex(&crate::keys::generate_hex().unwrap()).unwrap());
    let meta = Meta {
        recording: "rec_people".into(),
        school: "sch_demo".into(),
        started_at: 0,
    };
    let writer = RecordingWriter::create(&dir, meta, DataKey::generate().unwrap(), &kek).unwrap();
    for p in version_2().people {
        writer.add_person(&p).unwrap();
    }
    drop(writer);
    let folder = dir.join("rec_people");
    for entry in std::fs::read_dir(&folder).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(8).any(|w| w == b"Starling" || w == b"Ms River"),
            "a name in the clear"
        );
    }
    // A record damaged by a crash: the first line loses a character, the second stands.
    let text = std::fs::read_to_string(folder.join(PEOPLE)).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[0].pop();
    std::fs::write(folder.join(PEOPLE), lines.join("\n")).unwrap();
    let recovered = recover(&dir, |_| Some(kek.clone())).unwrap();
    assert_eq!(recovered.len(), 1);
    let sealed = std::fs::read(folder.join("manifest.sealed")).unwrap();
    let key = kek
        .unwrap("rec_people", &std::fs::read(folder.join("key.wrapped")).unwrap())
        .unwrap();
    let m: Manifest =
        serde_json::from_slice(&seal::open(&key, "rec_people", Kind::Manifest, 0, &sealed).unwrap()).unwrap();
    assert_eq!(m.people, vec![version_2().people[1].clone()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_backlog_counts_sealed_segments_not_uploaded_ones_or_manifests() {
    let dir = std::env::temp_dir().join(format!("lg_backlog_{}", rand::random::<u64>()));
    assert_eq!(backlog(&dir), Backlog::default(), "no spool yet: nothing waits");
    let rec = dir.join("rec_a");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::write(rec.join("meta.json"), b"{}").unwrap();
    std::fs::write(rec.join("s00000000.uploaded"), [0u8; 7]).unwrap();
    std::fs::write(rec.join("s00000001.sealed"), [0u8; 10]).unwrap();
    std::fs::write(rec.join("s00000002.sealed"), [0u8; 5]).unwrap();
    std::fs::write(rec.join("s00000003.tmp"), [0u8; 3]).unwrap();
    std::fs::write(rec.join("manifest.sealed"), [0u8; 100]).unwrap();
    // A folder without meta.json is not a recording (the uploader skips it too).
    std::fs::create_dir_all(dir.join("stray")).unwrap();
    std::fs::write(dir.join("stray").join("s00000000.sealed"), [0u8; 9]).unwrap();
    assert_eq!(
        backlog(&dir),
        Backlog {
            recordings: 1,
            segments: 2,
            bytes: 15
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
