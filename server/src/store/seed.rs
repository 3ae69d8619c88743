//! The demo seed: two schools with staff, classes, pupils, trusted domains and consent
//! records, created through the store like real data. `livegate demo` loads it into an empty
//! database, so a newcomer can try a lesson and see every admission rule at work.

use super::{ConsentInput, MemberKind, Result, Store};
use crate::password;
use livegate_core::ids::{ClassId, Email, SchoolId, UserId};
use livegate_core::school::Role;

/// The neutral code-of-conduct template every new school starts from (Livegate's own words).
pub const CONDUCT_TEMPLATE: &str = "Livestream lessons: our agreement\n\
\n\
Pupils: I will join only lessons my teacher has set, from a quiet, suitable place, dressed as I would be for school.\n\
I will keep my camera and microphone off unless my teacher asks me to turn them on.\n\
I will be kind and respectful in everything I say, show or write.\n\
I will not record, photograph or share anything from a lesson.\n\
\n\
Parents and carers: I will make sure my child joins from a suitable place and I will not record lessons.\n\
I understand that lessons are recorded by the school to keep everyone safe, and that recordings are kept securely.\n\
\n\
If anything worries you during a lesson, leave it and tell a trusted adult or the school.";

/// The recording notice shown before every lesson.
pub const RECORDING_NOTICE: &str = "This lesson is recorded from its first second to keep everyone safe. \
Recordings are encrypted and only the school's safeguarding leaders can view them, with a reason.";

const STAFF_PASSWORD: &str = "demo-teacher";
const PUPIL_PASSWORD: &str = "demo-pupil";

/// Loads the seed if the database has no schools yet. Returns true if it did.
pub async fn seed_if_empty(store: &Store) -> Result<bool> {
    if store.school(&SchoolId::parse("sch_demo").expect("id")).await?.is_some() {
        return Ok(false);
    }
    seed(store).await?;
    Ok(true)
}

async fn user(store: &Store, school: &SchoolId, email: &str, name: &str, role: Role, password: &str) -> Result<UserId> {
    let email = Email::parse(email).expect("seed email");
    store
        .create_user("seed", school, &email, name, role, Some(password::hash(password)))
        .await
}

async fn consent(store: &Store, school: &SchoolId, pupil: &UserId, parent: &str) -> Result<()> {
    let input = ConsentInput {
        pupil_signed: true,
        parent_name: parent.to_owned(),
        signed_on: super::now_ms(),
        method: "paper".to_owned(),
        conduct_version: 1,
        opt_out: false,
    };
    store.record_consent("seed", school, pupil, &input).await.map(|_| ())
}

async fn seed(store: &Store) -> Result<()> {
    let demo = SchoolId::parse("sch_demo").expect("id");
    store.create_school(&demo, "Demo Academy", "Europe/London").await?;
    store
        .publish_conduct("seed", &demo, CONDUCT_TEMPLATE, RECORDING_NOTICE, true)
        .await?;
    store
        .add_domain("seed", &demo, "demo.sch.uk", "The school's staff accounts")
        .await?;
    store
        .add_domain("seed", &demo, "pupils.demo.sch.uk", "The school's pupil accounts")
        .await?;
    store
        .add_domain(
            "seed",
            &demo,
            "partner.sch.uk",
            "Colleagues at our partner school who co-teach some lessons",
        )
        .await?;
    user(
        store,
        &demo,
        "admin@demo.sch.uk",
        "Mr Patel (IT)",
        Role::Superuser,
        "demo-admin",
    )
    .await?;
    user(
        store,
        &demo,
        "dsl@demo.sch.uk",
        "Mrs Grant (DSL)",
        Role::Leader,
        "demo-leader",
    )
    .await?;
    let rivera = user(
        store,
        &demo,
        "teacher@demo.sch.uk",
        "Ms Rivera",
        Role::Teacher,
        STAFF_PASSWORD,
    )
    .await?;
    let okafor = user(
        store,
        &demo,
        "teacher2@demo.sch.uk",
        "Mr Okafor",
        Role::Teacher,
        STAFF_PASSWORD,
    )
    .await?;
    user(
        store,
        &demo,
        "visitor@partner.sch.uk",
        "Dr Chen (partner school)",
        Role::External,
        STAFF_PASSWORD,
    )
    .await?;
    let class_7a = store
        .create_class("seed", &demo, ClassId::parse("7a"), "7A Science")
        .await?;
    let class_8b = store
        .create_class("seed", &demo, ClassId::parse("8b"), "8B History")
        .await?;
    store
        .add_member("seed", &demo, &class_7a, &rivera, MemberKind::Teacher)
        .await?;
    store
        .add_member("seed", &demo, &class_8b, &okafor, MemberKind::Teacher)
        .await?;
    // Pupils of 7A who may join.
    for (email, name, parent) in [
        ("ada@pupils.demo.sch.uk", "Ada", "A. Parent"),
        ("ben@pupils.demo.sch.uk", "Ben", "B. Parent"),
        ("cara@pupils.demo.sch.uk", "Cara", "C. Carer"),
        ("dev@pupils.demo.sch.uk", "Dev", "D. Parent"),
    ] {
        let id = user(store, &demo, email, name, Role::Pupil, PUPIL_PASSWORD).await?;
        store
            .add_member("seed", &demo, &class_7a, &id, MemberKind::Pupil)
            .await?;
        consent(store, &demo, &id, parent).await?;
    }
    // On the roster but no consent yet: refused with consent_missing.
    let eve = user(
        store,
        &demo,
        "eve@pupils.demo.sch.uk",
        "Eve",
        Role::Pupil,
        PUPIL_PASSWORD,
    )
    .await?;
    store
        .add_member("seed", &demo, &class_7a, &eve, MemberKind::Pupil)
        .await?;
    // On the roster with consent, but the account is in no trusted domain: domain_not_trusted.
    let finn = user(
        store,
        &demo,
        "finn@home-mail.example",
        "Finn",
        Role::Pupil,
        PUPIL_PASSWORD,
    )
    .await?;
    store
        .add_member("seed", &demo, &class_7a, &finn, MemberKind::Pupil)
        .await?;
    consent(store, &demo, &finn, "F. Parent").await?;
    // In the school with consent, but not on 7A's roster: refused with not_on_roster.
    let owen = user(
        store,
        &demo,
        "owen@pupils.demo.sch.uk",
        "Owen",
        Role::Pupil,
        PUPIL_PASSWORD,
    )
    .await?;
    consent(store, &demo, &owen, "O. Parent").await?;
    let zoe = user(
        store,
        &demo,
        "zoe@pupils.demo.sch.uk",
        "Zoe",
        Role::Pupil,
        PUPIL_PASSWORD,
    )
    .await?;
    store
        .add_member("seed", &demo, &class_8b, &zoe, MemberKind::Pupil)
        .await?;
    consent(store, &demo, &zoe, "Z. Parent").await?;

    let other = SchoolId::parse("sch_other").expect("id");
    store.create_school(&other, "Other School", "Europe/London").await?;
    store
        .publish_conduct("seed", &other, CONDUCT_TEMPLATE, RECORDING_NOTICE, true)
        .await?;
    store
        .add_domain("seed", &other, "other.sch.uk", "Staff accounts")
        .await?;
    store
        .add_domain("seed", &other, "pupils.other.sch.uk", "Pupil accounts")
        .await?;
    let hale = user(
        store,
        &other,
        "teacher@other.sch.uk",
        "Mrs Hale",
        Role::Teacher,
        STAFF_PASSWORD,
    )
    .await?;
    let yan = user(
        store,
        &other,
        "yan@pupils.other.sch.uk",
        "Yan",
        Role::Pupil,
        PUPIL_PASSWORD,
    )
    .await?;
    let class_9c = store
        .create_class("seed", &other, ClassId::parse("9c"), "9C Maths")
        .await?;
    store
        .add_member("seed", &other, &class_9c, &hale, MemberKind::Teacher)
        .await?;
    store
        .add_member("seed", &other, &class_9c, &yan, MemberKind::Pupil)
        .await?;
    consent(store, &other, &yan, "Y. Parent").await?;
    Ok(())
}
