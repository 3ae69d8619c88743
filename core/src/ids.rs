//! Identifiers and personal values as types that check themselves when built.
//!
//! Ids are opaque strings with a fixed prefix and a limited alphabet, so one cannot be passed
//! where another is expected and nothing odd reaches a log or a map key. Emails and display
//! names are wrapped so that `Debug` and `Display` print them redacted: personal data about
//! children never lands in a log by accident.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Random bytes encoded in lowercase base32-ish hex, used for every generated id.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// True for 1..=64 characters of `[A-Za-z0-9_-]`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_token(10)))
            }
            /// Parses an id received from outside; `None` if it is not a well-formed token.
            pub fn parse(s: &str) -> Option<Self> {
                is_token(s).then(|| Self(s.to_owned()))
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| serde::de::Error::custom(concat!("malformed ", stringify!($name))))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(/// A school (the tenant every record belongs to).
    SchoolId, "sch_");
id_type!(/// A user account.
    UserId, "usr_");
id_type!(/// A class with its roster.
    ClassId, "cls_");
id_type!(/// One live lesson of a class.
    LessonId, "les_");
id_type!(/// One participant's presence in a lesson (a reconnect makes a new one).
    ParticipantId, "p_");
id_type!(/// A media stream: chosen by the client for publishing, by the server for receiving.
    StreamId, "d_");

/// An email address, lowercased and checked for a plausible shape. Prints redacted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address; `None` unless it is `local@domain.tld` with no spaces.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let (local, domain) = s.split_once('@')?;
        let ok = !local.is_empty()
            && local.len() <= 64
            && domain.len() <= 253
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && !domain.contains('@');
        ok.then_some(Self(s))
    }

    /// The domain part, used by the trusted-domain rule.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// The address itself, for comparison and storage only; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email(<redacted>@{})", self.domain())
    }
}

/// A value that must never be printed: names, tokens, passwords.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Redacted<T>(pub T);

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_odd_text() {
        assert!(LessonId::parse("les_abc-1").is_some());
        assert!(LessonId::parse("").is_none());
        assert!(LessonId::parse("a b").is_none());
        assert!(LessonId::parse(&"x".repeat(65)).is_none());
        assert!(serde_json::from_str::<StreamId>("\"../etc\"").is_err());
    }

    #[test]
    fn emails_normalise_and_check() {
        let e = Email::parse(" Ada@Pupils.Demo.SCH.uk ").unwrap();
        assert_eq!(e.expose(), "ada@pupils.demo.sch.uk");
        assert_eq!(e.domain(), "pupils.demo.sch.uk");
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.uk",
            "a b@x.uk",
            "ada@localhost",
            "a@b@c.uk",
            "ada@x.uk.",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn personal_values_print_redacted() {
        let e = Email::parse("ada@pupils.demo.sch.uk").unwrap();
        let shown = format!("{e:?} {:?} {}", Redacted("Ada Lovelace"), Redacted("secret"));
        assert!(!shown.contains("ada@"), "{shown}");
        assert!(!shown.contains("Lovelace"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
