//! The route walk of the identity cases: a refused pupil calls every route of the route table
//! (`identity::*_tries_every_route`), and what each route may answer them.

use crate::fixture::*;
use anyhow::{anyhow, ensure, Result};
use livegate_tests::Api;
use serde_json::json;

/// A refused pupil calls every route of the route table: staff routes answer
/// `forbidden_role`, the ticket their own refusal, and nothing else succeeds beyond their own
/// profile, the health, readiness and set-up checks, the school's code of conduct (which a
/// pupil refused for a missing form is asked to read), which sign-in providers the server
/// offers (public, for the sign-in page) and the lesson summary a rostered pupil may read.
pub(super) async fn every_route(s: &Shared, email: &str, ticket_code: &str) -> Result<()> {
    let api = s.signed_in(email).await?;
    for (method, path, access) in routes()? {
        if path == "/ws" || (method == reqwest::Method::DELETE && path == "/api/session") {
            continue; // the socket is the next case's; signing out would end this walk
        }
        let url = concrete(&path, &s.lesson.id);
        if path == "/api/sso/callback" {
            sso_callback_refuses(s, &url)
                .await
                .map_err(|e| anyhow!("{email}: {e}"))?;
            continue;
        }
        let body = (method != reqwest::Method::GET).then(|| json!({}));
        let (status, reply) = api.request(method.clone(), &url, body).await?;
        let what = format!("{email}: {method} {url}");
        ensure!(status < 500, "{what}: {status} {reply}");
        // The health, readiness and set-up answers are public and say nothing about anyone.
        let allowed = matches!(
            path.as_str(),
            "/api/health" | "/api/me" | "/healthz" | "/readyz" | "/api/setup" | "/api/conduct" | "/api/sso/providers"
        ) || (path == "/api/lessons/{lesson_id}" && ticket_code != "not_on_roster");
        if path == "/api/lessons/{lesson_id}/ticket" {
            refused(&what, (status, reply), 403, ticket_code)?;
        } else if access == Access::Staff {
            refused(&what, (status, reply), 403, "forbidden_role")?;
        } else if !allowed {
            let e = Api::check(status, reply.clone()).err();
            ensure!(
                e.as_ref().is_some_and(|e| !e.code.starts_with('<')),
                "{what}: want a refusal with a code, got {status} {reply}"
            );
        }
    }
    Ok(())
}

/// The school-account sign-in's callback is public and answers with a redirect, never a
/// session: with no sign-in in flight, to the sign-in page's refusal.
async fn sso_callback_refuses(s: &Shared, url: &str) -> Result<()> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = client.get(format!("{}{url}", s.server.http_base)).send().await?;
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // It may clear the cookie of a sign-in in flight; it never sets a session.
    let cookies: Vec<&str> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    ensure!(
        resp.status() == 303
            && location.starts_with("/#/sso-refused?code=")
            && cookies.iter().all(|c| !c.starts_with("livegate_session=")),
        "GET {url}: want a 303 to the refusal page and no session, got {} to {location:?} with {cookies:?}",
        resp.status()
    );
    Ok(())
}
