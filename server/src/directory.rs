//! Who is who: schools, users, classes and rosters.
//!
//! Until the directory issue brings a real store, this is an in-memory directory loaded with
//! the demo seed (`livegate demo`). Its interface is what the rest of the server uses, so the
//! store replaces it without touching the lesson or HTTP code. Passwords are kept only as
//! PBKDF2 hashes (ring), compared in constant time.

use std::collections::HashMap;
use std::num::NonZeroU32;

use ring::pbkdf2;

use crate::admission::SchoolRole;
use crate::ids::{ClassId, Email, SchoolId, UserId};

/// A school.
#[derive(Debug, Clone)]
pub struct School {
    pub id: SchoolId,
    pub name: String,
    pub recording_notice: String,
}

/// A user account. `Debug` shows only the id and role: names and emails stay out of logs.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub school: SchoolId,
    pub email: Email,
    pub display_name: String,
    pub role: SchoolRole,
    salt: [u8; 16],
    hash: [u8; 32],
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).field("role", &self.role).finish_non_exhaustive()
    }
}

/// A class with its teachers and roster.
#[derive(Debug, Clone)]
pub struct Class {
    pub id: ClassId,
    pub school: SchoolId,
    pub name: String,
    pub teachers: Vec<UserId>,
    pub pupils: Vec<UserId>,
}

/// The directory the server consults.
#[derive(Default)]
pub struct Directory {
    schools: HashMap<SchoolId, School>,
    users: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
    classes: HashMap<ClassId, Class>,
}

const PBKDF2_ROUNDS: u32 = 60_000;

fn hash_password(salt: &[u8; 16], password: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let rounds = NonZeroU32::new(PBKDF2_ROUNDS).expect("non-zero");
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, rounds, salt, password.as_bytes(), &mut out);
    out
}

impl Directory {
    /// Adds a school.
    pub fn add_school(&mut self, id: &str, name: &str, recording_notice: &str) -> SchoolId {
        let id = SchoolId::parse(id).expect("seed id");
        self.schools.insert(
            id.clone(),
            School { id: id.clone(), name: name.into(), recording_notice: recording_notice.into() },
        );
        id
    }

    /// Adds a user with a password.
    pub fn add_user(&mut self, school: &SchoolId, email: &str, name: &str, role: SchoolRole, password: &str) -> UserId {
        let id = UserId::generate();
        let email = Email::parse(email).expect("seed email");
        let salt: [u8; 16] = rand::random();
        let user = User {
            id: id.clone(),
            school: school.clone(),
            email: email.clone(),
            display_name: name.into(),
            role,
            salt,
            hash: hash_password(&salt, password),
        };
        self.by_email.insert(email.expose().to_owned(), id.clone());
        self.users.insert(id.clone(), user);
        id
    }

    /// Adds a class.
    pub fn add_class(&mut self, school: &SchoolId, id: &str, name: &str, teachers: Vec<UserId>, pupils: Vec<UserId>) {
        let id = ClassId::parse(id).expect("seed id");
        self.classes.insert(id.clone(), Class { id, school: school.clone(), name: name.into(), teachers, pupils });
    }

    /// The user with this email and password, if both match.
    pub fn authenticate(&self, email: &Email, password: &str) -> Option<&User> {
        let user = self.by_email.get(email.expose()).and_then(|id| self.users.get(id));
        // Derive even for an unknown email so timing does not reveal which emails exist.
        let (salt, hash) = user.map(|u| (u.salt, u.hash)).unwrap_or(([0; 16], [0; 32]));
        let rounds = NonZeroU32::new(PBKDF2_ROUNDS).expect("non-zero");
        let ok = pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, password.as_bytes(), &hash).is_ok();
        user.filter(|_| ok)
    }

    /// A user by id.
    pub fn user(&self, id: &UserId) -> Option<&User> {
        self.users.get(id)
    }

    /// A school by id.
    pub fn school(&self, id: &SchoolId) -> Option<&School> {
        self.schools.get(id)
    }

    /// A class by id.
    pub fn class(&self, id: &ClassId) -> Option<&Class> {
        self.classes.get(id)
    }

    /// The classes a user teaches or is on the roster of, sorted by name.
    pub fn classes_of(&self, user: &UserId) -> Vec<&Class> {
        let mut v: Vec<&Class> =
            self.classes.values().filter(|c| c.teachers.contains(user) || c.pupils.contains(user)).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The demo seed: two schools, three classes, a handful of pupils.
    pub fn demo() -> Self {
        let mut d = Directory::default();
        let notice = "This lesson is recorded from its first second to keep everyone safe. \
                      Recordings are encrypted and only safeguarding leaders can view them, with a reason.";
        let demo = d.add_school("sch_demo", "Demo Academy", notice);
        let teacher = d.add_user(&demo, "teacher@demo.sch.uk", "Ms Rivera", SchoolRole::Teacher, "demo-teacher");
        let teacher2 = d.add_user(&demo, "teacher2@demo.sch.uk", "Mr Okafor", SchoolRole::Teacher, "demo-teacher");
        let pupil = |d: &mut Directory, email: &str, name: &str| d.add_user(&demo, email, name, SchoolRole::Pupil, "demo-pupil");
        let ada = pupil(&mut d, "ada@pupils.demo.sch.uk", "Ada");
        let ben = pupil(&mut d, "ben@pupils.demo.sch.uk", "Ben");
        let cara = pupil(&mut d, "cara@pupils.demo.sch.uk", "Cara");
        let dev = pupil(&mut d, "dev@pupils.demo.sch.uk", "Dev");
        let _owen = pupil(&mut d, "owen@pupils.demo.sch.uk", "Owen");
        let zoe = pupil(&mut d, "zoe@pupils.demo.sch.uk", "Zoe");
        d.add_class(&demo, "7a", "7A Science", vec![teacher], vec![ada, ben, cara, dev]);
        d.add_class(&demo, "8b", "8B History", vec![teacher2], vec![zoe]);
        let other = d.add_school("sch_other", "Other School", notice);
        let t3 = d.add_user(&other, "teacher@other.sch.uk", "Mrs Hale", SchoolRole::Teacher, "demo-teacher");
        let yan = d.add_user(&other, "yan@pupils.other.sch.uk", "Yan", SchoolRole::Pupil, "demo-pupil");
        d.add_class(&other, "9c", "9C Maths", vec![t3], vec![yan]);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticates_only_matching_passwords() {
        let d = Directory::demo();
        let email = Email::parse("ada@pupils.demo.sch.uk").unwrap();
        assert!(d.authenticate(&email, "demo-pupil").is_some());
        assert!(d.authenticate(&email, "demo-pupiL").is_none());
        assert!(d.authenticate(&Email::parse("nobody@demo.sch.uk").unwrap(), "demo-pupil").is_none());
        let user = d.authenticate(&email, "demo-pupil").unwrap();
        let shown = format!("{user:?}");
        assert!(!shown.contains("ada@"), "users print redacted emails: {shown}");
    }

    #[test]
    fn demo_rosters() {
        let d = Directory::demo();
        let class = d.class(&ClassId::parse("7a").unwrap()).unwrap();
        assert_eq!(class.pupils.len(), 4);
        let owen = d.authenticate(&Email::parse("owen@pupils.demo.sch.uk").unwrap(), "demo-pupil").unwrap();
        assert!(!class.pupils.contains(&owen.id));
    }
}
