//! Unit tests of sign-in, sessions and join tickets (`app::access`, driven through this
//! module's cookies and addresses): single-use tickets bound to their holder and origin,
//! cookies and configured lifetimes, the sign-in holds (a stranger's failures hold the
//! stranger, not the owner), the hashing permit, client addresses and cross-site detection.

use super::*;
use crate::app::access::*;
use crate::config::AccountsConfig;
use crate::password;
use crate::store::tests::seeded_sqlite;
use crate::store::Store;
use livegate_core::codes::ErrorCode;
use livegate_core::ids::{random_token, Email, LessonId, UserId};
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn with_cookie(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("cookie", format!("other=1; {COOKIE}={token}").parse().unwrap());
    h
}

async fn email_of(store: &Store, email: &str) -> UserRecord {
    store
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
}

#[test]
fn tickets_are_single_use() {
    let t = Tickets::default();
    let user = UserId::generate();
    let lesson = LessonId::generate();
    let token = t.issue(user.clone(), lesson.clone(), None);
    let holder = Presenter {
        user: Some(&user),
        origin: None,
    };
    assert_eq!(t.redeem(&token, holder), Some((user.clone(), lesson)));
    assert_eq!(t.redeem(&token, holder), None);
    assert_eq!(t.redeem("forged", holder), None);
}

/// Only the session of the user a ticket was issued to, from the origin that asked for
/// it, can spend it; anyone else's attempt leaves it for its holder.
#[test]
fn tickets_are_bound_to_their_holder_and_origin() {
    let t = Tickets::default();
    let (user, thief, lesson) = (UserId::generate(), UserId::generate(), LessonId::generate());
    let origin = "https://school.example";
    let token = t.issue(user.clone(), lesson.clone(), Some(origin));
    for by in [
        Presenter {
            user: Some(&thief),
            origin: Some(origin),
        },
        Presenter {
            user: None,
            origin: Some(origin),
        },
        Presenter {
            user: Some(&user),
            origin: Some("http://school.example"),
        },
        Presenter {
            user: Some(&user),
            origin: None,
        },
    ] {
        assert_eq!(t.redeem(&token, by), None, "{by:?}");
    }
    assert_eq!(
        t.redeem(
            &token,
            Presenter {
                user: Some(&user),
                origin: Some(origin)
            }
        ),
        Some((user.clone(), lesson.clone()))
    );
    // A ticket asked for without an Origin (not a browser) is redeemed without one.
    let token = t.issue(user.clone(), lesson.clone(), None);
    assert_eq!(
        t.redeem(
            &token,
            Presenter {
                user: Some(&user),
                origin: Some(origin)
            }
        ),
        None
    );
    assert_eq!(
        t.redeem(
            &token,
            Presenter {
                user: Some(&user),
                origin: None
            }
        ),
        Some((user, lesson))
    );
}

#[tokio::test]
async fn sessions_need_a_live_well_formed_cookie() {
    let store = seeded_sqlite().await;
    let s = Sessions::default();
    let ada = email_of(&store, "ada@pupils.demo.sch.uk").await;
    let token = s.create(&store, &ada.id, AuthMethod::Password, T0).await.unwrap();
    assert!(is_token(&token));
    let h = with_cookie(&token);
    assert_eq!(
        s.user_at(&store, session_token(&h), T0 + 1).await.unwrap().unwrap().id,
        ada.id
    );
    for forged in [
        "a".repeat(64),
        token.to_uppercase(),
        format!("{token}0"),
        String::new(),
        "../x".into(),
    ] {
        assert!(
            s.user_at(&store, session_token(&with_cookie(&forged)), T0 + 1)
                .await
                .unwrap()
                .is_none(),
            "{forged}"
        );
    }
    assert!(s
        .user_at(&store, session_token(&HeaderMap::new()), T0)
        .await
        .unwrap()
        .is_none());
    // Two hours idle and it is gone.
    assert!(s
        .user_at(&store, session_token(&h), T0 + 120 * MIN)
        .await
        .unwrap()
        .is_none());
    let token = s.create(&store, &ada.id, AuthMethod::Password, T0).await.unwrap();
    let h = with_cookie(&token);
    s.end(&store, session_token(&h)).await.unwrap();
    assert!(
        s.user_at(&store, session_token(&h), T0 + 1).await.unwrap().is_none(),
        "signed out"
    );
    let cookie = session_cookie(&s, &token, true);
    for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!session_cookie(&s, &token, false).contains("Secure"));
}

#[tokio::test]
async fn configured_lifetimes_apply() {
    let store = seeded_sqlite().await;
    let config = AccountsConfig {
        session_idle_minutes: 5,
        session_lifetime_hours: 1,
        ..AccountsConfig::default()
    };
    let s = Sessions::new(&config);
    let ada = email_of(&store, "ada@pupils.demo.sch.uk").await;
    let h = with_cookie(&s.create(&store, &ada.id, AuthMethod::Password, T0).await.unwrap());
    for minute in [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56] {
        assert!(
            s.user_at(&store, session_token(&h), T0 + minute * MIN)
                .await
                .unwrap()
                .is_some(),
            "minute {minute}"
        );
    }
    assert!(
        s.user_at(&store, session_token(&h), T0 + 60 * MIN)
            .await
            .unwrap()
            .is_none(),
        "an hour after sign-in"
    );
    let zero = Sessions::new(&AccountsConfig {
        session_idle_minutes: 0,
        failures_per_email: 0,
        ..AccountsConfig::default()
    });
    assert_eq!(
        (zero.times().idle_ms, zero.limits.per_email),
        (MIN, 1),
        "zero is raised to 1"
    );
    let parsed: crate::config::Config = toml::from_str("[accounts]\nfailures_per_email = 3\n").unwrap();
    assert_eq!(parsed.accounts.failures_per_email, 3);
    assert!(toml::from_str::<crate::config::Config>("[accounts]\nfailures = 3\n").is_err());
}

/// Attempts at `ada` from an address, with a device cookie or none.
fn at_ada(ip: &str, device: Option<&str>) -> Attempt {
    Attempt::new(
        Some(&Email::parse("ada@pupils.demo.sch.uk").unwrap()),
        Some(ip.parse().unwrap()),
        device,
    )
}

/// Fails `attempt` `n` times at `at`, each allowed.
async fn fail(limits: &SignInLimits, store: &Store, attempt: &Attempt, n: usize, at: i64) {
    for i in 0..n {
        let check = limits.check(store, attempt, at).await.unwrap();
        assert_eq!(check.wait, None, "failure {i} should be allowed");
        limits.failed(store, attempt, check.known_device, at).await.unwrap();
    }
}

/// A stranger's wrong passwords hold the stranger: five from their address hold that
/// address for the email (and every further guess is refused uncounted), one from any other
/// address after that holds it too; the owner's address, which has not failed, and the
/// owner's own browser (a known device, even at the stranger's address) get through.
#[tokio::test]
async fn a_strangers_failures_hold_the_stranger_not_the_owner() {
    let store = seeded_sqlite().await;
    let limits = Sessions::default().limits;
    let ada = Email::parse("ada@pupils.demo.sch.uk").unwrap();
    let laptop = limits.remember_device(&store, None, &ada, T0).await.unwrap();
    fail(&limits, &store, &at_ada("203.0.113.7", None), 5, T0).await;
    let held = limits
        .check(&store, &at_ada("203.0.113.7", None), T0 + 5 * MIN)
        .await
        .unwrap();
    assert_eq!(
        held.wait,
        Some(Duration::from_millis(10 * MIN as u64)),
        "until the failures leave the 15-minute window"
    );
    assert_eq!(retry_after_secs(held.wait.unwrap()), 600);
    // A second stranger's address gets one guess, then is held while the email is.
    fail(&limits, &store, &at_ada("198.51.100.9", None), 1, T0 + 6 * MIN).await;
    assert!(limits
        .check(&store, &at_ada("198.51.100.9", None), T0 + 6 * MIN)
        .await
        .unwrap()
        .wait
        .is_some());
    // The owner from home, and on her own laptop at the stranger's address, are not held.
    assert_eq!(
        limits
            .check(&store, &at_ada("192.0.2.50", None), T0 + 6 * MIN)
            .await
            .unwrap()
            .wait,
        None
    );
    let own = limits
        .check(&store, &at_ada("203.0.113.7", Some(&laptop)), T0 + 6 * MIN)
        .await
        .unwrap();
    assert_eq!(
        own,
        Check {
            known_device: true,
            wait: None
        }
    );
    // A device cookie that never signed in to ada is no known device.
    let forged = random_token(32);
    assert!(limits
        .check(&store, &at_ada("203.0.113.7", Some(&forged)), T0 + 6 * MIN)
        .await
        .unwrap()
        .wait
        .is_some());
    // Another email from the stranger's address is not held; at 15 minutes ada is open again.
    let ben = Attempt::new(
        Some(&Email::parse("ben@pupils.demo.sch.uk").unwrap()),
        Some("203.0.113.7".parse().unwrap()),
        None,
    );
    assert_eq!(limits.check(&store, &ben, T0 + 6 * MIN).await.unwrap().wait, None);
    assert_eq!(
        limits
            .check(&store, &at_ada("203.0.113.7", None), T0 + 15 * MIN)
            .await
            .unwrap()
            .wait,
        None
    );
}

/// A known device is held only by its own failures, and a success clears them.
#[tokio::test]
async fn a_known_device_answers_for_its_own_failures() {
    let store = seeded_sqlite().await;
    let limits = Sessions::default().limits;
    let ada = Email::parse("ada@pupils.demo.sch.uk").unwrap();
    let laptop = limits.remember_device(&store, None, &ada, T0).await.unwrap();
    let phone = limits.remember_device(&store, None, &ada, T0).await.unwrap();
    fail(&limits, &store, &at_ada("203.0.113.7", Some(&laptop)), 5, T0).await;
    assert!(
        limits
            .check(&store, &at_ada("192.0.2.1", Some(&laptop)), T0)
            .await
            .unwrap()
            .wait
            .is_some(),
        "the laptop, anywhere"
    );
    assert_eq!(
        limits
            .check(&store, &at_ada("203.0.113.7", Some(&phone)), T0)
            .await
            .unwrap()
            .wait,
        None,
        "the phone"
    );
    limits
        .succeeded(&store, &at_ada("203.0.113.7", Some(&laptop)), true)
        .await
        .unwrap();
    assert_eq!(
        limits
            .check(&store, &at_ada("192.0.2.1", Some(&laptop)), T0)
            .await
            .unwrap()
            .wait,
        None
    );
    // The same browser signing in to another account keeps its token and is known for both.
    let ben = Email::parse("ben@pupils.demo.sch.uk").unwrap();
    assert_eq!(
        limits.remember_device(&store, Some(&laptop), &ben, T0).await.unwrap(),
        laptop
    );
    assert!(store.known_device(&device_bucket(&laptop, &ben), T0 - 1).await.unwrap());
}

#[tokio::test]
async fn failures_lock_an_address_across_emails() {
    let store = seeded_sqlite().await;
    let limits = Sessions::default().limits;
    let ip: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let same_64: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    for i in 0..30 {
        let email = Email::parse(&format!("guess{i}@pupils.demo.sch.uk")).unwrap();
        fail(&limits, &store, &Attempt::new(Some(&email), Some(ip), None), 1, T0 + i).await;
    }
    let ada = Email::parse("ada@pupils.demo.sch.uk").unwrap();
    assert!(
        limits
            .check(&store, &Attempt::new(Some(&ada), Some(same_64), None), T0 + 100)
            .await
            .unwrap()
            .wait
            .is_some(),
        "the whole /64"
    );
    assert!(
        limits
            .check(&store, &Attempt::new(None, Some(ip), None), T0 + 100)
            .await
            .unwrap()
            .wait
            .is_some(),
        "not an email"
    );
    let elsewhere = Attempt::new(Some(&ada), Some("2001:db8:1:3::1".parse().unwrap()), None);
    assert_eq!(limits.check(&store, &elsewhere, T0 + 100).await.unwrap().wait, None);
}

/// Guesses sent all at once queue for the hashing permits and check the limits under one,
/// so at most `concurrency() - 1` get past the limit (per node), on SQLite and PostgreSQL;
/// the right password sent 60 times at once from the same address all gets in.
#[tokio::test]
async fn parallel_guesses_are_held_and_parallel_sign_ins_are_not() {
    for store in crate::store::tests::stores().await {
        let limits = Sessions::default().limits;
        let tries = |email: &'static str, password: &'static str, n: usize| {
            (0..n)
                .map(|_| {
                    let store = store.clone();
                    let email = Email::parse(email);
                    let attempt = Attempt::new(email.as_ref(), Some("203.0.113.20".parse().unwrap()), None);
                    let claim = PasswordClaim {
                        email,
                        password: password.into(),
                        attempt,
                    };
                    tokio::spawn(async move {
                        PasswordSignIn { limits }
                            .authenticate(&store, claim)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.code())
                    })
                })
                .collect::<Vec<_>>()
        };
        let mut answers = Vec::new();
        for t in tries("ben@pupils.demo.sch.uk", "demo-pupil", 60)
            .into_iter()
            .chain(tries("ada@pupils.demo.sch.uk", "wrong", 20))
        {
            answers.push(t.await.unwrap());
        }
        let (signed_in, guesses) = answers.split_at(60);
        assert!(signed_in.iter().all(Result::is_ok), "{signed_in:?}");
        let checked = guesses.iter().filter(|r| **r == Err(ErrorCode::BadCredentials)).count();
        let held = guesses
            .iter()
            .filter(|r| **r == Err(ErrorCode::TooManyAttempts))
            .count();
        assert_eq!(checked + held, 20);
        assert!(
            (5..5 + password::concurrency()).contains(&checked),
            "{checked} of 20 parallel guesses were checked"
        );
        let counted = store
            .recent_failures(at_ada("203.0.113.20", None).pair_bucket().unwrap(), 0, 100)
            .await
            .unwrap();
        assert_eq!(counted.len(), checked, "held attempts are not counted");
    }
}

/// Sign-in's password checks go through the hashing permits: with every permit taken, none
/// completes; released, all do.
#[tokio::test]
async fn sign_in_waits_for_a_hashing_permit() {
    let store = seeded_sqlite().await;
    let limits = Sessions::default().limits;
    let mut held = Vec::new();
    for _ in 0..password::concurrency() {
        held.push(password::permit().await.unwrap());
    }
    let tries: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let email = Email::parse("dev@pupils.demo.sch.uk");
            let attempt = Attempt::new(email.as_ref(), Some(format!("192.0.2.{i}").parse().unwrap()), None);
            tokio::spawn(async move {
                PasswordSignIn { limits }
                    .authenticate(
                        &store,
                        PasswordClaim {
                            email,
                            password: "demo-pupil".into(),
                            attempt,
                        },
                    )
                    .await
                    .is_ok()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(tries.iter().all(|t| !t.is_finished()), "a sign-in ran without a permit");
    drop(held);
    for t in tries {
        assert!(t.await.unwrap());
    }
}

#[test]
fn client_addresses() {
    let v4: IpAddr = "192.0.2.1".parse().unwrap();
    let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
    assert_eq!(address_key(v4), address_key(mapped));
    assert_eq!(address_key("2001:db8::1".parse().unwrap()), "2001:db8::/64");
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", "10.9.9.9, 203.0.113.5".parse().unwrap());
    let peer = Some("127.0.0.1".parse().unwrap());
    assert_eq!(client_ip(&h, peer, false), peer, "not trusted unless configured");
    assert_eq!(
        client_ip(&h, peer, true),
        Some("203.0.113.5".parse().unwrap()),
        "the proxy's own entry"
    );
    h.insert("x-forwarded-for", "nonsense".parse().unwrap());
    assert_eq!(client_ip(&h, peer, true), peer);
    // Buckets never hold the email or address in clear.
    let a = Attempt::new(
        Some(&Email::parse("ada@pupils.demo.sch.uk").unwrap()),
        Some(v4),
        Some(&"d".repeat(64)),
    );
    let shown = format!("{a:?}");
    assert!(
        !shown.contains("ada") && !shown.contains("192.0.2.1") && !shown.contains("dddd"),
        "{shown}"
    );
}

#[tokio::test]
async fn password_sign_in_proves_or_refuses_alike() {
    let store = seeded_sqlite().await;
    let claim = |email: &str, password: &str| {
        let email = Email::parse(email);
        PasswordClaim {
            attempt: Attempt::new(email.as_ref(), None, None),
            email,
            password: password.into(),
        }
    };
    let sign_in = PasswordSignIn {
        limits: Sessions::default().limits,
    };
    let proof = sign_in
        .authenticate(&store, claim("ada@pupils.demo.sch.uk", "demo-pupil"))
        .await
        .unwrap();
    assert_eq!(
        (proof.user.email.expose(), proof.method),
        ("ada@pupils.demo.sch.uk", AuthMethod::Password)
    );
    for (email, password) in [
        ("ada@pupils.demo.sch.uk", "wrong"),
        ("nobody@demo.sch.uk", "demo-pupil"),
        ("not an email", "x"),
    ] {
        let refused = sign_in.authenticate(&store, claim(email, password)).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::BadCredentials, "{email}");
    }
}

#[test]
fn cross_site_detection() {
    let mut h = HeaderMap::new();
    h.insert("host", "school.example:8080".parse().unwrap());
    assert!(!is_cross_site(&h));
    h.insert("origin", "http://school.example:8080".parse().unwrap());
    assert!(!is_cross_site(&h));
    h.insert("origin", "https://evil.example".parse().unwrap());
    assert!(is_cross_site(&h));
    let mut f = HeaderMap::new();
    f.insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert!(is_cross_site(&f));
}
