//! Several nodes sharing one PostgreSQL database (DESIGN.md: "several nodes then share the
//! database"): a session made on one node works on another, signing out or disabling an
//! account on one ends it on all, failed sign-ins count across nodes, and a set-password link
//! issued on one is spent on another exactly once.
//!
//! Needs `LIVEGATE_TEST_POSTGRES_URL` (tests/run.sh starts a throwaway server with
//! infra/postgres.sh). Without it the test says so loudly and passes, except under CI (`CI` set),
//! where it fails.

use anyhow::{anyhow, ensure, Result};
use livegate_tests::{run_test, seed, Server};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

/// A fresh, empty database on the test PostgreSQL server.
async fn fresh_database() -> Result<Option<String>> {
    livegate_tests::postgres::fresh_database("multinode").await
}

/// One HTTP call with an explicit cookie (no cookie jar, so nothing is shared by accident).
async fn call(
    node: &Server,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut req = client.request(method, format!("{}{}", node.http_base, path));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await?;
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await?;
    Ok((status, headers, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn sign_in(node: &Server, email: &str, password: &str) -> Result<(StatusCode, Option<String>, Value)> {
    let (status, headers, body) = call(
        node,
        Method::POST,
        "/api/session",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await?;
    let cookie = headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    Ok((status, cookie, body))
}

fn code(v: &Value) -> &str {
    v.pointer("/error/code").and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_postgres_share_accounts() {
    run_test(async {
        let Some(url) = fresh_database().await? else {
            return Ok(());
        };
        let a = Server::start_with_args(&["--database-url", &url]).await?;
        let b = Server::start_with_args(&["--database-url", &url]).await?;
        ensure!(
            !b.log_tail(400).contains("Loaded the demo school"),
            "the second node must not seed again"
        );

        // A session made on A works on B; signing out on A ends it on B.
        let (status, cookie, _) = sign_in(&a, seed::TEACHER, seed::TEACHER_PASSWORD).await?;
        let cookie = cookie
            .filter(|_| status == StatusCode::OK)
            .ok_or_else(|| anyhow!("sign-in on A: {status}"))?;
        let (status, _, me) = call(&b, Method::GET, "/api/me", Some(&cookie), None).await?;
        ensure!(
            status == StatusCode::OK && me["user"]["display_name"] == "Ms Rivera",
            "A's session on B: {status} {me}"
        );
        let (status, _, _) = call(&a, Method::DELETE, "/api/session", Some(&cookie), None).await?;
        ensure!(status == StatusCode::NO_CONTENT, "sign-out on A: {status}");
        let (status, _, body) = call(&b, Method::GET, "/api/me", Some(&cookie), None).await?;
        ensure!(
            code(&body) == "not_signed_in",
            "after sign-out on A, B says {status} {body}"
        );

        // Disabling an account on A ends its session on B.
        let (_, admin, _) = sign_in(&a, "admin@demo.sch.uk", "demo-admin").await?;
        let admin = admin.ok_or_else(|| anyhow!("admin sign-in"))?;
        let (_, ada_on_b, _) = sign_in(&b, seed::ADA, seed::PUPIL_PASSWORD).await?;
        let ada_on_b = ada_on_b.ok_or_else(|| anyhow!("ada sign-in on B"))?;
        let (_, _, me) = call(&b, Method::GET, "/api/me", Some(&ada_on_b), None).await?;
        let ada = me["user"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("ada's id: {me}"))?
            .to_owned();
        let (status, _, body) = call(
            &a,
            Method::PATCH,
            &format!("/api/admin/users/{ada}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await?;
        ensure!(status.is_success(), "disable on A: {status} {body}");
        let (_, _, body) = call(&b, Method::GET, "/api/me", Some(&ada_on_b), None).await?;
        ensure!(code(&body) == "not_signed_in", "disabled on A, B says {body}");
        call(
            &a,
            Method::PATCH,
            &format!("/api/admin/users/{ada}"),
            Some(&admin),
            Some(json!({"disabled": false})),
        )
        .await?;

        // Failed sign-ins count across nodes: three on A and two on B lock the email on both.
        for (i, node) in [&a, &a, &a, &b, &b].into_iter().enumerate() {
            let (status, _, body) = sign_in(node, seed::BEN, "wrong-password").await?;
            ensure!(code(&body) == "bad_credentials", "failure {i}: {status} {body}");
        }
        for node in [&a, &b] {
            let (status, cookie, body) = sign_in(node, seed::BEN, seed::PUPIL_PASSWORD).await?;
            ensure!(
                status == StatusCode::TOO_MANY_REQUESTS && code(&body) == "too_many_attempts" && cookie.is_none(),
                "locked: {status} {body}"
            );
        }

        // A reset link issued on A is spent on B, once.
        let (status, _, link) = call(
            &a,
            Method::POST,
            &format!("/api/admin/users/{ada}/reset"),
            Some(&admin),
            None,
        )
        .await?;
        let url = link["link"]["url"]
            .as_str()
            .ok_or_else(|| anyhow!("reset on A: {status} {link}"))?;
        let token = url
            .strip_prefix("/#/set-password?token=")
            .ok_or_else(|| anyhow!("link shape: {url}"))?;
        let body = json!({"token": token, "password": "a new password for ada"});
        let (status, _, _) = call(&b, Method::POST, "/api/account/password", None, Some(body.clone())).await?;
        ensure!(status == StatusCode::NO_CONTENT, "set password on B: {status}");
        let (_, _, again) = call(&a, Method::POST, "/api/account/password", None, Some(body)).await?;
        ensure!(code(&again) == "token_invalid", "reuse on A: {again}");
        let (status, _, _) = sign_in(&a, seed::ADA, "a new password for ada").await?;
        ensure!(status == StatusCode::OK, "new password on A: {status}");

        a.finish();
        b.finish();
        Ok(())
    })
    .await;
}
