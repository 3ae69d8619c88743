//! The stable error codes of the HTTP API and the signalling protocol, each with a plain
//! sentence.
//!
//! Every refusal a person or a client can meet has a machine code (stable, documented in
//! `server/PROTOCOL.md` section 4) and a sentence for the person. The same code travels over
//! HTTP and the WebSocket, so the web client shows the same words either way. What a code means
//! to HTTP (its status, the JSON body) is the server's `http::error`, not this module's: the
//! rules that name a code (the admission gate, a lesson, the media engine) know nothing of HTTP.

use serde::{Deserialize, Serialize};

/// Declares [`ErrorCode`] and [`ErrorCode::ALL`] from one list, so no code can be left out of
/// `ALL` (and so out of the tests that walk it).
macro_rules! error_codes {
    ($($(#[$attr:meta])* $code:ident,)+) => {
        /// Every error code Livegate sends. The serialized names are part of the protocol; new
        /// codes go at the end.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$attr])* $code,)+
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)+];
        }
    };
}

error_codes! {
    BadRequest,
    BadDate,
    BadCredentials,
    NotSignedIn,
    ForbiddenRole,
    NotFound,
    NotOnRoster,
    DomainNotTrusted,
    ConsentMissing,
    ConsentWithdrawn,
    ConsentOptedOut,
    AccountDisabled,
    InLobby,
    RefusedByTeacher,
    Conflict,
    TooManyAttempts,
    PayloadTooLarge,
    CsvNotUtf8,
    CsvEmpty,
    CsvBadHeader,
    CsvMalformed,
    CsvTooManyRows,
    RosterInvalid,
    RoleMismatch,
    CannotChangeSelf,
    WrongSchool,
    LessonNotLive,
    TeacherAbsent,
    RemovedByTeacher,
    TicketInvalid,
    TokenInvalid,
    WeakPassword,
    NotJoined,
    ProtocolMismatch,
    BadMessage,
    MessageTooLarge,
    BadSdp,
    UnsupportedMedia,
    NotGranted,
    CameraAlwaysOff,
    UnknownStream,
    DuplicateStream,
    UnknownParticipant,
    Replaced,
    HeartbeatTimeout,
    CrossSite,
    ReasonRequired,
    RecordingUnavailable,
    RecordingTampered,
    ViewExpired,
    StoreUnavailable,
    ServerStopping,
    RateLimited,
    Internal,
    TextInvalid,
    /// A participant kept sending signalling messages past their budgets and was removed.
    TooManyMessages,
    MethodNotAllowed,
    ServerBusy,
    /// The operator has disabled this school: nobody signs in and no lesson runs.
    SchoolDisabled,
    /// Trusting a public webmail domain (`core::webmail`) was asked for without confirming it.
    PublicWebmailDomain,
    /// A roster file's columns could not all be matched to Livegate's fields.
    CsvUnmappedHeader,
    /// A roster column mapping names a column the file lacks, or one column twice.
    RosterMappingInvalid,
    /// A class has more pupils to invite than one invite sheet holds.
    InviteSheetTooLarge,
    // OpenID Connect sign-in (server/PROTOCOL.md section 7); each refusal changes nothing.
    SsoNotConfigured,
    SsoUnavailable,
    SsoProviderUnavailable,
    SsoCancelled,
    SsoStateMismatch,
    SsoCodeInvalid,
    SsoBadToken,
    SsoWrongIssuer,
    SsoWrongAudience,
    SsoTokenExpired,
    SsoBadSignature,
    SsoUnsignedToken,
    SsoUnknownKey,
    SsoNonceMismatch,
    SsoOtherOrganisation,
    SsoConsumerAccount,
    SsoEmailUnverified,
    SsoUnknownPerson,
    SsoOtherSchool,
    PasswordSignInOff,
    SsoSettingsInvalid,
    SsoDomainTaken,
    /// The route needs a session signed in with two factors (opening recordings).
    MfaRequired,
    /// A second-factor code (authenticator or recovery) that does not match.
    CodeInvalid,
    /// An authenticator code for a time step already used: RFC 6238 allows each code once.
    CodeReused,
    /// The pending sign-in between the password and the code is unknown, used or expired.
    PendingSignInInvalid,
    /// Enrolling a second factor on an account that already has one.
    MfaAlreadyEnrolled,
    /// A superuser resetting their own second factor (another superuser must).
    MfaResetOwn,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "bad_request",
            BadDate => "bad_date",
            BadCredentials => "bad_credentials",
            NotSignedIn => "not_signed_in",
            ForbiddenRole => "forbidden_role",
            NotFound => "not_found",
            NotOnRoster => "not_on_roster",
            DomainNotTrusted => "domain_not_trusted",
            ConsentMissing => "consent_missing",
            ConsentWithdrawn => "consent_withdrawn",
            ConsentOptedOut => "consent_opted_out",
            AccountDisabled => "account_disabled",
            InLobby => "in_lobby",
            RefusedByTeacher => "refused_by_teacher",
            Conflict => "conflict",
            TooManyAttempts => "too_many_attempts",
            PayloadTooLarge => "payload_too_large",
            CsvNotUtf8 => "csv_not_utf8",
            CsvEmpty => "csv_empty",
            CsvBadHeader => "csv_bad_header",
            CsvMalformed => "csv_malformed",
            CsvTooManyRows => "csv_too_many_rows",
            RosterInvalid => "roster_invalid",
            RoleMismatch => "role_mismatch",
            CannotChangeSelf => "cannot_change_self",
            WrongSchool => "wrong_school",
            LessonNotLive => "lesson_not_live",
            TeacherAbsent => "teacher_absent",
            RemovedByTeacher => "removed_by_teacher",
            TicketInvalid => "ticket_invalid",
            TokenInvalid => "token_invalid",
            WeakPassword => "weak_password",
            NotJoined => "not_joined",
            ProtocolMismatch => "protocol_mismatch",
            BadMessage => "bad_message",
            MessageTooLarge => "message_too_large",
            BadSdp => "bad_sdp",
            UnsupportedMedia => "unsupported_media",
            NotGranted => "not_granted",
            CameraAlwaysOff => "camera_always_off",
            UnknownStream => "unknown_stream",
            DuplicateStream => "duplicate_stream",
            UnknownParticipant => "unknown_participant",
            Replaced => "replaced",
            HeartbeatTimeout => "heartbeat_timeout",
            CrossSite => "cross_site",
            ReasonRequired => "reason_required",
            RecordingUnavailable => "recording_unavailable",
            RecordingTampered => "recording_tampered",
            ViewExpired => "view_expired",
            StoreUnavailable => "store_unavailable",
            ServerStopping => "server_stopping",
            RateLimited => "rate_limited",
            Internal => "internal",
            TextInvalid => "text_invalid",
            TooManyMessages => "too_many_messages",
            MethodNotAllowed => "method_not_allowed",
            ServerBusy => "server_busy",
            SchoolDisabled => "school_disabled",
            PublicWebmailDomain => "public_webmail_domain",
            CsvUnmappedHeader => "csv_unmapped_header",
            RosterMappingInvalid => "roster_mapping_invalid",
            InviteSheetTooLarge => "invite_sheet_too_large",
            SsoNotConfigured => "sso_not_configured",
            SsoUnavailable => "sso_unavailable",
            SsoProviderUnavailable => "sso_provider_unavailable",
            SsoCancelled => "sso_cancelled",
            SsoStateMismatch => "sso_state_mismatch",
            SsoCodeInvalid => "sso_code_invalid",
            SsoBadToken => "sso_bad_token",
            SsoWrongIssuer => "sso_wrong_issuer",
            SsoWrongAudience => "sso_wrong_audience",
            SsoTokenExpired => "sso_token_expired",
            SsoBadSignature => "sso_bad_signature",
            SsoUnsignedToken => "sso_unsigned_token",
            SsoUnknownKey => "sso_unknown_key",
            SsoNonceMismatch => "sso_nonce_mismatch",
            SsoOtherOrganisation => "sso_other_organisation",
            SsoConsumerAccount => "sso_consumer_account",
            SsoEmailUnverified => "sso_email_unverified",
            SsoUnknownPerson => "sso_unknown_person",
            SsoOtherSchool => "sso_other_school",
            PasswordSignInOff => "password_sign_in_off",
            SsoSettingsInvalid => "sso_settings_invalid",
            SsoDomainTaken => "sso_domain_taken",
            MfaRequired => "mfa_required",
            CodeInvalid => "code_invalid",
            CodeReused => "code_reused",
            PendingSignInInvalid => "pending_sign_in_invalid",
            MfaAlreadyEnrolled => "mfa_already_enrolled",
            MfaResetOwn => "mfa_reset_own",
        }
    }

    /// A plain sentence for the person who sees the error.
    pub fn message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "The request was not in the expected form.",
            BadDate => "Dates must be real calendar days written YYYY-MM-DD, and the first day may not be after the last.",
            BadCredentials => "That email and password do not match an account.",
            NotSignedIn => "Please sign in first.",
            ForbiddenRole => "Your role does not allow this.",
            NotFound => "There is no such class or lesson for you.",
            NotOnRoster => "You are not on this class's roster, so you cannot join its lessons.",
            DomainNotTrusted => "Your account's email domain is not one this school trusts for live lessons.",
            ConsentMissing => "The school has no signed livestream code of conduct from you and your parent or carer yet.",
            ConsentWithdrawn => "Consent for livestream lessons has been withdrawn, so you cannot join.",
            ConsentOptedOut => "Your parent or carer has opted you out of livestream lessons; the school has another plan for you.",
            AccountDisabled => "This account is disabled. Please contact the school.",
            InLobby => "You are waiting in the lobby until the teacher lets you in.",
            RefusedByTeacher => "The teacher did not let you into this lesson.",
            Conflict => "That already exists.",
            TooManyAttempts => "Too many attempts. Please wait a few minutes and try again.",
            PayloadTooLarge => "The upload is too large; a roster file may be at most 5 MiB.",
            CsvNotUtf8 => "The file is not UTF-8 text; save it as \"CSV UTF-8\" and try again.",
            CsvEmpty => "The file has no pupils in it.",
            CsvBadHeader => "The first row must name the columns: pupil email, first name, last name, class.",
            CsvMalformed => "The file is not valid CSV.",
            CsvTooManyRows => "The file has more than 20,000 pupils; split it into smaller files.",
            RosterInvalid => "Some rows have problems, so nothing was imported; fix them and try again.",
            RoleMismatch => "That person's role does not fit: pupils join a class as pupils, teachers as teachers.",
            CannotChangeSelf => "You cannot change your own role or disable your own account; ask another superuser.",
            WrongSchool => "This lesson belongs to another school.",
            LessonNotLive => "This lesson is not live: it has not started or has already ended.",
            TeacherAbsent => "The teacher has not joined yet. Please try again in a moment.",
            RemovedByTeacher => "The teacher removed you from this lesson.",
            TicketInvalid => "The join ticket is unknown, expired, already used, for another lesson, or not issued to this session.",
            TokenInvalid => "This link is unknown, has expired or has already been used. Ask the school for a new one.",
            WeakPassword => "Choose a password of at least 10 and at most 256 characters.",
            NotJoined => "The first message must be a join.",
            ProtocolMismatch => "This client speaks a different protocol version; please reload the page.",
            BadMessage => "The message was not understood.",
            MessageTooLarge => "The message was too large.",
            BadSdp => "The session description could not be used.",
            UnsupportedMedia => "Only VP8 video and Opus audio, one track of each kind, are accepted.",
            NotGranted => "The teacher has not allowed you to share that.",
            CameraAlwaysOff => "The school's privacy setting keeps this pupil's camera off.",
            UnknownStream => "There is no such stream of yours.",
            DuplicateStream => "That stream id is already in use.",
            UnknownParticipant => "There is no such participant in this lesson.",
            Replaced => "You joined this lesson again from another window or device.",
            HeartbeatTimeout => "The connection went quiet for too long.",
            CrossSite => "Requests from other sites are refused.",
            ReasonRequired => "Please give a reason of at least five letters or digits; it is kept in the audit log.",
            RecordingUnavailable => "Recording is not available, so this lesson cannot admit pupils (or this recording cannot be opened).",
            RecordingTampered => "This recording failed its integrity check and will not be shown.",
            ViewExpired => "This viewing has expired. Open the recording again.",
            StoreUnavailable => "The database cannot be reached just now; nothing was changed. Please try again shortly.",
            ServerStopping => "Livegate is restarting; try again in a minute.",
            RateLimited => "Too many requests in a short time. Please slow down and try again in a moment.",
            Internal => "Something went wrong on the server; nothing was changed.",
            TextInvalid => "Some text cannot be accepted as written (too long, empty, or with invisible or direction-changing characters); nothing was changed.",
            TooManyMessages => "Your device sent too many messages too quickly, so it was taken out of the lesson. Wait a minute, then join again.",
            MethodNotAllowed => "That address does not take this kind of request.",
            ServerBusy => "Livegate has too many connections open just now; please try again in a moment.",
            SchoolDisabled => "This school's Livegate service is switched off. Please contact the school.",
            PublicWebmailDomain => "That is a public webmail domain: anyone can make an account on it. Trust it only if you mean to, and confirm; nothing was changed.",
            CsvUnmappedHeader => "Livegate could not tell which columns hold the pupil's email, first name and class; choose them and check the file again.",
            RosterMappingInvalid => "The column choices do not fit this file: each field needs a different column of the file.",
            InviteSheetTooLarge => "An invite sheet holds at most 120 pupils; this class has more without a password.",
            SsoNotConfigured => "Your school does not sign in with that provider on Livegate. Use the other button, or sign in with your password.",
            SsoUnavailable => "This Livegate server has no app registration for that provider yet; whoever runs the server adds one to its configuration.",
            SsoProviderUnavailable => "Your school's sign-in provider could not be reached just now; nothing was changed. Please try again in a minute.",
            SsoCancelled => "Sign-in was cancelled or refused at your school's provider; nothing was changed.",
            SsoStateMismatch => "This sign-in answer does not belong to a sign-in started in this browser, or it took longer than 10 minutes. Start again from the sign-in page.",
            SsoCodeInvalid => "Your school's provider did not accept this sign-in (it may have been used already). Start again from the sign-in page.",
            SsoBadToken => "The answer from your school's provider could not be read, so it was refused. Start again from the sign-in page.",
            SsoWrongIssuer => "The sign-in answer did not come from your school's provider, so it was refused.",
            SsoWrongAudience => "The sign-in answer was made for another application, not this Livegate, so it was refused.",
            SsoTokenExpired => "The sign-in answer has expired or is not valid yet (check this device's date and time). Start again from the sign-in page.",
            SsoBadSignature => "The sign-in answer's signature does not check out, so it was refused.",
            SsoUnsignedToken => "The sign-in answer was not signed with an accepted algorithm, so it was refused.",
            SsoUnknownKey => "The sign-in answer was signed with a key your school's provider does not publish, so it was refused.",
            SsoNonceMismatch => "The sign-in answer does not match the sign-in started in this browser, so it was refused. Start again from the sign-in page.",
            SsoOtherOrganisation => "That account belongs to another organisation's Microsoft or Google directory, not your school's. Sign in with the account your school gave you.",
            SsoConsumerAccount => "That is a personal Microsoft account. Sign in with the account your school gave you.",
            SsoEmailUnverified => "Your school's provider did not confirm this account's email address, so Livegate cannot tell who you are. Ask your school's IT team.",
            SsoUnknownPerson => "Livegate has no account for you at this school. Ask your school to add you: signing in does not create an account.",
            SsoOtherSchool => "This account belongs to another school on Livegate, not the one whose sign-in you used.",
            PasswordSignInOff => "Your school signs pupils in with their school Microsoft or Google account: use the button for it.",
            SsoSettingsInvalid => "Those sign-in settings cannot be used: a Microsoft tenant is a directory (tenant) id of your organisation, not the personal-account one; a Google domain is your Workspace's primary domain; nothing was changed.",
            SsoDomainTaken => "One of those email domains already signs in through another school's settings; nothing was changed.",
            MfaRequired => "This needs two-step sign-in. Set up an authenticator app under Two-step sign-in at the top of the page, then sign out and sign in again with its code.",
            CodeInvalid => "That code is not right. Enter the 6-digit code your authenticator app shows now, or one of your unused recovery codes.",
            CodeReused => "That code has already been used. Wait for your authenticator app to show the next one.",
            PendingSignInInvalid => "This sign-in has expired or was already finished. Please sign in again with your email and password.",
            MfaAlreadyEnrolled => "Two-step sign-in is already set up for this account. To replace it, ask a superuser to reset it.",
            MfaResetOwn => "You cannot reset your own two-step sign-in; ask another superuser.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert!(code.message().ends_with('.'), "{code:?}");
            assert!(seen.insert(code.as_str()), "{code:?}: two codes with one name");
        }
    }
}
