//! The spool end to end without a server: segments sealed into the spool, uploaded to a local
//! object store, recovered after a simulated crash, verified and exported with the CLI, and
//! checked by ffprobe. Also: nothing in the spool or the store is plaintext WebM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use livegate_recorder::frames::Segmenter;
use livegate_recorder::keys::{generate_hex, Kek};
use livegate_recorder::objstore::{ObjectStoreConfig, Objects};
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{self, Meta, Person, RecordingWriter, Source, Status};
use livegate_recorder::webm::{self, Frame, Track};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lg_{name}_{}", rand::random::<u64>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Ten seconds of a camera stream: video at 25 fps with a keyframe every second, Opus every 20 ms.
fn camera(seconds: i64) -> Vec<Frame> {
    let mut v = Vec::new();
    for i in 0..seconds * 50 {
        let t = i * 20;
        if i % 2 == 0 {
            let key = i % 50 == 0;
            let mut data = vec![
                if key { 0x00 } else { 0x01 },
                0,
                0,
                0x9d,
                0x01,
                0x2a,
                0x40,
                0x01,
                0xf0,
                0x00,
            ];
            data.extend(std::iter::repeat_n(0x55u8, 200));
            v.push(Frame {
                track: Track::Video,
                time_ms: t,
                keyframe: key,
                data,
            });
        }
        v.push(Frame {
            track: Track::Audio,
            time_ms: t,
            keyframe: true,
            data: vec![0xfc, 0xff, 0xfe],
        });
    }
    v
}

fn record(spool: &Path, kek: &Kek, id: &str, seconds: i64, finish: bool) -> usize {
    let meta = Meta {
        recording: id.into(),
        school: "sch_demo".into(),
        started_at: 0,
    };
    let writer = RecordingWriter::create(spool, meta, DataKey::generate().unwrap(), kek).unwrap();
    let mut seg = Segmenter::new(true, true);
    let mut n = 0;
    for f in camera(seconds) {
        if let Some(cut) = seg.push(f) {
            writer.write_segment("s1", &cut).unwrap();
            n += 1;
        }
    }
    if finish {
        let cut = seg.finish().unwrap();
        writer.write_segment("s1", &cut).unwrap();
        writer.finish(Status::Complete).unwrap();
        n += 1;
    }
    n
}

fn no_plaintext_webm(dir: &Path) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == [0x1a, 0x45, 0xdf, 0xa3]),
            "plaintext WebM in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

/// `args` and then where the recordings are: `--key-file key --local store`.
fn with_store<'a>(args: &[&'a str], key: &'a str, store: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--key-file", key, "--local", store]);
    all
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_livegate-recorder"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn record_upload_verify_export() {
    let (spool_dir, store_dir, work) = (temp("spool"), temp("store"), temp("work"));
    let key_file = work.join("school.key");
    std::fs::write(&key_file, generate_hex().unwrap()).unwrap();
    let kek = Kek::from_file(&key_file).unwrap();
    let segments = record(&spool_dir, &kek, "rec_complete", 10, true);
    assert!((4..=6).contains(&segments), "about two-second segments: {segments}");
    no_plaintext_webm(&spool_dir);

    let objects = Objects::open(&ObjectStoreConfig::Local {
        path: store_dir.clone(),
    })
    .unwrap();
    let done = spool::drain_once(&spool_dir, &objects).await.unwrap();
    assert_eq!(done.len(), 1);
    assert!(walk(&spool_dir).is_empty(), "the spool drains completely");
    no_plaintext_webm(&store_dir);

    let store = store_dir.to_str().unwrap();
    let key = key_file.to_str().unwrap();
    let (ok, text) = cli(&[
        "verify",
        "rec_complete",
        "--key-file",
        key,
        "--local",
        store,
        "--manifest-sha256",
        &done[0].manifest_sha256,
    ]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{segments} segments verified")), "{text}");
    let (ok, text) = cli(&[
        "verify",
        "rec_complete",
        "--key-file",
        key,
        "--local",
        store,
        "--manifest-sha256",
        &"0".repeat(64),
    ]);
    assert!(!ok && text.contains("audit chain"), "{text}");

    let out = work.join("lesson.webm");
    let (ok, text) = cli(&[
        "export",
        "rec_complete",
        "--key-file",
        key,
        "--local",
        store,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration",
            "-of",
            "default=nw=1",
        ])
        .arg(&out)
        .output()
        .expect("ffprobe (Debian package ffmpeg) must be installed");
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(
        text.contains("codec_name=vp8") && text.contains("codec_name=opus"),
        "{text}"
    );
    let duration: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("duration="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 10.0).abs() < 1.0, "duration {duration}");

    // A flipped byte in one stored segment is caught by verify.
    let victim = walk(&store_dir).into_iter().find(|p| p.ends_with("s00000002")).unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let (ok, text) = cli(&["verify", "rec_complete", "--key-file", key, "--local", store]);
    assert!(!ok && text.contains("segment 2"), "{text}");
    // A wrong key opens nothing.
    std::fs::write(work.join("other.key"), generate_hex().unwrap()).unwrap();
    let (ok, _) = cli(&[
        "verify",
        "rec_complete",
        "--key-file",
        work.join("other.key").to_str().unwrap(),
        "--local",
        store,
    ]);
    assert!(!ok);
}

#[tokio::test]
async fn a_crash_loses_at_most_the_segment_in_flight() {
    let (spool_dir, store_dir) = (temp("spool"), temp("store"));
    let kek = Arc::new(Kek::from_hex(&generate_hex().unwrap()).unwrap());
    // The process "dies" after 9 seconds: no finish, and a half-written segment left behind.
    let written = record(&spool_dir, &kek, "rec_crashed", 9, false);
    std::fs::write(
        spool_dir.join("rec_crashed").join(format!("s{written:08}.tmp")),
        b"half a segment",
    )
    .unwrap();
    let recovered = spool::recover(&spool_dir, |_| Some(kek.clone())).unwrap();
    assert_eq!(recovered.len(), 1);
    assert!(
        spool::recover(&spool_dir, |_| Some(kek.clone())).unwrap().is_empty(),
        "recovery happens once"
    );
    let objects = Objects::open(&ObjectStoreConfig::Local {
        path: store_dir.clone(),
    })
    .unwrap();
    assert_eq!(
        spool::drain_once(&spool_dir, &objects).await.unwrap()[0].manifest_sha256,
        recovered[0].manifest_sha256
    );
    let (manifest, key, _) = spool::open_recording(&objects, &kek, "rec_crashed").await.unwrap();
    assert_eq!(manifest.status, Status::Interrupted);
    assert_eq!(manifest.segments.len(), written);
    let lost_after = manifest.lost_after_ms.unwrap();
    assert!(
        lost_after >= 9000 - 2 * livegate_recorder::frames::SEGMENT_MS,
        "at most one segment lost: {lost_after}"
    );
    for info in &manifest.segments {
        spool::open_segment(&objects, &key, "rec_crashed", info).await.unwrap();
    }
}

#[tokio::test]
async fn an_outage_loses_nothing() {
    let spool_dir = temp("spool");
    let kek = Kek::from_hex(&generate_hex().unwrap()).unwrap();
    record(&spool_dir, &kek, "rec_outage", 4, true);
    // The store is unreachable (a file where its folder should be): nothing is lost.
    let blocked = temp("blocked").join("not-a-dir");
    std::fs::write(&blocked, b"x").unwrap();
    let broken = Objects::Local(blocked);
    assert!(spool::drain_once(&spool_dir, &broken).await.is_err());
    assert!(!walk(&spool_dir).is_empty());
    let good = Objects::open(&ObjectStoreConfig::Local { path: temp("store") }).unwrap();
    assert_eq!(spool::drain_once(&spool_dir, &good).await.unwrap().len(), 1);
    let (manifest, _, _) = spool::open_recording(&good, &kek, "rec_outage").await.unwrap();
    assert_eq!(manifest.status, Status::Complete);
    assert_eq!(manifest.segments.iter().map(|s| s.end_ms).max().unwrap() / 1000, 4);
}

/// Spools one publish of `frames` (shifted to start at `from_ms`) as stream `label` of `source`.
fn publish(writer: &RecordingWriter, label: &str, source: &Source, frames: Vec<Frame>, from_ms: i64, audio_only: bool) {
    let mut seg = Segmenter::new(!audio_only, true);
    let frames = frames.into_iter().filter(|f| !audio_only || f.track == Track::Audio);
    for mut f in frames {
        f.time_ms += from_ms;
        if let Some(cut) = seg.push(f) {
            writer.write_segment_of(label, Some(source), &cut).unwrap();
        }
    }
    writer
        .write_segment_of(label, Some(source), &seg.finish().unwrap())
        .unwrap();
}

/// The teacher's camera on for 4 s, off, on again at 8 s for 4 s; a pupil with a privacy alias
/// speaks from 2 s to 6 s and again after rejoining at 9 s. The CLI lists and exports one file
/// per person and kind, named and titled as the leader's player names them, each with its gap;
/// and no name is ever in the spool or the store in the clear.
#[tokio::test]
async fn export_names_each_timeline_as_the_player_does() {
    let (spool_dir, store_dir, work) = (temp("spool"), temp("store"), temp("work"));
    let key_file = work.join("school.key");
    std::fs::write(&key_file, generate_hex().unwrap()).unwrap();
    let kek = Kek::from_file(&key_file).unwrap();
    let meta = Meta {
        recording: "rec_named".into(),
        school: "sch_demo".into(),
        started_at: 0,
    };
    let writer = RecordingWriter::create(&spool_dir, meta, DataKey::generate().unwrap(), &kek).unwrap();
    let teacher = Source {
        person: "usr_rivera".into(),
        kind: "camera".into(),
    };
    let pupil = Source {
        person: "usr_ada".into(),
        kind: "microphone".into(),
    };
    let person = |id: &str, role: &str, name: &str, alias| Person {
        person: id.into(),
        role: role.into(),
        name: name.into(),
        alias,
    };
    writer
        .add_person(&person("usr_rivera", "teacher", "Ms Rivera", false))
        .unwrap();
    writer
        .add_person(&person("usr_ada", "pupil", "Starling", true))
        .unwrap();
    publish(&writer, "s1", &teacher, camera(4), 0, false);
    publish(&writer, "s2", &pupil, camera(4), 2000, true);
    publish(&writer, "s3", &teacher, camera(4), 8000, false);
    publish(&writer, "s4", &pupil, camera(2), 9000, true);
    for file in walk(&spool_dir) {
        let bytes = std::fs::read(&file).unwrap();
        for name in ["Ms Rivera", "Starling"] {
            assert!(
                !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} in the clear in {}",
                file.display()
            );
        }
    }
    writer.finish(Status::Complete).unwrap();
    let objects = Objects::open(&ObjectStoreConfig::Local {
        path: store_dir.clone(),
    })
    .unwrap();
    spool::drain_once(&spool_dir, &objects).await.unwrap();
    let (manifest, _, _) = spool::open_recording(&objects, &kek, "rec_named").await.unwrap();
    assert_eq!((manifest.version, manifest.people.len()), (2, 2));

    let (store, key) = (store_dir.to_str().unwrap(), key_file.to_str().unwrap());
    let (ok, text) = cli(&with_store(&["list", "rec_named"], key, store));
    assert!(ok, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "s1\t0:00-0:12\t2 parts\tMs Rivera, camera and microphone",
            "s2\t0:02-0:11\t2 parts\tStarling, microphone"
        ]
    );

    let out = work.join("export");
    let (ok, text) = cli(&with_store(
        &["export", "rec_named", "--out-dir", out.to_str().unwrap()],
        key,
        store,
    ));
    assert!(ok, "{text}");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["Ms Rivera, camera and microphone.webm", "Starling, microphone.webm"]
    );
    let camera_file = std::fs::read(out.join(&files[0])).unwrap();
    let title = "Ms Rivera, camera and microphone".to_owned();
    assert_eq!(
        webm::titles(&camera_file).unwrap(),
        (Some(title.clone()), vec![Some(title.clone()), Some(title)])
    );
    let (_, frames) = webm::demux(&camera_file).unwrap();
    let video: Vec<i64> = frames
        .iter()
        .filter(|f| f.track == Track::Video)
        .map(|f| f.time_ms)
        .collect();
    assert_eq!(
        (video.first(), video.last()),
        (Some(&0), Some(&11_960)),
        "both publishes, in one file"
    );
    assert!(
        !video.iter().any(|t| (4000..8000).contains(t)),
        "the camera was off from 4 s to 8 s: a gap"
    );
    let mic = std::fs::read(out.join(&files[1])).unwrap();
    assert_eq!(webm::titles(&mic).unwrap().0.as_deref(), Some("Starling, microphone"));

    // One timeline by a stream's label: s3 is the teacher's camera after it came back on.
    let one = work.join("one.webm");
    let (ok, text) = cli(&with_store(
        &["export", "rec_named", "--out", one.to_str().unwrap(), "--stream", "s3"],
        key,
        store,
    ));
    assert!(ok && text.contains("(Ms Rivera, camera and microphone)"), "{text}");
    assert_eq!(webm::demux(&std::fs::read(&one).unwrap()).unwrap().1, frames);
}
