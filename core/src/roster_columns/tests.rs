//! Header detection and mapping on header samples shaped like SIMS, Arbor and Bromcom
//! exports (written for these tests, with invented people), and reading whole files with the
//! mapping.

use super::*;
use crate::roster_csv::{parse_with, Row};

fn map(email: usize, first: usize, last: usize, class: usize, role: Option<usize>) -> ColumnMap {
    ColumnMap {
        email: Some(email),
        first_name: Some(first),
        last_name: Some(last),
        class: Some(class),
        role,
    }
}

fn names(rows: &[Row]) -> Vec<(String, String)> {
    rows.iter().map(|r| (r.display_name(), r.class.clone())).collect()
}

/// SIMS: legal and preferred names, a registration group, UPN and year; the pupil's email is a
/// school-defined field.
const SIMS: &str =
    "UPN,Legal Surname,Legal Forename,Preferred Surname,Preferred Forename,Year,Reg Group,Pupil Email,Parent Email\r\n\
A123456789012,Testperson,Alexandra,Testperson,Alex,Year  7,7RB,alex.t@pupils.demo.sch.uk,carer@example.com\r\n\
B123456789012,Sampleton,Benjamin,Sampleton,Ben,Year  7,7RB,ben.s@pupils.demo.sch.uk,\r\n";

/// Arbor: plain names, a teaching group and a registration form, the email as "Email Address".
const ARBOR: &str = "Student ID,First name,Last name,Year group,Registration form,Teaching Group,Email Address\n\
1001,Cara,Fakename,Year 8,8F,8x/Sc1,cara.f@pupils.demo.sch.uk\n\
1002,Dev,Madeup,Year 8,8F,8x/Sc1,dev.m@pupils.demo.sch.uk\n";

/// Bromcom: Forename/Surname, NC Year, a tutor group, a role column for a whole-school file.
const BROMCOM: &str = "Surname,Forename,NC Year,Tutor Group,Type,E-mail\n\
Notreal,Erin,9,9T2,Student,erin.n@pupils.demo.sch.uk\n\
Teacher,Frank,,9T2,Staff,frank.t@demo.sch.uk\n";

fn header(file: &str) -> Vec<String> {
    crate::roster_csv::header(file.as_bytes()).unwrap()
}

#[test]
fn a_sims_like_export_maps_preferred_names_and_the_pupil_email() {
    let h = header(SIMS);
    let m = propose(&h);
    assert_eq!(m, map(7, 4, 3, 6, None), "{h:?}");
    assert!(!is_own(&h));
    let rows = parse_with(SIMS.as_bytes(), &m).unwrap();
    assert_eq!(
        names(&rows),
        [
            ("Alex Testperson".to_owned(), "7RB".to_owned()),
            ("Ben Sampleton".to_owned(), "7RB".to_owned())
        ]
    );
    assert_eq!(rows[0].email.as_ref().unwrap().expose(), "alex.t@pupils.demo.sch.uk");
    assert!(rows.iter().all(|r| r.errors.is_empty()), "{rows:?}");
    assert_eq!(rows[1].line, 3);
}

#[test]
fn an_arbor_like_export_prefers_the_teaching_group_and_the_form_can_be_chosen() {
    let h = header(ARBOR);
    let m = propose(&h);
    assert_eq!(m, map(6, 1, 2, 5, None));
    assert_eq!(parse_with(ARBOR.as_bytes(), &m).unwrap()[0].class, "8x/Sc1");
    let by_form = ColumnMap { class: Some(4), ..m };
    assert_eq!(parse_with(ARBOR.as_bytes(), &by_form).unwrap()[0].class, "8F");
}

#[test]
fn a_bromcom_like_export_maps_the_type_and_refuses_staff_rows() {
    let h = header(BROMCOM);
    let m = propose(&h);
    assert_eq!(m, map(5, 1, 0, 3, Some(4)));
    let rows = parse_with(BROMCOM.as_bytes(), &m).unwrap();
    assert!(rows[0].errors.is_empty(), "{:?}", rows[0].errors);
    assert_eq!(rows[1].errors[0].code, "role_not_pupil");
    assert!(rows[1].errors[0].message.contains("\"Staff\""));
    let without_role = ColumnMap { role: None, ..m };
    assert!(parse_with(BROMCOM.as_bytes(), &without_role).unwrap()[1]
        .errors
        .is_empty());
}

#[test]
fn livegates_own_header_is_recognised_in_any_order() {
    let h = ["Class", "First Name", "last_name", "Pupil Email"];
    assert!(is_own(&h));
    assert_eq!(propose(&h), map(3, 1, 2, 0, None));
    assert!(!is_own(&["pupil email", "first name", "last name", "class", "year"]));
}

#[test]
fn names_compare_on_letters_and_digits_and_unknown_ones_stay_unmapped() {
    assert_eq!(key(" E-mail Address "), "emailaddress");
    assert_eq!(key("Reg. Group"), "reggroup");
    let m = propose(&["Email", "Email Address", "Parent Email", "Forename", "Surname", "Form"]);
    assert_eq!(m, map(0, 3, 4, 5, None), "the leftmost of two equal candidates");
    let m = propose(&["Contact Email", "Forename", "Surname", "Year"]);
    assert_eq!(
        (m.email, m.class),
        (None, None),
        "a parent's email and a year group are never proposed"
    );
    assert_eq!(m.missing(), ["email", "class"]);
}

#[test]
fn an_unmappable_header_is_a_clear_error() {
    let file = "Name,DOB,Gender\nSomeone,2014-01-01,F\n";
    let h = header(file);
    let m = propose(&h);
    assert_eq!(m, ColumnMap::default());
    let e = parse_with(file.as_bytes(), &m).unwrap_err();
    assert_eq!((e.code, e.line), (ErrorCode::CsvUnmappedHeader, Some(1)));
    assert_eq!(
        e.detail,
        "No column was chosen for the pupil's email, first name, last name, class."
    );
}

#[test]
fn a_mapping_that_does_not_fit_the_file_is_refused() {
    let h = header(ARBOR);
    let m = propose(&h);
    let outside = ColumnMap { role: Some(7), ..m };
    let e = parse_with(ARBOR.as_bytes(), &outside).unwrap_err();
    assert_eq!(e.code, ErrorCode::RosterMappingInvalid);
    assert!(e.detail.contains("no column 8 for role"), "{e:?}");
    let twice = ColumnMap {
        last_name: Some(1),
        ..m
    };
    let e = parse_with(ARBOR.as_bytes(), &twice).unwrap_err();
    assert_eq!(
        (e.code, e.detail.as_str()),
        (ErrorCode::RosterMappingInvalid, "Column 2 is chosen for two fields.")
    );
}

#[test]
fn the_mapping_body_is_strict() {
    let m: ColumnMap = serde_json::from_str(r#"{"email":0,"first_name":1,"last_name":null,"class":2}"#).unwrap();
    assert_eq!((m.last_name, m.role), (None, None));
    assert!(
        serde_json::from_str::<ColumnMap>(r#"{"email":0,"first_name":1,"last_name":2,"class":3,"year":4}"#).is_err()
    );
    assert!(serde_json::from_str::<ColumnMap>(r#"{"email":-1,"first_name":1,"last_name":2,"class":3}"#).is_err());
}

#[test]
fn role_cells_that_mean_a_pupil() {
    for ok in ["", "Pupil", " student ", "Learner", "STUDENTS"] {
        assert!(is_pupil_role(ok), "{ok}");
    }
    for no in ["Staff", "Teacher", "Parent", "Contact"] {
        assert!(!is_pupil_role(no), "{no}");
    }
}

#[test]
fn a_header_too_wide_is_refused() {
    let wide = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
    let e = crate::roster_csv::header(format!("{wide}\n").as_bytes()).unwrap_err();
    assert_eq!(e.code, ErrorCode::CsvMalformed);
}
