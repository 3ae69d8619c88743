//! Checks a publisher's SDP offer before any peer connection is built for it.
//!
//! The lesson decides who may send what; this says what an offer would send. An offer is
//! refused unless each media section it sends is of a kind its stream kind allows, there is
//! at most one of each, and the codecs include VP8 (video) or Opus (audio).

use rtc::peer_connection::sdp::RTCSessionDescription;

use livegate_core::codes::ErrorCode;

use livegate_core::proto::StreamKind;

/// The largest SDP accepted, in bytes.
pub const MAX_SDP_BYTES: usize = 32 * 1024;

/// What an acceptable offer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferSummary {
    pub audio: bool,
    pub video: bool,
}

/// Parses and checks an offer for a stream of `kind`.
pub fn check_offer(kind: StreamKind, sdp: &str) -> Result<OfferSummary, ErrorCode> {
    if sdp.len() > MAX_SDP_BYTES || !sdp.starts_with("v=0") {
        return Err(ErrorCode::BadSdp);
    }
    let desc = RTCSessionDescription::offer(sdp.to_owned()).map_err(|_| ErrorCode::BadSdp)?;
    let parsed = desc.unmarshal().map_err(|_| ErrorCode::BadSdp)?;
    let mut summary = OfferSummary {
        audio: false,
        video: false,
    };
    for media in &parsed.media_descriptions {
        let sends = !media
            .attributes
            .iter()
            .any(|a| a.key == "recvonly" || a.key == "inactive")
            && media.media_name.port.value != 0;
        let rtpmaps: Vec<String> = media
            .attributes
            .iter()
            .filter(|a| a.key == "rtpmap")
            .filter_map(|a| a.value.as_ref())
            .map(|v| v.to_ascii_lowercase())
            .collect();
        let has = |codec: &str| {
            rtpmaps
                .iter()
                .any(|v| v.split_whitespace().nth(1).is_some_and(|c| c.starts_with(codec)))
        };
        match media.media_name.media.as_str() {
            "audio" if sends => {
                if summary.audio || kind == StreamKind::Screen || !has("opus/") {
                    return Err(ErrorCode::UnsupportedMedia);
                }
                summary.audio = true;
            }
            "video" if sends => {
                if summary.video || kind == StreamKind::Microphone || !has("vp8/") {
                    return Err(ErrorCode::UnsupportedMedia);
                }
                summary.video = true;
            }
            "audio" | "video" => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(sections: &[(&str, &str, &str)]) -> String {
        let mut s = String::from("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE");
        for i in 0..sections.len() {
            s.push_str(&format!(" {i}"));
        }
        s.push_str("\r\n");
        for (i, (media, dir, codec)) in sections.iter().enumerate() {
            let pt = if *media == "audio" { 111 } else { 96 };
            s.push_str(&format!(
                "m={media} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=mid:{i}\r\na={dir}\r\na=rtpmap:{pt} {codec}\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=rtcp-mux\r\n"
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
}
