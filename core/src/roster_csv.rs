//! Roster CSV files as a school's management information system (MIS) exports them: parsing
//! and checking, with no I/O.
//!
//! The file has a header row naming four columns, in any order, matched without regard to
//! case or spaces: `pupil email`, `first name`, `last name`, `class`. Other columns are
//! refused, so a mis-exported file (a wrong report, shifted columns) is caught before anything
//! changes. A problem with the whole file is a [`FileError`]; a problem with one row is a
//! [`RowError`] on that row, and [`parse`] reports every row so the superuser can fix them all
//! at once. What the rows mean for the school's directory (new users, classes, memberships) is
//! decided by the store against the database; this module only checks what the file alone can
//! tell. [`export`] writes the same format, safe to open in a spreadsheet. A file with an MIS's
//! own header is read with [`parse_with`] and a [`ColumnMap`] (see [`roster_columns`]); then
//! other columns are ignored, since the superuser has seen and chosen the columns.

use std::collections::HashMap;

use crate::codes::ErrorCode;
use crate::ids::Email;
use crate::roster_columns::{self, ColumnMap};
use crate::text::{self, Field, TextError};

/// The most data rows one file may have.
pub const MAX_ROWS: usize = 20_000;
/// The largest body the import route reads, in bytes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The longest first or last name, in characters.
pub const MAX_NAME: usize = text::FIRST_NAME.max;
/// The longest class name, in characters.
pub const MAX_CLASS: usize = text::CSV_CLASS.max;

/// The columns, in the order [`export`] writes them.
pub const COLUMNS: [&str; 4] = ["pupil email", "first name", "last name", "class"];

/// A problem with the whole file: nothing in it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub code: ErrorCode,
    /// The line of the file it concerns, if one.
    pub line: Option<u64>,
    /// A sentence naming the column or value at fault (never personal data).
    pub detail: String,
}

impl FileError {
    pub(crate) fn new(code: ErrorCode, line: Option<u64>, detail: impl Into<String>) -> Self {
        Self {
            code,
            line,
            detail: detail.into(),
        }
    }
}

/// A problem with one row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// Stable: `bad_email`, `email_not_trusted`, `duplicate_row`, `conflicting_names`,
    /// `bad_name`, `bad_class`, `email_in_use`, `not_a_pupil`, `role_not_pupil`.
    pub code: &'static str,
    pub message: String,
    /// For `bad_name` and `bad_class`: the text policy's reason (`too_long`, `bidi_control`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<text::Problem>,
}

impl RowError {
    /// A row error with its sentence.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
        }
    }

    /// A name or class the text policy refused.
    fn text(code: &'static str, e: TextError) -> Self {
        Self {
            code,
            message: e.sentence(),
            reason: Some(e.problem),
        }
    }
}

/// One data row as read, with what the file alone shows to be wrong with it. Names and class
/// are as the text policy stores them (NFC, trimmed) when they pass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line of the file (the header is line 1).
    pub line: u64,
    /// The address as written (trimmed), for showing back.
    pub email_text: String,
    /// The address if it is well formed.
    pub email: Option<Email>,
    pub first_name: String,
    pub last_name: String,
    pub class: String,
    pub errors: Vec<RowError>,
}

impl Row {
    /// "First Last", the display name of a pupil the import creates.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_owned()
    }

    /// The class name as matched against the school's classes: case and inner spacing
    /// do not matter.
    pub fn class_key(&self) -> String {
        class_key(&self.class)
    }
}

/// How class names are compared.
pub fn class_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Header names compare without case, spaces, `_` or `-`.
fn header_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads a roster file with Livegate's own header. `Err` for a problem with the whole file;
/// otherwise every data row, each with its own errors (possibly none).
pub fn parse(bytes: &[u8]) -> Result<Vec<Row>, FileError> {
    let text = decode(bytes)?;
    let mut reader = reader(text);
    let header = reader.headers().map_err(|e| malformed(e, text))?.clone();
    let order = columns(&header)?;
    let map = ColumnMap {
        email: Some(order[0]),
        first_name: Some(order[1]),
        last_name: Some(order[2]),
        class: Some(order[3]),
        role: None,
    };
    read_rows(reader, text, &map)
}

/// The header row of a roster file as written (trimmed), for choosing a [`ColumnMap`].
pub fn header(bytes: &[u8]) -> Result<Vec<String>, FileError> {
    let text = decode(bytes)?;
    let header = reader(text).headers().map_err(|e| malformed(e, text))?.clone();
    if header.len() > roster_columns::MAX_COLUMNS {
        return Err(FileError::new(
            ErrorCode::CsvMalformed,
            Some(1),
            format!(
                "The header has {} columns; a roster file may have at most {}.",
                header.len(),
                roster_columns::MAX_COLUMNS
            ),
        ));
    }
    Ok(header.iter().map(|h| h.trim().to_owned()).collect())
}

/// Reads a roster file whose columns are given by `map` (any header; columns not in the map
/// are ignored). `Err` if the map does not fit the header (see [`roster_columns::check`]) or
/// for a problem with the whole file; otherwise every data row with its errors.
pub fn parse_with(bytes: &[u8], map: &ColumnMap) -> Result<Vec<Row>, FileError> {
    let columns = header(bytes)?.len();
    roster_columns::check(map, columns)?;
    let text = decode(bytes)?;
    let mut reader = reader(text);
    reader.headers().map_err(|e| malformed(e, text))?;
    read_rows(reader, text, map)
}

/// The file as text: UTF-8 without a byte-order mark, not blank.
fn decode(bytes: &[u8]) -> Result<&str, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        FileError::new(
            ErrorCode::CsvNotUtf8,
            Some(line),
            "Save the file as CSV UTF-8 and try again.",
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(FileError::new(ErrorCode::CsvEmpty, None, "The file is empty."));
    }
    Ok(text)
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes())
}

/// Every data row after the header, its fields picked by `map`.
fn read_rows(mut reader: csv::Reader<&[u8]>, text: &str, map: &ColumnMap) -> Result<Vec<Row>, FileError> {
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(malformed(e, text)),
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue; // spreadsheets often end with rows of empty cells
        }
        let line = lines.at(text, record.position().map_or(0, |p| p.byte() as usize));
        if rows.len() == MAX_ROWS {
            return Err(FileError::new(
                ErrorCode::CsvTooManyRows,
                Some(line),
                format!("A file may have at most {MAX_ROWS} pupils; split it into smaller files."),
            ));
        }
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim().to_owned();
        let mut row = check_row(
            line,
            field(map.email),
            field(map.first_name),
            field(map.last_name),
            field(map.class),
        );
        if map.role.is_some() {
            check_role(&mut row, &field(map.role));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(FileError::new(
            ErrorCode::CsvEmpty,
            None,
            "The file has a header row but no pupils.",
        ));
    }
    mark_duplicates(&mut rows);
    Ok(rows)
}

/// A row the file marks as someone other than a pupil (a member of staff in a whole-school
/// export) is refused: the roster import makes pupil accounts only.
fn check_role(row: &mut Row, role: &str) {
    if !roster_columns::is_pupil_role(role) {
        let shown: String = role.chars().filter(|c| !c.is_control()).take(30).collect();
        row.errors.push(RowError::new(
            "role_not_pupil",
            format!("The file gives this row the role \"{shown}\"; only pupils are imported."),
        ));
    }
}

/// Turns byte offsets (which only grow) into 1-based line numbers without rescanning.
#[derive(Default)]
struct LineCounter {
    byte: usize,
    newlines: u64,
}

impl LineCounter {
    fn at(&mut self, text: &str, byte: usize) -> u64 {
        // The csv reader may place a record at the line break before it; a record never
        // starts with one (blank lines are skipped), so step over any.
        let bytes = text.as_bytes();
        let mut byte = byte.min(text.len()).max(self.byte);
        while byte < bytes.len() && matches!(bytes[byte], b'\r' | b'\n') {
            byte += 1;
        }
        self.newlines += text.as_bytes()[self.byte..byte].iter().filter(|b| **b == b'\n').count() as u64;
        self.byte = byte;
        self.newlines + 1
    }
}

fn malformed(e: csv::Error, text: &str) -> FileError {
    let line = e.position().map(|p| LineCounter::default().at(text, p.byte() as usize));
    let detail = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("This line has {len} cells where the header has {expected_len}.")
        }
        _ => "The file is not valid CSV.".to_owned(),
    };
    FileError::new(ErrorCode::CsvMalformed, line, detail)
}

/// For each of [`COLUMNS`], its index in the file.
fn columns(header: &csv::StringRecord) -> Result<[usize; 4], FileError> {
    let wanted: Vec<String> = COLUMNS.iter().map(|c| header_key(c)).collect();
    let expected = || {
        format!(
            "The header row must name exactly these columns: {}.",
            COLUMNS.join(", ")
        )
    };
    let mut found: [Option<usize>; 4] = [None; 4];
    for (i, name) in header.iter().enumerate() {
        let key = header_key(name);
        let Some(col) = wanted.iter().position(|w| *w == key) else {
            let shown: String = name.trim().chars().take(40).collect();
            let what = if shown.is_empty() {
                format!("Column {} has no name", i + 1)
            } else {
                format!("Column {} (\"{shown}\") is not one Livegate reads", i + 1)
            };
            return Err(FileError::new(
                ErrorCode::CsvBadHeader,
                Some(1),
                format!("{what}. {}", expected()),
            ));
        };
        if found[col].replace(i).is_some() {
            return Err(FileError::new(
                ErrorCode::CsvBadHeader,
                Some(1),
                format!("The column \"{}\" appears twice. {}", COLUMNS[col], expected()),
            ));
        }
    }
    let mut order = [0; 4];
    for (col, slot) in found.iter().enumerate() {
        order[col] = slot.ok_or_else(|| {
            FileError::new(
                ErrorCode::CsvBadHeader,
                Some(1),
                format!("The column \"{}\" is missing. {}", COLUMNS[col], expected()),
            )
        })?;
    }
    Ok(order)
}

fn check_row(line: u64, email_text: String, first_name: String, last_name: String, class: String) -> Row {
    let mut errors = Vec::new();
    let email = Email::parse(&email_text);
    if email.is_none() {
        errors.push(RowError::new("bad_email", "This is not an email address."));
    }
    let mut policy = |code: &'static str, field: &Field, value: String| match text::clean(field, &value) {
        Ok(clean) => clean,
        Err(e) => {
            errors.push(RowError::text(code, e));
            value
        }
    };
    let first_name = policy("bad_name", &text::FIRST_NAME, first_name);
    // An empty last name is allowed: a one-word name exports with an empty last name.
    let last_name = if last_name.is_empty() {
        last_name
    } else {
        policy("bad_name", &text::LAST_NAME, last_name)
    };
    let class = policy("bad_class", &text::CSV_CLASS, class);
    let mut row = Row {
        line,
        email_text,
        email,
        first_name,
        last_name,
        class,
        errors,
    };
    // The pupil's whole name is what the import stores; it has a limit of its own.
    if !row.errors.iter().any(|e| e.code == "bad_name") {
        if let Err(e) = text::clean(&text::DISPLAY_NAME, &row.display_name()) {
            row.errors.push(RowError::text("bad_name", e));
        }
    }
    row
}

/// Marks a row that repeats an earlier (email, class) pair, or gives an earlier email a
/// different name.
fn mark_duplicates(rows: &mut [Row]) {
    let mut seen_pair: HashMap<(String, String), u64> = HashMap::new();
    let mut seen_name: HashMap<String, (u64, String, String)> = HashMap::new();
    for row in rows.iter_mut() {
        let Some(email) = row.email.as_ref().map(|e| e.expose().to_owned()) else {
            continue;
        };
        if let Some(first) = seen_pair.get(&(email.clone(), row.class_key())) {
            row.errors.push(RowError::new(
                "duplicate_row",
                format!("Line {first} already puts this pupil in this class."),
            ));
            continue;
        }
        seen_pair.insert((email.clone(), row.class_key()), row.line);
        match seen_name.get(&email) {
            Some((first, f, l)) if (f, l) != (&row.first_name, &row.last_name) => {
                row.errors.push(RowError::new(
                    "conflicting_names",
                    format!("Line {first} gives this email a different name."),
                ));
            }
            Some(_) => {}
            None => {
                seen_name.insert(email, (row.line, row.first_name.clone(), row.last_name.clone()));
            }
        }
    }
}

/// A cell a spreadsheet would not run as a formula: one starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'`.
pub fn safe_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// Splits a display name into (first, last) at its first space, as [`export`] writes it;
/// a one-word name has an empty last name.
pub fn split_name(display_name: &str) -> (String, String) {
    let name = display_name.trim();
    match name.split_once(' ') {
        Some((first, last)) => (first.to_owned(), last.trim().to_owned()),
        None => (name.to_owned(), String::new()),
    }
}

/// Writes a roster file: the header and one row per (email, display name), all in `class`.
pub fn export<'a>(class: &str, pupils: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failure would only lose the row.
    let _ = w.write_record(COLUMNS);
    for (email, name) in pupils {
        let (first, last) = split_name(name);
        let _ = w.write_record([safe_cell(email), safe_cell(&first), safe_cell(&last), safe_cell(class)]);
    }
    w.into_inner().unwrap_or_default()
}

/// The invented pupils of [`template`]: (email, first name, last name, class).
pub const TEMPLATE_ROWS: [[&str; 4]; 2] = [
    ["example.pupil@pupils.example.sch.uk", "Example", "Pupil", "7A Science"],
    [
        "sample.learner@pupils.example.sch.uk",
        "Sample",
        "Learner",
        "7A Science",
    ],
];

/// A roster file to start from: Livegate's header and two example rows with obviously
/// invented names, to be replaced by the school's pupils.
pub fn template() -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(COLUMNS);
    for row in TEMPLATE_ROWS {
        let _ = w.write_record(row);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(row: &Row) -> Vec<&'static str> {
        row.errors.iter().map(|e| e.code).collect()
    }

    #[test]
    fn reads_a_typical_export_in_any_order_and_case() {
        let file = "\u{feff}Class, First Name ,LAST_NAME,Pupil Email\r\n7A Science,Ada,Lovelace,Ada@Pupils.Demo.sch.uk\r\n\r\n,,,\r\n8B,Ben,Okri,ben@pupils.demo.sch.uk\r\n";
        let rows = parse(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].email.as_ref().unwrap().expose(), "ada@pupils.demo.sch.uk");
        assert_eq!(
            (
                rows[0].first_name.as_str(),
                rows[0].last_name.as_str(),
                rows[0].class.as_str()
            ),
            ("Ada", "Lovelace", "7A Science")
        );
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].line, 5);
        assert!(rows.iter().all(|r| r.errors.is_empty()));
        assert_eq!(rows[0].display_name(), "Ada Lovelace");
    }

    #[test]
    fn whole_file_problems_have_their_codes() {
        let cases: [(&[u8], ErrorCode); 8] = [
            (b"", ErrorCode::CsvEmpty),
            (b"  \r\n", ErrorCode::CsvEmpty),
            (b"pupil email,first name,last name,class\n", ErrorCode::CsvEmpty),
            (
                b"pupil email,first name,last name,class,year\nada@x.uk,A,L,7A,7\n",
                ErrorCode::CsvBadHeader,
            ),
            (
                b"pupil email,first name,class\nada@x.uk,A,7A\n",
                ErrorCode::CsvBadHeader,
            ),
            (b"ada@x.uk,Ada,Lovelace,7A\n", ErrorCode::CsvBadHeader),
            (
                b"pupil email,first name,last name,class\nada@x.uk,A,L\n",
                ErrorCode::CsvMalformed,
            ),
            (
                b"pupil email,first name,last name,class\nada@x.uk,Ad\xe9,L,7A\n",
                ErrorCode::CsvNotUtf8,
            ),
        ];
        for (file, code) in cases {
            assert_eq!(parse(file).unwrap_err().code, code, "{}", String::from_utf8_lossy(file));
        }
        let e = parse(b"pupil email,first name,last name,class,class\n").unwrap_err();
        assert!(e.detail.contains("twice"), "{e:?}");
        let e = parse(b"pupil email,first name,last name,class,Year Group\n").unwrap_err();
        assert!(
            e.detail.contains("Year Group") && e.detail.contains("pupil email, first name"),
            "{e:?}"
        );
        let e = parse(b"pupil email,first name,last name,class\n\nada@x.uk,\xff,L,7A\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = parse(b"pupil email,first name,last name,class\r\nada@x.uk,A,L,7A\r\nben@x.uk,B\r\n").unwrap_err();
        assert_eq!((e.code, e.line), (ErrorCode::CsvMalformed, Some(3)), "{e:?}");
        assert!(e.detail.contains("2 cells") && e.detail.contains('4'), "{e:?}");
    }

    #[test]
    fn row_limit_is_exact() {
        let mut file = String::from("pupil email,first name,last name,class\n");
        for i in 0..MAX_ROWS {
            file.push_str(&format!("p{i}@pupils.demo.sch.uk,P,{i},7A\n"));
        }
        assert_eq!(parse(file.as_bytes()).unwrap().len(), MAX_ROWS);
        file.push_str("one.more@pupils.demo.sch.uk,One,More,7A\n");
        let e = parse(file.as_bytes()).unwrap_err();
        assert_eq!((e.code, e.line), (ErrorCode::CsvTooManyRows, Some(MAX_ROWS as u64 + 2)));
    }

    #[test]
    fn row_problems_are_reported_per_row() {
        let long = "x".repeat(MAX_NAME + 1);
        let file = format!(
            "pupil email,first name,last name,class\n\
             not-an-email,Ada,L,7A\n\
             ben@x.uk,,L,7A\n\
             cara@x.uk,Cara,{long},\n\
             dev@x.uk,Dev,L,7A\n\
             DEV@x.uk,Dev,L,7a\n\
             dev@x.uk,Devon,L,8B\n\
             dev@x.uk,Dev,L,9C\n"
        );
        let rows = parse(file.as_bytes()).unwrap();
        assert_eq!(codes(&rows[0]), ["bad_email"]);
        assert_eq!(codes(&rows[1]), ["bad_name"]);
        assert_eq!(codes(&rows[2]), ["bad_name", "bad_class"]);
        assert!(rows[3].errors.is_empty());
        assert_eq!(
            codes(&rows[4]),
            ["duplicate_row"],
            "the same pupil and class, whatever the case"
        );
        assert!(rows[4].errors[0].message.contains("Line 5"));
        assert_eq!(codes(&rows[5]), ["conflicting_names"]);
        assert!(rows[6].errors.is_empty(), "one pupil in two classes is two rows");
    }

    #[test]
    fn names_follow_the_text_policy() {
        let hundred = "y".repeat(MAX_NAME);
        let file = format!(
            "pupil email,first name,last name,class\n\
             a@x.uk,Dr Chen \u{202E}(partner school),L,7A\n\
             b@x.uk,\u{200B}\u{2060},L,7A\n\
             c@x.uk,Zoe\u{308},O'Brien-N\u{303}u\u{301}n\u{303}ez,7A\n\
             d@x.uk,{hundred},{hundred},7A\n\
             e@x.uk,Si\u{E2}n,Ll\u{177}r,Blwyddyn 7\n\
             f@x.uk,\u{645}\u{62D}\u{645}\u{62F},\u{639}\u{644}\u{64A},7A \u{2067}x\n"
        );
        let rows = parse(file.as_bytes()).unwrap();
        let reasons = |r: &Row| {
            r.errors
                .iter()
                .map(|e| (e.code, e.reason.map(text::Problem::as_str)))
                .collect::<Vec<_>>()
        };
        assert_eq!(reasons(&rows[0]), [("bad_name", Some("bidi_control"))]);
        assert_eq!(reasons(&rows[1]), [("bad_name", Some("invisible_characters"))]);
        assert!(rows[2].errors.is_empty(), "{:?}", rows[2].errors);
        assert_eq!(
            rows[2].display_name(),
            "Zo\u{EB} O'Brien-\u{D1}\u{FA}\u{F1}ez",
            "stored as NFC"
        );
        assert_eq!(
            reasons(&rows[3]),
            [("bad_name", Some("too_long"))],
            "first and last fit, the whole name does not"
        );
        assert_eq!(rows[3].errors[0].message, "The name is longer than 200 characters.");
        assert!(rows[4].errors.is_empty(), "Welsh: {:?}", rows[4].errors);
        assert_eq!(
            reasons(&rows[5]),
            [("bad_class", Some("bidi_control"))],
            "Arabic names pass, the class does not"
        );
    }

    #[test]
    fn the_template_reads_back_clean() {
        let rows = parse(&template()).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.errors.is_empty()), "{rows:?}");
        assert_eq!(rows[1].display_name(), "Sample Learner");
        assert!(String::from_utf8(template())
            .unwrap()
            .starts_with("pupil email,first name,last name,class\r\n"));
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for file in [
            &b"\""[..],
            b"\"\n\"",
            b"a\0b\n\xef\xbb\xbf",
            b",,,,\n,,,,",
            b"\r\r\r",
            b"pupil email\n\"unterminated",
        ] {
            let _ = parse(file);
        }
    }

    #[test]
    fn export_is_spreadsheet_safe_and_reads_back() {
        let out = export(
            "7A Science",
            [
                ("ada@pupils.demo.sch.uk", "Ada Lovelace"),
                ("=cmd@x.uk", "+Eve -Bad"),
                ("zoe@x.uk", "Zoe"),
            ],
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("pupil email,first name,last name,class\r\n"));
        assert!(text.contains("'=cmd@x.uk,'+Eve,'-Bad,7A Science"), "{text}");
        let rows = parse(&out).unwrap();
        assert_eq!(rows[0].display_name(), "Ada Lovelace");
        assert_eq!(rows[0].class, "7A Science");
        assert!(
            rows[2].errors.is_empty(),
            "a one-word name has an empty last name: {:?}",
            rows[2].errors
        );
        assert_eq!(rows[2].display_name(), "Zoe");
        assert_eq!(safe_cell("@SUM(1)"), "'@SUM(1)");
        assert_eq!(safe_cell("plain"), "plain");
        assert_eq!(
            split_name("Mary Ann Smith"),
            ("Mary".to_owned(), "Ann Smith".to_owned())
        );
        assert_eq!(class_key("  7A   Science "), "7a science");
    }
}
