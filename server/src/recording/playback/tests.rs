//! Playback reads each segment from the store, checked against the audited manifest, and views
//! belong to one leader and one recording and are bounded.

use std::path::PathBuf;

use livegate_recorder::frames::Cut;
use livegate_recorder::seal::DataKey;
use livegate_recorder::spool::{self, Meta, RecordingWriter, Status};
use livegate_recorder::webm::{self, Frame, Layout, Track};

use super::*;
use crate::media::Tap;
use crate::recording::{test_service, LessonRecorder, RecorderMsg, StreamSource};
use livegate_core::ids::Redacted;
use livegate_core::proto::{LessonRole, StreamKind};

/// Two seconds of a small camera with sound from `start_ms`, starting on a keyframe.
fn cut(start_ms: i64) -> Cut {
    let mut frames = Vec::new();
    for i in 0..100 {
        let t = start_ms + i * 20;
        if i % 4 == 0 {
            frames.push(Frame {
                track: Track::Video,
                time_ms: t,
                keyframe: i == 0,
                data: vec![u8::from(i != 0), 1, 2, 3],
            });
        }
        frames.push(Frame {
            track: Track::Audio,
            time_ms: t,
            keyframe: true,
            data: vec![0xfc, i as u8],
        });
    }
    Cut {
        layout: Layout {
            video: Some((320, 240)),
            audio: true,
        },
        frames,
        start_ms,
        end_ms: start_ms + 2000,
    }
}

/// Seals a recording of `school` with `segments` two-second segments of stream `s1` straight
/// into the service's object store, as the uploader leaves it; returns its id and manifest hash.
pub(crate) async fn stored_recording(service: &Recordings, school: &str, segments: i64) -> (String, String) {
    let id = format!("rec_{}", random_token(8));
    let spool = std::env::temp_dir().join(format!("lg_play_{}", random_token(6)));
    let kek = service.keyring.get(school).expect("the test school's key");
    let meta = Meta {
        recording: id.clone(),
        school: school.to_owned(),
        started_at: 0,
    };
    let writer = RecordingWriter::create(&spool, meta, DataKey::generate().unwrap(), &kek).unwrap();
    for n in 0..segments {
        writer.write_segment("s1", &cut(n * 2000)).unwrap();
    }
    let hash = writer.finish(Status::Complete).unwrap();
    spool::drain_once(&spool, &service.objects).await.unwrap();
    let _ = std::fs::remove_dir_all(&spool);
    (id, hash)
}

/// The file behind a segment's object in the service's local folder.
pub(crate) fn object_path(service: &Recordings, recording: &str, index: u64) -> PathBuf {
    match service.objects.as_ref() {
        Objects::Local(root) => root.join(spool::segment_key(recording, index)),
        Objects::S3(_) => unreachable!("the test service stores in a local folder"),
    }
}

/// A demo-school recording of `segments` segments, opened for playback.
async fn opened(segments: i64) -> (Arc<Recordings>, String, Playback) {
    let service = test_service();
    let school = SchoolId::parse("sch_demo").unwrap();
    let (id, hash) = stored_recording(&service, "sch_demo", segments).await;
    let playback = service.open_playback(&school, &id, &hash).await.unwrap();
    (service, id, playback)
}

#[tokio::test]
async fn a_view_reads_each_segment_when_asked() {
    let (_, _, playback) = opened(3).await;
    assert_eq!(playback.status, Status::Complete);
    assert_eq!(playback.streams.len(), 1);
    let s1 = playback.stream("s1").unwrap();
    assert_eq!(s1.tracks, ["video", "audio"]);
    let spans: Vec<(i64, i64)> = s1.segments.iter().map(|s| (s.start_ms, s.end_ms)).collect();
    assert_eq!(spans, [(0, 2000), (2000, 4000), (4000, 6000)]);
    for (n, (start, end)) in spans.iter().enumerate() {
        let (layout, frames) = webm::demux(&playback.segment("s1", n).await.unwrap()).unwrap();
        assert_eq!(
            layout,
            Layout {
                video: Some((320, 240)),
                audio: true
            }
        );
        assert!(
            frames.iter().all(|f| (*start..*end).contains(&f.time_ms)),
            "segment {n} keeps the recording's times"
        );
        assert!(
            frames.iter().find(|f| f.track == Track::Video).unwrap().keyframe,
            "segment {n} starts on a keyframe"
        );
    }
    assert!(matches!(playback.segment("s1", 3).await, Err(PlaybackError::NotFound)));
    assert!(matches!(playback.segment("s2", 0).await, Err(PlaybackError::NotFound)));
}

#[tokio::test]
async fn a_manifest_the_audit_chain_does_not_hold_is_refused() {
    let service = test_service();
    let (id, hash) = stored_recording(&service, "sch_demo", 1).await;
    let demo = SchoolId::parse("sch_demo").unwrap();
    let other = SchoolId::parse("sch_other").unwrap();
    assert!(matches!(
        service.open_playback(&demo, &id, &"0".repeat(64)).await,
        Err(PlaybackError::NotAudited)
    ));
    // Another school's key does not open it.
    assert!(matches!(
        service.open_playback(&other, &id, &hash).await,
        Err(PlaybackError::Tampered(_))
    ));
    assert!(matches!(
        service.open_playback(&demo, "rec_notthere", &hash).await,
        Err(PlaybackError::Unavailable(_))
    ));
    let nokey = SchoolId::parse("sch_nokey").unwrap();
    assert!(matches!(
        service.open_playback(&nokey, &id, &hash).await,
        Err(PlaybackError::NoKey)
    ));
}

#[tokio::test]
async fn a_changed_swapped_or_missing_segment_is_refused_and_the_others_still_play() {
    let (service, id, playback) = opened(4).await;
    let path = |i| object_path(&service, &id, i);
    let mut changed = std::fs::read(path(1)).unwrap();
    let mid = changed.len() / 2;
    changed[mid] ^= 1;
    std::fs::write(path(1), &changed).unwrap();
    std::fs::copy(path(3), path(2)).unwrap();
    std::fs::remove_file(path(0)).unwrap();
    for n in 0..3 {
        assert!(
            matches!(playback.segment("s1", n).await, Err(PlaybackError::Tampered(_))),
            "segment {n}"
        );
    }
    assert!(playback.segment("s1", 3).await.is_ok(), "an intact segment still plays");
}

/// A playback with nothing in it, for the view bookkeeping.
fn empty_playback(service: &Recordings, recording: &str) -> Playback {
    Playback {
        recording: recording.to_owned(),
        key: DataKey::from_bytes([7; 32]),
        objects: service.objects.clone(),
        reads: service.playback_reads.clone(),
        downloads: service.downloads.clone(),
        status: Status::Complete,
        lost_after_ms: None,
        streams: Vec::new(),
    }
}

#[tokio::test]
async fn a_view_is_for_one_leader_and_one_recording_until_it_expires() {
    let service = test_service();
    let views = Views::default();
    let (ann, bea) = (UserId::parse("usr_ann").unwrap(), UserId::parse("usr_bea").unwrap());
    let token = views.open(&ann, "rec_one", empty_playback(&service, "rec_one"));
    assert!(views.playback(&token, &ann, "rec_one").is_some());
    assert!(views.playback(&token, &bea, "rec_one").is_none(), "another leader");
    assert!(views.playback(&token, &ann, "rec_two").is_none(), "another recording");
    assert!(views.playback("", &ann, "rec_one").is_none(), "no token");
    views.map.lock().unwrap().get_mut(&token).unwrap().expires = Instant::now();
    assert!(views.playback(&token, &ann, "rec_one").is_none(), "expired");
}

#[tokio::test]
async fn views_are_bounded_per_leader_and_in_all() {
    let service = test_service();
    let views = Views::default();
    let ann = UserId::parse("usr_ann").unwrap();
    let tokens: Vec<String> = (0..VIEWS_PER_LEADER + 2)
        .map(|_| views.open(&ann, "rec_one", empty_playback(&service, "rec_one")))
        .collect();
    assert_eq!(views.len(), VIEWS_PER_LEADER);
    assert!(
        tokens[..2].iter().all(|t| views.playback(t, &ann, "rec_one").is_none()),
        "the oldest two gave way"
    );
    assert!(tokens[2..].iter().all(|t| views.playback(t, &ann, "rec_one").is_some()));
    for n in 0..MAX_VIEWS {
        let user = UserId::parse(&format!("usr_{n}")).unwrap();
        views.open(&user, "rec_one", empty_playback(&service, "rec_one"));
    }
    assert_eq!(views.len(), MAX_VIEWS);
}

/// Sends `seconds` of Opus on `stream` from `from_ms` (as the media engine taps it).
fn speak(
    recorder: &LessonRecorder,
    stream: crate::media::StreamKey,
    base: std::time::Instant,
    from_ms: u64,
    seconds: u64,
) {
    for n in 0..seconds * 50 {
        let ms = from_ms + n * 20;
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                sequence_number: n as u16,
                timestamp: (ms * 48) as u32,
                ..Default::default()
            },
            payload: bytes::Bytes::from(vec![0xfc, n as u8]),
        };
        recorder.offer(
            stream,
            livegate_sfu::TrackKind::Audio,
            &packet,
            base + Duration::from_millis(ms),
        );
    }
}

fn source(person: &UserId, role: LessonRole, name: &str, alias: bool) -> Option<StreamSource> {
    Some(StreamSource {
        person: person.clone(),
        role,
        kind: StreamKind::Microphone,
        name: Redacted(name.to_owned()),
        alias,
    })
}

/// The lesson's recorder records who published each stream: a pupil who speaks, leaves and
/// rejoins is one timeline with a gap, named by her alias; the teacher's by her name; and the
/// leader's view lists them so, the teacher first.
#[tokio::test]
async fn the_recorder_names_each_stream_and_a_rejoin_continues_its_timeline() {
    let service = test_service();
    let school = SchoolId::parse("sch_demo").unwrap();
    let id = format!("rec_{}", random_token(8));
    let recorder = service.begin(&school, &id, 0).unwrap();
    let base = std::time::Instant::now();
    let (teacher, pupil) = (UserId::generate(), UserId::generate());
    let started = |stream, source| RecorderMsg::StreamStarted {
        stream,
        video: false,
        audio: true,
        source,
    };
    let keys: Vec<crate::media::StreamKey> = (1..=3).map(crate::media::StreamKey).collect();
    recorder.send(started(keys[0], source(&pupil, LessonRole::Pupil, "Starling", true)));
    speak(&recorder, keys[0], base, 0, 3);
    recorder.send(RecorderMsg::StreamEnded(keys[0]));
    recorder.send(started(
        keys[1],
        source(&teacher, LessonRole::Teacher, "Ms Rivera", false),
    ));
    speak(&recorder, keys[1], base, 1000, 8);
    // The pupil's rejoin: a new stream of the same person and kind.
    recorder.send(started(keys[2], source(&pupil, LessonRole::Pupil, "Starling", true)));
    speak(&recorder, keys[2], base, 6000, 3);
    recorder.send(RecorderMsg::Finish);
    recorder.finished().await;
    // The uploader takes the sealed recording to the store.
    let kek = service.keyring.get("sch_demo").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (manifest, _, hash) = loop {
        match spool::open_recording(&service.objects, &kek, &id).await {
            Ok(opened) => break opened,
            Err(e) => assert!(std::time::Instant::now() < deadline, "not uploaded: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(manifest.people.len(), 2, "each person once");
    let playback = service.open_playback(&school, &id, &hash).await.unwrap();
    let got: Vec<(&str, &str, Option<&str>, bool, usize)> = playback
        .streams
        .iter()
        .map(|s| {
            (
                s.label.as_str(),
                s.title.as_str(),
                s.role.as_deref(),
                s.alias,
                s.parts.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("s2", "Ms Rivera, microphone", Some("teacher"), false, 1),
            ("s1", "Starling, microphone", Some("pupil"), true, 2)
        ]
    );
    let pupil_parts = &playback.streams[1].parts;
    assert!(
        pupil_parts[0].1 <= 3100 && pupil_parts[1].0 >= 5900,
        "a gap while she was away: {pupil_parts:?}"
    );
    let last = playback.streams[1].segments.len() - 1;
    assert!(
        webm::demux(&playback.segment("s1", last).await.unwrap()).is_ok(),
        "the rejoin's media plays under the timeline's label"
    );
}
