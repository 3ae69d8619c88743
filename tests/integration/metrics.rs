//! `GET /metrics` on its own address (`metrics_http`, README "Operations"): the counts move with
//! a real lesson (a teacher publishing, a pupil receiving, a pupil refused, a bad sign-in, the
//! lesson ending), every line is the Prometheus text exposition format, no seeded person's
//! email, name or id (nor the lesson's id) is in any scrape, and each address serves only its
//! own routes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use livegate_tests::participant::{live_7a_with_camera, pupil_receives_teacher_camera};
use livegate_tests::{run_test, seed, Api, Server};
use serde_json::json;

/// How long a count may take to move (the media engine and lesson tasks update on their own
/// turns; generous for a loaded machine).
const MOVE_WITHIN: Duration = Duration::from_secs(10);

/// A demo server with `metrics_http` on an ephemeral port.
async fn server_with_metrics() -> Result<(Server, SocketAddr)> {
    let env = [("LIVEGATE_METRICS_HTTP".to_owned(), "127.0.0.1:0".to_owned())];
    let server = Server::launch("demo", &[], &env).await?;
    let addr = server
        .metrics_addr
        .ok_or_else(|| anyhow!("the ready line names no metrics address"))?;
    Ok((server, addr))
}

/// A label set, sorted by name.
type Labels = Vec<(String, String)>;

/// A scrape's samples, by name and labels.
type Samples = HashMap<(String, Labels), f64>;

/// One scrape: the body and its samples.
struct Scrape {
    body: String,
    samples: Samples,
}

impl Scrape {
    /// A sample's value; an absent counter or gauge reads 0.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        labels.sort();
        self.samples.get(&(name.to_owned(), labels)).copied().unwrap_or(0.0)
    }
}

async fn scrape(addr: SocketAddr) -> Result<Scrape> {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .context("GET /metrics")?;
    ensure!(resp.status() == 200, "GET /metrics: {}", resp.status());
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ensure!(kind.starts_with("text/plain; version=0.0.4"), "content-type {kind:?}");
    let body = resp.text().await?;
    let samples = parse_exposition(&body)?;
    Ok(Scrape { body, samples })
}

/// Scrapes until `done` holds, for at most [`MOVE_WITHIN`].
async fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Scrape) -> bool) -> Result<Scrape> {
    let deadline = tokio::time::Instant::now() + MOVE_WITHIN;
    loop {
        let s = scrape(addr).await?;
        if done(&s) {
            return Ok(s);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not within {MOVE_WITHIN:?}; last scrape:\n{}", s.body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Parses the text exposition format (0.0.4) strictly: every line is blank, `# HELP name ...`,
/// `# TYPE name counter|gauge|...`, or a sample `name{label="value",...} value` of a declared
/// family. Livegate's own rules too: every name starts `livegate_`, a counter's ends `_total`.
fn parse_exposition(body: &str) -> Result<Samples> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for (n, line) in body.lines().enumerate() {
        let at = || format!("line {}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name, text) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            let name = name
                .filter(|n| valid_name(n))
                .ok_or_else(|| anyhow!("bad comment, {}", at()))?;
            match keyword {
                Some("HELP") => ensure!(!text.is_empty(), "empty HELP, {}", at()),
                Some("TYPE") => {
                    let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                    ensure!(known.contains(&text), "unknown TYPE, {}", at());
                    ensure!(
                        types.insert(name.to_owned(), text.to_owned()).is_none(),
                        "TYPE twice, {}",
                        at()
                    );
                }
                _ => bail!("a comment that is neither HELP nor TYPE, {}", at()),
            }
            continue;
        }
        let (name, labels, value) = parse_sample(line).with_context(at)?;
        let kind = types
            .get(&name)
            .ok_or_else(|| anyhow!("a sample before its TYPE, {}", at()))?;
        ensure!(name.starts_with("livegate_"), "not a livegate_ series, {}", at());
        ensure!(
            (kind == "counter") == name.ends_with("_total"),
            "counters, and only they, end in _total, {}",
            at()
        );
        ensure!(
            samples.insert((name, labels), value).is_none(),
            "the same series twice, {}",
            at()
        );
    }
    ensure!(!samples.is_empty(), "no samples in:\n{body}");
    Ok(samples)
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{a="x",b="y"} value [timestamp]`.
fn parse_sample(line: &str) -> Result<(String, Labels, f64)> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| anyhow!("no value"))?;
    let name = &line[..name_end];
    ensure!(valid_name(name), "bad metric name");
    let (mut labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(inner) => parse_labels(inner)?,
        None => (Vec::new(), &line[name_end..]),
    };
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or_else(|| anyhow!("no space before the value"))?
        .split(' ');
    let value: f64 = match fields.next().unwrap_or_default() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| anyhow!("bad value {v:?}"))?,
    };
    if let Some(ts) = fields.next() {
        ts.parse::<i64>().map_err(|_| anyhow!("bad timestamp {ts:?}"))?;
    }
    ensure!(fields.next().is_none(), "trailing fields");
    labels.sort();
    Ok((name.to_owned(), labels, value))
}

/// The labels after `{`, up to and past the closing `}`, with the format's escapes in values;
/// returns them and what follows.
fn parse_labels(mut s: &str) -> Result<(Labels, &str)> {
    let mut labels = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find("=\"").ok_or_else(|| anyhow!("bad label in {s:?}"))?;
        let key = &s[..eq];
        ensure!(valid_name(key) && !key.contains(':'), "bad label name {key:?}");
        let mut value = String::new();
        let mut chars = s[eq + 2..].char_indices();
        let end = loop {
            match chars.next() {
                None => bail!("unclosed label value"),
                Some((i, '"')) => break eq + 2 + i + 1,
                Some((_, '\\')) => match chars.next().map(|(_, c)| c) {
                    Some('n') => value.push('\n'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    other => bail!("bad escape {other:?}"),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((key.to_owned(), value));
        s = &s[end..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// No seeded person's email, display name or user id, nor the lesson's id, is in a scrape.
/// Names are matched as whole words (a short name such as "Dev" is in no word of ours).
fn names_nobody(s: &Scrape, people: &[(String, String, String)], lesson_id: &str) -> Result<()> {
    let words: Vec<&str> = s.body.split(|c: char| !c.is_alphanumeric()).collect();
    for (email, name, id) in people {
        ensure!(!s.body.contains(email.as_str()), "an email in the scrape: {email}");
        ensure!(!s.body.contains(id.as_str()), "a user id in the scrape: {id}");
        let name_words: Vec<&str> = name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let found = words.windows(name_words.len()).any(|w| w == name_words.as_slice());
        ensure!(!found, "a display name in the scrape: {name}");
    }
    ensure!(!s.body.contains(lesson_id), "the lesson id in the scrape");
    ensure!(!s.body.contains('@'), "something like an email in the scrape");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_move_with_a_lesson_and_name_nobody() {
    run_test(async {
        let (server, addr) = server_with_metrics().await?;
        let before = scrape(addr).await?;
        ensure!(
            before.get("livegate_lessons_live", &[]) == 0.0,
            "a lesson before any started"
        );
        for role in ["teacher", "pupil", "guest"] {
            ensure!(
                before.get("livegate_participants", &[("role", role)]) == 0.0,
                "{role}s before a lesson"
            );
        }
        ensure!(before.get("livegate_forwarded_packets_total", &[]) == 0.0);
        let bad = [("reason", "bad_credentials")];
        let failures = before.get("livegate_sign_in_failures_total", &bad);

        // A wrong password, then the right ones: one failure counted.
        let (status, _) = Api::new(&server)
            .request(
                reqwest::Method::POST,
                "/api/session",
                Some(json!({"email": seed::ADA, "password": "not-her-password"})),
            )
            .await?;
        ensure!(status == 401, "a wrong password answered {status}");
        let (lesson, _camera) = live_7a_with_camera(&server).await?;
        let (ada, _sub) = pupil_receives_teacher_camera(&server, &lesson, seed::ADA).await?;
        let during = scrape_until(addr, "the lesson and its people", |s| {
            s.get("livegate_lessons_live", &[]) == 1.0
                && s.get("livegate_participants", &[("role", "teacher")]) == 1.0
                && s.get("livegate_participants", &[("role", "pupil")]) == 1.0
                && s.get("livegate_media_streams", &[("direction", "receive")]) >= 1.0
        })
        .await?;
        ensure!(
            during.get("livegate_sign_in_failures_total", &bad) == failures + 1.0,
            "sign-in failures {failures} → {}",
            during.get("livegate_sign_in_failures_total", &bad)
        );
        let forwarded = during.get("livegate_forwarded_packets_total", &[]);
        ensure!(forwarded > 0.0, "Ada received media, yet nothing counted as forwarded");
        ensure!(during.get("livegate_forwarded_bytes_total", &[]) > 0.0);
        ensure!(during.get("livegate_received_packets_total", &[]) > 0.0);
        let later = scrape_until(addr, "forwarding goes on", |s| {
            s.get("livegate_forwarded_packets_total", &[]) > forwarded
        })
        .await?;

        // Owen is not on 7A's roster: his refusal is counted under its code.
        let not_on_roster = [("code", "not_on_roster")];
        let refused = later.get("livegate_join_refusals_total", &not_on_roster);
        let owen = Api::new(&server);
        let owen_user = owen.sign_in(seed::OWEN, seed::PUPIL_PASSWORD).await?;
        match owen.ticket(&lesson.id).await? {
            Err(e) if e.code == "not_on_roster" => {}
            other => bail!("Owen's ticket: {:?}", other.map(|t| t.ticket)),
        }
        let after_owen = scrape(addr).await?;
        ensure!(
            after_owen.get("livegate_join_refusals_total", &not_on_roster) == refused + 1.0,
            "not_on_roster refusals {refused} → {}",
            after_owen.get("livegate_join_refusals_total", &not_on_roster)
        );
        ensure!(
            after_owen.get("livegate_participants", &[("role", "pupil")]) == 1.0,
            "Owen was counted in"
        );

        // The lesson ends: the gauges go back to zero and the counters do not go back.
        lesson.teacher.send("end_lesson", json!({})).await?;
        let ended = scrape_until(addr, "the lesson's end", |s| {
            s.get("livegate_lessons_live", &[]) == 0.0
                && s.get("livegate_participants", &[("role", "teacher")]) == 0.0
                && s.get("livegate_participants", &[("role", "pupil")]) == 0.0
                && s.get("livegate_media_streams", &[("direction", "publish")]) == 0.0
                && s.get("livegate_media_streams", &[("direction", "receive")]) == 0.0
        })
        .await?;
        let last = after_owen.get("livegate_forwarded_packets_total", &[]);
        ensure!(
            ended.get("livegate_forwarded_packets_total", &[]) >= last,
            "forwarded packets went back when the streams closed: {last} → {}",
            ended.get("livegate_forwarded_packets_total", &[])
        );

        // A second lesson: the counters go on from what the first forwarded (a stream that
        // closes leaves its counts behind), by at least what Ben received in it.
        let (lesson2, _camera2) = live_7a_with_camera(&server).await?;
        let (ben, ben_sub) = pupil_receives_teacher_camera(&server, &lesson2, seed::BEN).await?;
        lesson2.teacher.send("end_lesson", json!({})).await?;
        let second = scrape_until(addr, "the second lesson's end", |s| {
            s.get("livegate_lessons_live", &[]) == 0.0
                && s.get("livegate_media_streams", &[("direction", "receive")]) == 0.0
        })
        .await?;
        let ben_got = (ben_sub.stats.video() + ben_sub.stats.audio()) as f64;
        let (first, both) = (
            ended.get("livegate_forwarded_packets_total", &[]),
            second.get("livegate_forwarded_packets_total", &[]),
        );
        // A tenth of slack for packets Ben's client counted twice (a retransmission).
        ensure!(
            both - first >= ben_got * 0.9,
            "forwarded packets {first} → {both} over a lesson in which Ben received {ben_got}"
        );

        // Nobody is named in any scrape.
        let mut people = Vec::new();
        for email in [seed::TEACHER, seed::ADA, seed::BEN] {
            let user = Api::new(&server).sign_in(email, seed::password_for(email)).await?;
            people.push((email.to_owned(), user.display_name, user.id));
        }
        people.push((seed::OWEN.to_owned(), owen_user.display_name, owen_user.id));
        for s in [&before, &during, &later, &after_owen, &ended, &second] {
            names_nobody(s, &people, &lesson.id)?;
            names_nobody(s, &people, &lesson2.id)?;
        }
        drop((ada, ben));
        server.finish();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_address_serves_only_its_own_routes() {
    run_test(async {
        let (server, addr) = server_with_metrics().await?;
        for path in [
            "/healthz",
            "/readyz",
            "/api/setup",
            "/api/health",
            "/",
            "/index.html",
            "/metrics/",
        ] {
            let resp = reqwest::get(format!("http://{addr}{path}")).await?;
            let status = resp.status().as_u16();
            let body = resp.text().await?;
            ensure!(
                status == 404,
                "the metrics address answered {path} with {status}: {body}"
            );
            ensure!(!body.contains("alive") && !body.contains("<html"), "{path}: {body}");
        }
        let resp = reqwest::Client::new()
            .post(format!("http://{addr}/metrics"))
            .send()
            .await?;
        ensure!(resp.status() == 405, "POST /metrics: {}", resp.status());

        // The application's address has no /metrics, and says so (not the web client's page).
        let (status, body) = Api::new(&server)
            .request(reqwest::Method::GET, "/metrics", None)
            .await?;
        ensure!(status == 404, "the app address answered /metrics with {status}");
        ensure!(
            body.pointer("/error/code").and_then(|c| c.as_str()) == Some("not_found"),
            "{body}"
        );
        // ... while the metrics address does.
        scrape(addr).await?;
        server.finish();
        Ok(())
    })
    .await;
}
