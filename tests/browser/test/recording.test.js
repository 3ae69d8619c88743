// End-to-end recording test in real browsers (Debian's Chromium via playwright-core, fake camera
// and microphone) against the livegate binary: a teacher publishes her camera for about 8 s
// while a pupil receives it, then ends the lesson. The safeguarding leader signs in, waits for
// the recording to be complete, opens it through the page with a reason (an empty one is
// refused), and the player really plays, fed segment by segment through Media Source Extensions
// (time advances, frames decoded), and seeking to a later time with the slider fetches the
// segment that covers it and plays on from there; a screenshot of a 390x844 phone is saved. The CLI exports the recording and ffprobe finds VP8 and Opus lasting
// as long as the camera was published (within 1 s). The same again with the objects in a real
// Garage (S3). From the other side: a pupil opening the leader's page gets a refusal and no
// player, and the API refuses pupils and teachers the list and the stream. And when recording
// cannot start, the teacher is told that pupils cannot join and a pupil is refused.
// Run with `npm test` in tests/browser (needs target/debug/livegate and livegate-recorder,
// ffprobe, and Garage for the S3 part: `bash infra/garage.sh install`).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS, DEMO, REPO_ROOT, callApi, debugState, ensureArtifacts, launchBrowser, mediaStats, newUser, signIn,
  startServer, waitUntil,
} from '../lib/harness.js';

const run = promisify(execFile);
const LEADER = { email: 'dsl@demo.sch.uk', password: 'demo-leader' };
const PUBLISH_MS = 8_000;
const SCREEN_AFTER_MS = 3_000;
const RECORDER = process.env.LIVEGATE_RECORDER_BIN || path.join(REPO_ROOT, 'target', 'debug', 'livegate-recorder');

const call = callApi;

/**
 * ffprobe's view of a file: codecs, and the span of its media (duration minus start time).
 * @param {string} file
 */
async function probe(file) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,start_time:stream=codec_name,codec_type', '-of', 'json', file]);
  const info = JSON.parse(stdout);
  const duration = Number(info.format.duration);
  const start = Number(info.format.start_time || 0);
  return { codecs: info.streams.map((/** @type {any} */ s) => s.codec_name).sort(), duration, start, span: duration - start };
}

/**
 * One demo server with its own data folder, browser and people, and the steps of the story.
 * @param {string} name used in artifact names
 */
function scenario(name) {
  const s = {
    dataDir: '',
    /** @type {Awaited<ReturnType<typeof startServer>> | null} */
    server: null,
    /** @type {import('playwright-core').Browser | null} */
    browser: null,
    /** @type {import('../lib/harness.js').User[]} */
    users: [],
    publishedMs: 0,
    recordingId: '',
    viewToken: '',
    /** Segment requests the leader's page made: `label/n`. */
    /** @type {string[]} */
    segmentRequests: [],

    /** @param {{env?: Record<string, string>}} [opts] */
    async start(opts = {}) {
      ensureArtifacts();
      s.dataDir = mkdtempSync(path.join(os.tmpdir(), `livegate-rec-${name}-`));
      s.server = await startServer({ dataDir: s.dataDir, env: opts.env });
      s.browser = await launchBrowser();
    },

    /** @param {string} label @param {{phone?: boolean}} [opts] */
    async user(label, opts) {
      assert.ok(s.browser && s.server);
      const u = await newUser(s.browser, s.server.url, label, opts);
      s.users.push(u);
      return u;
    },

    async stop() {
      for (const u of s.users) {
        writeFileSync(path.join(ARTIFACTS, `console-${name}-${u.label}.log`), u.console.join('\n'));
        await u.context.close().catch(() => {});
      }
      if (s.browser) await s.browser.close().catch(() => {});
      if (s.server) {
        await s.server.stop();
        writeFileSync(path.join(ARTIFACTS, `server-${name}.log`), s.server.log.join(''));
      }
      if (s.dataDir) rmSync(s.dataDir, { recursive: true, force: true });
    },
  };
  return s;
}

/**
 * The teacher starts 7A and publishes her camera for about 8 s while Ada receives it (with
 * `screen`, she also shares her screen from about 3 s in); then she ends the lesson. Sets how
 * long the camera was published, as the test saw it.
 * @param {ReturnType<typeof scenario>} s
 * @param {{screen?: boolean}} [opts]
 */
async function recordLesson(s, opts = {}) {
  const teacher = await s.user('teacher');
  const ada = await s.user('ada');
  await signIn(teacher, DEMO.teacher);
  const tp = teacher.page;
  await tp.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).click();
  await tp.getByRole('button', { name: 'Start teaching' }).click();
  const joined = await waitUntil(async () => {
    const st = await debugState(tp);
    return st.state === 'joined' ? st : null;
  }, { timeoutMs: 10_000, what: 'the teacher to join' });
  assert.equal(await tp.locator('#rec-badge-text').textContent(), 'Recording');
  const publishedAt = await waitUntil(async () => {
    const stats = await mediaStats(tp);
    const send = stats.find((x) => x.direction === 'send' && x.kind === 'camera');
    return send && send.outbound.some((o) => o.kind === 'video' && o.packetsSent > 0) ? Date.now() : 0;
  }, { timeoutMs: 10_000, intervalMs: 25, what: "the teacher's camera to send video" });

  await signIn(ada, DEMO.ada);
  const join = ada.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
  await join.waitFor({ state: 'visible', timeout: 10_000 });
  await join.click();
  await ada.page.getByRole('button', { name: 'Join lesson', exact: true }).click();
  await waitUntil(async () => {
    const stats = await mediaStats(ada.page);
    return stats.some((x) => x.direction === 'recv' && x.publisher_id === joined.participant_id
      && x.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0));
  }, { timeoutMs: 10_000, what: "Ada to decode the teacher's video" });

  if (opts.screen) {
    const wait = SCREEN_AFTER_MS - (Date.now() - publishedAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await tp.getByRole('button', { name: 'Share screen' }).click();
    await waitUntil(async () => {
      const stats = await mediaStats(tp);
      const send = stats.find((x) => x.direction === 'send' && x.kind === 'screen');
      return send && send.outbound.some((o) => o.kind === 'video' && o.packetsSent > 0);
    }, { timeoutMs: 5_000, what: "the teacher's screen to send video" });
  }
  const left = PUBLISH_MS - (Date.now() - publishedAt);
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  await tp.getByRole('button', { name: 'End lesson', exact: true }).click();
  // The dialog's choice answers only once armed (a double click cannot end a lesson).
  const confirm = tp.getByRole('dialog').getByRole('button', { name: 'End lesson for everyone' });
  await confirm.waitFor();
  await waitUntil(() => confirm.isEnabled(), { timeoutMs: 5_000, what: 'the end dialog to arm' });
  const endedAt = Date.now();
  await confirm.click();
  for (const u of [teacher, ada]) {
    await u.page.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await u.page.locator('#view-message').getAttribute('data-code'), 'lesson_ended');
  }
  s.publishedMs = endedAt - publishedAt;
  console.log(`camera published for ${s.publishedMs} ms`);
}

/**
 * The leader signs in, waits for the recording to be complete, opens it with a reason and
 * plays it; returns the leader.
 * @param {ReturnType<typeof scenario>} s
 * @param {string | null} screenshot file name in the artifacts folder
 */
async function leaderPlays(s, screenshot) {
  const leader = await s.user('leader', { phone: true });
  await signIn(leader, LEADER);
  const { page } = leader;
  assert.equal(new URL(page.url()).hash, '#/recordings', "a leader's home is the recordings page");
  const item = page.locator('.rec-item').first();
  await waitUntil(async () => {
    await page.reload();
    await page.locator('#view-recordings').waitFor({ state: 'visible' });
    await page.locator('.rec-item, .rec-count').first().waitFor({ timeout: 5_000 });
    return (await item.count()) > 0 && (await item.locator('.rec-status').textContent()) === 'Complete';
  }, { timeoutMs: 30_000, intervalMs: 500, what: 'the recording to be complete' });
  s.recordingId = String(await item.getAttribute('data-recording-id'));
  assert.match(s.recordingId, /^rec_[0-9a-f]+$/);
  await item.getByRole('link', { name: /^Open/ }).click();
  await page.getByLabel('Reason for viewing').waitFor();
  assert.ok(await page.getByText('This view is logged').isVisible(), 'the leader is told the view is logged');

  // Without a real reason nothing opens.
  for (const said of ['  abc ', '\u200b'.repeat(6), '\u{1F600}\u{1F600}', '\u00e9\u00e9.']) {
    await page.getByLabel('Reason for viewing').fill(said);
    await page.getByRole('button', { name: 'Open recording' }).click();
    await page.locator('.rec-open-form .form-error').filter({ hasText: /letters or digits|is empty/ }).waitFor();
    await page.locator('.rec-open-form .form-error').evaluate((el) => { el.textContent = ''; });
  }
  assert.equal(await page.locator('#recordings-panel video').count(), 0, 'no player without a reason');

  await page.getByLabel('Reason for viewing').fill('Pupil disclosure reported after the lesson');
  await page.getByLabel('Concern reference (optional)').fill('CONCERN-2026-041');
  page.on('request', (req) => {
    const m = /\/streams\/(s\d+)\/segments\/(\d+)\?/.exec(req.url());
    if (m) s.segmentRequests.push(`${m[1]}/${m[2]}`);
  });
  const opening = page.waitForResponse((res) => res.request().method() === 'POST' && /\/views$/.test(new URL(res.url()).pathname));
  await page.getByRole('button', { name: 'Open recording' }).click();
  const opened = await (await opening).json();
  s.viewToken = String(opened.view);
  const s1 = opened.streams.find((/** @type {any} */ x) => x.label === 's1');
  assert.ok(s1 && s1.segments.length >= 3, `the view lists s1's segments: ${JSON.stringify(s1)}`);
  await page.locator('.rec-opened').waitFor();
  const video = page.locator('.rec-stage video.rec-video');
  await video.waitFor({ state: 'attached' });
  assert.match(String(await video.getAttribute('src')), /^blob:/, 'the player is fed through Media Source Extensions');
  await page.getByRole('button', { name: 'Play' }).click();
  const first = await video.evaluate((v) => /** @type {HTMLVideoElement} */ (v).currentTime);
  const playing = await waitUntil(async () => {
    const st = await video.evaluate((el) => {
      const v = /** @type {HTMLVideoElement} */ (el);
      return { t: v.currentTime, paused: v.paused, frames: v.getVideoPlaybackQuality().totalVideoFrames, w: v.videoWidth };
    });
    return st.t - first >= 1.5 && st.frames > 0 && !st.paused ? st : null;
  }, { timeoutMs: 15_000, intervalMs: 100, what: 'the recording to play' });
  console.log(`player: ${first.toFixed(2)} s -> ${playing.t.toFixed(2)} s, ${playing.frames} frames, ${playing.w} px wide`);
  assert.ok(playing.w > 0, 'the video has a picture');
  if ((await page.locator('#recordings-panel video').count()) > 1) await checkTogether(page);
  await checkSeek(page, s1, s.segmentRequests);
  if (screenshot) {
    await page.locator('.rec-viewing').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(ARTIFACTS, screenshot) });
  }
  return leader;
}

/**
 * With two streams (camera from the start, screen from about 3 s), the later one waits for its
 * start, then both play at the same lesson time; "Back 10 s" takes both back together; either
 * can be shown large.
 * @param {import('playwright-core').Page} page
 */
async function checkTogether(page) {
  const videos = page.locator('#recordings-panel video.rec-video');
  const read = () => videos.evaluateAll((els) => els.map((el) => {
    const v = /** @type {HTMLVideoElement} */ (el);
    const at = v.currentTime;
    return { label: String(v.dataset.label), at, paused: v.paused, frames: v.getVideoPlaybackQuality().totalVideoFrames };
  }));
  const together = await waitUntil(async () => {
    const st = await read();
    return st.length === 2 && st.every((x) => !x.paused && x.frames > 0) ? st : null;
  }, { timeoutMs: 15_000, intervalMs: 100, what: 'both streams to play' });
  await new Promise((r) => setTimeout(r, 1_000));
  const later = await read();
  const spread = Math.abs(later[0].at - later[1].at);
  console.log(`player: ${together.map((x) => x.label).join(' + ')} playing together, ${Math.round(spread * 1000)} ms apart`);
  assert.ok(later.every((x) => !x.paused), 'both still playing');
  assert.ok(spread < 0.5, `streams ${spread} s apart`);
  await page.getByRole('button', { name: 'Back 10 s' }).click();
  const screen = page.locator('.rec-tile[data-label="s2"] .rec-tile-state');
  await waitUntil(async () => /Starts at/.test(String(await screen.textContent())), { timeoutMs: 3_000, what: 'the screen to wait for its start again' });
  const back = await read();
  assert.ok(back[1].paused && !back[0].paused, 'after going back, the camera plays and the screen waits');
  assert.ok(back[0].at < 2, `the camera went back to the start (${back[0].at} s)`);
  // Either stream can be the large one.
  await page.getByRole('button', { name: /Show large/ }).click();
  assert.equal(await page.locator('.rec-stage .rec-tile').getAttribute('data-label'), 's2');
  await page.getByRole('button', { name: /Show large/ }).click();
  assert.equal(await page.locator('.rec-stage .rec-tile').getAttribute('data-label'), 's1');
  // Let both play again for the screenshot.
  await waitUntil(async () => (await read()).every((x) => !x.paused), { timeoutMs: 10_000, what: 'both to play again' });
}

/**
 * Seeks the player to a later time with its slider: the large stream (s1) lands there, the
 * segment that covers the target was fetched, and it plays on from there, decoding new frames.
 * @param {import('playwright-core').Page} page
 * @param {{start_ms: number, end_ms: number, segments: {start_ms: number, end_ms: number}[]}} s1
 * @param {string[]} requested segment requests so far (`label/n`)
 */
async function checkSeek(page, s1, requested) {
  const video = page.locator('.rec-stage video.rec-video');
  const read = () => video.evaluate((el) => {
    const v = /** @type {HTMLVideoElement} */ (el);
    return { t: v.currentTime, paused: v.paused, frames: v.getVideoPlaybackQuality().totalVideoFrames };
  });
  const before = await read();
  const target = s1.end_ms - 2_500;
  await page.locator('input.rec-seek').evaluate((el, ms) => {
    const input = /** @type {HTMLInputElement} */ (el);
    input.value = String(ms);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, target);
  const landed = await waitUntil(async () => {
    const st = await read();
    return st.t >= target / 1000 - 0.05 && st.t < target / 1000 + 1.5 && !st.paused ? st : null;
  }, { timeoutMs: 10_000, intervalMs: 50, what: `the player to land at ${target} ms` });
  const after = await waitUntil(async () => {
    const st = await read();
    return st.t >= landed.t + 0.5 && st.frames > landed.frames ? st : null;
  }, { timeoutMs: 10_000, intervalMs: 100, what: 'the player to play on after the seek' });
  const covering = s1.segments.reduce((found, seg, i) => (seg.start_ms <= target ? i : found), 0);
  console.log(`seek: ${before.t.toFixed(2)} s -> ${target} ms, landed at ${landed.t.toFixed(2)} s, playing at ${after.t.toFixed(2)} s `
    + `(${after.frames} frames); segments fetched: ${requested.join(' ')}`);
  assert.ok(requested.includes(`s1/${covering}`), `segment ${covering} (covering ${target} ms) was fetched`);
  assert.ok(requested.length <= 2 * s1.segments.length + 4, 'segments are fetched about once each');
}

/**
 * Exports the recording with the CLI and checks it with ffprobe.
 * @param {ReturnType<typeof scenario>} s
 * @param {string[]} storeArgs `--local DIR` or the S3 flags
 * @param {Record<string, string>} env
 */
async function exportAndProbe(s, storeArgs, env = {}) {
  const out = path.join(s.dataDir, `export-${s.recordingId}.webm`);
  const key = path.join(s.dataDir, 'keys', 'sch_demo.key');
  const opts = { env: { ...process.env, ...env } };
  await run(RECORDER, ['verify', s.recordingId, '--key-file', key, ...storeArgs], opts);
  await run(RECORDER, ['export', s.recordingId, '--key-file', key, ...storeArgs, '--out', out], opts);
  const p = await probe(out);
  console.log(`export: ${p.codecs.join('+')}, media span ${p.span.toFixed(3)} s (ffprobe duration ${p.duration.toFixed(3)} s, start ${p.start.toFixed(3)} s); camera published ${(s.publishedMs / 1000).toFixed(3)} s`);
  assert.deepEqual(p.codecs, ['opus', 'vp8']);
  assert.ok(Math.abs(p.span - s.publishedMs / 1000) <= 1, `export lasts ${p.span} s, the camera was published ${s.publishedMs / 1000} s`);
  return p;
}

describe('recording: a lesson recorded, reviewed by the leader and exported (local store)', () => {
  const s = scenario('local');
  before(() => s.start());
  after(() => s.stop());

  it('a teacher publishes ~8 s to a pupil and ends the lesson', async () => {
    await recordLesson(s, { screen: true });
    assert.ok(s.publishedMs >= PUBLISH_MS);
  });

  it('the leader opens it with a reason and the player plays (phone)', async () => {
    const leader = await leaderPlays(s, 'leader-phone.png');
    const { page } = leader;
    // The same player on a laptop-sized window: the large stream with the other beside it.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.locator('.rec-viewing').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(ARTIFACTS, 'leader-laptop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    // A wrong view token is refused; the leader's own works with a range request.
    const bad = await call(page, 'GET', `/api/recordings/${s.recordingId}/streams/s1/segments/0?view=nottherightone`);
    assert.deepEqual([bad.status, bad.body?.error?.code], [409, 'view_expired']);
    const part = await page.evaluate(async (u) => {
      const res = await fetch(u, { headers: { range: 'bytes=0-99' } });
      return { status: res.status, type: res.headers.get('content-type'), range: res.headers.get('content-range') };
    }, `/api/recordings/${s.recordingId}/streams/s1/segments/0?view=${s.viewToken}`);
    assert.equal(part.status, 206);
    assert.equal(part.type, 'video/webm');
    assert.match(String(part.range), /^bytes 0-99\/\d+$/);
  });

  it('the leader places a legal hold with a reason, and the list shows it', async () => {
    const leader = s.users.find((u) => u.label === 'leader');
    assert.ok(leader);
    const { page } = leader;
    await page.getByRole('button', { name: 'Place legal hold' }).click();
    await page.locator('.rec-hold-form .form-error').waitFor();
    await page.getByLabel('Reason for the hold').fill('Police request, keep until the case closes');
    await page.getByRole('button', { name: 'Place legal hold' }).click();
    await page.getByRole('button', { name: 'Lift legal hold' }).waitFor();
    assert.match(String(await page.locator('.rec-hold-box').textContent()), /Legal hold placed/);
    await page.getByRole('link', { name: 'All recordings' }).click();
    const item = page.locator(`li[data-recording-id="${s.recordingId}"]`);
    await item.waitFor();
    assert.equal(await item.locator('.rec-hold').textContent(), 'Legal hold');
    const { body } = await call(page, 'GET', '/api/recordings');
    assert.equal(body.recordings.find((/** @type {any} */ r) => r.id === s.recordingId).legal_hold, true);
  });

  it('the CLI exports VP8 and Opus lasting as long as the camera was published', async () => {
    await exportAndProbe(s, ['--local', path.join(s.dataDir, 'recordings')]);
  });

  it('a pupil and a teacher are refused the recordings, by the page and by the API', async () => {
    const ada = s.users.find((u) => u.label === 'ada');
    const teacher = s.users.find((u) => u.label === 'teacher');
    assert.ok(ada && teacher);
    await ada.page.goto(`/#/recordings/${s.recordingId}`);
    await ada.page.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await ada.page.locator('#view-message').getAttribute('data-code'), 'forbidden_role');
    assert.equal(await ada.page.locator('#recordings-panel video').count(), 0, 'no player for a pupil');
    assert.equal(await ada.page.locator('#view-recordings').isVisible(), false);
    for (const u of [ada, teacher]) {
      const list = await call(u.page, 'GET', '/api/recordings');
      assert.deepEqual([list.status, list.body?.error?.code], [403, 'forbidden_role'], `${u.label} lists nothing`);
      const media = await call(u.page, 'GET', `/api/recordings/${s.recordingId}/streams/s1/segments/0?view=${s.viewToken}`);
      assert.equal(media.status, 403, `${u.label} gets no media even with the leader's view token`);
      assert.notEqual(media.type, 'video/webm');
      const open = await call(u.page, 'POST', `/api/recordings/${s.recordingId}/views`, { reason: 'I want to see it' });
      assert.deepEqual([open.status, open.body?.error?.code], [403, 'forbidden_role'], `${u.label} cannot open it`);
    }
  });

  it('the pages ran under the strict CSP without script errors or CSP violations', () => {
    for (const u of s.users) {
      const bad = u.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
      assert.deepEqual(bad, [], `${u.label}'s console`);
    }
  });
});

describe('recording: the same with the recordings in a real Garage (S3)', () => {
  const s = scenario('garage');
  const garageDir = mkdtempSync(path.join(os.tmpdir(), 'livegate-garage-'));
  /** @type {Record<string, string>} */
  let s3 = {};
  before(async () => {
    await run('bash', [path.join(REPO_ROOT, 'infra', 'garage.sh'), 'start', garageDir], { timeout: 900_000 });
    for (const line of readFileSync(path.join(garageDir, 'env'), 'utf8').split('\n')) {
      const m = /^(LIVEGATE_S3_[A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) s3[m[1]] = m[2];
    }
    assert.ok(s3.LIVEGATE_S3_ENDPOINT && s3.LIVEGATE_S3_BUCKET && s3.LIVEGATE_S3_ACCESS_KEY && s3.LIVEGATE_S3_SECRET_KEY);
    await s.start({ env: s3 });
  });
  after(async () => {
    await s.stop();
    await run('bash', [path.join(REPO_ROOT, 'infra', 'garage.sh'), 'stop', garageDir]).catch(() => {});
    rmSync(garageDir, { recursive: true, force: true });
  });

  it('a lesson is recorded into Garage, the leader plays it, and the CLI exports it from S3', async () => {
    await recordLesson(s);
    await leaderPlays(s, 'leader-phone-garage.png');
    const flags = ['--s3-endpoint', s3.LIVEGATE_S3_ENDPOINT, '--s3-bucket', s3.LIVEGATE_S3_BUCKET, '--s3-region', s3.LIVEGATE_S3_REGION || 'garage'];
    await exportAndProbe(s, flags, { LIVEGATE_S3_ACCESS_KEY: s3.LIVEGATE_S3_ACCESS_KEY, LIVEGATE_S3_SECRET_KEY: s3.LIVEGATE_S3_SECRET_KEY });
    // The objects are in Garage, not in the local folder.
    const local = await run(RECORDER, ['verify', s.recordingId, '--key-file', path.join(s.dataDir, 'keys', 'sch_demo.key'),
      '--local', path.join(s.dataDir, 'recordings')]).then(() => 'found', () => 'absent');
    assert.equal(local, 'absent');
  });
});

describe('recording: when it cannot start, pupils are refused and the teacher is told', () => {
  const s = scenario('unavailable');
  before(async () => {
    s.dataDir = mkdtempSync(path.join(os.tmpdir(), 'livegate-rec-unavailable-'));
    // A file where the spool folder should be: the recording service cannot start.
    writeFileSync(path.join(s.dataDir, 'spool'), 'not a folder');
    ensureArtifacts();
    s.server = await startServer({ dataDir: s.dataDir });
    s.browser = await launchBrowser();
  });
  after(() => s.stop());

  it('the teacher sees "Not recording" and why; a pupil is refused with recording_unavailable', async () => {
    const teacher = await s.user('teacher');
    await signIn(teacher, DEMO.teacher);
    const tp = teacher.page;
    await tp.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).click();
    await tp.locator('#view-notice').waitFor({ state: 'visible' });
    assert.match(String(await tp.locator('#notice-recording-off').textContent()), /pupils cannot join/);
    await tp.getByRole('button', { name: 'Start teaching' }).click();
    await waitUntil(async () => (await debugState(tp)).state === 'joined', { timeoutMs: 10_000, what: 'the teacher to join' });
    assert.equal(await tp.locator('#rec-badge-text').textContent(), 'Not recording');
    assert.match(String(await tp.locator('#lesson-status').textContent()), /pupils cannot join/);

    // Ada's home page says so before she tries (no Join button), and the lesson's link refuses her.
    const ada = await s.user('ada', { phone: true });
    await signIn(ada, DEMO.ada);
    const card = ada.page.locator('li[data-class-id="7a"]');
    const why = card.locator('.card-refusal');
    await why.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await why.getAttribute('data-reason'), 'recording_unavailable');
    assert.equal(await card.getByRole('button', { name: /Join lesson/ }).count(), 0, 'no Join button');
    const lessonId = /#\/lessons\/([^/?]+)/.exec(tp.url())?.[1];
    assert.ok(lessonId, `the teacher's page names the lesson: ${tp.url()}`);
    await ada.page.goto(`/#/lessons/${lessonId}`);
    await ada.page.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await ada.page.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await ada.page.locator('#view-message').getAttribute('data-code'), 'recording_unavailable');
    assert.deepEqual(await mediaStats(ada.page), [], 'the pupil holds no peer connection');
  });
});
