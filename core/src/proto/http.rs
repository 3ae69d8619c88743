//! The bodies of the HTTP API's section 1 (PROTOCOL.md): health, sign-in, `me`, lessons and
//! join tickets, as types the server writes and every Rust client (the test harness, the load
//! generator) reads.
//!
//! They are answers, so reading them tolerates fields added later (no `deny_unknown_fields`
//! here; the server refuses unknown fields on what it reads). The golden test at the bottom
//! freezes their JSON beside the signalling messages': renaming a field fails it.

use serde::{Deserialize, Serialize};

use super::{LessonSummary, PROTOCOL_VERSION};
use crate::admission::Decision;
use crate::codes::ErrorCode;
use crate::ids::LessonId;
use crate::school::{Role, SignInMethod};

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok`: a server that answers at all is up.
    pub status: String,
    /// The signalling protocol version this server speaks ([`PROTOCOL_VERSION`]).
    pub protocol: u32,
}

impl Health {
    /// What a running server answers.
    pub fn ok() -> Self {
        Self {
            status: "ok".into(),
            protocol: PROTOCOL_VERSION,
        }
    }
}

/// A user as the API shows them to themself (PROTOCOL.md's `User`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub role: Role,
}

/// `POST /api/session`: who signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub user: User,
}

/// One of the caller's classes in [`Me`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub id: String,
    pub name: String,
    /// The class's live lesson, if one is live.
    pub live_lesson_id: Option<LessonId>,
    /// True for a teacher of the class (who may start its lesson).
    pub can_teach: bool,
    /// For a pupil of the class: what "Join" would meet now, from the admission gate (run
    /// without recording anything), so the home page says why before they try. `None` for its
    /// teachers, and from servers before this field.
    #[serde(default)]
    pub join: Option<JoinCheck>,
}

/// What a pupil's Join would meet (PROTOCOL.md `JoinCheck`): for the class's live lesson, or,
/// with none live, for one live with its teacher in it (so only the directory counts: roster,
/// trusted domain, consent, account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinCheck {
    pub state: JoinState,
    /// The gate's code when the state is not `ready` (`teacher_absent` for `wait`).
    pub reason: Option<ErrorCode>,
}

/// Whether a Join would let the pupil in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinState {
    /// The gate admits them.
    Ready,
    /// Not yet, but the lesson page waits and moves them in by itself (the teacher stepped out).
    Wait,
    /// The gate refuses them, for `reason`: no Join button, and who to ask instead.
    Refused,
}

impl From<Decision> for JoinCheck {
    fn from(decision: Decision) -> Self {
        let (state, reason) = match decision {
            Decision::Admit(_) => (JoinState::Ready, None),
            Decision::Refuse(ErrorCode::TeacherAbsent) => (JoinState::Wait, Some(ErrorCode::TeacherAbsent)),
            Decision::Lobby => (JoinState::Wait, Some(ErrorCode::InLobby)),
            Decision::Refuse(code) => (JoinState::Refused, Some(code)),
        };
        Self { state, reason }
    }
}

/// `GET /api/conduct`: the school's code of conduct for live lessons as it stands (the current
/// version's text), for anyone of the school to read; `None` before a school has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConductBody {
    pub conduct: Option<ConductView>,
}

/// One version of the code of conduct, as pupils, parents and staff read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConductView {
    pub version: i64,
    pub text: String,
    /// When it was published (UTC ms).
    pub published_at: i64,
}

/// `GET /api/me`: the caller and their classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    pub classes: Vec<ClassSummary>,
    /// The school's recording notice, so a teacher reads it before a lesson is started (a
    /// lesson is started only when they confirm it).
    pub recording_notice: String,
    /// False when a lesson started now could not be recorded (so no pupil could join it): the
    /// teacher is told before starting.
    pub recording_ready: bool,
    /// How this session signed in, and what the account's second factor is.
    pub sign_in: SignInState,
}

/// The second-factor side of [`Me`]: the web client leads a person whose factor is required
/// but not set up to enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInState {
    pub method: SignInMethod,
    /// True when this session counts as two factors (`password_totp`, `sso_mfa`).
    pub two_factors: bool,
    /// True when the account has a confirmed authenticator (TOTP).
    pub totp_enrolled: bool,
    /// True when this person's role needs two factors: superusers and leaders always,
    /// teachers where their school says so.
    pub second_factor_required: bool,
}

/// `POST /api/session` when the account has a second factor (202): no session yet, but a
/// short-lived, single-use token for `POST /api/session/second-factor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactorNeeded {
    pub pending: String,
    pub expires_in_ms: u64,
}

/// `POST /api/lessons` and `GET /api/lessons/{lesson_id}`: one lesson.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LessonBody {
    pub lesson: LessonSummary,
}

/// `POST /api/lessons/{lesson_id}/ticket`: a join ticket for the WebSocket's `join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    /// How long the ticket can be used for, from the answer.
    pub expires_in_ms: u64,
    /// Where the signalling WebSocket is (`/ws`).
    pub ws_path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line per body, each tagged with its route, compared with a golden file.
    #[test]
    fn golden_http_bodies() {
        let user = User {
            id: "usr_ada".into(),
            display_name: "Ada Lovelace".into(),
            role: Role::Pupil,
        };
        let lesson = crate::proto::tests::lesson();
        let me = Me {
            user: user.clone(),
            classes: vec![
                ClassSummary {
                    id: "7a".into(),
                    name: "7A Science".into(),
                    live_lesson_id: Some(LessonId::parse("les_1").unwrap()),
                    can_teach: false,
                    join: Some(JoinCheck {
                        state: JoinState::Refused,
                        reason: Some(ErrorCode::ConsentMissing),
                    }),
                },
                ClassSummary {
                    id: "8b".into(),
                    name: "8B History".into(),
                    live_lesson_id: None,
                    can_teach: true,
                    join: None,
                },
            ],
            recording_notice: "This lesson is recorded.".into(),
            recording_ready: true,
            sign_in: SignInState {
                method: SignInMethod::PasswordTotp,
                two_factors: true,
                totp_enrolled: true,
                second_factor_required: false,
            },
        };
        let ticket = Ticket {
            ticket: "t".into(),
            expires_in_ms: 30_000,
            ws_path: "/ws".into(),
        };
        let mut text = String::new();
        text += &line("GET /api/health", &Health::ok());
        text += &line("POST /api/session", &SignedIn { user });
        text += &line("GET /api/me", &me);
        let pending = SecondFactorNeeded {
            pending: "p".into(),
            expires_in_ms: 300_000,
        };
        text += &line("POST /api/session (second factor needed)", &pending);
        text += &line("POST /api/lessons", &LessonBody { lesson });
        text += &line("POST /api/lessons/{lesson_id}/ticket", &ticket);
        let conduct = ConductBody {
            conduct: Some(ConductView {
                version: 2,
                text: "Be kind.".into(),
                published_at: 1_700_000_000_000,
            }),
        };
        text += &line("GET /api/conduct", &conduct);
        crate::proto::tests::golden(
            "http-v1.jsonl",
            &text,
            "an HTTP body changed; if deliberate, update PROTOCOL.md and rerun with UPDATE_GOLDEN=1",
        );
    }

    /// The gate's decisions as the home page reads them: admitted is ready, a teacher away is a
    /// wait (the page moves the pupil in), every other refusal keeps its code.
    #[test]
    fn a_join_check_follows_the_gate() {
        use crate::proto::LessonRole;
        let check = |d| JoinCheck::from(d);
        assert_eq!(check(Decision::Admit(LessonRole::Pupil)).state, JoinState::Ready);
        assert_eq!(check(Decision::Admit(LessonRole::Pupil)).reason, None);
        let away = check(Decision::Refuse(ErrorCode::TeacherAbsent));
        assert_eq!(
            (away.state, away.reason),
            (JoinState::Wait, Some(ErrorCode::TeacherAbsent))
        );
        for code in [
            ErrorCode::NotOnRoster,
            ErrorCode::ConsentMissing,
            ErrorCode::DomainNotTrusted,
            ErrorCode::RecordingUnavailable,
        ] {
            let c = check(Decision::Refuse(code));
            assert_eq!((c.state, c.reason), (JoinState::Refused, Some(code)));
        }
    }

    /// `{"route": ..., "body": ...}` and a newline, after checking the body reads back the same.
    fn line<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(route: &str, body: &T) -> String {
        #[derive(Serialize)]
        struct Line<'a, T> {
            route: &'a str,
            body: &'a T,
        }
        let json = serde_json::to_string(&Line { route, body }).unwrap();
        let back: T = serde_json::from_str(&serde_json::to_string(body).unwrap()).unwrap();
        assert_eq!(&back, body, "{route}");
        json + "\n"
    }
}
