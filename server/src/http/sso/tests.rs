//! Freezes the sign-in bodies (`server/golden/sso-bodies.jsonl`) and checks the settings'
//! rules; the flows end to end are `tests/integration/sso.rs`.

use super::admin::{LinkedPerson, SsoAdmin, SsoSettingsBody};
use super::*;
use crate::http::tests::Golden;
use livegate_core::ids::UserId;

fn body(provider: ProviderKind, directory: &str, domains: &[&str]) -> SsoSettingsBody {
    SsoSettingsBody {
        provider,
        directory: directory.into(),
        email_domains: domains.iter().map(|d| d.to_string()).collect(),
        enabled: true,
        pupils_password: false,
    }
}

#[test]
fn sso_bodies_are_frozen() {
    let mut g = Golden::default();
    g.add(
        "GET /api/sso/providers",
        &Providers {
            providers: vec![ProviderKind::Microsoft, ProviderKind::Google],
        },
    );
    g.add("POST /api/sso/start", &SignInStarted { redirect: "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize?response_type=code&client_id=...".into() });
    let admin = SsoAdmin {
        settings: Some(body(
            ProviderKind::Microsoft,
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            &["brook.sch.uk", "pupils.brook.sch.uk"],
        )),
        offered: vec![ProviderKind::Microsoft],
        redirect_url: "https://live.brook.sch.uk/api/sso/callback".into(),
        linked: vec![LinkedPerson {
            user_id: UserId::parse("usr_ada").unwrap(),
            display_name: "Ada Lovelace".into(),
            email: "ada@pupils.brook.sch.uk".into(),
            issuer: "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0".into(),
            linked_at: 1_767_225_600_000,
            last_used: 1_767_229_200_000,
        }],
    };
    g.add("GET /api/admin/sso", &admin);
    g.add(
        "GET /api/admin/sso (none yet)",
        &SsoAdmin {
            settings: None,
            offered: vec![],
            redirect_url: "https://live.brook.sch.uk/api/sso/callback".into(),
            linked: vec![],
        },
    );
    g.check("sso-bodies.jsonl");
}
