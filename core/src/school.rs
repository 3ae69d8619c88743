//! The school's vocabulary about people: a user's [`Role`], a pupil's [`ConsentState`] and a
//! vulnerable pupil's [`PrivacyProfile`] (policy 40.8).
//!
//! These are the words the admission gate, the lesson and the wire share. Where they are kept
//! is the store's business: it turns them into its columns and back itself.

use serde::{Deserialize, Serialize};

/// A school's role for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Superuser,
    Teacher,
    Leader,
    Pupil,
    External,
}

impl Role {
    /// The role's name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Superuser => "superuser",
            Role::Teacher => "teacher",
            Role::Leader => "leader",
            Role::Pupil => "pupil",
            Role::External => "external",
        }
    }

    /// Parses a role's name (from a form, a file or a stored value).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "superuser" => Role::Superuser,
            "teacher" => Role::Teacher,
            "leader" => Role::Leader,
            "pupil" => Role::Pupil,
            "external" => Role::External,
            _ => return None,
        })
    }

    /// Staff are everyone but pupils.
    pub fn is_staff(self) -> bool {
        self != Role::Pupil
    }
}

/// How a session's person signed in (stored with the session, shown by `GET /api/me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// Email and password only.
    Password,
    /// Email and password, then an authenticator (TOTP) or recovery code.
    PasswordTotp,
    /// The school's identity provider (OpenID Connect), no MFA asserted.
    Sso,
    /// The school's identity provider, whose token asserts it did MFA (`amr`).
    SsoMfa,
}

impl SignInMethod {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::PasswordTotp => "password_totp",
            SignInMethod::Sso => "sso",
            SignInMethod::SsoMfa => "sso_mfa",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "password" => SignInMethod::Password,
            "password_totp" => SignInMethod::PasswordTotp,
            "sso" => SignInMethod::Sso,
            "sso_mfa" => SignInMethod::SsoMfa,
            _ => return None,
        })
    }

    /// True when the session was proved with two factors (what opening a recording needs).
    pub fn two_factors(self) -> bool {
        matches!(self, SignInMethod::PasswordTotp | SignInMethod::SsoMfa)
    }
}

/// A pupil's consent, as the admission gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Current,
    Missing,
    Withdrawn,
    OptedOut,
}

/// A vulnerable pupil's privacy profile (policy 40.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyProfile {
    pub camera_always_off: bool,
    /// Shown to other pupils instead of the pupil's name.
    pub alias: Option<String>,
    /// Left out of lists other pupils see.
    pub hidden_from_pupils: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_the_wire_names_and_parse_back() {
        for role in [
            Role::Superuser,
            Role::Teacher,
            Role::Leader,
            Role::Pupil,
            Role::External,
        ] {
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{}\"", role.as_str()));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Teacher"), None);
    }

    #[test]
    fn sign_in_methods_are_the_wire_names_and_only_two_count_as_two_factors() {
        use SignInMethod::*;
        for m in [Password, PasswordTotp, Sso, SsoMfa] {
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.as_str()));
            assert_eq!(SignInMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(SignInMethod::parse("totp"), None);
        let two: Vec<_> = [Password, PasswordTotp, Sso, SsoMfa]
            .into_iter()
            .filter(|m| m.two_factors())
            .collect();
        assert_eq!(two, [PasswordTotp, SsoMfa]);
    }
}
