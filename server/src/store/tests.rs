//! One store test suite, run against SQLite always and against PostgreSQL when
//! `LIVEGATE_TEST_POSTGRES_URL` names a server (the test script starts one; under CI its
//! absence is a failure, not a skip). Each PostgreSQL test gets a database of its own.

use super::*;
use crate::ids::{ClassId, Email, UserId};

/// A fresh in-memory SQLite store with the demo seed.
pub(crate) async fn seeded_sqlite() -> Store {
    let store = Store::open("sqlite::memory:").await.unwrap();
    seed::seed_if_empty(&store).await.unwrap();
    store
}

async fn postgres() -> Option<Store> {
    let Ok(admin) = std::env::var("LIVEGATE_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the store suite on PostgreSQL: set LIVEGATE_TEST_POSTGRES_URL");
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!("lg_test_{}", crate::ids::random_token(6));
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let store = Store::open(&format!("{base}/{name}")).await.unwrap();
    seed::seed_if_empty(&store).await.unwrap();
    Some(store)
}

/// Runs a test body against SQLite and, where available, PostgreSQL.
macro_rules! both {
    ($name:ident, $body:expr) => {
        #[tokio::test]
        async fn $name() {
            let body = $body;
            body(seeded_sqlite().await).await;
            if let Some(pg) = postgres().await {
                body(pg).await;
            }
        }
    };
}

fn demo() -> SchoolId {
    SchoolId::parse("sch_demo").unwrap()
}

async fn uid(store: &Store, email: &str) -> UserId {
    store.user_by_email(&Email::parse(email).unwrap()).await.unwrap().unwrap().id
}

both!(seed_shows_every_consent_state, |store: Store| async move {
    let s = demo();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let eve = uid(&store, "eve@pupils.demo.sch.uk").await;
    assert_eq!(store.consent_state(&s, &ada).await.unwrap(), ConsentState::Current);
    assert_eq!(store.consent_state(&s, &eve).await.unwrap(), ConsentState::Missing);
    let record = store.consents(&s, &ada).await.unwrap().remove(0);
    store.withdraw_consent("usr_admin", &s, &record.id).await.unwrap();
    assert_eq!(store.consent_state(&s, &ada).await.unwrap(), ConsentState::Withdrawn);
    assert!(matches!(store.withdraw_consent("usr_admin", &s, &record.id).await, Err(StoreError::NotFound)));
    let opt_out = ConsentInput { pupil_signed: false, parent_name: String::new(), signed_on: 0, method: "paper".into(), conduct_version: 1, opt_out: true };
    store.record_consent("usr_admin", &s, &ada, &opt_out).await.unwrap();
    assert_eq!(store.consent_state(&s, &ada).await.unwrap(), ConsentState::OptedOut);
    // A new code of conduct that needs re-signing makes old consent stop counting.
    let ben = uid(&store, "ben@pupils.demo.sch.uk").await;
    store.publish_conduct("usr_admin", &s, "New rules.", "Recorded.", true).await.unwrap();
    assert_eq!(store.consent_state(&s, &ben).await.unwrap(), ConsentState::Missing);
});

both!(rosters_and_domains, |store: Store| async move {
    let s = demo();
    let class = ClassId::parse("7a").unwrap();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let owen = uid(&store, "owen@pupils.demo.sch.uk").await;
    assert_eq!(store.membership(&class, &ada).await.unwrap(), Some(MemberKind::Pupil));
    assert_eq!(store.membership(&class, &owen).await.unwrap(), None);
    store.add_member("usr_admin", &s, &class, &owen, MemberKind::Pupil).await.unwrap();
    assert!(matches!(store.add_member("usr_admin", &s, &class, &owen, MemberKind::Pupil).await, Err(StoreError::Conflict)));
    store.remove_member("usr_admin", &s, &class, &owen).await.unwrap();
    assert_eq!(store.members(&s, &class).await.unwrap().len(), 7);
    assert!(store.domain_trusted(&s, "pupils.demo.sch.uk").await.unwrap());
    assert!(!store.domain_trusted(&s, "home-mail.example").await.unwrap());
    assert_eq!(store.add_domain("usr_admin", &s, " @Home-Mail.Example ", "Parents' own mail").await.unwrap(), "home-mail.example");
    assert!(store.domain_trusted(&s, "home-mail.example").await.unwrap());
    assert!(matches!(store.add_domain("usr_admin", &s, "not a domain", "x").await, Err(StoreError::Invalid(_))));
    store.remove_domain("usr_admin", &s, "home-mail.example").await.unwrap();
    assert!(!store.domain_trusted(&s, "home-mail.example").await.unwrap());
    let email = Email::parse("ada@pupils.demo.sch.uk").unwrap();
    assert!(matches!(store.create_user("usr_admin", &s, &email, "Ada 2", Role::Pupil, None).await, Err(StoreError::Conflict)));
});

both!(every_query_is_scoped_by_school, |store: Store| async move {
    let other = SchoolId::parse("sch_other").unwrap();
    let class = ClassId::parse("7a").unwrap();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let yan = uid(&store, "yan@pupils.other.sch.uk").await;
    assert!(store.class(&other, &class).await.unwrap().is_none());
    assert!(matches!(store.add_member("t", &other, &class, &yan, MemberKind::Pupil).await, Err(StoreError::NotFound)));
    assert!(matches!(store.add_member("t", &demo(), &class, &yan, MemberKind::Pupil).await, Err(StoreError::NotFound)));
    assert!(matches!(store.update_user("t", &other, &ada, None, Some(true)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.remove_member("t", &other, &class, &ada).await, Err(StoreError::NotFound)));
    assert!(store.consents(&other, &ada).await.unwrap().is_empty());
    assert!(store.users(&other).await.unwrap().iter().all(|u| u.school == other));
});

both!(changes_are_announced_for_live_enforcement, |store: Store| async move {
    let mut rx = store.changes();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    store.update_user("usr_admin", &demo(), &ada, None, Some(true)).await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), demo());
    assert!(store.user(&ada).await.unwrap().unwrap().disabled);
});

both!(audit_chain_detects_tampering, |store: Store| async move {
    let (n, _) = store.verify_audit().await.unwrap().unwrap();
    assert!(n > 20, "the seed's changes are all audited: {n}");
    let pool = store.pool().clone();
    let exec = |sql: String| {
        let pool = pool.clone();
        async move { sqlx::query(&sql).execute(&pool).await.unwrap() }
    };
    let fault = || async { store.verify_audit().await.unwrap().unwrap_err() };
    // Edited.
    exec("UPDATE audit_log SET detail = '{}' WHERE seq = 5".into()).await;
    assert_eq!(fault().await, AuditFault { seq: 5, reason: "its contents were changed" });
});

#[tokio::test]
async fn audit_chain_detects_delete_insert_and_reorder() {
    for tamper in [
        "DELETE FROM audit_log WHERE seq = 7",
        "UPDATE audit_log SET seq = -1 WHERE seq = 7; UPDATE audit_log SET seq = 7 WHERE seq = 8; UPDATE audit_log SET seq = 8 WHERE seq = -1",
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 7; UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000; \
         INSERT INTO audit_log (seq, school_id, at, actor, action, detail, prev_hash, hash) \
         SELECT 7, school_id, at, actor, 'forged', detail, prev_hash, hash FROM audit_log WHERE seq = 6",
    ] {
        let store = seeded_sqlite().await;
        for sql in tamper.split("; ") {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
        let fault = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(fault.seq, 7, "{tamper}: {fault}");
    }
    let store = seeded_sqlite().await;
    assert!(store.verify_audit().await.unwrap().is_ok());
}
