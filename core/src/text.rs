//! The one policy for text that people write: names, reasons, notes and the code of conduct.
//!
//! Every human-written field is declared here as a [`Field`] (its wire name, a label for
//! sentences, its [`Kind`] and its longest length), and [`clean`] turns what was sent into the
//! value to store, or says which rule it broke ([`Problem`], stable snake_case names on the
//! wire). The rules, for every kind:
//!
//! - **Normalised**: the value is put in Unicode Normalization Form C (NFC) and trimmed of
//!   white space at both ends; the stored value is that one, so "Zoë" typed with a combining
//!   diaeresis and "Zoë" typed precomposed are the same name. In multi-line text, `\r\n`, a
//!   lone `\r`, U+2028 and U+2029 become `\n`.
//! - **Length in characters**, never bytes: Unicode scalar values of the normalised value
//!   (what JavaScript's `[...s.normalize('NFC')].length` counts). Grapheme clusters were not
//!   chosen because their rules change between Unicode versions and the browser's ICU and this
//!   crate would then disagree at the limit; scalar values after NFC are the same on both sides.
//! - **No control characters** (category Cc) except `\n` and `\t` in multi-line kinds.
//! - **No bidi embeddings, overrides or isolates** (U+202A to U+202E, U+2066 to U+2069) anywhere:
//!   they reorder what follows them on screen ("Trojan source"), so a name can show as
//!   something it is not. Names also refuse the bidi marks (U+200E, U+200F, U+061C).
//! - **No private-use, unassigned or noncharacter code points** (Co, Cn): they show as boxes or
//!   as whatever a font puts there. (Surrogates cannot occur in valid UTF-8 or in the JSON
//!   strings serde accepts.)
//! - **At most [`MAX_MARKS_IN_A_ROW`] combining marks on one character** ("zalgo" text that spills
//!   over the lines around it); real scripts need far fewer.
//!
//! And by kind:
//!
//! - [`Kind::Name`] (display names, class names, privacy aliases, parent or carer names, school
//!   names, concern references): one line, no invisible characters at all (format characters,
//!   category Cf, such as zero-width spaces, word joiners, soft hyphens, the byte-order mark and
//!   tag characters; the other default-ignorable code points; Hangul fillers and the blank
//!   Braille pattern), and at least one letter or digit. Two exceptions keep real names
//!   writable: the zero-width non-joiner and joiner (U+200C, U+200D), which Persian, Arabic and
//!   the Indic scripts use inside words, are accepted between two letters or marks of those
//!   scripts (from U+0590 on; never next to Latin letters, where they only hide); and one
//!   variation selector directly after a letter, digit or symbol (emoji and CJK variants).
//! - [`Kind::Reason`] (why a recording is opened or held): free text, multi-line, with at least
//!   [`REASON_MIN_LETTERS`] letters or digits (categories L and N), so "éé.", two emoji or six
//!   zero-width spaces are not a reason and 400 characters of Chinese are.
//! - [`Kind::Note`] (log notes, a domain's note, the code of conduct and recording notice):
//!   free text, multi-line, with at least one visible character. Free text keeps the invisible
//!   characters that real writing needs (joiners, bidi marks, zero-width spaces in Thai,
//!   variation selectors, the tags of a flag emoji such as Wales's) and refuses tag characters
//!   anywhere else (they can smuggle hidden ASCII text) and the interlinear annotation
//!   characters (U+FFF9 to U+FFFB), which hide text.
//!
//! Pure, as all of `livegate-core`: no I/O. The web client checks the same rules before sending
//! (`web/js/text.js`); `text/cases.json` beside this file holds the cases both sides are tested
//! against, and `text/fields.json` the field table both keep. Stored values written before this
//! policy are not migrated: they are shown as they are, and any change to them goes through
//! these rules.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::codes::ErrorCode;

/// The fewest letters or digits a reason must have.
pub const REASON_MIN_LETTERS: usize = 5;
/// The most combining marks allowed in a row.
pub const MAX_MARKS_IN_A_ROW: usize = 8;

/// What kind of text a field holds, which decides the rules it follows (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Name,
    Reason,
    Note,
}

impl Kind {
    fn multi_line(self) -> bool {
        self != Kind::Name
    }
}

/// A human-written field: an id (for tests and the web client's copy of this table), its
/// name on the wire, a label for sentences, its kind and its longest length in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    pub id: &'static str,
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub max: usize,
}

const fn field(id: &'static str, name: &'static str, label: &'static str, kind: Kind, max: usize) -> Field {
    Field {
        id,
        name,
        label,
        kind,
        max,
    }
}

pub const DISPLAY_NAME: Field = field("display_name", "display_name", "name", Kind::Name, 200);
pub const CLASS_NAME: Field = field("class_name", "name", "class name", Kind::Name, 100);
pub const ALIAS: Field = field("alias", "alias", "alias", Kind::Name, 60);
pub const PARENT_NAME: Field = field("parent_name", "parent_name", "parent or carer's name", Kind::Name, 200);
pub const SCHOOL_NAME: Field = field("school_name", "school_name", "school name", Kind::Name, 200);
pub const CONCERN_REF: Field = field("concern_ref", "concern_ref", "concern reference", Kind::Name, 100);
/// A roster file's first name (its class is [`CSV_CLASS`], the pupil's whole name [`DISPLAY_NAME`]).
pub const FIRST_NAME: Field = field("first_name", "first_name", "first name", Kind::Name, 100);
pub const LAST_NAME: Field = field("last_name", "last_name", "last name", Kind::Name, 100);
pub const CSV_CLASS: Field = field("csv_class", "class", "class", Kind::Name, 100);
pub const REASON: Field = field("reason", "reason", "reason", Kind::Reason, 1000);
pub const LOG_NOTE: Field = field("log_note", "text", "note", Kind::Note, 4000);
pub const DOMAIN_NOTE: Field = field("domain_note", "note", "note", Kind::Note, 500);
pub const CONDUCT_TEXT: Field = field("conduct_text", "text", "code of conduct", Kind::Note, 100_000);
pub const RECORDING_NOTICE: Field = field(
    "recording_notice",
    "recording_notice",
    "recording notice",
    Kind::Note,
    2000,
);

/// Every field, for the tests and the web client's table.
pub const FIELDS: [Field; 14] = [
    DISPLAY_NAME,
    CLASS_NAME,
    ALIAS,
    PARENT_NAME,
    SCHOOL_NAME,
    CONCERN_REF,
    FIRST_NAME,
    LAST_NAME,
    CSV_CLASS,
    REASON,
    LOG_NOTE,
    DOMAIN_NOTE,
    CONDUCT_TEXT,
    RECORDING_NOTICE,
];

/// Why a value was refused. The names are stable (the `reason` of a `text_invalid` error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Nothing visible is left once trimmed.
    Empty,
    /// A reason with fewer than [`REASON_MIN_LETTERS`] letters or digits.
    TooShort,
    TooLong,
    /// A name without a single letter or digit.
    NoLetters,
    /// A control character, or a line break in a one-line field.
    ControlCharacters,
    BidiControl,
    InvisibleCharacters,
    /// Private-use, unassigned or noncharacter code points.
    UnsupportedCharacters,
    TooManyMarks,
}

impl Problem {
    /// The stable name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Empty => "empty",
            Problem::TooShort => "too_short",
            Problem::TooLong => "too_long",
            Problem::NoLetters => "no_letters",
            Problem::ControlCharacters => "control_characters",
            Problem::BidiControl => "bidi_control",
            Problem::InvisibleCharacters => "invisible_characters",
            Problem::UnsupportedCharacters => "unsupported_characters",
            Problem::TooManyMarks => "too_many_marks",
        }
    }
}

/// A refused value: which field and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextError {
    pub field: Field,
    pub problem: Problem,
}

impl TextError {
    /// The stable code of this refusal: `reason_required` for a reason that is empty or has too
    /// few letters (the code clients already knew before this policy), else `text_invalid`.
    pub fn code(&self) -> ErrorCode {
        match (self.field.kind, self.problem) {
            (Kind::Reason, Problem::Empty | Problem::TooShort) => ErrorCode::ReasonRequired,
            _ => ErrorCode::TextInvalid,
        }
    }

    /// A sentence for the person who wrote it, naming the field ("The class name is longer
    /// than 100 characters."). It never repeats the value.
    pub fn sentence(&self) -> String {
        let Field { label, max, .. } = self.field;
        let what = match self.problem {
            Problem::Empty => "is empty".to_owned(),
            Problem::TooShort => format!("needs at least {REASON_MIN_LETTERS} letters or digits"),
            Problem::TooLong => format!("is longer than {max} characters"),
            Problem::NoLetters => "needs at least one letter or digit".to_owned(),
            Problem::ControlCharacters if self.field.kind == Kind::Name => {
                "must be one line without control characters".to_owned()
            }
            Problem::ControlCharacters => "contains a control character".to_owned(),
            Problem::BidiControl => "contains a character that changes the direction of text".to_owned(),
            Problem::InvisibleCharacters => "contains invisible characters (such as zero-width spaces)".to_owned(),
            Problem::UnsupportedCharacters => "contains private-use or unassigned characters".to_owned(),
            Problem::TooManyMarks => "stacks too many accents on one character".to_owned(),
        };
        format!("The {label} {what}.")
    }
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field.name, self.problem.as_str())
    }
}

impl std::error::Error for TextError {}

/// The value to store for `input` in `field`, or why it is refused (see the module doc).
pub fn clean(field: &Field, input: &str) -> Result<String, TextError> {
    let refuse = |problem| TextError { field: *field, problem };
    // NFC never shrinks a text to less than a third of its bytes, and a character is at most
    // four bytes: anything longer cannot fit, so it is refused before any work is done on it.
    if input.len() > field.max.saturating_mul(12).saturating_add(64) {
        return Err(refuse(Problem::TooLong));
    }
    let normal: String = if field.kind.multi_line() {
        unify_line_breaks(input)
    } else {
        input.to_owned()
    };
    let normal: String = normal.nfc().collect();
    let value = normal.trim();
    let chars: Vec<char> = value.chars().collect();
    if chars.len() > field.max {
        return Err(refuse(Problem::TooLong));
    }
    if let Some(problem) = first_problem(field.kind, &chars) {
        return Err(refuse(problem));
    }
    let letters = chars.iter().filter(|c| is_letter_or_digit(**c)).count();
    match field.kind {
        Kind::Name if letters == 0 => Err(refuse(if chars.is_empty() {
            Problem::Empty
        } else {
            Problem::NoLetters
        })),
        Kind::Reason if !chars.iter().any(|c| is_visible(*c)) => Err(refuse(Problem::Empty)),
        Kind::Reason if letters < REASON_MIN_LETTERS => Err(refuse(Problem::TooShort)),
        Kind::Note if !chars.iter().any(|c| is_visible(*c)) => Err(refuse(Problem::Empty)),
        _ => Ok(value.to_owned()),
    }
}

/// [`clean`] for a field that may be left out: empty (or only white space) is `None`.
pub fn clean_optional(field: &Field, input: &str) -> Result<Option<String>, TextError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    clean(field, input).map(Some)
}

/// `\r\n`, a lone `\r` and the Unicode line and paragraph separators become `\n`.
fn unify_line_breaks(s: &str) -> String {
    s.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}'], "\n")
}

/// The first character (in reading order) that the kind does not allow, as a problem.
fn first_problem(kind: Kind, chars: &[char]) -> Option<Problem> {
    let mut marks = 0;
    let mut flag_tags = false;
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        marks = if c.general_category_group() == GeneralCategoryGroup::Mark {
            marks + 1
        } else {
            0
        };
        if marks > MAX_MARKS_IN_A_ROW {
            return Some(Problem::TooManyMarks);
        }
        // Tag characters belong to the flag emoji they follow (U+1F3F4, then tags, then the
        // cancel tag U+E007F); the run ends with the cancel tag.
        if is_tag(c) {
            flag_tags = flag_tags || prev == Some('\u{1F3F4}');
        }
        let problem = match kind {
            Kind::Name => name_char_problem(c, prev, next),
            Kind::Reason | Kind::Note => free_char_problem(c, flag_tags),
        };
        if problem.is_some() {
            return problem;
        }
        if !is_tag(c) || c == '\u{E007F}' {
            flag_tags = false;
        }
    }
    None
}

/// Problems every kind shares.
fn common_char_problem(c: char, multi_line: bool) -> Option<Problem> {
    match c.general_category() {
        GeneralCategory::Control if multi_line && matches!(c, '\n' | '\t') => None,
        GeneralCategory::Control | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some(Problem::ControlCharacters)
        }
        GeneralCategory::PrivateUse | GeneralCategory::Unassigned | GeneralCategory::Surrogate => {
            Some(Problem::UnsupportedCharacters)
        }
        _ if is_bidi_override(c) => Some(Problem::BidiControl),
        _ => None,
    }
}

fn name_char_problem(c: char, prev: Option<char>, next: Option<char>) -> Option<Problem> {
    if let Some(problem) = common_char_problem(c, false) {
        return Some(problem);
    }
    if is_bidi_mark(c) {
        return Some(Problem::BidiControl);
    }
    let joiner_in_word =
        matches!(c, '\u{200C}' | '\u{200D}') && prev.is_some_and(joinable) && next.is_some_and(joinable);
    let selector_on_base = is_variation_selector(c) && prev.is_some_and(|p| is_visible(p) && !is_variation_selector(p));
    if (is_invisible(c) && !joiner_in_word && !selector_on_base) || c == '\u{2800}' {
        return Some(Problem::InvisibleCharacters);
    }
    None
}

fn free_char_problem(c: char, in_flag: bool) -> Option<Problem> {
    if let Some(problem) = common_char_problem(c, true) {
        return Some(problem);
    }
    if (is_tag(c) && !in_flag) || ('\u{FFF9}'..='\u{FFFB}').contains(&c) {
        return Some(Problem::InvisibleCharacters);
    }
    None
}

/// Embeddings, overrides and isolates: they reorder everything after them on the line.
fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The bidi marks: invisible, and they move neutral characters such as brackets.
fn is_bidi_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}' | '\u{180F}')
}

/// Format characters (Cf) and the other default-ignorable code points that show nothing
/// (Unicode's `Default_Ignorable_Code_Point`, which has no category of its own), with the
/// Hangul fillers that are letters by category but blank on screen.
fn is_invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
        || matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'
                ..='\u{180F}' | '\u{3164}' | '\u{FFA0}'
        )
        || is_variation_selector(c)
        || ('\u{E0000}'..='\u{E0FFF}').contains(&c)
}

/// A letter or mark of a script that writes zero-width joiners inside words.
fn joinable(c: char) -> bool {
    c >= '\u{0590}'
        && matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark
        )
        && !is_invisible(c)
}

/// Letters and digits (categories L and N), not counting the invisible Hangul fillers.
fn is_letter_or_digit(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
    ) && !is_invisible(c)
}

/// A character that shows something: a letter, digit, punctuation or symbol.
fn is_visible(c: char) -> bool {
    is_letter_or_digit(c)
        || (matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Punctuation | GeneralCategoryGroup::Symbol
        ) && c != '\u{2800}')
}

#[cfg(test)]
mod tests;
