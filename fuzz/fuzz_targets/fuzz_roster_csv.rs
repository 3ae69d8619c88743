//! The roster CSV importer: a superuser uploads a file exported from the school's MIS. Any
//! bytes give rows or a file error, never a panic; a row with no errors, exported the way
//! the admin pages export a class, imports again as exactly one row, and its names are what the
//! text policy stores (NFC, accepted again unchanged: no override or invisible character slips
//! through the importer).

#![no_main]

use libfuzzer_sys::fuzz_target;
use livegate_core::{roster_csv, text};

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = roster_csv::parse(data) else { return };
    assert!(rows.len() <= roster_csv::MAX_ROWS);
    for row in rows.iter().filter(|r| r.errors.is_empty()).take(8) {
        let name = row.display_name();
        assert_eq!(text::clean(&text::DISPLAY_NAME, &name).as_deref(), Ok(name.as_str()), "a pupil's name as stored");
        assert_eq!(text::clean(&text::CSV_CLASS, &row.class).as_deref(), Ok(row.class.as_str()), "a class as stored");
        let _ = row.class_key();
        let file = roster_csv::export(&row.class, [(row.email_text.as_str(), name.as_str())]);
        let again = roster_csv::parse(&file).expect("an exported file imports");
        assert_eq!(again.len(), 1, "an exported row imports as one row");
    }
});
