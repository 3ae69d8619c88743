//! Which column of a roster file holds which of Livegate's fields, for files whose header is
//! not Livegate's own: what a school's MIS (SIMS, Arbor, Bromcom...) writes, such as
//! `Legal Forename`, `Surname`, `Reg Group`, `Pupil Email`.
//!
//! [`propose`] matches header names against known synonyms, compared on their letters and
//! digits only, without case. Where an export has both a preferred and a legal name, the
//! preferred one is proposed: it is the name the class knows the pupil by, and the name shown in
//! lessons. For the class, a teaching group (`Class`, `Teaching Group`, `Set`) is proposed
//! before a registration group (`Reg Group`, `Form`, `Tutor Group`), because lessons are taught
//! to teaching groups; a file with only a registration group maps that. The display name is
//! always "first last". Columns Livegate does not keep (year group, UPN, date of birth...) are
//! never mapped: the data stays in the MIS. A [`ColumnMap`] is what the superuser confirms or
//! changes; [`check`] says whether it fits a file. This is one source format of the roster
//! import; others (whole-directory exports) would bring their own reader beside it.

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::roster_csv::FileError;

/// For each of Livegate's roster fields, the index (from 0) of the file's column holding it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    pub email: Option<usize>,
    pub first_name: Option<usize>,
    pub last_name: Option<usize>,
    pub class: Option<usize>,
    /// Optional: when mapped, a row whose role is not a pupil's is refused (`role_not_pupil`).
    #[serde(default)]
    pub role: Option<usize>,
}

/// The fields in the order they are shown, with their wire names.
pub const FIELDS: [&str; 5] = ["email", "first_name", "last_name", "class", "role"];

/// The fields in words, in the order of [`FIELDS`].
pub const FIELD_WORDS: [&str; 5] = ["email", "first name", "last name", "class", "role"];

/// The most columns a header may have (a sane export has a few dozen).
pub const MAX_COLUMNS: usize = 200;

impl ColumnMap {
    /// The columns in the order of [`FIELDS`].
    pub fn slots(&self) -> [Option<usize>; 5] {
        [self.email, self.first_name, self.last_name, self.class, self.role]
    }

    fn slot_mut(&mut self, field: usize) -> &mut Option<usize> {
        match field {
            0 => &mut self.email,
            1 => &mut self.first_name,
            2 => &mut self.last_name,
            3 => &mut self.class,
            _ => &mut self.role,
        }
    }

    /// The required fields that have no column, by wire name.
    pub fn missing(&self) -> Vec<&'static str> {
        self.slots()[..4]
            .iter()
            .zip(FIELDS)
            .filter(|(slot, _)| slot.is_none())
            .map(|(_, name)| name)
            .collect()
    }
}

/// Synonyms per field, in tiers: a match in an earlier tier wins over any in a later one, and
/// within a tier the leftmost column wins. Keys are [`key`]s.
const SYNONYMS: [&[&[&str]]; 5] = [
    &[
        &[
            "pupilemail",
            "pupilemailaddress",
            "studentemail",
            "studentemailaddress",
            "learneremail",
        ],
        &[
            "email",
            "emailaddress",
            "schoolemail",
            "schoolemailaddress",
            "primaryemail",
            "primaryemailaddress",
            "mail",
        ],
    ],
    &[
        &["preferredforename", "preferredfirstname", "preferredgivenname"],
        &[
            "firstname",
            "forename",
            "legalforename",
            "legalfirstname",
            "givenname",
            "forenames",
            "first",
        ],
    ],
    &[
        &["preferredsurname", "preferredlastname", "preferredfamilyname"],
        &[
            "lastname",
            "surname",
            "legalsurname",
            "legallastname",
            "familyname",
            "last",
        ],
    ],
    &[
        &[
            "class",
            "classname",
            "teachinggroup",
            "teachinggroupname",
            "classgroup",
            "group",
            "set",
        ],
        &[
            "reggroup",
            "registrationgroup",
            "regform",
            "registrationform",
            "form",
            "formgroup",
            "tutorgroup",
        ],
    ],
    &[&["role", "type", "usertype", "persontype", "roletype"]],
];

/// How header names compare: letters and digits only, lower case ("E-mail Address" is
/// `emailaddress`, "Reg. Group" is `reggroup`).
pub fn key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The mapping the header's names suggest; fields with no known name stay `None`.
pub fn propose<S: AsRef<str>>(header: &[S]) -> ColumnMap {
    let keys: Vec<String> = header.iter().map(|h| key(h.as_ref())).collect();
    let mut map = ColumnMap::default();
    let mut taken = vec![false; keys.len()];
    for (field, tiers) in SYNONYMS.iter().enumerate() {
        let found = tiers.iter().find_map(|tier| {
            keys.iter()
                .enumerate()
                .position(|(i, k)| !taken[i] && tier.contains(&k.as_str()))
        });
        if let Some(i) = found {
            taken[i] = true;
            *map.slot_mut(field) = Some(i);
        }
    }
    map
}

/// True if the header is exactly Livegate's own four columns (in any order), so no mapping
/// step needs showing.
pub fn is_own<S: AsRef<str>>(header: &[S]) -> bool {
    let mut keys: Vec<String> = header.iter().map(|h| key(h.as_ref())).collect();
    keys.sort();
    keys == ["class", "firstname", "lastname", "pupilemail"]
}

/// Whether a mapping fits a file with `columns` columns: every index names a column, no column
/// serves two fields (`roster_mapping_invalid`), and every required field has one
/// (`csv_unmapped_header`, naming those without).
pub fn check(map: &ColumnMap, columns: usize) -> Result<(), FileError> {
    let mut used = Vec::new();
    for (slot, name) in map.slots().iter().zip(FIELDS) {
        let Some(i) = *slot else { continue };
        if i >= columns {
            return Err(FileError::new(
                ErrorCode::RosterMappingInvalid,
                Some(1),
                format!(
                    "The file has {columns} columns, so it has no column {} for {name}.",
                    i + 1
                ),
            ));
        }
        if used.contains(&i) {
            return Err(FileError::new(
                ErrorCode::RosterMappingInvalid,
                Some(1),
                format!("Column {} is chosen for two fields.", i + 1),
            ));
        }
        used.push(i);
    }
    let missing = map.missing();
    if !missing.is_empty() {
        let words: Vec<&str> = FIELDS
            .iter()
            .zip(FIELD_WORDS)
            .filter(|(f, _)| missing.contains(f))
            .map(|(_, w)| w)
            .collect();
        return Err(FileError::new(
            ErrorCode::CsvUnmappedHeader,
            Some(1),
            format!("No column was chosen for the pupil's {}.", words.join(", ")),
        ));
    }
    Ok(())
}

/// True if a role cell names a pupil (or is empty: many exports leave it blank for pupils).
pub fn is_pupil_role(cell: &str) -> bool {
    matches!(
        key(cell).as_str(),
        "" | "pupil" | "pupils" | "student" | "students" | "learner" | "learners" | "child"
    )
}

#[cfg(test)]
mod tests;
