//! Grouping and naming: a camera turned off and on, and a rejoin, make one timeline with gaps;
//! a pupil's alias names them where set; version 1 manifests keep their streams.

use super::*;
use crate::spool::{Manifest, Person, SegmentInfo, Source, Status};

/// Segments of stream `stream` every 2 s from `from` to `to` (ms), from `source`.
fn segments(stream: &str, source: Option<(&str, &str)>, tracks: &[&str], from: i64, to: i64) -> Vec<SegmentInfo> {
    (from..to)
        .step_by(2000)
        .map(|t| SegmentInfo {
            index: 0,
            stream: stream.to_owned(),
            start_ms: t,
            end_ms: (t + 2000).min(to),
            tracks: tracks.iter().map(|t| (*t).to_owned()).collect(),
            object: String::new(),
            sha256: String::new(),
            source: source.map(|(person, kind)| Source {
                person: person.to_owned(),
                kind: kind.to_owned(),
            }),
        })
        .collect()
}

fn person(id: &str, role: &str, name: &str, alias: bool) -> Person {
    Person {
        person: id.to_owned(),
        role: role.to_owned(),
        name: name.to_owned(),
        alias,
    }
}

fn manifest(parts: Vec<Vec<SegmentInfo>>, people: Vec<Person>) -> Manifest {
    let mut segments: Vec<SegmentInfo> = parts.into_iter().flatten().collect();
    // The spool's order: by index, which is write order (interleaved in time).
    segments.sort_by_key(|s| (s.start_ms, s.stream.clone()));
    for (i, s) in segments.iter_mut().enumerate() {
        s.index = i as u64;
        s.object = crate::spool::segment_key("rec_t", s.index);
    }
    Manifest {
        version: crate::spool::MANIFEST_VERSION,
        recording: "rec_t".into(),
        school: "sch_demo".into(),
        started_at: 0,
        status: Status::Complete,
        lost_after_ms: None,
        segments,
        people,
    }
}

/// The lesson of the walkthrough: the teacher's camera (with sound) on, off at 10 s, on again
/// at 20 s, off at 30 s, on again after her tab reopened at 40 s; Ada's microphone and camera,
/// then Ada rejoins (the same person, new streams).
fn lesson() -> Manifest {
    let av = ["video", "audio"];
    manifest(
        vec![
            segments("s1", Some(("usr_rivera", "camera")), &av, 0, 10_000),
            segments("s2", Some(("usr_ada", "microphone")), &["audio"], 2_000, 12_000),
            segments("s3", Some(("usr_ada", "camera")), &["video"], 3_000, 12_000),
            segments("s4", Some(("usr_rivera", "camera")), &av, 20_000, 30_000),
            segments("s5", Some(("usr_ada", "microphone")), &["audio"], 24_000, 50_000),
            segments("s6", Some(("usr_ada", "camera")), &["video"], 25_000, 50_000),
            segments("s7", Some(("usr_rivera", "camera")), &av, 40_000, 50_000),
            segments("s8", Some(("usr_rivera", "screen")), &["video"], 42_000, 46_000),
        ],
        vec![
            person("usr_rivera", "teacher", "Ms Rivera", false),
            person("usr_ada", "pupil", "Ada", false),
        ],
    )
}

fn titles(t: &[Timeline]) -> Vec<&str> {
    t.iter().map(|t| t.title.as_str()).collect()
}

#[test]
fn a_camera_turned_off_and_on_and_a_rejoin_are_one_timeline_each_with_gaps() {
    let m = lesson();
    let t = timelines(&m);
    assert_eq!(
        titles(&t),
        [
            "Ms Rivera, camera and microphone",
            "Ms Rivera, screen",
            "Ada, camera",
            "Ada, microphone"
        ],
        "one timeline per person and kind, the teacher first"
    );
    let camera = &t[0];
    assert_eq!(camera.label, "s1");
    let parts: Vec<(&str, i64, i64)> = camera
        .parts
        .iter()
        .map(|p| (p.stream.as_str(), p.start_ms, p.end_ms))
        .collect();
    assert_eq!(
        parts,
        [("s1", 0, 10_000), ("s4", 20_000, 30_000), ("s7", 40_000, 50_000)],
        "three publishes, two gaps"
    );
    assert_eq!(camera.span(), (0, 50_000));
    assert_eq!(camera.segments.len(), 15);
    let times: Vec<i64> = camera.segments.iter().map(|&i| m.segments[i].start_ms).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "segments in time order: {times:?}"
    );
    assert!(camera
        .segments
        .iter()
        .all(|&i| m.segments[i].source.as_ref().unwrap().person == "usr_rivera"));
    let ada_mic = &t[3];
    assert_eq!(
        (ada_mic.label.as_str(), ada_mic.parts.len()),
        ("s2", 2),
        "the rejoin continues her microphone"
    );
    assert_eq!(
        (ada_mic.role.as_deref(), ada_mic.kind.as_deref()),
        (Some("pupil"), Some("microphone"))
    );
    assert_eq!(
        t.iter().map(|t| t.segments.len()).sum::<usize>(),
        m.segments.len(),
        "every segment in exactly one"
    );
}

#[test]
fn a_pupils_alias_names_their_streams_where_one_is_set() {
    let mut m = lesson();
    m.people[1] = person("usr_ada", "pupil", "Star", true);
    let t = timelines(&m);
    assert_eq!(titles(&t)[2..], ["Star, camera", "Star, microphone"]);
    assert!(t[2].alias && t[3].alias && !t[0].alias);
    assert!(
        !format!("{:?} {:?}", t, m.people).contains("Star"),
        "names are not printed in debug output"
    );
}

#[test]
fn a_version_1_manifest_keeps_one_timeline_per_stream_named_by_label() {
    let m = manifest(
        (1..=11)
            .map(|n| segments(&format!("s{n}"), None, &["audio"], n * 1000, n * 1000 + 4000))
            .collect(),
        vec![],
    );
    let t = timelines(&m);
    let want: Vec<String> = (1..=11).map(|n| format!("Stream s{n}")).collect();
    assert_eq!(
        titles(&t),
        want.iter().map(String::as_str).collect::<Vec<_>>(),
        "s2 before s10"
    );
    assert!(t
        .iter()
        .all(|t| t.parts.len() == 1 && t.role.is_none() && t.kind.is_none()));
}

#[test]
fn people_a_crash_left_unnamed_are_named_by_role_and_same_names_are_told_apart() {
    let m = manifest(
        vec![
            segments("s1", Some(("usr_b", "microphone")), &["audio"], 4000, 8000),
            segments("s2", Some(("usr_a", "microphone")), &["audio"], 2000, 8000),
            segments("s3", Some(("usr_t", "camera")), &["video"], 0, 8000),
            segments("s4", Some(("usr_c", "microphone")), &["audio"], 6000, 8000),
            segments("s5", Some(("usr_d", "microphone")), &["audio"], 7000, 8000),
        ],
        vec![
            person("usr_t", "teacher", "Ms Rivera", false),
            person("usr_c", "pupil", "Ada", false),
            person("usr_d", "pupil", "Ada", false),
        ],
    );
    // No record of usr_a and usr_b (and so no role): named in the order they first published.
    assert_eq!(
        titles(&timelines(&m)),
        [
            "Ms Rivera, camera",
            "Ada, microphone",
            "Ada, microphone (2)",
            "Participant 1, microphone",
            "Participant 2, microphone"
        ]
    );
}

#[test]
fn a_change_of_tracks_starts_another_timeline() {
    let m = manifest(
        vec![
            segments("s1", Some(("usr_t", "camera")), &["video", "audio"], 0, 4000),
            segments("s2", Some(("usr_t", "camera")), &["video"], 6000, 8000),
        ],
        vec![person("usr_t", "teacher", "Ms Rivera", false)],
    );
    assert_eq!(
        titles(&timelines(&m)),
        ["Ms Rivera, camera and microphone", "Ms Rivera, camera"]
    );
}

#[test]
fn file_names_keep_the_words_and_nothing_a_path_could_use() {
    assert_eq!(file_name("Ms Rivera, camera"), "Ms Rivera, camera.webm");
    assert_eq!(file_name("Zoë O'Neil, screen"), "Zoë O'Neil, screen.webm");
    assert_eq!(file_name("../../etc/passwd"), "_.._etc_passwd.webm");
    assert_eq!(file_name("a\"b\r\nc;d"), "a_b__c_d.webm");
    assert_eq!(file_name("..."), "stream.webm");
    assert_eq!(file_name(&"x".repeat(500)).len(), 125);
}

#[test]
fn a_stream_stays_in_one_timeline_whatever_its_segments_say() {
    // A manifest the recorder never writes: stream s2's segments name two people and kinds.
    let mut odd = segments("s2", Some(("usr_b", "screen")), &["video"], 4000, 8000);
    odd[1].source = None;
    let m = manifest(
        vec![
            segments("s1", Some(("usr_a", "camera")), &["video"], 0, 4000),
            segments("s2", Some(("usr_a", "camera")), &["video"], 0, 2000),
            odd,
        ],
        vec![],
    );
    let t = timelines(&m);
    let labels: Vec<&str> = t
        .iter()
        .flat_map(|t| t.parts.iter().map(|p| p.stream.as_str()))
        .collect();
    let distinct: std::collections::HashSet<&&str> = labels.iter().collect();
    assert_eq!(distinct.len(), labels.len(), "no stream in two timelines: {t:?}");
    assert_eq!(t.iter().map(|t| t.segments.len()).sum::<usize>(), m.segments.len());
}
