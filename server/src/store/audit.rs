//! The tamper-evident audit chain.
//!
//! Each entry carries the SHA-256 of the previous entry's hash and its own fields, so editing,
//! deleting, inserting or reordering any entry breaks the chain from that point on, which
//! [`Store::verify_audit`] reports. Entries are appended inside the transaction of the change
//! they record, so a change and its entry commit or fail together. Details hold ids, never
//! names or emails. The chain cannot show that its newest entries were cut off; publishing
//! the head hash elsewhere (printed by `livegate audit verify`) closes that gap.

use ring::digest::{digest, SHA256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{now_ms, Result, Store};
use livegate_core::ids::SchoolId;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub school: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {reason}")]
pub struct AuditFault {
    pub seq: i64,
    pub reason: &'static str,
}

fn entry_hash(prev: &str, seq: i64, school: &str, at: i64, actor: &str, action: &str, detail: &str) -> String {
    // Length-prefixed fields, so no two different entries serialise alike.
    let mut buf = Vec::new();
    for field in [prev, &seq.to_string(), school, &at.to_string(), actor, action, detail] {
        buf.extend_from_slice(&(field.len() as u64).to_be_bytes());
        buf.extend_from_slice(field.as_bytes());
    }
    digest(&SHA256, &buf)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Appends an entry inside the caller's transaction.
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    school: &SchoolId,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    if tx.backend_name() == "PostgreSQL" {
        // Appends from concurrent transactions (any node) queue here until the holder
        // commits, so each reads the true last entry and the chain never forks.
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7302)) AS l")
            .execute(&mut **tx)
            .await?;
    }
    let last: Option<AnyRow> = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (seq, prev) = match last {
        Some(row) => (row.try_get::<i64, _>("seq")? + 1, row.try_get::<String, _>("hash")?),
        None => (1, GENESIS.to_owned()),
    };
    let at = now_ms();
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, school.as_str(), at, actor, action, &detail);
    sqlx::query("INSERT INTO audit_log (seq, school_id, at, actor, action, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(seq)
        .bind(school.as_str())
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(&detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn entry(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        school: row.try_get("school_id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    /// Appends one entry in a transaction of its own (for events that change nothing else).
    pub async fn audit(&self, school: &SchoolId, actor: &str, action: &str, detail: serde_json::Value) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        append(&mut tx, school, actor, action, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A school's entries, newest first.
    pub async fn audit_entries(&self, school: &SchoolId, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE school_id = $1 ORDER BY seq DESC LIMIT $2")
            .bind(school.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry).collect()
    }

    /// Checks the whole chain. Returns the number of entries and the head hash.
    pub async fn verify_audit(&self) -> Result<std::result::Result<(i64, String), AuditFault>> {
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1;
        for row in &rows {
            let e = entry(row)?;
            if e.seq != expected_seq {
                return Ok(Err(AuditFault {
                    seq: expected_seq,
                    reason: "an entry is missing",
                }));
            }
            if e.prev_hash != prev {
                return Ok(Err(AuditFault {
                    seq: e.seq,
                    reason: "it does not follow the entry before it",
                }));
            }
            if entry_hash(&prev, e.seq, &e.school, e.at, &e.actor, &e.action, &e.detail) != e.hash {
                return Ok(Err(AuditFault {
                    seq: e.seq,
                    reason: "its contents were changed",
                }));
            }
            prev = e.hash;
            expected_seq += 1;
        }
        Ok(Ok((expected_seq - 1, prev)))
    }
}
