//! Tests of remuxing frames to WebM segments, demuxing them and joining them for export.

use super::*;

pub(crate) fn frames(start_ms: i64, seconds: i64) -> Vec<Frame> {
    let mut v = Vec::new();
    for i in 0..seconds * 50 {
        let t = start_ms + i * 20;
        if i % 5 == 0 {
            // Not a decodable picture, but a well-formed VP8 frame header is not needed to remux.
            v.push(Frame {
                track: Track::Video,
                time_ms: t,
                keyframe: i == 0,
                data: vec![0x10 | (i as u8 & 1), 1, 2, 3],
            });
        }
        v.push(Frame {
            track: Track::Audio,
            time_ms: t,
            keyframe: true,
            data: vec![0xfc, i as u8],
        });
    }
    v
}

#[test]
fn mux_demux_round_trip() {
    let layout = Layout {
        video: Some((320, 240)),
        audio: true,
    };
    let input = frames(2000, 2);
    let webm = mux(&layout, &input).unwrap();
    assert_eq!(&webm[..4], &[0x1a, 0x45, 0xdf, 0xa3], "EBML magic");
    let (l, out) = demux(&webm).unwrap();
    assert_eq!(l, layout);
    assert_eq!(out.len(), input.len());
    let mut sorted = input.clone();
    sorted.sort_by_key(|f| (f.time_ms, f.track == Track::Audio));
    let mut got = out.clone();
    got.sort_by_key(|f| (f.time_ms, f.track == Track::Audio));
    for (a, b) in sorted.iter().zip(&got) {
        assert_eq!((a.track, a.time_ms, &a.data), (b.track, b.time_ms, &b.data));
    }
}

#[test]
fn concat_keeps_times() {
    let layout = Layout {
        video: None,
        audio: true,
    };
    let a = mux(
        &layout,
        &frames(0, 1)
            .into_iter()
            .filter(|f| f.track == Track::Audio)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let b = mux(
        &layout,
        &frames(1000, 1)
            .into_iter()
            .filter(|f| f.track == Track::Audio)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let joined = concat(&[a, b]).unwrap();
    let (_, out) = demux(&joined).unwrap();
    assert_eq!(out.len(), 100);
    assert_eq!(out.first().unwrap().time_ms, 0);
    assert_eq!(out.last().unwrap().time_ms, 1980);
}

/// What an export wrote before it streamed: every segment demuxed, then all muxed at once.
fn join_all_at_once(segments: &[Vec<u8>]) -> Vec<u8> {
    let mut layout = None;
    let mut all = Vec::new();
    for seg in segments {
        let (l, frames) = demux(seg).unwrap();
        layout.get_or_insert(l);
        all.extend(frames);
    }
    mux(&layout.unwrap(), &all).unwrap()
}

#[test]
fn joining_one_segment_at_a_time_writes_the_same_frames() {
    // Byte for byte two joins differ (the muxer draws random segment and track ids), so
    // compare what a player or ffprobe sees: the tracks and every frame with its time.
    let layout = Layout {
        video: Some((320, 240)),
        audio: true,
    };
    let segments: Vec<Vec<u8>> = (0..4).map(|i| mux(&layout, &frames(i * 2000, 2)).unwrap()).collect();
    let expected = demux(&join_all_at_once(&segments)).unwrap();
    assert_eq!(demux(&concat(&segments).unwrap()).unwrap(), expected, "in memory");
    let path = std::env::temp_dir().join(format!("lg_join_{}.webm", rand::random::<u64>()));
    let mut joiner = Joiner::new(std::fs::File::create(&path).unwrap());
    for seg in &segments {
        joiner.push(seg).unwrap();
    }
    joiner.finish().unwrap();
    let written = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let (l, out) = demux(&written).unwrap();
    assert!(l == expected.0 && out == expected.1, "streamed to a file");
    assert_eq!(out.len(), 4 * (100 + 20));
    assert_eq!((out.first().unwrap().time_ms, out.last().unwrap().time_ms), (0, 7980));
}

/// Found with Firefox as the teacher (issue 14): the export of a lesson whose camera grew
/// from one segment to the next failed with `Mismatch`.
#[test]
fn a_join_takes_a_change_of_video_size() {
    let sized = |w, h, start| {
        let layout = Layout {
            video: Some((w, h)),
            audio: true,
        };
        mux(&layout, &frames(start, 2)).unwrap()
    };
    let segments = [sized(320, 240, 0), sized(640, 480, 2000), sized(320, 180, 4000)];
    let (layout, out) = demux(&concat(&segments).unwrap()).unwrap();
    assert_eq!(layout.video, Some((320, 240)), "the header keeps the first size");
    assert_eq!(out.len(), 3 * (100 + 20), "every frame of every segment");
}

#[test]
fn a_join_refuses_other_tracks_and_nothing() {
    let both = mux(
        &Layout {
            video: Some((320, 240)),
            audio: true,
        },
        &frames(0, 1),
    )
    .unwrap();
    let audio: Vec<Frame> = frames(1000, 1)
        .into_iter()
        .filter(|f| f.track == Track::Audio)
        .collect();
    let audio_only = mux(
        &Layout {
            video: None,
            audio: true,
        },
        &audio,
    )
    .unwrap();
    assert!(matches!(concat(&[both, audio_only]), Err(WebmError::Mismatch)));
    assert!(matches!(concat(&[]), Err(WebmError::Empty)));
    assert!(concat(&[b"not webm".to_vec()]).is_err());
}

/// The golden segments: their layout and the frames they hold.
fn golden_cases() -> [(&'static str, Layout, Vec<Frame>); 3] {
    let only = |track, v: Vec<Frame>| v.into_iter().filter(|f| f.track == track).collect::<Vec<_>>();
    [
        (
            "segment-av.webm",
            Layout {
                video: Some((320, 240)),
                audio: true,
            },
            frames(0, 1),
        ),
        (
            "segment-audio.webm",
            Layout {
                video: None,
                audio: true,
            },
            only(Track::Audio, frames(1000, 1)),
        ),
        (
            "segment-video.webm",
            Layout {
                video: Some((640, 360)),
                audio: false,
            },
            only(Track::Video, frames(2000, 1)),
        ),
    ]
}

/// Segments written by an earlier build still demux to their frames (old recordings stay
/// playable). Compared by content, not bytes: the muxer writes ffmpeg's version into the
/// header. `UPDATE_GOLDEN=1` rewrites them; the fuzz corpus copies them (fuzz/make-seeds.py).
#[test]
fn golden_segments_still_demux() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");
    for (name, layout, input) in golden_cases() {
        let path = format!("{dir}/{name}");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, mux(&layout, &input).unwrap()).unwrap();
        }
        let (l, out) = demux(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(l, layout, "{name}");
        for track in [Track::Video, Track::Audio] {
            let want: Vec<_> = input
                .iter()
                .filter(|f| f.track == track)
                .map(|f| (f.time_ms, &f.data))
                .collect();
            let got: Vec<_> = out
                .iter()
                .filter(|f| f.track == track)
                .map(|f| (f.time_ms, &f.data))
                .collect();
            assert_eq!(got, want, "{name} {track:?}");
        }
    }
}

/// Found by fuzz_webm_demux: a segment with tracks but no frames was written, and could not
/// be read back (so a stream holding one could not be exported).
#[test]
fn a_segment_without_frames_is_refused() {
    let av = Layout {
        video: Some((320, 240)),
        audio: true,
    };
    for (layout, frames) in [
        (av, vec![]),
        (
            Layout {
                video: None,
                audio: true,
            },
            vec![],
        ),
        (
            Layout {
                video: None,
                audio: true,
            },
            frames(0, 1).into_iter().filter(|f| f.track == Track::Video).collect(),
        ),
    ] {
        assert!(
            matches!(mux(&layout, &frames), Err(WebmError::Empty)),
            "{layout:?} with {} frames",
            frames.len()
        );
    }
    // One frame on one of two tracks is a segment, and reads back.
    let one = [Frame {
        track: Track::Audio,
        time_ms: 0,
        keyframe: true,
        data: vec![0xfc, 1],
    }];
    assert_eq!(demux(&mux(&av, &one).unwrap()).unwrap().1, one);
}

/// Found by fuzz_webm_demux: a segment whose codec was not VP8 was read as video and remuxed
/// labelled VP8. Only what the recorder writes is read: WebM, VP8, Opus, one track of each.
#[test]
fn only_what_the_recorder_writes_is_read() {
    let av = mux(
        &Layout {
            video: Some((320, 240)),
            audio: true,
        },
        &frames(0, 1),
    )
    .unwrap();
    assert!(demux(&av).is_ok());
    // The same file with its video codec renamed (V_VP8 to V_VP9, same length).
    let at = av.windows(5).position(|w| w == b"V_VP8").unwrap();
    let mut vp9 = av.clone();
    vp9[at + 4] = b'9';
    assert!(matches!(demux(&vp9), Err(WebmError::Foreign(_))), "another codec");
    // The same Opus frames in another container libavformat reads (Ogg).
    let audio: Vec<Frame> = frames(0, 1).into_iter().filter(|f| f.track == Track::Audio).collect();
    let ogg = mux_as(
        "ogg",
        &Layout {
            video: None,
            audio: true,
        },
        &audio,
    )
    .unwrap();
    assert_eq!(&ogg[..4], b"OggS");
    assert!(demux(&ogg).is_err(), "an Ogg file is not a segment");
}

/// Found by fuzz_webm_demux: an audio frame at -2 ms made libavformat shift every track of
/// the remuxed segment by 2 ms.
#[test]
fn a_frame_before_the_start_is_refused() {
    let layout = Layout {
        video: Some((320, 240)),
        audio: true,
    };
    let mut input = frames(0, 1);
    input.insert(
        1,
        Frame {
            track: Track::Audio,
            time_ms: -2,
            keyframe: true,
            data: vec![0xfc, 9],
        },
    );
    assert!(matches!(mux(&layout, &input), Err(WebmError::BeforeStart)));
    assert!(mux(&layout, &input[2..]).is_ok());
}

/// Found by fuzz_webm_demux: a 2-byte VP8 frame marked a keyframe was read back from a
/// join as an interframe (libavformat took the flag of the frame before it).
#[test]
fn a_vp8_frame_without_a_valid_tag_is_refused() {
    let layout = Layout {
        video: Some((320, 240)),
        audio: true,
    };
    let mut input = frames(0, 1);
    input.push(Frame {
        track: Track::Video,
        time_ms: 1000,
        keyframe: true,
        data: vec![0xfc, 4],
    });
    assert!(matches!(mux(&layout, &input), Err(WebmError::Foreign(_))));
    assert!(mux(&layout, &input[..input.len() - 1]).is_ok());
    // Written anyway (as another muxer could), it is not read either.
    let tiny = vec![Frame {
        track: Track::Video,
        time_ms: 0,
        keyframe: true,
        data: vec![0x10, 1],
    }];
    let file = mux_unchecked(&layout, &tiny);
    assert!(matches!(demux(&file), Err(WebmError::Foreign(_))));
    assert!(matches!(
        concat(&[mux(&layout, &frames(0, 1)).unwrap(), file]),
        Err(WebmError::Foreign(_))
    ));
    // Found next: a tag whose version is over 3 (0xfc: version 6), also read with the flag
    // of the frame before it.
    let mut input = frames(0, 1);
    input.push(Frame {
        track: Track::Video,
        time_ms: 1000,
        keyframe: true,
        data: vec![0xfc, 3, 0xa3, 0x86],
    });
    assert!(matches!(mux(&layout, &input), Err(WebmError::Foreign(_))));
    let odd = vec![Frame {
        track: Track::Video,
        time_ms: 0,
        keyframe: true,
        data: vec![0xfc, 3, 0xa3, 0x86],
    }];
    assert!(matches!(
        demux(&mux_unchecked(&layout, &odd)),
        Err(WebmError::Foreign(_))
    ));
}

/// Muxes without the checks of [`mux`], to make files the recorder never writes.
fn mux_unchecked(layout: &Layout, frames: &[Frame]) -> Vec<u8> {
    init();
    let file = MemFile::default();
    let mut muxer = Muxer::start(StreamIo::from_write_seek(file.clone()).unwrap(), "webm", layout).unwrap();
    frames.iter().for_each(|f| muxer.write(f).unwrap());
    muxer.finish().unwrap();
    file.take()
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(demux(b"").is_err());
    assert!(
        demux(&[0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0]).is_err()
            || demux(&[0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0]).unwrap().1.is_empty()
    );
    assert!(mux(
        &Layout {
            video: None,
            audio: false
        },
        &[]
    )
    .is_err());
}
