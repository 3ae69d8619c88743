//! Opening recordings through the real server: only a leader of the school opens one, with a
//! reason that is audited before a byte is served; bad input changes nothing; media comes
//! segment by segment with ranges; a tampered object is never served; legal hold and retention
//! work. The lessons are recorded with the capture helpers of the parent module.

use super::*;

/// A lesson of `class` by `teacher` with the camera published for `secs`, then ended; returns
/// its recording's row once complete.
async fn short_recording(server: &Server, leader: &Api, teacher: &str, class: &str, secs: u64) -> Result<Value> {
    let (lesson, _) = start_recorded(server, teacher, class).await?;
    let _camera = publish_camera(&lesson.teacher).await?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    lesson.teacher.send("end_lesson", json!({})).await?;
    wait_recording(leader, &lesson.id, &["complete"], COMPLETE_WITHIN).await
}

/// Expects a refusal with this status and code.
fn refused(what: &str, got: (u16, Value), status: u16, code: &str) -> Result<()> {
    match Api::check(got.0, got.1) {
        Err(e) if e.status == status && e.code == code => Ok(()),
        other => bail!("{what}: expected {status} {code}, got {other:?}"),
    }
}

/// Sends a leader route's request as `api`: list, open, media (with `view`) or hold.
async fn call(api: &Api, route: &str, rec: &str, view: &str) -> Result<(u16, Value)> {
    use reqwest::Method;
    let reason = json!({"reason": REASON});
    match route {
        "list" => api.request(Method::GET, "/api/recordings", None).await,
        "open" => try_open_view(api, rec, reason).await,
        "media" => {
            // The second segment: the one `tampering` changes.
            let (status, _, body) = api.get_raw(&segment_path(rec, "s1", 1, view), None).await?;
            Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
        }
        "hold" => {
            api.request(
                Method::POST,
                &format!("/api/recordings/{rec}/hold"),
                Some(json!({"on": true, "reason": REASON})),
            )
            .await
        }
        other => bail!("no route {other}"),
    }
}

/// A leader of Other School, added straight to the database with the demo leader's password.
async fn other_school_leader(server: &Server, db: &sqlx::SqlitePool) -> Result<Api> {
    sqlx::query(
        "INSERT INTO users (id, school_id, email, display_name, role, password_hash, disabled, created_at) \
         SELECT 'usr_otherdsl', 'sch_other', 'dsl@other.sch.uk', 'Other DSL', 'leader', password_hash, 0, created_at \
         FROM users WHERE email = ?",
    )
    .bind(LEADER)
    .execute(db)
    .await?;
    let api = Api::new(server);
    livegate_tests::mfa::sign_in_two_factor(&api, "dsl@other.sch.uk", LEADER_PASSWORD).await?;
    Ok(api)
}

/// Who may not see recordings: no reason, other roles, another school's leader, bad tokens.
async fn refusals(server: &Server, leader: &Api, db: &sqlx::SqlitePool, rec: &str) -> Result<()> {
    for body in [json!({}), json!({"reason": ""}), json!({"reason": "  ok  "})] {
        refused(
            &format!("open with {body}"),
            try_open_view(leader, rec, body.clone()).await?,
            400,
            "reason_required",
        )?;
    }
    let hold = leader
        .request(
            reqwest::Method::POST,
            &format!("/api/recordings/{rec}/hold"),
            Some(json!({"on": true})),
        )
        .await?;
    refused("hold without a reason", hold, 400, "reason_required")?;
    for (email, password) in [
        (seed::ADA, seed::PUPIL_PASSWORD),
        (seed::TEACHER, seed::TEACHER_PASSWORD),
        (ADMIN, ADMIN_PASSWORD),
    ] {
        let api = Api::new(server);
        api.sign_in(email, password).await?;
        for route in ["list", "open", "media", "hold"] {
            refused(
                &format!("{email} {route}"),
                call(&api, route, rec, "whatever").await?,
                403,
                "forbidden_role",
            )?;
        }
    }
    let other = other_school_leader(server, db).await?;
    ensure!(
        list(&other).await?.is_empty(),
        "another school's leader sees our recordings"
    );
    refused(
        "other school's leader opens",
        call(&other, "open", rec, "").await?,
        404,
        "not_found",
    )?;
    refused(
        "other school's leader holds",
        call(&other, "hold", rec, "").await?,
        404,
        "not_found",
    )?;
    ensure!(
        audit(db, "recording.view").await?.is_empty(),
        "a refused view was audited as a view"
    );
    ensure!(
        audit(db, "recording.hold").await?.is_empty(),
        "a refused hold was audited"
    );
    Ok(())
}

/// Bad input to the leader's routes gets a stable code and changes nothing.
async fn bad_input(leader: &Api, db: &sqlx::SqlitePool, rec: &str) -> Result<()> {
    use reqwest::Method;
    for q in ["?from=yesterday", "?colour=red", "?to=1&to=2"] {
        refused(
            q,
            leader
                .request(Method::GET, &format!("/api/recordings{q}"), None)
                .await?,
            400,
            "bad_request",
        )?;
    }
    let filtered = leader
        .request(Method::GET, "/api/recordings?class_id=8b&from=0", None)
        .await?;
    ensure!(
        filtered.0 == 200 && filtered.1["recordings"].as_array().is_some_and(|r| r.len() == 1),
        "filter by class: {filtered:?}"
    );
    let (status, _, body) = leader
        .get_raw(&format!("/api/recordings/{rec}/streams/s1/segments/0"), None)
        .await?;
    refused(
        "media without a view",
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null)),
        409,
        "view_expired",
    )?;
    refused(
        "open with a number",
        try_open_view(leader, rec, json!({"reason": 5})).await?,
        400,
        "bad_request",
    )?;
    refused(
        "open with extra fields",
        try_open_view(leader, rec, json!({"reason": REASON, "x": 1})).await?,
        400,
        "bad_request",
    )?;
    refused(
        "open an unknown recording",
        try_open_view(leader, "rec_nope", json!({"reason": REASON})).await?,
        404,
        "not_found",
    )?;
    refused(
        "open ../etc",
        try_open_view(leader, "..%2Fetc", json!({"reason": REASON})).await?,
        404,
        "not_found",
    )?;
    ensure!(
        audit(db, "recording.view").await?.is_empty(),
        "bad input was audited as a view"
    );
    Ok(())
}

/// Media needs the leader's own live token; the stream comes segment by segment, each a WebM
/// that starts on a keyframe, and ranges serve exact slices of a segment.
async fn media_and_ranges(
    server: &Server,
    leader: &Api,
    db: &sqlx::SqlitePool,
    rec: &str,
    opened: &Value,
) -> Result<()> {
    let view = field(opened, "view")?;
    let other = Api::new(server);
    livegate_tests::mfa::sign_in_two_factor(&other, "dsl@other.sch.uk", LEADER_PASSWORD).await?;
    refused(
        "another leader with our token",
        call(&other, "media", rec, view).await?,
        409,
        "view_expired",
    )?;
    refused(
        "a bogus token",
        call(leader, "media", rec, "bogus_token_123").await?,
        409,
        "view_expired",
    )?;
    refused(
        "the token on another recording",
        call(leader, "media", "rec_someotherone", view).await?,
        409,
        "view_expired",
    )?;
    let count = segment_count(opened, "s1")?;
    let (status, _, body) = leader.get_raw(&segment_path(rec, "s1", count, view), None).await?;
    refused(
        "a segment past the end",
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null)),
        404,
        "not_found",
    )?;
    let (segments, refusal) = fetch_stream(leader, rec, opened, "s1").await?;
    ensure!(
        refusal.is_none() && segments.len() == count && count >= 2,
        "{} of {count} segments served: {refusal:?}",
        segments.len()
    );
    let total: usize = segments.iter().map(Vec::len).sum();
    ensure!(total > 20_000, "the stream is {total} bytes");
    for (n, seg) in segments.iter().enumerate() {
        let (_, frames) = livegate_recorder::webm::demux(seg).map_err(|e| anyhow!("segment {n}: {e}"))?;
        let first = frames.iter().find(|f| f.track == livegate_recorder::webm::Track::Video);
        ensure!(
            first.is_some_and(|f| f.keyframe),
            "segment {n} does not start on a keyframe"
        );
    }
    let (status, headers, full) = leader.get_raw(&segment_path(rec, "s1", 0, view), None).await?;
    let header =
        |h: &reqwest::header::HeaderMap, k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    ensure!(status == 200 && full == segments[0], "segment 0 again: {status}");
    ensure!(
        header(&headers, "content-type") == "video/webm" && header(&headers, "accept-ranges") == "bytes",
        "{headers:?}"
    );
    ensure!(header(&headers, "cache-control") == "no-store", "{headers:?}");
    let len = full.len();
    let cases = [
        ("bytes=100-1099".to_owned(), 100, 1099),
        (format!("bytes={}-", len - 700), len - 700, len - 1),
        ("bytes=-500".into(), len - 500, len - 1),
        (format!("bytes=0-{}", len + 50), 0, len - 1),
    ];
    for (range, a, b) in cases {
        let (status, headers, body) = leader.get_raw(&segment_path(rec, "s1", 0, view), Some(&range)).await?;
        ensure!(status == 206, "{range}: status {status}");
        ensure!(
            header(&headers, "content-range") == format!("bytes {a}-{b}/{len}"),
            "{range}: {headers:?}"
        );
        ensure!(
            body == full[a..=b],
            "{range}: the bytes differ from the segment's slice"
        );
    }
    // Serving media adds no view: there is exactly one, from opening.
    ensure!(
        audit(db, "recording.view").await?.len() == 1,
        "media requests changed the audit log"
    );
    Ok(())
}

/// A stored segment or manifest that was changed is never served: `recording_tampered`.
async fn tampering(leader: &Api, dir: &DataDir, rec: &str, other: &str) -> Result<()> {
    let segment = dir.objects_dir().join(rec).join("s00000001");
    let original = std::fs::read(&segment)?;
    let mut bad = original.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    std::fs::write(&segment, &bad)?;
    let view = open_view(leader, rec, REASON).await?;
    refused(
        "a changed segment",
        call(leader, "media", rec, field(&view, "view")?).await?,
        500,
        "recording_tampered",
    )?;
    std::fs::write(&segment, &original)?;
    // Another recording's (genuine) manifest in this one's place.
    let manifest = dir.objects_dir().join(rec).join("manifest");
    let original = std::fs::read(&manifest)?;
    std::fs::copy(dir.objects_dir().join(other).join("manifest"), &manifest)?;
    refused(
        "a swapped manifest",
        try_open_view(leader, rec, json!({"reason": REASON})).await?,
        500,
        "recording_tampered",
    )?;
    std::fs::write(&manifest, &original)?;
    let view = open_view(leader, rec, REASON).await?;
    let (status, _, _) = leader
        .get_raw(&segment_path(rec, "s1", 0, field(&view, "view")?), Some("bytes=0-99"))
        .await?;
    ensure!(status == 206, "after restoring, media: {status}");
    Ok(())
}

/// Legal hold on and off is audited with its reason.
async fn hold(leader: &Api, db: &sqlx::SqlitePool, rec: &str, on: bool) -> Result<()> {
    let path = format!("/api/recordings/{rec}/hold");
    let reason = format!("Police request ref 42 ({})", if on { "on" } else { "off" });
    let (status, body) = leader
        .request(reqwest::Method::POST, &path, Some(json!({"on": on, "reason": reason})))
        .await?;
    ensure!(status == 204, "hold {on}: {status} {body}");
    let last = audit(db, "recording.hold")
        .await?
        .pop()
        .ok_or_else(|| anyhow!("hold not audited"))?;
    ensure!(
        last.detail["recording"] == json!(rec)
            && last.detail["on"] == json!(on)
            && last.detail["reason"] == json!(reason),
        "{last:?}"
    );
    let row = list(leader)
        .await?
        .into_iter()
        .find(|r| r["id"] == json!(rec))
        .ok_or_else(|| anyhow!("row gone"))?;
    ensure!(row["legal_hold"] == json!(on), "row after hold {on}: {row}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_leaders_open_recordings_with_a_reason_audited_first() {
    run_test_within(LIMIT, async {
        let dir = DataDir::new("rec-access")?;
        let server = start_server(&dir, &[]).await?;
        let leader = leader(&server).await?;
        let kept = short_recording(&server, &leader, seed::TEACHER, seed::CLASS_7A, 4).await?;
        let expired = short_recording(&server, &leader, seed::TEACHER2, seed::CLASS_8B, 2).await?;
        let (rec, gone) = (field(&kept, "id")?.to_owned(), field(&expired, "id")?.to_owned());
        let db = open_db(&dir.db_path()).await?;
        refusals(&server, &leader, &db, &rec).await?;
        bad_input(&leader, &db, &rec).await?;

        let (status, view) =
            try_open_view(&leader, &rec, json!({"reason": REASON, "concern_ref": "CPOMS-1234"})).await?;
        ensure!(status == 200, "open: {status} {view}");
        // The view is on the audit chain before any media is asked for.
        let views = audit(&db, "recording.view").await?;
        let leader_id = user_id(&db, LEADER).await?;
        ensure!(views.len() == 1 && views[0].actor == leader_id, "views: {views:?}");
        ensure!(
            views[0].detail["recording"] == json!(rec) && views[0].detail["reason"] == json!(REASON),
            "{views:?}"
        );
        ensure!(views[0].detail["concern"] == json!("CPOMS-1234"), "{views:?}");
        ensure!(
            view["status"] == json!("complete") && view["streams"][0]["label"] == json!("s1"),
            "view: {view}"
        );
        ensure!(
            view["streams"][0]["tracks"] == json!(["video", "audio"]),
            "view: {view}"
        );
        media_and_ranges(&server, &leader, &db, &rec, &view).await?;
        tampering(&leader, &dir, &rec, &gone).await?;

        hold(&leader, &db, &rec, true).await?;
        hold(&leader, &db, &rec, false).await?;
        hold(&leader, &db, &rec, true).await?;
        retention(server, &dir, &db, &rec, &gone).await
    })
    .await;
}

/// Both recordings pass the school's retention period; a restart runs retention at once: the
/// one on hold survives whole, the other is destroyed (objects deleted, then its key).
async fn retention(server: Server, dir: &DataDir, db: &sqlx::SqlitePool, kept: &str, gone: &str) -> Result<()> {
    sqlx::query("UPDATE schools SET retention_days = 1 WHERE id = 'sch_demo'")
        .execute(db)
        .await?;
    sqlx::query("UPDATE recordings SET started_at = started_at - 2 * 86400000")
        .execute(db)
        .await?;
    let old = server.http_base.clone();
    server.finish();
    let server = start_server(dir, &[]).await?;
    // The leader's authenticator, enrolled on the first run, is in the same database.
    livegate_tests::mfa::server_moved(&old, &server.http_base);
    let leader = leader(&server).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    let rows = loop {
        let rows = list(&leader).await?;
        if rows
            .iter()
            .any(|r| r["id"] == json!(gone) && r["status"] == json!("destroyed"))
        {
            break rows;
        }
        ensure!(Instant::now() < deadline, "retention did not destroy {gone}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let held = rows
        .iter()
        .find(|r| r["id"] == json!(kept))
        .ok_or_else(|| anyhow!("{kept} vanished"))?;
    ensure!(
        held["status"] == json!("complete") && held["legal_hold"] == json!(true),
        "held: {held}"
    );
    let keys = dir
        .objects()
        .map_err(|e| anyhow!("{e}"))?
        .list_all()
        .await
        .map_err(|e| anyhow!("{e}"))?;
    ensure!(
        keys.iter().all(|k| !k.starts_with(gone)),
        "objects of the destroyed recording remain: {keys:?}"
    );
    ensure!(
        keys.iter().any(|k| k.starts_with(kept)),
        "the held recording's objects were deleted"
    );
    let wrapped: Option<String> = sqlx::query_scalar("SELECT wrapped_key FROM recordings WHERE id = ?")
        .bind(gone)
        .fetch_one(db)
        .await?;
    ensure!(wrapped.is_none(), "the destroyed recording's key is still kept");
    let destroyed = audit(db, "recording.destroy").await?;
    ensure!(
        destroyed.len() == 1 && destroyed[0].detail["recording"] == json!(gone),
        "{destroyed:?}"
    );
    refused(
        "opening a destroyed recording",
        try_open_view(&leader, gone, json!({"reason": REASON})).await?,
        409,
        "recording_unavailable",
    )?;
    let hash = field(held, "manifest_sha256")?;
    verify_and_export(dir, &Bucket::Local(dir), kept, hash).await?;
    server.finish();
    Ok(())
}
