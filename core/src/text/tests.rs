use super::*;
use proptest::prelude::*;

/// The shared cases (`cases.json`): the issue's own examples, honest names in several
/// scripts, and the edges of every rule. The web client's test runs the same file.
#[derive(serde::Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    field: String,
    input: String,
    #[serde(default)]
    repeat: Option<usize>,
    #[serde(default)]
    ok: Option<String>,
    #[serde(default)]
    ok_repeat: bool,
    #[serde(default)]
    problem: Option<String>,
    #[serde(default)]
    why: Option<String>,
}

fn field_by_id(id: &str) -> Field {
    *FIELDS
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no field {id}"))
}

#[test]
fn shared_cases() {
    let cases: Cases = serde_json::from_str(include_str!("cases.json")).unwrap();
    assert!(cases.cases.len() > 50);
    for case in &cases.cases {
        let input = case.input.repeat(case.repeat.unwrap_or(1));
        let got = clean(&field_by_id(&case.field), &input);
        let shown = format!(
            "{} {:?} ({})",
            case.field,
            case.input,
            case.why.as_deref().unwrap_or("")
        );
        match (&case.ok, case.ok_repeat, &case.problem) {
            (Some(value), false, None) => assert_eq!(got.as_deref(), Ok(value.as_str()), "{shown}"),
            (None, true, None) => assert_eq!(got.as_deref(), Ok(input.as_str()), "{shown}"),
            (None, false, Some(problem)) => {
                assert_eq!(got.map_err(|e| e.problem.as_str()), Err(problem.as_str()), "{shown}");
            }
            _ => panic!("a case says either ok or problem: {shown}"),
        }
    }
}

#[test]
fn the_issues_examples() {
    // The reasons a recording was opened with, and the one that was wrongly refused.
    for bad in ["\u{200B}".repeat(6), "😀😀".to_owned(), "éé.".to_owned()] {
        assert!(clean(&REASON, &bad).is_err(), "{bad:?}");
    }
    let chinese = "因为一名家长报告了课堂直播中发生的欺凌事件我们需要查看录像".repeat(20);
    let chinese: String = chinese.chars().take(400).collect();
    assert!(chinese.len() > 1000);
    assert_eq!(clean(&REASON, &chinese).as_deref(), Ok(chinese.as_str()));
    // The forged partner-school name.
    let forged = "Dr Chen \u{202E}(partner school)";
    assert_eq!(clean(&DISPLAY_NAME, forged).unwrap_err().problem, Problem::BidiControl);
    assert_eq!(clean(&CLASS_NAME, forged).unwrap_err().problem, Problem::BidiControl);
    assert_eq!(
        clean(&DISPLAY_NAME, "\u{200B}\u{2060}").unwrap_err().problem,
        Problem::InvisibleCharacters
    );
}

#[test]
fn nfc_and_nfd_of_a_name_are_stored_the_same() {
    let composed = "Zo\u{EB} Ren\u{E9}e";
    let decomposed = "Zoe\u{308} Rene\u{301}e";
    assert_ne!(composed, decomposed);
    assert_eq!(clean(&DISPLAY_NAME, composed), clean(&DISPLAY_NAME, decomposed));
    assert_eq!(clean(&DISPLAY_NAME, decomposed).unwrap(), composed);
}

#[test]
fn lengths_are_characters_after_normalisation() {
    for f in FIELDS {
        let fits = "é".repeat(f.max);
        assert_eq!(clean(&f, &fits).map(|v| v.chars().count()), Ok(f.max), "{}", f.id);
        let over = "é".repeat(f.max + 1);
        assert_eq!(clean(&f, &over).unwrap_err().problem, Problem::TooLong, "{}", f.id);
        // Far past the limit is refused before any work.
        assert_eq!(
            clean(&f, &"a".repeat(f.max * 13 + 65)).unwrap_err().problem,
            Problem::TooLong
        );
    }
}

#[test]
fn line_breaks_only_where_several_lines_are_allowed() {
    for f in FIELDS {
        let got = clean(&f, "Line one\nline two");
        match f.kind {
            Kind::Name => assert_eq!(got.unwrap_err().problem, Problem::ControlCharacters, "{}", f.id),
            Kind::Reason | Kind::Note => assert_eq!(got.as_deref(), Ok("Line one\nline two"), "{}", f.id),
        }
    }
}

#[test]
fn optional_fields() {
    assert_eq!(clean_optional(&ALIAS, "  "), Ok(None));
    assert_eq!(clean_optional(&ALIAS, " Sam "), Ok(Some("Sam".to_owned())));
    assert_eq!(
        clean_optional(&ALIAS, "\u{200B}").unwrap_err().problem,
        Problem::InvisibleCharacters
    );
}

#[test]
fn sentences_name_the_field_and_never_the_value() {
    let e = clean(&CLASS_NAME, &"a".repeat(101)).unwrap_err();
    assert_eq!(e.sentence(), "The class name is longer than 100 characters.");
    let e = clean(&DISPLAY_NAME, "Secret \u{202E}name").unwrap_err();
    assert_eq!(
        e.sentence(),
        "The name contains a character that changes the direction of text."
    );
    assert_eq!(e.to_string(), "display_name: bidi_control");
    let e = clean(&REASON, "éé.").unwrap_err();
    assert_eq!(e.sentence(), "The reason needs at least 5 letters or digits.");
    for problem in [
        Problem::Empty,
        Problem::TooShort,
        Problem::TooLong,
        Problem::NoLetters,
        Problem::ControlCharacters,
        Problem::BidiControl,
        Problem::InvisibleCharacters,
        Problem::UnsupportedCharacters,
        Problem::TooManyMarks,
    ] {
        assert_eq!(
            serde_json::to_string(&problem).unwrap(),
            format!("\"{}\"", problem.as_str())
        );
        assert!(TextError {
            field: LOG_NOTE,
            problem
        }
        .sentence()
        .ends_with('.'));
    }
}

#[test]
fn a_missing_reason_keeps_its_own_code() {
    assert_eq!(clean(&REASON, " ").unwrap_err().code(), ErrorCode::ReasonRequired);
    assert_eq!(clean(&REASON, "éé.").unwrap_err().code(), ErrorCode::ReasonRequired);
    assert_eq!(
        clean(&REASON, "A real \u{202E}reason").unwrap_err().code(),
        ErrorCode::TextInvalid
    );
    assert_eq!(clean(&LOG_NOTE, " ").unwrap_err().code(), ErrorCode::TextInvalid);
    assert_eq!(
        clean(&DISPLAY_NAME, "\u{200B}").unwrap_err().code(),
        ErrorCode::TextInvalid
    );
}

/// The web client keeps a copy of the field table (`web/js/text.js`); this golden file is what
/// both are checked against, so a limit changed here and not there fails a test.
#[test]
fn field_table_golden() {
    let golden: serde_json::Value = serde_json::from_str(include_str!("fields.json")).unwrap();
    assert_eq!(
        serde_json::to_value(FIELDS).unwrap(),
        golden,
        "update core/src/text/fields.json and web/js/text.js together"
    );
}

/// Any text at all, with a bias to the characters the rules are about.
fn any_text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{202E}',
        '\u{2066}',
        '\u{200F}',
        '\u{FEFF}',
        '\u{FE0F}',
        '\u{E0067}',
        '\u{E007F}',
        '\u{1F3F4}',
        '\u{301}',
        '\u{308}',
        '\n',
        '\r',
        '\t',
        '\u{2028}',
        ' ',
        '\u{3000}',
        'e',
        'Z',
        '山',
        'ی',
        'क',
        '्',
        '\u{3164}',
        '.',
        '😀',
        '\u{E000}',
        '\u{378}',
        '\u{0}',
        '\u{FFF9}',
    ]);
    prop::collection::vec(prop_oneof![3 => tricky, 1 => any::<char>()], 0..80).prop_map(|v| v.into_iter().collect())
}

proptest! {
    /// The policy never panics, and what it accepts is NFC, within the field's length, and
    /// accepted again unchanged (so a stored value can always be saved back as it is).
    #[test]
    fn accepted_values_are_stable(text in any_text(), which in 0..FIELDS.len()) {
        let f = FIELDS[which];
        if let Ok(value) = clean(&f, &text) {
            prop_assert!(unicode_normalization::is_nfc(&value));
            prop_assert!(value.chars().count() <= f.max);
            prop_assert_eq!(value.trim(), value.as_str());
            prop_assert_eq!(clean(&f, &value), Ok(value.clone()));
            if f.kind == Kind::Name {
                prop_assert!(!value.chars().any(|c| is_bidi_override(c) || is_bidi_mark(c) || c.is_control()));
            }
        }
    }

    /// Whatever the field, no accepted value carries a bidi override, embedding or isolate.
    #[test]
    fn no_field_keeps_a_bidi_override(text in any_text(), which in 0..FIELDS.len()) {
        if let Ok(value) = clean(&FIELDS[which], &text) {
            prop_assert!(!value.chars().any(is_bidi_override));
        }
    }
}
