//! Freezes every administration answer: one example of each body, compared with
//! `server/golden/admin-bodies.jsonl`.

use super::*;
use crate::http::tests::Golden;
use crate::store::roster::{ImportRow, ImportSummary, Plan};
use crate::store::UserRecord;
use livegate_core::ids::{Email, SchoolId};
use livegate_core::roster_csv::RowError;
use livegate_core::school::Role;
use livegate_core::text::Problem;

fn user(id: &str, name: &str, role: Role) -> AdminUser {
    AdminUser::of(&UserRecord {
        id: UserId::parse(id).unwrap(),
        school: SchoolId::parse("sch_demo").unwrap(),
        email: Email::parse(&format!("{}@demo.sch.uk", &id[4..])).unwrap(),
        display_name: name.into(),
        role,
        disabled: false,
        password_hash: Some("$argon2id$...".into()),
    })
}

fn class() -> ClassRef {
    ClassRef {
        id: ClassId::parse("7a").unwrap(),
        name: "7A Science".into(),
    }
}

fn report(ok: bool) -> ImportReport {
    let row = ImportRow {
        line: 2,
        email: "ada@pupils.demo.sch.uk".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        class: "7A Science".into(),
        user: ok.then_some(Plan::New),
        class_status: ok.then_some(Plan::Existing),
        membership: ok.then_some(Plan::New),
        unchanged: false,
        errors: if ok {
            vec![]
        } else {
            vec![RowError {
                code: "bad_name",
                message: "The first name is too long.".into(),
                reason: Some(Problem::TooLong),
            }]
        },
        warnings: vec![RowError::new("email_not_trusted", "Not a trusted domain.")],
    };
    ImportReport {
        applied: ok,
        ok,
        summary: ImportSummary {
            rows: 1,
            users_created: usize::from(ok),
            classes_created: 0,
            memberships_created: usize::from(ok),
            unchanged: 0,
            rows_with_errors: usize::from(!ok),
        },
        rows: vec![row],
    }
}

fn consent_record() -> ConsentRecord {
    ConsentRecord {
        id: "con_1".into(),
        pupil_id: UserId::parse("usr_ada").unwrap(),
        pupil_signed: true,
        parent_name: "E. Parent".into(),
        signed_on: 1_767_225_600_000,
        method: "paper".into(),
        conduct_version: 1,
        opt_out: false,
        recorded_by: "usr_admin".into(),
        recorded_at: 1_767_229_200_000,
        withdrawn_at: None,
        withdrawn_by: None,
    }
}

#[test]
fn admin_bodies_are_frozen() {
    let ada = || user("usr_ada", "Ada Lovelace", Role::Pupil);
    let mut g = Golden::default();
    g.add("GET /api/admin/users", &UserList { users: vec![ada()] });
    g.add("POST /api/admin/users", &UserBody { user: ada() });
    let counts = ClassCounts {
        id: ClassId::parse("7a").unwrap(),
        name: "7A Science".into(),
        pupils: 28,
        teachers: 1,
    };
    g.add("GET /api/admin/classes", &ClassList { classes: vec![counts] });
    g.add("POST /api/admin/classes", &ClassBody { class: class() });
    let members = ClassMembers {
        class: class(),
        members: vec![
            Member {
                user: user("usr_teacher", "Ms Hopper", Role::Teacher),
                kind: MemberKind::Teacher,
            },
            Member {
                user: ada(),
                kind: MemberKind::Pupil,
            },
        ],
    };
    g.add("GET /api/admin/classes/{class_id}", &members);
    let membership = Membership {
        class_id: ClassId::parse("7a").unwrap(),
        user_id: UserId::parse("usr_ada").unwrap(),
        kind: MemberKind::Pupil,
    };
    g.add("POST /api/admin/classes/{class_id}/members", &membership);
    g.add("POST /api/admin/roster/import", &Imported { report: report(true) });
    let refused = ImportRefused {
        error: ErrorDetail::of(ErrorCode::RosterInvalid),
        report: report(false),
    };
    g.add("POST /api/admin/roster/import?apply=true (422)", &refused);
    let file = FileRefused {
        error: FileErrorDetail {
            base: ErrorDetail::of(ErrorCode::CsvBadHeader),
            line: Some(1),
            detail: "The column \"year\" is not one of the roster's columns.".into(),
        },
    };
    g.add("POST /api/admin/roster/import (400)", &file);
    let mapping = ColumnMap {
        email: Some(5),
        first_name: Some(1),
        last_name: Some(0),
        class: Some(3),
        role: None,
    };
    let request = crate::http::admin::roster::RosterSource::Csv {
        file: "U3VybmFtZSxGb3JlbmFtZS4uLg==".into(),
        mapping: Some(mapping),
    };
    g.add("POST /api/admin/roster/import (application/json request)", &request);
    let columns = || Columns {
        header: ["Surname", "Forename", "NC Year", "Tutor Group", "UPN", "E-mail"]
            .map(String::from)
            .to_vec(),
        mapping,
        proposed: true,
        own_header: false,
        missing: vec![],
    };
    let mapped = MappedImport {
        columns: columns(),
        report: report(true),
    };
    g.add("POST /api/admin/roster/import (application/json)", &mapped);
    let unmapped = ColumnsRefused {
        error: FileErrorDetail {
            base: ErrorDetail::of(ErrorCode::CsvUnmappedHeader),
            line: Some(1),
            detail: "No column was chosen for the pupil's email.".into(),
        },
        columns: Columns {
            mapping: ColumnMap { email: None, ..mapping },
            missing: vec!["email"],
            ..columns()
        },
    };
    g.add("POST /api/admin/roster/import (application/json, 400)", &unmapped);
    let domain = DomainRecord {
        domain: "partner.sch.uk".into(),
        note: "Our partner school".into(),
        added_by: "usr_admin".into(),
        added_at: 1_767_225_600_000,
    };
    g.add("GET /api/admin/domains", &DomainList { domains: vec![domain] });
    let added = DomainAdded {
        domain: "partner.sch.uk".into(),
    };
    g.add("POST /api/admin/domains", &added);
    let consents = PupilConsents {
        pupil: ada(),
        state: ConsentState::Current,
        records: vec![consent_record()],
    };
    g.add("GET /api/admin/pupils/{user_id}/consents", &consents);
    let recorded = ConsentRecorded {
        consent_id: "con_1".into(),
        state: ConsentState::Current,
    };
    g.add("POST /api/admin/pupils/{user_id}/consents", &recorded);
    let without = WithoutConsent {
        class: class(),
        pupils: vec![PupilConsent {
            user: ada(),
            consent: ConsentState::OptedOut,
        }],
    };
    g.add("GET /api/admin/classes/{class_id}/without-consent", &without);
    let conduct = Conduct {
        conduct: Some(ConductText {
            version: 2,
            text: "Be kind.".into(),
            recording_notice: "This lesson is recorded.".into(),
            created_at: 1_767_225_600_000,
        }),
        required_version: 1,
    };
    g.add("GET /api/admin/conduct", &conduct);
    g.add(
        "GET /api/admin/conduct (none published)",
        &Conduct {
            conduct: None,
            required_version: 1,
        },
    );
    let published = ConductPublished {
        version: 2,
        require_resign: true,
    };
    g.add("POST /api/admin/conduct", &published);
    let privacy = Privacy {
        pupil_id: UserId::parse("usr_ada").unwrap(),
        privacy: PrivacyProfile {
            camera_always_off: true,
            alias: Some("Star".into()),
            hidden_from_pupils: false,
        },
    };
    g.add("GET /api/admin/pupils/{user_id}/privacy", &privacy);
    let readiness = Readiness {
        class: class(),
        pupils: vec![
            ReadyPupil {
                id: UserId::parse("usr_ada").unwrap(),
                display_name: "Ada Lovelace".into(),
                can_join: true,
                reason: None,
                consent: ConsentState::Current,
            },
            ReadyPupil {
                id: UserId::parse("usr_ben").unwrap(),
                display_name: "Ben".into(),
                can_join: false,
                reason: Some(ErrorCode::ConsentMissing),
                consent: ConsentState::Missing,
            },
        ],
    };
    g.add("GET /api/classes/{class_id}/readiness", &readiness);
    let link = crate::http::account::LinkBody {
        link: crate::http::account::SetPasswordLink {
            url: "/#/set-password?token=t".into(),
            purpose: crate::store::TokenPurpose::Invite,
            expires_at: 1_767_484_800_000,
        },
    };
    g.add("POST /api/admin/users/{user_id}/invite", &link);
    let sheet = InviteSheet {
        class: class(),
        expires_at: Some(1_767_484_800_000),
        cards: vec![InviteCard {
            user_id: UserId::parse("usr_nia").unwrap(),
            display_name: "Nia Obi".into(),
            url: "https://live.demo.sch.uk/#/set-password?token=t".into(),
            qr_svg: "<?xml version=\"1.0\" standalone=\"yes\"?><svg ...></svg>".into(),
        }],
        already_set_up: vec![PupilRef {
            user_id: UserId::parse("usr_ada").unwrap(),
            display_name: "Ada Lovelace".into(),
        }],
        disabled: vec![],
    };
    g.add("POST /api/admin/classes/{class_id}/invite-sheet", &sheet);
    g.check("admin-bodies.jsonl");
}

/// The audit detail of an export keeps the shape the chain has always stored.
#[test]
fn the_roster_export_audit_detail_is_ids_and_counts() {
    let detail = RosterExported {
        class: ClassId::parse("7a").unwrap(),
        pupils: 28,
    };
    assert_eq!(
        crate::http::api::audit_detail(&detail).unwrap().to_string(),
        r#"{"class":"7a","pupils":28}"#
    );
}
