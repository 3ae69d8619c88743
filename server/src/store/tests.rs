//! One store test suite, run against SQLite always and against PostgreSQL when
//! `LIVEGATE_TEST_POSTGRES_URL` names a server (the test script starts one; under CI its
//! absence is a failure, not a skip). Each PostgreSQL test gets a database of its own.

use super::*;
use livegate_core::ids::{ClassId, Email, UserId};
use livegate_core::school::{ConsentState, Role};

/// A fresh in-memory SQLite store with the demo seed.
pub(crate) async fn seeded_sqlite() -> Store {
    let store = Store::open("sqlite::memory:").await.unwrap();
    seed::seed_if_empty(&store).await.unwrap();
    store
}

/// The URL of a fresh, empty PostgreSQL database, if the suite has a server.
pub(crate) async fn postgres_url() -> Option<String> {
    let Ok(admin) = std::env::var("LIVEGATE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the store suite on PostgreSQL: set LIVEGATE_TEST_POSTGRES_URL"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!("lg_test_{}", livegate_core::ids::random_token(6));
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

async fn postgres() -> Option<Store> {
    let store = Store::open(&postgres_url().await?).await.unwrap();
    seed::seed_if_empty(&store).await.unwrap();
    Some(store)
}

/// The seeded stores a test runs on: SQLite always, PostgreSQL when the suite has one.
pub(crate) async fn stores() -> Vec<Store> {
    let mut out = vec![seeded_sqlite().await];
    out.extend(postgres().await);
    out
}

/// The demo school's id.
pub(crate) fn demo() -> SchoolId {
    SchoolId::parse("sch_demo").unwrap()
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

/// A seeded user's id by email.
pub(crate) async fn uid(store: &Store, email: &str) -> UserId {
    store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
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
    assert!(matches!(
        store.withdraw_consent("usr_admin", &s, &record.id).await,
        Err(StoreError::NotFound)
    ));
    let opt_out = ConsentInput {
        pupil_signed: false,
        parent_name: String::new(),
        signed_on: 0,
        method: "paper".into(),
        conduct_version: 1,
        opt_out: true,
    };
    store.record_consent("usr_admin", &s, &ada, &opt_out).await.unwrap();
    assert_eq!(store.consent_state(&s, &ada).await.unwrap(), ConsentState::OptedOut);
    // A new code of conduct that needs re-signing makes old consent stop counting.
    let ben = uid(&store, "ben@pupils.demo.sch.uk").await;
    store
        .publish_conduct("usr_admin", &s, "New rules.", "Recorded.", true)
        .await
        .unwrap();
    assert_eq!(store.consent_state(&s, &ben).await.unwrap(), ConsentState::Missing);
});

both!(rosters_and_domains, |store: Store| async move {
    let s = demo();
    let class = ClassId::parse("7a").unwrap();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let owen = uid(&store, "owen@pupils.demo.sch.uk").await;
    assert_eq!(store.membership(&class, &ada).await.unwrap(), Some(MemberKind::Pupil));
    assert_eq!(store.membership(&class, &owen).await.unwrap(), None);
    store
        .add_member("usr_admin", &s, &class, &owen, MemberKind::Pupil)
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_member("usr_admin", &s, &class, &owen, MemberKind::Pupil)
            .await,
        Err(StoreError::Conflict)
    ));
    store.remove_member("usr_admin", &s, &class, &owen).await.unwrap();
    assert_eq!(store.members(&s, &class).await.unwrap().len(), 7);
    assert!(store.domain_trusted(&s, "pupils.demo.sch.uk").await.unwrap());
    assert!(!store.domain_trusted(&s, "home-mail.example").await.unwrap());
    assert_eq!(
        store
            .add_domain("usr_admin", &s, " @Home-Mail.Example ", "Parents' own mail")
            .await
            .unwrap(),
        "home-mail.example"
    );
    assert!(store.domain_trusted(&s, "home-mail.example").await.unwrap());
    assert!(matches!(
        store.add_domain("usr_admin", &s, "not a domain", "x").await,
        Err(StoreError::Invalid(_))
    ));
    store.remove_domain("usr_admin", &s, "home-mail.example").await.unwrap();
    assert!(!store.domain_trusted(&s, "home-mail.example").await.unwrap());
    let email = Email::parse("ada@pupils.demo.sch.uk").unwrap();
    assert!(matches!(
        store
            .create_user("usr_admin", &s, &email, "Ada 2", Role::Pupil, None)
            .await,
        Err(StoreError::Conflict)
    ));
});

both!(every_query_is_scoped_by_school, |store: Store| async move {
    let other = SchoolId::parse("sch_other").unwrap();
    let class = ClassId::parse("7a").unwrap();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let yan = uid(&store, "yan@pupils.other.sch.uk").await;
    assert!(store.class(&other, &class).await.unwrap().is_none());
    assert!(matches!(
        store.add_member("t", &other, &class, &yan, MemberKind::Pupil).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.add_member("t", &demo(), &class, &yan, MemberKind::Pupil).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_user("t", &other, &ada, None, Some(true)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.remove_member("t", &other, &class, &ada).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.consents(&other, &ada).await.unwrap().is_empty());
    assert!(store.users(&other).await.unwrap().iter().all(|u| u.school == other));
});

both!(changes_are_announced_for_live_enforcement, |store: Store| async move {
    let mut rx = store.changes();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    store
        .update_user("usr_admin", &demo(), &ada, None, Some(true))
        .await
        .unwrap();
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
    assert_eq!(
        fault().await,
        AuditFault {
            seq: 5,
            reason: "its contents were changed"
        }
    );
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

// ---------------------------------------------------------------- accounts (store/accounts.rs)

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const TIMES: SessionTimes = SessionTimes {
    idle_ms: 120 * MIN,
    lifetime_ms: 720 * MIN,
    touch_every_ms: MIN,
};

async fn last_seen(store: &Store, hash: &str) -> Option<i64> {
    let row = sqlx::query("SELECT last_seen FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(store.pool())
        .await
        .unwrap();
    row.map(|r| r.try_get::<i64, _>("last_seen").unwrap())
}

both!(sessions_idle_out_and_expire, |store: Store| async move {
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let h = token_hash("session one");
    store
        .create_session(&h, &ada, livegate_core::school::SignInMethod::Password, T0, TIMES)
        .await
        .unwrap();
    assert_eq!(store.session_user(&h, T0 + 1, TIMES).await.unwrap().unwrap().id, ada);
    // Within a minute nothing is written; after it, last_seen moves.
    store.session_user(&h, T0 + 30_000, TIMES).await.unwrap().unwrap();
    assert_eq!(last_seen(&store, &h).await, Some(T0));
    store.session_user(&h, T0 + 61_000, TIMES).await.unwrap().unwrap();
    assert_eq!(last_seen(&store, &h).await, Some(T0 + 61_000));
    // Idle for two hours: ended, and deleted.
    assert!(store
        .session_user(&h, T0 + 61_000 + 120 * MIN, TIMES)
        .await
        .unwrap()
        .is_none());
    assert_eq!(last_seen(&store, &h).await, None);
    // Used every hour it still ends 12 hours after sign-in.
    let h = token_hash("session two");
    store
        .create_session(&h, &ada, livegate_core::school::SignInMethod::Password, T0, TIMES)
        .await
        .unwrap();
    for hour in 1..12 {
        assert!(
            store
                .session_user(&h, T0 + hour * 60 * MIN, TIMES)
                .await
                .unwrap()
                .is_some(),
            "hour {hour}"
        );
    }
    assert!(store.session_user(&h, T0 + 720 * MIN, TIMES).await.unwrap().is_none());
    assert!(store
        .session_user(&token_hash("never issued"), T0, TIMES)
        .await
        .unwrap()
        .is_none());
    // Creating a session sweeps ended ones.
    let h3 = token_hash("session three");
    store
        .create_session(&h3, &ada, livegate_core::school::SignInMethod::Password, T0, TIMES)
        .await
        .unwrap();
    store
        .create_session(
            &token_hash("session four"),
            &ada,
            livegate_core::school::SignInMethod::Password,
            T0 + 721 * MIN,
            TIMES,
        )
        .await
        .unwrap();
    assert_eq!(last_seen(&store, &h3).await, None);
});

both!(sign_out_and_disabling_end_sessions, |store: Store| async move {
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let ben = uid(&store, "ben@pupils.demo.sch.uk").await;
    let (a1, a2, b1) = (token_hash("a1"), token_hash("a2"), token_hash("b1"));
    for (h, u) in [(&a1, &ada), (&a2, &ada), (&b1, &ben)] {
        store
            .create_session(h, u, livegate_core::school::SignInMethod::Password, T0, TIMES)
            .await
            .unwrap();
    }
    assert!(store.end_session(&a1).await.unwrap());
    assert!(!store.end_session(&a1).await.unwrap());
    assert!(store.session_user(&a1, T0, TIMES).await.unwrap().is_none());
    assert!(
        store.session_user(&a2, T0, TIMES).await.unwrap().is_some(),
        "only that session ended"
    );
    store
        .update_user("usr_admin", &demo(), &ada, None, Some(true))
        .await
        .unwrap();
    store
        .update_user("usr_admin", &demo(), &ada, None, Some(false))
        .await
        .unwrap();
    assert!(
        store.session_user(&a2, T0, TIMES).await.unwrap().is_none(),
        "disabling signs out everywhere, for good"
    );
    assert!(
        store.session_user(&b1, T0, TIMES).await.unwrap().is_some(),
        "other users keep theirs"
    );
    assert_eq!(store.end_sessions_of(&ben).await.unwrap(), 1);
});

both!(sign_in_failures_slide_out_of_the_window, |store: Store| async move {
    let window = 15 * MIN;
    for i in 0..3 {
        store
            .record_failure(&["e:x", "a:y"], &format!("t{i}"), T0 + i * MIN, T0 + i * MIN - window)
            .await
            .unwrap();
    }
    store
        .record_failure(&["a:y"], "t3", T0 + 3 * MIN, T0 + 3 * MIN - window)
        .await
        .unwrap();
    store
        .record_failure(&["e:x", "a:y"], "taken back", T0 + 3 * MIN, T0 + 3 * MIN - window)
        .await
        .unwrap();
    store.forget_attempt("taken back").await.unwrap();
    assert_eq!(
        store.recent_failures("e:x", T0 + 3 * MIN - window, 10).await.unwrap(),
        vec![T0 + 2 * MIN, T0 + MIN, T0]
    );
    assert_eq!(
        store.recent_failures("a:y", T0 - 1, 2).await.unwrap(),
        vec![T0 + 3 * MIN, T0 + 2 * MIN]
    );
    assert_eq!(
        store.recent_failures("e:x", T0 + MIN, 10).await.unwrap(),
        vec![T0 + 2 * MIN],
        "older ones are outside"
    );
    store.clear_failures("e:x").await.unwrap();
    assert!(store.recent_failures("e:x", 0, 10).await.unwrap().is_empty());
    assert_eq!(
        store.recent_failures("a:y", 0, 10).await.unwrap().len(),
        4,
        "other buckets untouched"
    );
    // Recording forgets what has left every window.
    store
        .record_failure(&["e:z"], "t4", T0 + 30 * MIN, T0 + 30 * MIN - window)
        .await
        .unwrap();
    assert!(store.recent_failures("a:y", 0, 10).await.unwrap().is_empty());
});

both!(
    known_devices_are_remembered_bounded_and_forgotten,
    |store: Store| async move {
        let year = 400 * 24 * 60 * MIN;
        store.remember_device("d:laptop", "e:ada", T0, T0 - year).await.unwrap();
        assert!(store.known_device("d:laptop", T0 - 1).await.unwrap());
        assert!(!store.known_device("d:phone", 0).await.unwrap());
        assert!(!store.known_device("d:laptop", T0).await.unwrap(), "not used since");
        store
            .remember_device("d:laptop", "e:ada", T0 + MIN, T0 + MIN - year)
            .await
            .unwrap();
        assert!(
            store.known_device("d:laptop", T0).await.unwrap(),
            "signing in again refreshes it"
        );
        // An email keeps its 20 most recently used devices.
        for i in 0..25 {
            store
                .remember_device(&format!("d:{i}"), "e:ben", T0 + 2 * MIN + i, T0 - year)
                .await
                .unwrap();
        }
        assert!(!store.known_device("d:4", 0).await.unwrap() && store.known_device("d:5", 0).await.unwrap());
        assert!(
            store.known_device("d:laptop", 0).await.unwrap(),
            "another email's devices stay"
        );
        // A device unused for the whole lifetime is forgotten at the next sign-in.
        store
            .remember_device("d:new", "e:cara", T0 + year + 10 * MIN, T0 + 10 * MIN)
            .await
            .unwrap();
        assert!(!store.known_device("d:laptop", 0).await.unwrap());
    }
);

both!(set_password_tokens_are_single_use, |store: Store| async move {
    let s = demo();
    let ada = uid(&store, "ada@pupils.demo.sch.uk").await;
    let h = token_hash("reset token");
    let exp = store
        .issue_account_token("usr_admin", &s, &ada, TokenPurpose::Reset, &h, T0)
        .await
        .unwrap();
    assert_eq!(exp, T0 + 3600 * 1000);
    let found = store.account_token(&h, T0 + 1).await.unwrap().unwrap();
    assert_eq!((found.user.clone(), found.purpose), (ada.clone(), TokenPurpose::Reset));
    assert!(
        store.account_token(&h, exp).await.unwrap().is_none(),
        "expired at its expiry"
    );
    assert!(matches!(
        store.use_account_token(&h, "new-hash", exp).await,
        Err(StoreError::NotFound)
    ));
    // Spending it sets the password, signs the user out everywhere and is audited.
    store
        .create_session(
            &token_hash("ada session"),
            &ada,
            livegate_core::school::SignInMethod::Password,
            T0,
            TIMES,
        )
        .await
        .unwrap();
    store.use_account_token(&h, "new-hash", T0 + 5).await.unwrap();
    assert_eq!(
        store.user(&ada).await.unwrap().unwrap().password_hash.as_deref(),
        Some("new-hash")
    );
    assert!(store
        .session_user(&token_hash("ada session"), T0 + 6, TIMES)
        .await
        .unwrap()
        .is_none());
    let entries = store.audit_entries(&s, 2).await.unwrap();
    assert_eq!(
        (entries[0].action.as_str(), entries[1].action.as_str()),
        ("user.password", "account.reset")
    );
    assert!(!entries[0].detail.contains("new-hash") && !entries[1].detail.contains("reset token"));
    assert!(
        matches!(
            store.use_account_token(&h, "again", T0 + 7).await,
            Err(StoreError::NotFound)
        ),
        "used once"
    );
    // A new link voids the previous one; another school's superuser cannot issue one.
    let (i1, i2) = (token_hash("invite one"), token_hash("invite two"));
    let exp = store
        .issue_account_token("usr_admin", &s, &ada, TokenPurpose::Invite, &i1, T0)
        .await
        .unwrap();
    assert_eq!(exp, T0 + 72 * 3600 * 1000);
    store
        .issue_account_token("usr_admin", &s, &ada, TokenPurpose::Invite, &i2, T0 + 1)
        .await
        .unwrap();
    assert!(store.account_token(&i1, T0 + 2).await.unwrap().is_none());
    assert!(store.account_token(&i2, T0 + 2).await.unwrap().is_some());
    let other = SchoolId::parse("sch_other").unwrap();
    let i3 = token_hash("invite three");
    assert!(matches!(
        store
            .issue_account_token("x", &other, &ada, TokenPurpose::Invite, &i3, T0)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(store.account_token(&i3, T0).await.unwrap().is_none());
    assert!(store.verify_audit().await.unwrap().is_ok());
});

both!(concurrent_audit_appends_keep_one_chain, |store: Store| async move {
    let (n, _) = store.verify_audit().await.unwrap().unwrap();
    let writes = (0..24).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .audit(&demo(), "test", "test.concurrent", serde_json::json!({"i": i}))
                .await
        })
    });
    for w in writes.collect::<Vec<_>>() {
        w.await.unwrap().unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap().unwrap().0, n + 24);
});

/// Several nodes starting at once on one PostgreSQL database migrate it exactly once.
#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Some(url) = postgres_url().await else { return };
    let opens = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { Store::open(&url).await.map(|_| ()) })
    });
    for open in opens.collect::<Vec<_>>() {
        open.await.unwrap().unwrap();
    }
    let store = Store::open(&url).await.unwrap();
    let rows = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.try_get("version").unwrap()).collect();
    assert_eq!(versions, schema::MIGRATIONS.iter().map(|(v, _)| *v).collect::<Vec<_>>());
}
