//! The signalling wire types: every WebSocket message, as tagged serde enums.
//!
//! `PROTOCOL.md` documents these; the golden test at the bottom freezes their JSON so a change
//! to the wire is a deliberate act. Unknown fields are refused so a typo is an error rather
//! than a silently ignored request.
//!
//! [`http`] holds the bodies of the HTTP API's section 1 (sign-in, lessons, tickets), which
//! every Rust client reads too.

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::ids::{LessonId, ParticipantId, StreamId};
use crate::school::Role;

pub mod http;

/// The protocol version a client names in `join`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest WebSocket frame accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// What a participant may send: the permissions a teacher grants to a pupil.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Media {
    Microphone,
    Camera,
    Screen,
}

/// The kind of a published stream, which fixes the tracks it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// One video track and at most one audio track.
    Camera,
    /// One audio track.
    Microphone,
    /// One video track.
    Screen,
}

impl StreamKind {
    /// The kind as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Camera => "camera",
            StreamKind::Microphone => "microphone",
            StreamKind::Screen => "screen",
        }
    }
}

/// A participant's role inside one lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonRole {
    Teacher,
    Pupil,
    /// Staff from a trusted domain who do not teach the class, admitted from the lobby by the
    /// teacher: they receive the lesson and publish only what the teacher grants, like a pupil.
    Guest,
}

impl LessonRole {
    /// The role as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            LessonRole::Teacher => "teacher",
            LessonRole::Pupil => "pupil",
            LessonRole::Guest => "guest",
        }
    }
}

/// Why a lesson ended, as `lesson_ended` says and the livestream log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The teacher ended it.
    EndedByTeacher,
    /// No teacher was connected for the absence timeout.
    TeacherAbsent,
    /// The server is stopping (a deploy or a restart); the lesson can be started again soon.
    ServerStopping,
    /// The operator disabled the school (`livegate school disable`): its lessons end at once.
    SchoolDisabled,
}

impl EndReason {
    /// The reason as it appears on the wire and in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::EndedByTeacher => "ended_by_teacher",
            EndReason::TeacherAbsent => "teacher_absent",
            EndReason::ServerStopping => "server_stopping",
            EndReason::SchoolDisabled => "school_disabled",
        }
    }
}

/// The state of a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonState {
    Live,
    Ended,
}

/// A lesson as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LessonSummary {
    pub id: LessonId,
    pub class_id: String,
    pub class_name: String,
    pub state: LessonState,
    pub teacher_present: bool,
    pub recording_notice: String,
    /// True while the lesson is being recorded; false means recording is unavailable and no
    /// pupil is admitted (the teacher's page says why).
    pub recording: bool,
}

/// A participant as the others see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub display_name: String,
    pub role: LessonRole,
    pub grants: Vec<Media>,
    pub hand_raised: bool,
    pub publishing: Vec<StreamKind>,
    /// A pupil's privacy profile (policy 40.8), sent only to the class's teacher and to the
    /// pupil themself; absent for everyone else and for pupils without a profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyView>,
}

/// What a privacy profile means inside a lesson, for those allowed to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyView {
    /// The camera can never be granted or published.
    pub camera_always_off: bool,
    /// The name other pupils and guests see instead of the real one.
    pub alias: Option<String>,
    /// Left out of the participant lists other pupils and guests receive.
    pub hidden_from_pupils: bool,
}

/// Someone waiting in the lobby, as the teacher sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LobbyEntry {
    pub participant_id: ParticipantId,
    pub display_name: String,
    /// Their role at the school (`teacher`, `leader`, `superuser`, `external`).
    pub role: Role,
    /// Their email's domain, so the teacher can tell a colleague from a stranger.
    pub domain: String,
}

/// An ICE candidate as the browser's `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateInit {
    pub candidate: String,
    #[serde(default, rename = "sdpMid", skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex", skip_serializing_if = "Option::is_none")]
    pub sdp_mline_index: Option<u16>,
    #[serde(default, rename = "usernameFragment", skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// Messages from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Join {
        protocol: u32,
        ticket: String,
    },
    Publish {
        stream_id: StreamId,
        kind: StreamKind,
        sdp: String,
    },
    Unpublish {
        stream_id: StreamId,
    },
    Answer {
        stream_id: StreamId,
        sdp: String,
    },
    Candidate {
        stream_id: StreamId,
        candidate: Option<CandidateInit>,
    },
    Ping,
    Grant {
        participant_id: ParticipantId,
        media: Media,
    },
    Revoke {
        participant_id: ParticipantId,
        media: Media,
    },
    Mute {
        participant_id: ParticipantId,
    },
    Remove {
        participant_id: ParticipantId,
    },
    EndLesson,
    Hand {
        raised: bool,
    },
    Admit {
        participant_id: ParticipantId,
    },
    Refuse {
        participant_id: ParticipantId,
    },
    /// The teacher lowers a pupil's raised hand (added within version 1).
    LowerHand {
        participant_id: ParticipantId,
    },
}

impl ClientMsg {
    /// Parses one client message. Serde lets the variants without fields (`ping`,
    /// `end_lesson`) through with any extra fields, so those are checked again here: every
    /// unknown field is an error, as for the other messages.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct TypeOnly {
            #[serde(rename = "type")]
            _type: String,
        }
        let msg: ClientMsg = serde_json::from_str(text)?;
        if matches!(msg, ClientMsg::Ping | ClientMsg::EndLesson) {
            serde_json::from_str::<TypeOnly>(text)?;
        }
        Ok(msg)
    }
}

/// Messages from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Joined {
        participant_id: ParticipantId,
        role: LessonRole,
        lesson: LessonSummary,
        participants: Vec<Participant>,
        grants: Vec<Media>,
    },
    Answer {
        stream_id: StreamId,
        sdp: String,
    },
    Offer {
        stream_id: StreamId,
        publisher_id: ParticipantId,
        kind: StreamKind,
        sdp: String,
    },
    StreamEnded {
        stream_id: StreamId,
    },
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantLeft {
        participant_id: ParticipantId,
    },
    ParticipantUpdated {
        participant: Participant,
    },
    Grants {
        grants: Vec<Media>,
    },
    Removed {
        reason: ErrorCode,
    },
    Lobby {
        participant_id: ParticipantId,
        lesson: LessonSummary,
    },
    LobbyUpdated {
        waiting: Vec<LobbyEntry>,
    },
    LessonEnded {
        reason: EndReason,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream_id: Option<StreamId>,
    },
}

impl ServerMsg {
    /// An `error` message carrying the code's standard sentence.
    pub fn error(code: ErrorCode, stream_id: Option<StreamId>) -> Self {
        Self::Error {
            code,
            message: code.message().to_owned(),
            stream_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(s: &str) -> ParticipantId {
        ParticipantId::parse(s).unwrap()
    }

    fn sid(s: &str) -> StreamId {
        StreamId::parse(s).unwrap()
    }

    /// The lesson of every golden example (the HTTP bodies' too).
    pub(super) fn lesson() -> LessonSummary {
        LessonSummary {
            id: LessonId::parse("les_1").unwrap(),
            class_id: "7a".into(),
            class_name: "7A Science".into(),
            state: LessonState::Live,
            teacher_present: true,
            recording_notice: "This lesson is recorded.".into(),
            recording: true,
        }
    }

    /// Freezes the wire format: one example of every message, compared with a golden file.
    #[test]
    fn golden_wire_format() {
        let lesson = lesson();
        let participant = Participant {
            id: pid("p_1"),
            display_name: "Ada".into(),
            role: LessonRole::Pupil,
            grants: vec![Media::Microphone],
            hand_raised: false,
            publishing: vec![StreamKind::Microphone],
            privacy: None,
        };
        let guarded = Participant {
            id: pid("p_3"),
            display_name: "Cara".into(),
            role: LessonRole::Pupil,
            grants: vec![],
            hand_raised: true,
            publishing: vec![],
            privacy: Some(PrivacyView {
                camera_always_off: true,
                alias: Some("Star".into()),
                hidden_from_pupils: true,
            }),
        };
        let client = vec![
            ClientMsg::Join {
                protocol: 1,
                ticket: "t".into(),
            },
            ClientMsg::Publish {
                stream_id: sid("cam"),
                kind: StreamKind::Camera,
                sdp: "v=0".into(),
            },
            ClientMsg::Unpublish { stream_id: sid("cam") },
            ClientMsg::Answer {
                stream_id: sid("d_1"),
                sdp: "v=0".into(),
            },
            ClientMsg::Candidate {
                stream_id: sid("cam"),
                candidate: Some(CandidateInit {
                    candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                    username_fragment: None,
                }),
            },
            ClientMsg::Ping,
            ClientMsg::Grant {
                participant_id: pid("p_1"),
                media: Media::Camera,
            },
            ClientMsg::Revoke {
                participant_id: pid("p_1"),
                media: Media::Screen,
            },
            ClientMsg::Mute {
                participant_id: pid("p_1"),
            },
            ClientMsg::Remove {
                participant_id: pid("p_1"),
            },
            ClientMsg::EndLesson,
            ClientMsg::Hand { raised: true },
            ClientMsg::Admit {
                participant_id: pid("p_4"),
            },
            ClientMsg::Refuse {
                participant_id: pid("p_4"),
            },
        ];
        let server = vec![
            ServerMsg::Joined {
                participant_id: pid("p_1"),
                role: LessonRole::Pupil,
                lesson: lesson.clone(),
                participants: vec![participant.clone()],
                grants: vec![],
            },
            ServerMsg::Answer {
                stream_id: sid("cam"),
                sdp: "v=0".into(),
            },
            ServerMsg::Offer {
                stream_id: sid("d_1"),
                publisher_id: pid("p_2"),
                kind: StreamKind::Camera,
                sdp: "v=0".into(),
            },
            ServerMsg::StreamEnded { stream_id: sid("d_1") },
            ServerMsg::ParticipantJoined {
                participant: participant.clone(),
            },
            ServerMsg::ParticipantLeft {
                participant_id: pid("p_1"),
            },
            ServerMsg::ParticipantUpdated { participant },
            ServerMsg::ParticipantUpdated { participant: guarded },
            ServerMsg::Grants {
                grants: vec![Media::Microphone, Media::Camera],
            },
            ServerMsg::Removed {
                reason: ErrorCode::RemovedByTeacher,
            },
            ServerMsg::Removed {
                reason: ErrorCode::ConsentWithdrawn,
            },
            ServerMsg::Lobby {
                participant_id: pid("p_4"),
                lesson: lesson.clone(),
            },
            ServerMsg::LobbyUpdated {
                waiting: vec![LobbyEntry {
                    participant_id: pid("p_4"),
                    display_name: "Dr Chen".into(),
                    role: Role::External,
                    domain: "partner.sch.uk".into(),
                }],
            },
            ServerMsg::LessonEnded {
                reason: EndReason::EndedByTeacher,
            },
            ServerMsg::LessonEnded {
                reason: EndReason::TeacherAbsent,
            },
            ServerMsg::LessonEnded {
                reason: EndReason::ServerStopping,
            },
            ServerMsg::Pong,
            ServerMsg::error(ErrorCode::NotGranted, Some(sid("cam"))),
            // Appended (not beside the other removals) so the fuzz seeds made from these
            // lines keep their numbers.
            ServerMsg::Removed {
                reason: ErrorCode::TooManyMessages,
            },
        ];
        let mut text = String::new();
        for m in &client {
            let line = serde_json::to_string(m).unwrap();
            assert_eq!(&serde_json::from_str::<ClientMsg>(&line).unwrap(), m);
            text.push_str(&line);
            text.push('\n');
        }
        for m in &server {
            let line = serde_json::to_string(m).unwrap();
            assert_eq!(&serde_json::from_str::<ServerMsg>(&line).unwrap(), m);
            text.push_str(&line);
            text.push('\n');
        }
        // Client messages added within version 1 come after everything older, so the lines
        // above (and the fuzz seeds made from them) keep their numbers.
        let client_later = [ClientMsg::LowerHand {
            participant_id: pid("p_1"),
        }];
        for m in &client_later {
            let line = serde_json::to_string(m).unwrap();
            assert_eq!(&serde_json::from_str::<ClientMsg>(&line).unwrap(), m);
            text.push_str(&line);
            text.push('\n');
        }
        // Server messages added within version 1 after that, for the same reason.
        let server_later = [ServerMsg::LessonEnded {
            reason: EndReason::SchoolDisabled,
        }];
        for m in &server_later {
            let line = serde_json::to_string(m).unwrap();
            assert_eq!(&serde_json::from_str::<ServerMsg>(&line).unwrap(), m);
            text.push_str(&line);
            text.push('\n');
        }
        golden(
            "protocol-v1.jsonl",
            &text,
            "wire format changed; if deliberate, bump PROTOCOL_VERSION and the golden file",
        );
    }

    /// Compares `text` with `core/golden/<name>` (`UPDATE_GOLDEN=1` rewrites the file first).
    pub(super) fn golden(name: &str, text: &str, why: &str) {
        let path = format!("{}/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, text).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, golden, "{why}");
    }

    /// The names the harness and the load generator print are the wire's own.
    #[test]
    fn role_and_kind_names_are_the_wire_names() {
        for role in [LessonRole::Teacher, LessonRole::Pupil, LessonRole::Guest] {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        for kind in [StreamKind::Camera, StreamKind::Microphone, StreamKind::Screen] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn unknown_and_malformed_messages_are_refused() {
        for bad in [
            r#"{"type":"launch_missiles"}"#,
            r#"{"type":"grant","participant_id":"p_1","media":"camera","extra":1}"#,
            r#"{"type":"join","protocol":1}"#,
            r#"{"type":"admit"}"#,
            r#"{"type":"refuse","participant_id":"p 1"}"#,
            r#"{"type":"publish","stream_id":"../x","kind":"camera","sdp":""}"#,
            r#"{"type":"publish","stream_id":"a","kind":"hologram","sdp":""}"#,
            r#"[1,2,3]"#,
            r#"not json"#,
            r#"{"type":"ping","as":"teacher"}"#,
            r#"{"type":"end_lesson","force":true}"#,
            r#"{"type":"lower_hand"}"#,
            r#"{"type":"lower_hand","participant_id":"p_1","raised":true}"#,
        ] {
            assert!(ClientMsg::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ClientMsg::parse(r#"{"type":"ping"}"#).unwrap(), ClientMsg::Ping);
        assert_eq!(
            ClientMsg::parse(r#"{"type":"end_lesson"}"#).unwrap(),
            ClientMsg::EndLesson
        );
    }
}
