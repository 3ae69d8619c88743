//! Roster import from the school's MIS (CSV rows already parsed by [`livegate_core::roster_csv`]),
//! and the per-class queries behind the roster export, the "without consent" list and the
//! teacher's readiness list.
//!
//! An import is planned against the database inside one transaction: each row says whether
//! its pupil, its class and the membership are new or already there, or what is wrong with it.
//! A preview rolls the transaction back. Applying writes everything, with an audit entry per
//! created user, class and membership and one for the import, in that same transaction, and
//! only if no row has an error: an import is all or nothing. Importing the same file again
//! finds everything there and changes nothing. Import only adds: it never removes a pupil from
//! a class or renames anyone, so an MIS export of one class cannot empty another.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use super::audit::append;
use super::consent::consent_state;
use super::{Result, Store, StoreError};
use livegate_core::ids::{ClassId, SchoolId, UserId};
use livegate_core::roster_csv::{Row, RowError};
use livegate_core::school::Role;

use super::people::{ClassRecord, MemberKind, UserRecord};

/// How many values one `IN (...)` list binds.
const CHUNK: usize = 500;

/// Whether a row's pupil, class or membership exists already or would be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    New,
    Existing,
}

/// One row of an import, as planned.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportRow {
    pub line: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub class: String,
    /// `None` when the row has errors.
    pub user: Option<Plan>,
    pub class_status: Option<Plan>,
    pub membership: Option<Plan>,
    /// True when the pupil, class and membership all exist already.
    pub unchanged: bool,
    pub errors: Vec<RowError>,
    /// Problems that block nothing because the row changes nothing (a pupil already on the
    /// roster whose email domain is not trusted: they still cannot join lessons).
    pub warnings: Vec<RowError>,
}

/// Counts over an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub rows: usize,
    pub users_created: usize,
    pub classes_created: usize,
    pub memberships_created: usize,
    pub unchanged: usize,
    pub rows_with_errors: usize,
}

/// The result of a preview or an import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// True if the changes were written.
    pub applied: bool,
    /// True if no row has an error.
    pub ok: bool,
    pub summary: ImportSummary,
    pub rows: Vec<ImportRow>,
}

/// A pupil of a class with the admission facts the directory holds about them.
#[derive(Debug, Clone)]
pub struct PupilFacts {
    pub user: UserRecord,
    pub domain_trusted: bool,
    pub consent: livegate_core::school::ConsentState,
}

/// What the database holds that an import is checked against.
struct Directory {
    trusted: HashSet<String>,
    /// Class key -> id.
    classes: HashMap<String, ClassId>,
    /// Email -> (id, school, role).
    users: HashMap<String, (UserId, SchoolId, Role)>,
    /// (class, user) pairs of this school.
    members: HashSet<(String, String)>,
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn text(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

async fn load_directory(tx: &mut Transaction<'_, Any>, school: &SchoolId, rows: &[Row]) -> Result<Directory> {
    let domains = sqlx::query("SELECT domain FROM trusted_domains WHERE school_id = $1")
        .bind(school.as_str())
        .fetch_all(&mut **tx)
        .await?;
    let trusted = domains.iter().map(|r| text(r, "domain")).collect::<Result<_>>()?;
    let class_rows = sqlx::query("SELECT id, name FROM classes WHERE school_id = $1 ORDER BY name")
        .bind(school.as_str())
        .fetch_all(&mut **tx)
        .await?;
    let mut classes = HashMap::new();
    for r in &class_rows {
        let id = ClassId::parse(&text(r, "id")?).ok_or(StoreError::Invalid("malformed id in database"))?;
        // Of two classes whose names differ only in case, the first by name is used.
        classes
            .entry(livegate_core::roster_csv::class_key(&text(r, "name")?))
            .or_insert(id);
    }
    let mut emails: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.email.as_ref().map(|e| e.expose()))
        .collect();
    emails.sort_unstable();
    emails.dedup();
    let mut users = HashMap::new();
    for chunk in emails.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, school_id, email, role FROM users WHERE email IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q.bind(*e);
        }
        for r in q.fetch_all(&mut **tx).await? {
            let bad = || StoreError::Invalid("malformed user in database");
            let id = UserId::parse(&text(&r, "id")?).ok_or_else(bad)?;
            let sch = SchoolId::parse(&text(&r, "school_id")?).ok_or_else(bad)?;
            let role = Role::parse(&text(&r, "role")?).ok_or_else(bad)?;
            users.insert(text(&r, "email")?, (id, sch, role));
        }
    }
    let member_rows = sqlx::query("SELECT class_id, user_id FROM class_members WHERE school_id = $1")
        .bind(school.as_str())
        .fetch_all(&mut **tx)
        .await?;
    let members = member_rows
        .iter()
        .map(|r| Ok((text(r, "class_id")?, text(r, "user_id")?)))
        .collect::<Result<_>>()?;
    Ok(Directory {
        trusted,
        classes,
        users,
        members,
    })
}

/// Plans one row against the directory: its errors and what it would create.
fn plan_row(row: &Row, school: &SchoolId, dir: &Directory) -> ImportRow {
    let mut errors = row.errors.clone();
    let mut user = None;
    let mut untrusted = None;
    if let Some(email) = &row.email {
        if !dir.trusted.contains(email.domain()) {
            untrusted = Some(RowError::new(
                "email_not_trusted",
                format!(
                    "The domain {} is not one of this school's trusted domains.",
                    email.domain()
                ),
            ));
        }
        match dir.users.get(email.expose()) {
            Some((_, sch, _)) if sch != school => {
                untrusted = None; // beside this, the domain is noise
                errors.push(RowError::new(
                    "email_in_use",
                    "This email belongs to an account this school cannot manage.",
                ));
            }
            Some((_, _, role)) if *role != Role::Pupil => {
                errors.push(RowError::new(
                    "not_a_pupil",
                    "This email belongs to a staff account of this school, not a pupil.",
                ));
            }
            Some((id, _, _)) => user = Some(id.clone()),
            None if row.last_name.is_empty() => {
                errors.push(RowError::new(
                    "bad_name",
                    "The last name is empty; a new pupil needs a first and a last name.",
                ));
            }
            None => {}
        }
    }
    let class = dir.classes.get(&row.class_key());
    let membership = match (&user, class) {
        (Some(u), Some(c)) if dir.members.contains(&(c.as_str().to_owned(), u.as_str().to_owned())) => Plan::Existing,
        _ => Plan::New,
    };
    // An untrusted domain blocks adding anyone, but a row that changes nothing only warns.
    let mut warnings = Vec::new();
    if let Some(e) = untrusted {
        if errors.is_empty() && membership == Plan::Existing {
            warnings.push(e);
        } else {
            errors.push(e);
        }
    }
    let ok = errors.is_empty();
    let user_plan = if user.is_some() { Plan::Existing } else { Plan::New };
    let class_plan = if class.is_some() { Plan::Existing } else { Plan::New };
    ImportRow {
        line: row.line,
        email: row.email_text.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        class: row.class.clone(),
        user: ok.then_some(user_plan),
        class_status: ok.then_some(class_plan),
        membership: ok.then_some(membership),
        unchanged: ok && membership == Plan::Existing,
        errors,
        warnings,
    }
}

fn summarise(rows: &[Row], planned: &[ImportRow]) -> ImportSummary {
    let mut new_users = HashSet::new();
    let mut new_classes = HashSet::new();
    let mut s = ImportSummary {
        rows: planned.len(),
        ..Default::default()
    };
    for (row, p) in rows.iter().zip(planned) {
        if !p.errors.is_empty() {
            s.rows_with_errors += 1;
            continue;
        }
        if p.user == Some(Plan::New) {
            new_users.insert(row.email.as_ref().map(|e| e.expose().to_owned()));
        }
        if p.class_status == Some(Plan::New) {
            new_classes.insert(row.class_key());
        }
        if p.membership == Some(Plan::New) {
            s.memberships_created += 1;
        }
        if p.unchanged {
            s.unchanged += 1;
        }
    }
    s.users_created = new_users.len();
    s.classes_created = new_classes.len();
    s
}

impl Store {
    /// Plans an import of parsed roster rows and, with `apply` and no row in error, writes it
    /// in one transaction. `file_sha256` identifies the file in the audit entry.
    pub async fn import_roster(
        &self,
        actor: &str,
        school: &SchoolId,
        rows: &[Row],
        apply: bool,
        file_sha256: &str,
    ) -> Result<ImportReport> {
        let mut tx = self.pool.begin().await?;
        let mut dir = load_directory(&mut tx, school, rows).await?;
        let planned: Vec<ImportRow> = rows.iter().map(|r| plan_row(r, school, &dir)).collect();
        let summary = summarise(rows, &planned);
        let ok = summary.rows_with_errors == 0;
        if !(apply && ok) {
            tx.rollback().await?;
            return Ok(ImportReport {
                applied: false,
                ok,
                summary,
                rows: planned,
            });
        }
        for row in rows {
            write_row(&mut tx, actor, school, row, &mut dir).await?;
        }
        let detail = json!({
            "rows": summary.rows,
            "users_created": summary.users_created,
            "classes_created": summary.classes_created,
            "memberships_created": summary.memberships_created,
            "unchanged": summary.unchanged,
            "sha256": file_sha256,
        });
        append(&mut tx, school, actor, "roster.import", &detail).await?;
        tx.commit().await?;
        Ok(ImportReport {
            applied: true,
            ok,
            summary,
            rows: planned,
        })
    }

    /// How many pupils and teachers each of the school's classes has.
    pub async fn class_counts(&self, school: &SchoolId) -> Result<HashMap<ClassId, (i64, i64)>> {
        let rows = sqlx::query(
            "SELECT class_id, member, COUNT(*) AS n FROM class_members WHERE school_id = $1 GROUP BY class_id, member",
        )
        .bind(school.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<ClassId, (i64, i64)> = HashMap::new();
        for r in &rows {
            let Some(id) = ClassId::parse(&text(r, "class_id")?) else {
                continue;
            };
            let n: i64 = r.try_get("n")?;
            let entry = out.entry(id).or_default();
            if text(r, "member")? == "teacher" {
                entry.1 += n;
            } else {
                entry.0 += n;
            }
        }
        Ok(out)
    }

    /// A class with its pupils (by display name), for the roster export.
    pub async fn class_pupils(
        &self,
        school: &SchoolId,
        class: &ClassId,
    ) -> Result<Option<(ClassRecord, Vec<UserRecord>)>> {
        let Some(record) = self.class(school, class).await? else {
            return Ok(None);
        };
        let pupils = self
            .members(school, class)
            .await?
            .into_iter()
            .filter(|(_, k)| *k == MemberKind::Pupil)
            .map(|(u, _)| u)
            .collect();
        Ok(Some((record, pupils)))
    }

    /// The pupils of a class with the directory's admission facts about each: whether their
    /// email domain is trusted and their consent state. `None` if the class is not this school's.
    pub async fn pupil_facts(&self, school: &SchoolId, class: &ClassId) -> Result<Option<Vec<PupilFacts>>> {
        let Some((_, pupils)) = self.class_pupils(school, class).await? else {
            return Ok(None);
        };
        let required = self
            .school(school)
            .await?
            .ok_or(StoreError::NotFound)?
            .conduct_version_required;
        let trusted: HashSet<String> = self
            .trusted_domains(school)
            .await?
            .into_iter()
            .map(|d| d.domain)
            .collect();
        let mut out = Vec::with_capacity(pupils.len());
        for user in pupils {
            let consent = consent_state(&self.consents(school, &user.id).await?, required);
            let domain_trusted = trusted.contains(user.email.domain());
            out.push(PupilFacts {
                user,
                domain_trusted,
                consent,
            });
        }
        Ok(Some(out))
    }
}

/// Writes what one planned row creates, updating `dir` so later rows see it.
async fn write_row(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    school: &SchoolId,
    row: &Row,
    dir: &mut Directory,
) -> Result<()> {
    let Some(email) = &row.email else {
        return Err(StoreError::Invalid("row without an email"));
    };
    let key = row.class_key();
    let class = match dir.classes.get(&key) {
        Some(id) => id.clone(),
        None => {
            let id = ClassId::generate();
            sqlx::query("INSERT INTO classes (id, school_id, name) VALUES ($1, $2, $3)")
                .bind(id.as_str())
                .bind(school.as_str())
                .bind(row.class.as_str())
                .execute(&mut **tx)
                .await
                .map_err(super::conflict)?;
            append(
                tx,
                school,
                actor,
                "class.create",
                &json!({"class": id, "via": "import"}),
            )
            .await?;
            dir.classes.insert(key, id.clone());
            id
        }
    };
    let user = match dir.users.get(email.expose()) {
        Some((id, _, _)) => id.clone(),
        None => {
            let id = UserId::generate();
            sqlx::query("INSERT INTO users (id, school_id, email, display_name, role, password_hash, disabled, created_at) VALUES ($1, $2, $3, $4, 'pupil', NULL, 0, $5)")
                .bind(id.as_str())
                .bind(school.as_str())
                .bind(email.expose())
                .bind(row.display_name())
                .bind(super::now_ms())
                .execute(&mut **tx)
                .await
                .map_err(super::conflict)?;
            append(
                tx,
                school,
                actor,
                "user.create",
                &json!({"user": id, "role": Role::Pupil, "via": "import"}),
            )
            .await?;
            dir.users
                .insert(email.expose().to_owned(), (id.clone(), school.clone(), Role::Pupil));
            id
        }
    };
    let pair = (class.as_str().to_owned(), user.as_str().to_owned());
    if dir.members.contains(&pair) {
        return Ok(());
    }
    sqlx::query("INSERT INTO class_members (class_id, user_id, school_id, member) VALUES ($1, $2, $3, 'pupil')")
        .bind(class.as_str())
        .bind(user.as_str())
        .bind(school.as_str())
        .execute(&mut **tx)
        .await
        .map_err(super::conflict)?;
    append(
        tx,
        school,
        actor,
        "roster.add",
        &json!({"class": class, "user": user, "as": MemberKind::Pupil, "via": "import"}),
    )
    .await?;
    dir.members.insert(pair);
    Ok(())
}

impl Store {
    /// Stores one invite sheet's tokens (by hash) in one transaction, each for a pupil of the
    /// class who still has no password and is not disabled (anyone else, say a pupil who set
    /// their password a moment ago, is skipped), each replacing the pupil's unused link; then
    /// one audit entry for the sheet. Returns the pupils issued a link, with its expiry.
    pub async fn issue_invite_sheet(
        &self,
        actor: &str,
        school: &SchoolId,
        class: &ClassId,
        tokens: &[(UserId, String)],
        now: i64,
    ) -> Result<Vec<(UserId, i64)>> {
        let mut tx = self.pool.begin().await?;
        let mut issued = Vec::with_capacity(tokens.len());
        for (user, hash) in tokens {
            let still = sqlx::query(
                "SELECT 1 AS one FROM users u JOIN class_members m ON m.user_id = u.id \
                 WHERE u.id = $1 AND u.school_id = $2 AND m.class_id = $3 AND m.school_id = $2 \
                 AND m.member = 'pupil' AND u.password_hash IS NULL AND u.disabled = 0",
            )
            .bind(user.as_str())
            .bind(school.as_str())
            .bind(class.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if still.is_some() {
                let purpose = super::TokenPurpose::Invite;
                let expires_at =
                    super::accounts::store_account_token(&mut tx, actor, school, user, purpose, hash, now).await?;
                issued.push((user.clone(), expires_at));
            }
        }
        // The class and the count, never a token or a name.
        let detail = json!({"class": class, "issued": issued.len(), "expires_at": issued.first().map(|(_, at)| *at)});
        append(&mut tx, school, actor, "account.invite_sheet", &detail).await?;
        tx.commit().await?;
        Ok(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{demo, stores};
    use livegate_core::ids::Email;
    use livegate_core::roster_csv::parse;
    use livegate_core::school::ConsentState;

    async fn count(store: &Store, table: &str) -> i64 {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        row.try_get("n").unwrap()
    }

    #[tokio::test]
    async fn import_is_all_or_nothing_and_idempotent() {
        for store in stores().await {
            let s = demo();
            let good = b"pupil email,first name,last name,class\nnew1@pupils.demo.sch.uk,New,One,7A Science\nnew2@pupils.demo.sch.uk,New,Two,11Z Music\nowen@pupils.demo.sch.uk,O,R,11z music\n";
            let rows = parse(good).unwrap();
            let (users, audit) = (count(&store, "users").await, count(&store, "audit_log").await);
            let preview = store.import_roster("usr_admin", &s, &rows, false, "h").await.unwrap();
            assert!(preview.ok && !preview.applied);
            assert_eq!(
                (
                    preview.summary.users_created,
                    preview.summary.classes_created,
                    preview.summary.memberships_created
                ),
                (2, 1, 3)
            );
            assert_eq!(
                (count(&store, "users").await, count(&store, "audit_log").await),
                (users, audit),
                "a preview writes nothing"
            );

            let done = store.import_roster("usr_admin", &s, &rows, true, "h").await.unwrap();
            assert!(done.applied);
            assert_eq!(count(&store, "users").await, users + 2);
            // 2 users, 1 class, 3 memberships, 1 import entry.
            assert_eq!(count(&store, "audit_log").await, audit + 7);
            let again = store.import_roster("usr_admin", &s, &rows, true, "h").await.unwrap();
            assert_eq!((again.summary.unchanged, again.summary.memberships_created), (3, 0));
            assert_eq!(count(&store, "users").await, users + 2);

            // One bad row among good ones: nothing is written.
            let mixed = b"pupil email,first name,last name,class\nnew3@pupils.demo.sch.uk,New,Three,7A Science\nyan@pupils.other.sch.uk,Y,O,7A Science\n";
            let (users, members, audit) = (
                count(&store, "users").await,
                count(&store, "class_members").await,
                count(&store, "audit_log").await,
            );
            let refused = store
                .import_roster("usr_admin", &s, &parse(mixed).unwrap(), true, "h")
                .await
                .unwrap();
            assert!(!refused.ok && !refused.applied);
            assert_eq!(refused.rows[1].errors[0].code, "email_in_use");
            assert_eq!(
                (
                    count(&store, "users").await,
                    count(&store, "class_members").await,
                    count(&store, "audit_log").await
                ),
                (users, members, audit)
            );
            assert!(store.verify_audit().await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn class_queries_are_scoped_and_counted() {
        for store in stores().await {
            let s = demo();
            let c7a = ClassId::parse("7a").unwrap();
            let counts = store.class_counts(&s).await.unwrap();
            assert_eq!(counts.get(&c7a), Some(&(6, 1)));
            assert!(
                !counts.contains_key(&ClassId::parse("9c").unwrap()),
                "only this school's classes"
            );
            let facts = store.pupil_facts(&s, &c7a).await.unwrap().unwrap();
            let of = |email: &str| {
                facts
                    .iter()
                    .find(|p| p.user.email == Email::parse(email).unwrap())
                    .unwrap()
            };
            assert_eq!(
                (
                    of("ada@pupils.demo.sch.uk").consent,
                    of("ada@pupils.demo.sch.uk").domain_trusted
                ),
                (ConsentState::Current, true)
            );
            assert_eq!(of("eve@pupils.demo.sch.uk").consent, ConsentState::Missing);
            assert!(!of("finn@home-mail.example").domain_trusted);
            assert_eq!(facts.len(), 6, "pupils only, not the teacher");
            assert!(store
                .pupil_facts(&SchoolId::parse("sch_other").unwrap(), &c7a)
                .await
                .unwrap()
                .is_none());
            assert!(store
                .class_pupils(&SchoolId::parse("sch_other").unwrap(), &c7a)
                .await
                .unwrap()
                .is_none());
        }
    }
}
