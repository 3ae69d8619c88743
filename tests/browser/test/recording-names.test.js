// Recordings that say who is who (issue 13), end to end in real browsers: a superuser gives Ada
// the privacy alias "Starling"; the teacher starts 7A with her camera, turns it off and on again,
// and notes a safeguarding concern; Ada is allowed her microphone, speaks, leaves, rejoins and
// speaks again. The safeguarding leader's recordings home lists the concern with a link to its
// moment; following it and giving a reason opens the player there, which shows one named tile
// per person and kind ("Ms Rivera, camera…", "Starling, microphone"), never "Stream sN", each
// with the gap the toggle or the rejoin left, and whose large view is the teacher's camera.
// Screenshots at phone (390x844) and laptop (1280x800) sizes. The API's view says the same, and
// the leader's download and the CLI's export name their files so.
// Run with `node --test test/recording-names.test.js` in tests/browser (needs target/debug/livegate
// and livegate-recorder).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };
const RECORDER = process.env.LIVEGATE_RECORDER_BIN || path.join(REPO_ROOT, 'target', 'debug', 'livegate-recorder');
const ALIAS = 'Starling';

/** @param {number} ms */
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a page sends media of `kind` (a stream it publishes).
 * @param {import('playwright-core').Page} page
 * @param {string} kind camera, microphone or screen
 * @param {string} what
 */
async function sending(page, kind, what) {
  await waitUntil(async () => {
    const stats = await mediaStats(page);
    return stats.some((x) => x.direction === 'send' && x.kind === kind && x.outbound.some((o) => o.packetsSent > 0));
  }, { timeoutMs: 10_000, intervalMs: 50, what });
}

describe('recordings that say who is who: names, one timeline per person and kind, concerns', () => {
  let dataDir = '';
  /** @type {Awaited<ReturnType<typeof startServer>> | null} */
  let server = null;
  /** @type {import('playwright-core').Browser | null} */
  let browser = null;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  let lessonId = '';
  let recordingId = '';
  /** @type {any} */
  let opened = null;

  /** @param {string} label @param {{phone?: boolean}} [opts] */
  async function user(label, opts) {
    assert.ok(browser && server);
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    return u;
  }

  before(async () => {
    ensureArtifacts();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'livegate-rec-names-'));
    server = await startServer({ dataDir });
    browser = await launchBrowser();
  });

  after(async () => {
    for (const u of users) {
      writeFileSync(path.join(ARTIFACTS, `console-names-${u.label}.log`), u.console.join('\n'));
      await u.context.close().catch(() => {});
    }
    if (browser) await browser.close().catch(() => {});
    if (server) {
      await server.stop();
      writeFileSync(path.join(ARTIFACTS, 'server-names.log'), server.log.join(''));
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a lesson with a camera turned off and on, a pupil who rejoins and a concern is recorded', async () => {
    const admin = await user('admin');
    await admin.page.goto('/');
    assert.equal((await callApi(admin.page, 'POST', '/api/session', ADMIN)).status, 200);
    const { body } = await callApi(admin.page, 'GET', '/api/admin/users');
    const adaId = body.users.find((/** @type {any} */ x) => x.email === DEMO.ada.email).id;
    const profile = { camera_always_off: false, alias: ALIAS, hidden_from_pupils: false };
    assert.equal((await callApi(admin.page, 'PUT', `/api/admin/pupils/${adaId}/privacy`, profile)).status, 200);

    const teacher = await user('teacher');
    const ada = await user('ada', { phone: true });
    await signIn(teacher, DEMO.teacher);
    const tp = teacher.page;
    await tp.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).click();
    await tp.getByRole('button', { name: 'Start teaching' }).click();
    const joined = await waitUntil(async () => {
      const st = await debugState(tp);
      return st.state === 'joined' ? st : null;
    }, { timeoutMs: 10_000, what: 'the teacher to join' });
    lessonId = joined.lesson_id;
    await sending(tp, 'camera', "the teacher's camera to send");

    // Ada joins, is allowed her microphone and speaks.
    const adaJoins = async (/** @type {boolean} */ first) => {
      if (first) {
        await signIn(ada, DEMO.ada);
      } else {
        await ada.page.goto('/');
        await ada.page.locator('#view-home:not([hidden])').waitFor({ state: 'visible', timeout: 10_000 });
      }
      const join = ada.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
      await join.waitFor({ state: 'visible', timeout: 10_000 });
      await join.click();
      await ada.page.getByRole('button', { name: 'Join lesson', exact: true }).click();
      await waitUntil(async () => (await debugState(ada.page)).state === 'joined', { timeoutMs: 10_000, what: 'Ada to join' });
      await tp.getByRole('button', { name: 'Allow mic for Ada' }).click();
      await ada.page.locator('#p-mic:not([disabled])').waitFor({ timeout: 5_000 });
      await ada.page.getByRole('button', { name: 'Turn mic on' }).click();
      await sending(ada.page, 'microphone', "Ada's microphone to send");
    };
    await adaJoins(true);
    await pause(3_000);

    // The teacher's camera off for about 3 s, then on again.
    await tp.getByRole('button', { name: 'Turn camera off' }).click();
    await pause(3_000);
    await tp.getByRole('button', { name: 'Turn camera on' }).click();
    await sending(tp, 'camera', "the teacher's camera to send again");

    // A concern noted in the lesson's log, now.
    const note = await callApi(tp, 'POST', `/api/log/lessons/${lessonId}/notes`,
      { category: 'concern', text: 'Ada seemed upset when asked about home' });
    assert.equal(note.status, 201, JSON.stringify(note));

    // Ada leaves (her tab closes) and comes back: a new participant, the same person.
    await ada.page.goto('about:blank');
    await pause(2_000);
    await adaJoins(false);
    await pause(4_000);

    await tp.getByRole('button', { name: 'End lesson', exact: true }).click();
    // The dialog's choice answers only once armed (a double click cannot end a lesson).
    const confirm = tp.getByRole('dialog').getByRole('button', { name: 'End lesson for everyone' });
    await confirm.waitFor();
    await waitUntil(() => confirm.isEnabled(), { timeoutMs: 5_000, what: 'the end dialog to arm' });
    await confirm.click();
    await tp.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
  });

  it("the leader's home lists the concern, linked to its recording at its moment", async () => {
    const leader = await user('leader', { phone: true });
    await signIn(leader, LEADER);
    const { page } = leader;
    const item = page.locator('.rec-item').first();
    await waitUntil(async () => {
      await page.reload();
      await page.locator('.rec-item, .rec-count').first().waitFor({ timeout: 5_000 });
      return (await item.count()) > 0 && (await item.locator('.rec-status').textContent()) === 'Complete';
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'the recording to be complete' });
    recordingId = String(await item.getAttribute('data-recording-id'));
    const concern = page.locator('.rec-concern').first();
    await concern.waitFor();
    assert.match(String(await concern.textContent()), /Ada seemed upset when asked about home/);
    assert.equal(await concern.getAttribute('data-recording-id'), recordingId);
    const link = concern.getByRole('link', { name: /Watch the moment/ });
    const href = String(await link.getAttribute('href'));
    const m = new RegExp(`^#/recordings/${recordingId}/at/(\\d+)$`).exec(href);
    assert.ok(m, `the concern links to its recording's moment: ${href}`);
    const moment = Number(m[1]);
    // Noted after about 9 s of the lesson (3 s of Ada, 3 s with the camera off, its return).
    assert.ok(moment >= 6_000 && moment <= 60_000, `the concern's moment ${moment} ms`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'names-leader-home-phone.png'), fullPage: true });
    await link.click();
    await page.locator('.rec-moment').waitFor();
    assert.match(String(await page.locator('.rec-moment').textContent()), /A concern was noted/);
  });

  it("the leader's player names one track per person and kind, each with its gap", async () => {
    const leader = users.find((u) => u.label === 'leader');
    assert.ok(leader);
    const { page } = leader;
    await page.getByLabel('Reason for viewing').fill('Following up the concern noted in the lesson');
    const opening = page.waitForResponse((res) => res.request().method() === 'POST' && /\/views$/.test(new URL(res.url()).pathname));
    await page.getByRole('button', { name: 'Open recording' }).click();
    opened = await (await opening).json();
    const titles = opened.streams.map((/** @type {any} */ s) => s.title);
    console.log(`timelines: ${opened.streams.map((/** @type {any} */ s) => `${s.label} "${s.title}" parts ${JSON.stringify(s.parts)}`).join('; ')}`);
    assert.equal(new Set(titles).size, titles.length, `one timeline per person and kind: ${titles}`);
    assert.ok(titles.every((/** @type {string} */ t) => !/^Stream s/.test(t)), `every timeline is named: ${titles}`);
    const camera = opened.streams.find((/** @type {any} */ s) => s.role === 'teacher' && s.kind === 'camera');
    assert.ok(camera, 'the teacher\'s camera');
    assert.match(camera.title, /^Ms Rivera, camera/);
    assert.equal(camera.parts.length, 2, "the camera turned off and on is one timeline of two parts");
    assert.ok(camera.parts[1].start_ms - camera.parts[0].end_ms >= 1_500, `a gap while it was off: ${JSON.stringify(camera.parts)}`);
    const mic = opened.streams.find((/** @type {any} */ s) => s.role === 'pupil' && s.kind === 'microphone');
    assert.ok(mic, "Ada's microphone");
    assert.equal(mic.title, `${ALIAS}, microphone`, 'named by her alias');
    assert.equal(mic.alias, true);
    assert.equal(mic.parts.length, 2, 'the rejoin continues her timeline');
    assert.ok(!JSON.stringify(opened).includes('"Ada'), 'her real name is not in the view');
    assert.equal(opened.streams[0], camera, "the teacher's camera first");

    // The page: one tile per timeline, named, the teacher's camera large.
    await page.locator('.rec-opened').waitFor();
    const tiles = page.locator('#recordings-panel .rec-tile');
    assert.equal(await tiles.count(), opened.streams.length);
    const names = await page.locator('#recordings-panel .rec-tile-name').allTextContents();
    assert.deepEqual([...names].sort(), [...titles].sort());
    assert.equal(await page.locator('.rec-stage .rec-tile-name').textContent(), camera.title, 'the large view is the teacher\'s camera');
    // The player starts shortly before the concern's moment (or at the recording's first media,
    // the seek bar's minimum, when that is later), and may have played on a little since.
    const seek = page.locator('input.rec-seek');
    const [at, first] = [Number(await seek.inputValue()), Number(await seek.getAttribute('min'))];
    const moment = Number(/\/at\/(\d+)$/.exec(page.url())?.[1]);
    const start = Math.max(first, moment - 30_000);
    assert.ok(at >= start - 1_000 && at <= start + 5_000, `the player is at ${at} ms (first media ${first}) for a concern at ${moment} ms`);

    // Play through the camera's gap: the tile says it was off, then plays again.
    const gapAt = camera.parts[0].end_ms + 300;
    await page.locator('input.rec-seek').evaluate((el, ms) => {
      const input = /** @type {HTMLInputElement} */ (el);
      input.value = String(ms);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }, gapAt - 1_500);
    await page.getByRole('button', { name: 'Play' }).click();
    const stage = page.locator('.rec-stage .rec-tile');
    await waitUntil(async () => /Camera off, back at/.test(String(await stage.locator('.rec-tile-state').textContent())),
      { timeoutMs: 15_000, intervalMs: 100, what: 'the camera tile to say it is off' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'names-player-gap-phone.png') });
    const resumed = await waitUntil(async () => {
      const st = await stage.locator('video').evaluate((el) => {
        const v = /** @type {HTMLVideoElement} */ (el);
        return { t: v.currentTime, paused: v.paused, frames: v.getVideoPlaybackQuality().totalVideoFrames };
      });
      return st.t * 1000 >= camera.parts[1].start_ms + 500 && !st.paused ? st : null;
    }, { timeoutMs: 20_000, intervalMs: 100, what: 'the camera to play on after its gap' });
    console.log(`camera: played through its gap to ${resumed.t.toFixed(2)} s (${resumed.frames} frames)`);
    assert.equal(await stage.locator('.rec-tile-state').textContent(), '', 'no longer off');
    await page.locator('.rec-viewing').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(ARTIFACTS, 'names-player-phone.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.locator('.rec-viewing').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(ARTIFACTS, 'names-player-laptop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Pause' }).click();
  });

  it("the leader's download of a timeline is one file named as the player names it", async () => {
    const leader = users.find((u) => u.label === 'leader');
    assert.ok(leader);
    const link = leader.page.locator('.rec-stage .rec-download');
    const href = String(await link.getAttribute('href'));
    const got = await leader.page.evaluate(async (u) => {
      const res = await fetch(u);
      const body = await res.arrayBuffer();
      return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), size: body.byteLength };
    }, href);
    const camera = opened.streams[0];
    assert.equal(got.status, 200);
    assert.equal(got.type, 'video/webm');
    assert.ok(String(got.disposition).endsWith(`filename*=UTF-8''${encodeURIComponent(`${camera.title}.webm`).replace(/,/g, '%2C')}`), String(got.disposition));
    assert.ok(got.size > 10_000, `a whole timeline (${got.size} bytes)`);
  });

  it('the CLI export names its files as the player names the timelines', async () => {
    const out = path.join(dataDir, 'export');
    const key = path.join(dataDir, 'keys', 'sch_demo.key');
    const store = ['--local', path.join(dataDir, 'recordings')];
    await run(RECORDER, ['export', recordingId, '--key-file', key, ...store, '--out-dir', out]);
    const files = readdirSync(out).sort();
    const want = opened.streams.map((/** @type {any} */ s) => `${s.title}.webm`).sort();
    assert.deepEqual(files, want);
  });

  it('the pages ran under the strict CSP without script errors or CSP violations', () => {
    for (const u of users) {
      const bad = u.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
      assert.deepEqual(bad, [], `${u.label}'s console`);
    }
  });
});
