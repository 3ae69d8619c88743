//! Schools, users, classes with their rosters, and trusted email domains.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::audit::append;
use super::{conflict, flag, now_ms, Result, Store, StoreError};
use livegate_core::ids::{ClassId, Email, SchoolId, UserId};
use livegate_core::school::Role;
use livegate_core::text;

/// A user as stored. `Debug` prints only the id and role.
#[derive(Clone)]
pub struct UserRecord {
    pub id: UserId,
    pub school: SchoolId,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A school as stored.
#[derive(Debug, Clone)]
pub struct SchoolRecord {
    pub id: SchoolId,
    pub name: String,
    pub time_zone: String,
    pub conduct_version_required: i64,
}

/// A class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClassRecord {
    pub id: ClassId,
    pub school: SchoolId,
    pub name: String,
}

/// How a user belongs to a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberKind {
    Pupil,
    Teacher,
}

impl MemberKind {
    fn as_str(self) -> &'static str {
        match self {
            MemberKind::Pupil => "pupil",
            MemberKind::Teacher => "teacher",
        }
    }
}

/// A trusted email domain and why it is trusted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DomainRecord {
    pub domain: String,
    pub note: String,
    pub added_by: String,
    pub added_at: i64,
}

fn id<T>(row: &AnyRow, col: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let s: String = row.try_get(col)?;
    parse(&s).ok_or(StoreError::Invalid("malformed id in database"))
}

pub(super) fn user(row: &AnyRow) -> Result<UserRecord> {
    let email: String = row.try_get("email")?;
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: id(row, "id", UserId::parse)?,
        school: id(row, "school_id", SchoolId::parse)?,
        email: Email::parse(&email).ok_or(StoreError::Invalid("malformed email in database"))?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role).ok_or(StoreError::Invalid("unknown role in database"))?,
        disabled: flag(row, "disabled")?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn class(row: &AnyRow) -> Result<ClassRecord> {
    Ok(ClassRecord {
        id: id(row, "id", ClassId::parse)?,
        school: id(row, "school_id", SchoolId::parse)?,
        name: row.try_get("name")?,
    })
}

/// A domain as entered: lowercase, no `@`, at least one dot.
pub fn normalise_domain(s: &str) -> Option<String> {
    let d = s.trim().trim_start_matches('@').to_ascii_lowercase();
    let ok = d.contains('.')
        && d.len() <= 253
        && !d.starts_with('.')
        && !d.ends_with('.')
        && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then_some(d)
}

impl Store {
    /// A school.
    pub async fn school(&self, id: &SchoolId) -> Result<Option<SchoolRecord>> {
        let row = sqlx::query("SELECT * FROM schools WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(SchoolRecord {
                id: id.clone(),
                name: r.try_get("name")?,
                time_zone: r.try_get("time_zone")?,
                conduct_version_required: r.try_get("conduct_version_required")?,
            })
        })
        .transpose()
    }

    /// Creates a school (set-up and seeding only; not a superuser action).
    pub async fn create_school(&self, id: &SchoolId, name: &str, time_zone: &str) -> Result<()> {
        let name = text::clean(&text::SCHOOL_NAME, name)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO schools (id, name, time_zone, conduct_version_required, retention_days, created_at) VALUES ($1, $2, $3, 1, 30, $4)")
            .bind(id.as_str())
            .bind(&name)
            .bind(time_zone)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        append(&mut tx, id, "system", "school.create", &json!({"school": id})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user by id.
    pub async fn user(&self, id: &UserId) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user).transpose()
    }

    /// A user by email.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE email = $1")
            .bind(email.expose())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user).transpose()
    }

    /// A school's users, by display name.
    pub async fn users(&self, school: &SchoolId) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query("SELECT * FROM users WHERE school_id = $1 ORDER BY display_name, id")
            .bind(school.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user).collect()
    }

    /// Creates a user. `actor` is the superuser's id (or `system`).
    pub async fn create_user(
        &self,
        actor: &str,
        school: &SchoolId,
        email: &Email,
        display_name: &str,
        role: Role,
        password_hash: Option<String>,
    ) -> Result<UserId> {
        let display_name = text::clean(&text::DISPLAY_NAME, display_name)?;
        let id = UserId::generate();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO users (id, school_id, email, display_name, role, password_hash, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)")
            .bind(id.as_str())
            .bind(school.as_str())
            .bind(email.expose())
            .bind(&display_name)
            .bind(role.as_str())
            .bind(password_hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        append(
            &mut tx,
            school,
            actor,
            "user.create",
            &json!({"user": id, "role": role}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a user's role or disabled flag (scoped by school).
    pub async fn update_user(
        &self,
        actor: &str,
        school: &SchoolId,
        id: &UserId,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET role = COALESCE($1, role), disabled = COALESCE($2, disabled) WHERE id = $3 AND school_id = $4",
        )
        .bind(role.map(|r| r.as_str()))
        .bind(disabled.map(i64::from))
        .bind(id.as_str())
        .bind(school.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if disabled == Some(true) {
            // A disabled account is signed out everywhere, on every node.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            school,
            actor,
            "user.update",
            &json!({"user": id, "role": role, "disabled": disabled}),
        )
        .await?;
        tx.commit().await?;
        self.announce(school);
        Ok(())
    }

    /// Sets a user's password hash (scoped by school). `actor` is the user or a superuser.
    pub async fn set_password_hash(&self, actor: &str, school: &SchoolId, id: &UserId, hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND school_id = $3")
            .bind(hash)
            .bind(id.as_str())
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append(&mut tx, school, actor, "user.password", &json!({"user": id})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A class of this school.
    pub async fn class(&self, school: &SchoolId, id: &ClassId) -> Result<Option<ClassRecord>> {
        let row = sqlx::query("SELECT * FROM classes WHERE id = $1 AND school_id = $2")
            .bind(id.as_str())
            .bind(school.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(class).transpose()
    }

    /// A class by id alone (for lessons, which carry their school).
    pub async fn class_any(&self, id: &ClassId) -> Result<Option<ClassRecord>> {
        let row = sqlx::query("SELECT * FROM classes WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(class).transpose()
    }

    /// A school's classes, by name.
    pub async fn classes(&self, school: &SchoolId) -> Result<Vec<ClassRecord>> {
        let rows = sqlx::query("SELECT * FROM classes WHERE school_id = $1 ORDER BY name")
            .bind(school.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(class).collect()
    }

    /// The classes a user belongs to, with how, by name.
    pub async fn classes_of(&self, user: &UserId) -> Result<Vec<(ClassRecord, MemberKind)>> {
        let rows = sqlx::query(
            "SELECT c.*, m.member FROM classes c JOIN class_members m ON m.class_id = c.id WHERE m.user_id = $1 ORDER BY c.name",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind = if r.try_get::<String, _>("member")? == "teacher" {
                    MemberKind::Teacher
                } else {
                    MemberKind::Pupil
                };
                Ok((class(r)?, kind))
            })
            .collect()
    }

    /// How a user belongs to a class, if at all.
    pub async fn membership(&self, class: &ClassId, user: &UserId) -> Result<Option<MemberKind>> {
        let row = sqlx::query("SELECT member FROM class_members WHERE class_id = $1 AND user_id = $2")
            .bind(class.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("member")).transpose()?.map(|m| {
            if m == "teacher" {
                MemberKind::Teacher
            } else {
                MemberKind::Pupil
            }
        }))
    }

    /// A class's members with how they belong, by display name.
    pub async fn members(&self, school: &SchoolId, class: &ClassId) -> Result<Vec<(UserRecord, MemberKind)>> {
        let rows = sqlx::query(
            "SELECT u.*, m.member FROM users u JOIN class_members m ON m.user_id = u.id \
             WHERE m.class_id = $1 AND m.school_id = $2 ORDER BY u.display_name, u.id",
        )
        .bind(class.as_str())
        .bind(school.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind = if r.try_get::<String, _>("member")? == "teacher" {
                    MemberKind::Teacher
                } else {
                    MemberKind::Pupil
                };
                Ok((user(r)?, kind))
            })
            .collect()
    }

    /// Creates a class.
    pub async fn create_class(
        &self,
        actor: &str,
        school: &SchoolId,
        id: Option<ClassId>,
        name: &str,
    ) -> Result<ClassId> {
        let name = text::clean(&text::CLASS_NAME, name)?;
        let id = id.unwrap_or_else(ClassId::generate);
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO classes (id, school_id, name) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(school.as_str())
            .bind(&name)
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        append(&mut tx, school, actor, "class.create", &json!({"class": id})).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Puts a user of this school on a class (as pupil or teacher).
    pub async fn add_member(
        &self,
        actor: &str,
        school: &SchoolId,
        class: &ClassId,
        user: &UserId,
        kind: MemberKind,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let ok = sqlx::query("SELECT 1 AS one FROM users u, classes c WHERE u.id = $1 AND c.id = $2 AND u.school_id = $3 AND c.school_id = $3")
            .bind(user.as_str())
            .bind(class.as_str())
            .bind(school.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if ok.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("INSERT INTO class_members (class_id, user_id, school_id, member) VALUES ($1, $2, $3, $4)")
            .bind(class.as_str())
            .bind(user.as_str())
            .bind(school.as_str())
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await
            .map_err(conflict)?;
        append(
            &mut tx,
            school,
            actor,
            "roster.add",
            &json!({"class": class, "user": user, "as": kind}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a user off a class.
    pub async fn remove_member(&self, actor: &str, school: &SchoolId, class: &ClassId, user: &UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM class_members WHERE class_id = $1 AND user_id = $2 AND school_id = $3")
            .bind(class.as_str())
            .bind(user.as_str())
            .bind(school.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append(
            &mut tx,
            school,
            actor,
            "roster.remove",
            &json!({"class": class, "user": user}),
        )
        .await?;
        tx.commit().await?;
        self.announce(school);
        Ok(())
    }

    /// A school's trusted domains.
    pub async fn trusted_domains(&self, school: &SchoolId) -> Result<Vec<DomainRecord>> {
        let rows = sqlx::query("SELECT * FROM trusted_domains WHERE school_id = $1 ORDER BY domain")
            .bind(school.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DomainRecord {
                    domain: r.try_get("domain")?,
                    note: r.try_get("note")?,
                    added_by: r.try_get("added_by")?,
                    added_at: r.try_get("added_at")?,
                })
            })
            .collect()
    }

    /// True if `domain` is one of the school's trusted domains.
    pub async fn domain_trusted(&self, school: &SchoolId, domain: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM trusted_domains WHERE school_id = $1 AND domain = $2")
            .bind(school.as_str())
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Trusts a domain, with a note of why.
    pub async fn add_domain(&self, actor: &str, school: &SchoolId, domain: &str, note: &str) -> Result<String> {
        let domain = normalise_domain(domain).ok_or(StoreError::Invalid("domain"))?;
        let note = text::clean(&text::DOMAIN_NOTE, note)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO trusted_domains (school_id, domain, note, added_by, added_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(school.as_str())
        .bind(&domain)
        .bind(&note)
        .bind(actor)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(conflict)?;
        append(&mut tx, school, actor, "domain.add", &json!({"domain": domain})).await?;
        tx.commit().await?;
        Ok(domain)
    }

    /// Stops trusting a domain; anyone in a live lesson from it is removed.
    pub async fn remove_domain(&self, actor: &str, school: &SchoolId, domain: &str) -> Result<()> {
        let domain = normalise_domain(domain).ok_or(StoreError::Invalid("domain"))?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM trusted_domains WHERE school_id = $1 AND domain = $2")
            .bind(school.as_str())
            .bind(&domain)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append(&mut tx, school, actor, "domain.remove", &json!({"domain": domain})).await?;
        tx.commit().await?;
        self.announce(school);
        Ok(())
    }
}
