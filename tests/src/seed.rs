//! The fixed demo seed that `livegate demo` creates (users, passwords, classes).

pub const TEACHER_PASSWORD: &str = "demo-teacher";
pub const PUPIL_PASSWORD: &str = "demo-pupil";

/// Ms Rivera, teacher of 7a ("7A Science").
pub const TEACHER: &str = "teacher@demo.sch.uk";
/// Teacher of 8b ("8B History").
pub const TEACHER2: &str = "teacher2@demo.sch.uk";
/// Teacher at "Other School" (class 9c).
pub const OTHER_TEACHER: &str = "teacher@other.sch.uk";

pub const ADA: &str = "ada@pupils.demo.sch.uk";
pub const BEN: &str = "ben@pupils.demo.sch.uk";
pub const CARA: &str = "cara@pupils.demo.sch.uk";
pub const DEV: &str = "dev@pupils.demo.sch.uk";
/// In Demo Academy but not on 7a's roster.
pub const OWEN: &str = "owen@pupils.demo.sch.uk";
/// On 8b's roster only.
pub const ZOE: &str = "zoe@pupils.demo.sch.uk";

pub const CLASS_7A: &str = "7a";
pub const CLASS_8B: &str = "8b";

/// The password for a seeded user, by the shape of the address.
pub fn password_for(email: &str) -> &'static str {
    if email.contains("@pupils.") {
        PUPIL_PASSWORD
    } else {
        TEACHER_PASSWORD
    }
}
