//! Checks a publisher's SDP offer before any peer connection is built for it.
//!
//! The lesson decides who may send what; this says what an offer would send. An offer is
//! refused unless each media section it sends is of a kind its stream kind allows, there is
//! at most one of each, and the codecs include VP8 (video) or Opus (audio).
//!
//! "Sends" follows the standards every browser engine speaks, whatever the section order or
//! payload types: a section's direction is its own `a=sendrecv`/`a=sendonly`/`a=recvonly`/
//! `a=inactive`, else the session's, else `sendrecv` (RFC 4566 section 6, RFC 3264 section
//! 5.1); a section with port 0 is disabled, except one marked `a=bundle-only` inside a BUNDLE
//! group, which shares the group's transport (RFC 8843 section 6: Firefox offers its second
//! section that way). The media layer then opens only the kinds this check accepted, so a
//! section it calls disabled can never carry media in by the back door.

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::sdp::{MediaDescription, SessionDescription};

use livegate_core::codes::ErrorCode;

use livegate_core::proto::StreamKind;

/// The largest SDP accepted, in bytes.
pub const MAX_SDP_BYTES: usize = 32 * 1024;

/// The most media sections an offer may have. A Livegate client offers one or two (one peer
/// connection per stream, no renegotiation); four leaves room for a browser's extra disabled
/// section and keeps the answer the library builds small.
pub const MAX_MEDIA_SECTIONS: usize = 4;

/// What an acceptable offer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferSummary {
    pub audio: bool,
    pub video: bool,
}

/// The media directions of RFC 3264.
const DIRECTIONS: [&str; 4] = ["sendrecv", "sendonly", "recvonly", "inactive"];

/// Parses and checks an offer for a stream of `kind`.
pub fn check_offer(kind: StreamKind, sdp: &str) -> Result<OfferSummary, ErrorCode> {
    if sdp.len() > MAX_SDP_BYTES || !sdp.starts_with("v=0") {
        return Err(ErrorCode::BadSdp);
    }
    let desc = RTCSessionDescription::offer(sdp.to_owned()).map_err(|_| ErrorCode::BadSdp)?;
    let parsed = desc.unmarshal().map_err(|_| ErrorCode::BadSdp)?;
    if parsed.media_descriptions.len() > MAX_MEDIA_SECTIONS {
        return Err(ErrorCode::UnsupportedMedia);
    }
    let mut summary = OfferSummary {
        audio: false,
        video: false,
    };
    for media in &parsed.media_descriptions {
        if !sends(&parsed, media) {
            continue;
        }
        match media.media_name.media.as_str() {
            "audio" => {
                if summary.audio || kind == StreamKind::Screen || !has_codec(media, "opus") {
                    return Err(ErrorCode::UnsupportedMedia);
                }
                summary.audio = true;
            }
            "video" => {
                if summary.video || kind == StreamKind::Microphone || !has_codec(media, "vp8") {
                    return Err(ErrorCode::UnsupportedMedia);
                }
                summary.video = true;
            }
            // A data channel or anything else Livegate does not carry.
            _ => return Err(ErrorCode::UnsupportedMedia),
        }
    }
    let complete = match kind {
        StreamKind::Camera => summary.video,
        StreamKind::Microphone => summary.audio,
        StreamKind::Screen => summary.video,
    };
    if complete {
        Ok(summary)
    } else {
        Err(ErrorCode::UnsupportedMedia)
    }
}

/// Whether a section of an offer is enabled and its offerer sends on it.
fn sends(session: &SessionDescription, media: &MediaDescription) -> bool {
    let own = media.attributes.iter().find(|a| DIRECTIONS.contains(&a.key.as_str()));
    let inherited = session.attributes.iter().find(|a| DIRECTIONS.contains(&a.key.as_str()));
    let direction = own.or(inherited).map_or("sendrecv", |a| a.key.as_str());
    let enabled = media.media_name.port.value != 0 || (media.has_attribute("bundle-only") && bundled(session, media));
    enabled && (direction == "sendrecv" || direction == "sendonly")
}

/// Whether a section's `a=mid` is in one of the session's `a=group:BUNDLE` lines.
fn bundled(session: &SessionDescription, media: &MediaDescription) -> bool {
    let Some(Some(mid)) = media.attribute("mid") else {
        return false;
    };
    session
        .attributes
        .iter()
        .filter(|a| a.key == "group")
        .filter_map(|a| a.value.as_deref())
        .filter_map(|v| v.strip_prefix("BUNDLE"))
        .any(|mids| mids.split_whitespace().any(|m| m == mid))
}

/// Whether a section's `a=rtpmap` lines name the codec (case-insensitive; any payload type,
/// as Firefox uses 120 for VP8 and 109 for Opus where Chromium uses 96 and 111).
fn has_codec(media: &MediaDescription, codec: &str) -> bool {
    media
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| a.value.as_deref())
        .filter_map(|v| v.split_whitespace().nth(1))
        .filter_map(|encoding| encoding.split('/').next())
        .any(|name| name.eq_ignore_ascii_case(codec))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An offer with one section per `(media, direction, codec)`, all bundled, on port 9.
    fn offer(sections: &[(&str, &str, &str)]) -> String {
        let sections: Vec<Section<'_>> = sections
            .iter()
            .map(|&(media, dir, codec)| Section {
                media,
                dir,
                codec,
                port: 9,
                extra: "",
            })
            .collect();
        offer_with("", &sections)
    }

    struct Section<'a> {
        media: &'a str,
        dir: &'a str,
        codec: &'a str,
        port: u16,
        extra: &'a str,
    }

    /// An offer with session-level attributes and sections as given; every section's mid is
    /// in the BUNDLE group. An empty `dir` leaves the section without a direction attribute.
    fn offer_with(session: &str, sections: &[Section<'_>]) -> String {
        let mut s = String::from("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
        s.push_str(session);
        s.push_str("a=group:BUNDLE");
        for i in 0..sections.len() {
            s.push_str(&format!(" {i}"));
        }
        s.push_str("\r\n");
        for (i, x) in sections.iter().enumerate() {
            let pt = if x.media == "audio" { 109 } else { 120 };
            let dir = if x.dir.is_empty() {
                String::new()
            } else {
                format!("a={}\r\n", x.dir)
            };
            s.push_str(&format!(
                "m={} {} UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\n{}a=mid:{i}\r\n{dir}a=rtpmap:{pt} {}\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=rtcp-mux\r\n",
                x.media, x.port, x.extra, x.codec
            ));
        }
        s
    }

    #[test]
    fn camera_with_audio_and_video_is_accepted() {
        let o = offer(&[
            ("audio", "sendonly", "opus/48000/2"),
            ("video", "sendonly", "VP8/90000"),
        ]);
        assert_eq!(
            check_offer(StreamKind::Camera, &o),
            Ok(OfferSummary {
                audio: true,
                video: true
            })
        );
    }

    #[test]
    fn kinds_limit_sections() {
        let av = offer(&[
            ("audio", "sendonly", "opus/48000/2"),
            ("video", "sendonly", "VP8/90000"),
        ]);
        assert_eq!(
            check_offer(StreamKind::Microphone, &av),
            Err(ErrorCode::UnsupportedMedia)
        );
        assert_eq!(check_offer(StreamKind::Screen, &av), Err(ErrorCode::UnsupportedMedia));
        let two_video = offer(&[("video", "sendonly", "VP8/90000"), ("video", "sendrecv", "VP8/90000")]);
        assert_eq!(
            check_offer(StreamKind::Camera, &two_video),
            Err(ErrorCode::UnsupportedMedia)
        );
        let h264 = offer(&[("video", "sendonly", "H264/90000")]);
        assert_eq!(check_offer(StreamKind::Camera, &h264), Err(ErrorCode::UnsupportedMedia));
        let inactive = offer(&[("audio", "inactive", "opus/48000/2")]);
        assert_eq!(
            check_offer(StreamKind::Microphone, &inactive),
            Err(ErrorCode::UnsupportedMedia)
        );
        let mic = offer(&[
            ("audio", "sendonly", "opus/48000/2"),
            ("video", "recvonly", "VP8/90000"),
        ]);
        assert_eq!(
            check_offer(StreamKind::Microphone, &mic),
            Ok(OfferSummary {
                audio: true,
                video: false
            })
        );
    }

    #[test]
    fn garbage_is_bad_sdp_and_never_panics() {
        for bad in [
            "",
            "hello",
            "v=0\r\nm=",
            "v=0\r\nm=video x y z\r\n",
            &"v=0".repeat(20000),
        ] {
            assert!(check_offer(StreamKind::Camera, bad).is_err(), "{bad:.20}");
        }
    }

    const OPUS: &str = "opus/48000/2";
    const VP8: &str = "VP8/90000";

    fn section<'a>(media: &'a str, dir: &'a str, port: u16, extra: &'a str) -> Section<'a> {
        let codec = if media == "audio" { OPUS } else { VP8 };
        Section {
            media,
            dir,
            codec,
            port,
            extra,
        }
    }

    const BOTH: Result<OfferSummary, ErrorCode> = Ok(OfferSummary {
        audio: true,
        video: true,
    });

    /// Firefox bundles its second section with port 0 and `a=bundle-only` (RFC 8843): it
    /// sends, so a camera offer has video (issue 14: it was read as "not sending").
    #[test]
    fn a_bundle_only_section_with_port_zero_sends() {
        let o = offer_with(
            "",
            &[
                section("audio", "sendonly", 9, ""),
                section("video", "sendonly", 0, "a=bundle-only\r\n"),
            ],
        );
        assert_eq!(check_offer(StreamKind::Camera, &o), BOTH);
        // And the kinds still limit it: that video in a microphone offer is refused.
        assert_eq!(
            check_offer(StreamKind::Microphone, &o),
            Err(ErrorCode::UnsupportedMedia)
        );
        let screen = offer_with("", &[section("video", "sendonly", 0, "a=bundle-only\r\n")]);
        assert_eq!(
            check_offer(StreamKind::Screen, &screen),
            Ok(OfferSummary {
                audio: false,
                video: true
            })
        );
    }

    #[test]
    fn a_port_zero_section_outside_bundle_only_is_disabled() {
        // Port 0 alone (RFC 3264 section 8.2), or bundle-only outside any BUNDLE group.
        for extra in ["", "a=bundle-only\r\n"] {
            let mut o = offer_with(
                "",
                &[
                    section("audio", "sendonly", 9, ""),
                    section("video", "sendonly", 0, extra),
                ],
            );
            if !extra.is_empty() {
                o = o.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
            }
            assert_eq!(
                check_offer(StreamKind::Microphone, &o),
                Ok(OfferSummary {
                    audio: true,
                    video: false
                }),
                "{extra:?}"
            );
            assert_eq!(check_offer(StreamKind::Camera, &o), Err(ErrorCode::UnsupportedMedia));
        }
    }

    #[test]
    fn any_section_order_and_payload_types() {
        let video_first = offer(&[("video", "sendonly", VP8), ("audio", "sendonly", OPUS)]);
        assert_eq!(check_offer(StreamKind::Camera, &video_first), BOTH);
        // Codec names in any case, with other codecs beside them (RTX, H.264) on any numbers.
        let mixed = video_first
            .replace(
                "a=rtpmap:120 VP8/90000",
                "a=rtpmap:120 vp8/90000\r\na=rtpmap:124 rtx/90000\r\na=fmtp:124 apt=120",
            )
            .replace("a=rtpmap:109 opus/48000/2", "a=rtpmap:109 OPUS/48000/2");
        assert_eq!(check_offer(StreamKind::Camera, &mixed), BOTH);
        // A codec whose name only starts like VP8 is not VP8.
        let vp80 = offer(&[("video", "sendonly", "VP80/90000")]);
        assert_eq!(check_offer(StreamKind::Camera, &vp80), Err(ErrorCode::UnsupportedMedia));
    }

    #[test]
    fn a_section_without_direction_takes_the_sessions() {
        let sections = [section("audio", "", 9, ""), section("video", "", 9, "")];
        // No direction anywhere: sendrecv, which sends.
        assert_eq!(check_offer(StreamKind::Camera, &offer_with("", &sections)), BOTH);
        assert_eq!(
            check_offer(StreamKind::Camera, &offer_with("a=sendonly\r\n", &sections)),
            BOTH
        );
        let recv = offer_with("a=recvonly\r\n", &sections);
        assert_eq!(check_offer(StreamKind::Camera, &recv), Err(ErrorCode::UnsupportedMedia));
        // A section's own direction wins over the session's.
        let own = offer_with(
            "a=recvonly\r\n",
            &[section("audio", "sendonly", 9, ""), section("video", "", 9, "")],
        );
        assert_eq!(
            check_offer(StreamKind::Microphone, &own),
            Ok(OfferSummary {
                audio: true,
                video: false
            })
        );
    }

    #[test]
    fn more_sections_than_a_client_offers_are_refused() {
        let five = offer(&[
            ("audio", "sendonly", OPUS),
            ("video", "recvonly", VP8),
            ("video", "recvonly", VP8),
            ("audio", "recvonly", OPUS),
            ("video", "inactive", VP8),
        ]);
        assert_eq!(
            check_offer(StreamKind::Microphone, &five),
            Err(ErrorCode::UnsupportedMedia)
        );
        let four = offer(&[
            ("audio", "sendonly", OPUS),
            ("video", "recvonly", VP8),
            ("video", "recvonly", VP8),
            ("video", "inactive", VP8),
        ]);
        assert!(check_offer(StreamKind::Microphone, &four).is_ok());
    }

    /// The real offers in `server/golden/sdp/`, by file name: `<engine>-<major>-<kind>.sdp`.
    pub(in crate::media) fn golden_offers() -> Vec<(String, StreamKind, String)> {
        let dir = format!("{}/golden/sdp", env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let kind = match name.rsplit('-').next() {
                Some("camera.sdp") => StreamKind::Camera,
                Some("screen.sdp") => StreamKind::Screen,
                Some("microphone.sdp") => StreamKind::Microphone,
                _ => continue,
            };
            out.push((
                name.clone(),
                kind,
                std::fs::read_to_string(format!("{dir}/{name}")).unwrap(),
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Offers captured from each engine's run of the web client (issue 14): refusing any of
    /// them fails the build, and each is still refused as a kind it is not.
    #[test]
    fn real_browser_offers_are_accepted() {
        let offers = golden_offers();
        for engine in ["chromium", "firefox"] {
            for kind in ["camera", "screen", "microphone"] {
                let n = offers
                    .iter()
                    .filter(|(name, ..)| name.starts_with(engine) && name.ends_with(&format!("-{kind}.sdp")))
                    .count();
                assert!(n >= 1, "no golden {kind} offer from {engine}");
            }
        }
        for (name, kind, sdp) in &offers {
            let want = match kind {
                StreamKind::Camera => BOTH,
                StreamKind::Screen => Ok(OfferSummary {
                    audio: false,
                    video: true,
                }),
                StreamKind::Microphone => Ok(OfferSummary {
                    audio: true,
                    video: false,
                }),
            };
            assert_eq!(check_offer(*kind, sdp), want, "{name}");
            let wrong = match kind {
                StreamKind::Camera | StreamKind::Screen => StreamKind::Microphone,
                StreamKind::Microphone => StreamKind::Screen,
            };
            assert_eq!(
                check_offer(wrong, sdp),
                Err(ErrorCode::UnsupportedMedia),
                "{name} as {wrong:?}"
            );
        }
    }
}
