//! Unit tests of the sign-in rules that need no provider: the derived PKCE verifier and
//! nonce, and the password hook. The flows end to end are `tests/integration/sso.rs`.

use super::*;
use crate::store::sso::SsoSettings;

#[test]
fn verifier_and_nonce_are_bound_to_the_browser_and_the_state() {
    let a = derived("binding-a", "pkce", "state-1");
    assert_eq!(a.len(), 43, "a PKCE verifier is 43 to 128 characters");
    assert_eq!(a, derived("binding-a", "pkce", "state-1"));
    assert_ne!(a, derived("binding-b", "pkce", "state-1"), "another browser");
    assert_ne!(a, derived("binding-a", "pkce", "state-2"), "another sign-in");
    assert_ne!(
        a,
        derived("binding-a", "nonce", "state-1"),
        "the nonce is not the verifier"
    );
}

#[tokio::test]
async fn a_school_can_turn_passwords_off_for_pupils_only() {
    let store = crate::store::tests::seeded_sqlite().await;
    let user = |e: &str| Email::parse(e).unwrap();
    let pupil = store
        .user_by_email(&user("ada@pupils.demo.sch.uk"))
        .await
        .unwrap()
        .unwrap();
    let teacher = store
        .user_by_email(&user("teacher@demo.sch.uk"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        password_allowed(&store, &pupil).await.is_ok(),
        "no settings: passwords as before"
    );
    let mut settings = SsoSettings {
        provider: ProviderKind::Google,
        directory: "school.example".into(),
        enabled: true,
        pupils_password: false,
        domains: vec!["school.example".into()],
    };
    store
        .set_sso_settings("test", &pupil.school, &settings, 1)
        .await
        .unwrap();
    assert_eq!(
        password_allowed(&store, &pupil).await.unwrap_err().code(),
        ErrorCode::PasswordSignInOff
    );
    assert!(
        password_allowed(&store, &teacher).await.is_ok(),
        "staff keep their password"
    );
    settings.enabled = false;
    store
        .set_sso_settings("test", &pupil.school, &settings, 2)
        .await
        .unwrap();
    assert!(
        password_allowed(&store, &pupil).await.is_ok(),
        "a school whose sign-in is off keeps passwords"
    );
}
