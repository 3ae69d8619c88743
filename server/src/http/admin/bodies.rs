//! The answers of the administration API (PROTOCOL.md section 5) and of the teacher's
//! readiness list, one type per body, beside the routes that send them. The golden test at
//! the bottom freezes their JSON (`server/golden/admin-bodies.jsonl`): renaming a field, or
//! changing what one holds, fails it.

use serde::Serialize;

use super::AdminUser;
use crate::http::error::ErrorDetail;
use crate::store::roster::ImportReport;
use crate::store::{ClassRecord, ConductText, ConsentRecord, DomainRecord, MemberKind};
use livegate_core::codes::ErrorCode;
use livegate_core::ids::{ClassId, UserId};
use livegate_core::roster_columns::ColumnMap;
use livegate_core::school::{ConsentState, PrivacyProfile};

/// A class as a reference inside another answer: `{"id", "name"}`.
#[derive(Debug, Serialize)]
pub struct ClassRef {
    pub id: ClassId,
    pub name: String,
}

impl ClassRef {
    pub fn of(class: &ClassRecord) -> Self {
        Self {
            id: class.id.clone(),
            name: class.name.clone(),
        }
    }
}

/// `GET /api/admin/users`.
#[derive(Debug, Serialize)]
pub struct UserList {
    pub users: Vec<AdminUser>,
}

/// `POST /api/admin/users` and `PATCH /api/admin/users/{user_id}`: the account as it now is
/// (never a password or a link).
#[derive(Debug, Serialize)]
pub struct UserBody {
    pub user: AdminUser,
}

/// A class with how many pupils and teachers it has, in [`ClassList`].
#[derive(Debug, Serialize)]
pub struct ClassCounts {
    pub id: ClassId,
    pub name: String,
    pub pupils: i64,
    pub teachers: i64,
}

/// `GET /api/admin/classes`.
#[derive(Debug, Serialize)]
pub struct ClassList {
    pub classes: Vec<ClassCounts>,
}

/// `POST /api/admin/classes`.
#[derive(Debug, Serialize)]
pub struct ClassBody {
    pub class: ClassRef,
}

/// Someone on a class, in [`ClassMembers`].
#[derive(Debug, Serialize)]
pub struct Member {
    pub user: AdminUser,
    #[serde(rename = "as")]
    pub kind: MemberKind,
}

/// `GET /api/admin/classes/{class_id}`.
#[derive(Debug, Serialize)]
pub struct ClassMembers {
    pub class: ClassRef,
    pub members: Vec<Member>,
}

/// `POST /api/admin/classes/{class_id}/members`.
#[derive(Debug, Serialize)]
pub struct Membership {
    pub class_id: ClassId,
    pub user_id: UserId,
    #[serde(rename = "as")]
    pub kind: MemberKind,
}

/// A pupil of the roster as the teacher's readiness list shows them.
#[derive(Debug, Serialize)]
pub struct ReadyPupil {
    pub id: UserId,
    pub display_name: String,
    pub can_join: bool,
    /// The code the admission gate would refuse them with; `null` when they can join.
    pub reason: Option<ErrorCode>,
    pub consent: ConsentState,
}

/// `GET /api/classes/{class_id}/readiness`.
#[derive(Debug, Serialize)]
pub struct Readiness {
    pub class: ClassRef,
    pub pupils: Vec<ReadyPupil>,
}

/// `GET /api/admin/domains`.
#[derive(Debug, Serialize)]
pub struct DomainList {
    pub domains: Vec<DomainRecord>,
}

/// `POST /api/admin/domains`: the domain as stored (normalised).
#[derive(Debug, Serialize)]
pub struct DomainAdded {
    pub domain: String,
}

/// `GET /api/admin/pupils/{user_id}/consents`: the records newest first.
#[derive(Debug, Serialize)]
pub struct PupilConsents {
    pub pupil: AdminUser,
    pub state: ConsentState,
    pub records: Vec<ConsentRecord>,
}

/// `POST /api/admin/pupils/{user_id}/consents`.
#[derive(Debug, Serialize)]
pub struct ConsentRecorded {
    pub consent_id: String,
    pub state: ConsentState,
}

/// A pupil whose consent is not current, in [`WithoutConsent`].
#[derive(Debug, Serialize)]
pub struct PupilConsent {
    pub user: AdminUser,
    pub consent: ConsentState,
}

/// `GET /api/admin/classes/{class_id}/without-consent`.
#[derive(Debug, Serialize)]
pub struct WithoutConsent {
    pub class: ClassRef,
    pub pupils: Vec<PupilConsent>,
}

/// `GET /api/admin/conduct`: `conduct` is `null` before any version is published.
#[derive(Debug, Serialize)]
pub struct Conduct {
    pub conduct: Option<ConductText>,
    pub required_version: i64,
}

/// `POST /api/admin/conduct`.
#[derive(Debug, Serialize)]
pub struct ConductPublished {
    pub version: i64,
    pub require_resign: bool,
}

/// `GET` and `PUT /api/admin/pupils/{user_id}/privacy`.
#[derive(Debug, Serialize)]
pub struct Privacy {
    pub pupil_id: UserId,
    pub privacy: PrivacyProfile,
}

/// `POST /api/admin/roster/import`: a preview, or an import that was written.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub report: ImportReport,
}

/// `POST /api/admin/roster/import?apply=true` when a row has an error (`422`, nothing
/// written): the usual error and the report that says which rows.
#[derive(Debug, Serialize)]
pub struct ImportRefused {
    pub error: ErrorDetail,
    pub report: ImportReport,
}

/// A roster file refused as a whole (`csv_bad_header`...): the usual error plus the line
/// (or `null`) and a sentence naming the column or count at fault.
#[derive(Debug, Serialize)]
pub struct FileRefused {
    pub error: FileErrorDetail,
}

/// The inside of [`FileRefused`].
#[derive(Debug, Serialize)]
pub struct FileErrorDetail {
    #[serde(flatten)]
    pub base: ErrorDetail,
    pub line: Option<u64>,
    pub detail: String,
}

/// Which columns of a roster file were read, in the answers to a JSON import.
#[derive(Debug, Serialize)]
pub struct Columns {
    /// The file's header names as written (trimmed, at most 80 characters each).
    pub header: Vec<String>,
    /// The columns read: the request's mapping, or the server's proposal.
    pub mapping: ColumnMap,
    /// True when `mapping` is the server's proposal (the request had none).
    pub proposed: bool,
    /// True when the header is exactly Livegate's own four columns.
    pub own_header: bool,
    /// Required fields without a column, by name (`email`, `first_name`, `last_name`, `class`).
    pub missing: Vec<&'static str>,
}

/// `POST /api/admin/roster/import` with a JSON body: the columns read and the report.
#[derive(Debug, Serialize)]
pub struct MappedImport {
    pub columns: Columns,
    pub report: ImportReport,
}

/// A JSON import whose columns do not fit (`csv_unmapped_header`, `roster_mapping_invalid`):
/// the error with its line and detail, and the columns so the superuser can choose.
#[derive(Debug, Serialize)]
pub struct ColumnsRefused {
    pub error: FileErrorDetail,
    pub columns: Columns,
}

/// A pupil by id and name, in [`InviteSheet`].
#[derive(Debug, Serialize)]
pub struct PupilRef {
    pub user_id: UserId,
    pub display_name: String,
}

/// One pupil's card on an invite sheet: the link (absolute, one use) and its QR code as SVG.
#[derive(Debug, Serialize)]
pub struct InviteCard {
    pub user_id: UserId,
    pub display_name: String,
    pub url: String,
    pub qr_svg: String,
}

/// `POST /api/admin/classes/{class_id}/invite-sheet`: a card for each pupil without a password
/// (by display name), and those left out: already set up, or disabled.
#[derive(Debug, Serialize)]
pub struct InviteSheet {
    pub class: ClassRef,
    /// When the links stop working (UTC milliseconds); null when none was issued.
    pub expires_at: Option<i64>,
    pub cards: Vec<InviteCard>,
    pub already_set_up: Vec<PupilRef>,
    pub disabled: Vec<PupilRef>,
}

/// The audit entry's detail of a roster export (`roster.export`): ids and counts, no names.
#[derive(Debug, Serialize)]
pub struct RosterExported {
    pub class: ClassId,
    pub pupils: usize,
}

#[cfg(test)]
mod tests;
