// Mixed lessons across two browser engines (issue 14): Debian's Firefox ESR through
// puppeteer-core over WebDriver BiDi (lib/firefox.js) beside Debian's Chromium through
// playwright-core. A Firefox teacher teaches Chromium pupils, and a Chromium teacher teaches
// Firefox pupils: each pupil decodes the teacher's video and receives her sound (counters still
// rising, not one lucky packet), a pupil granted the microphone is heard by the teacher, and
// the teacher's shared screen reaches every pupil. The server advertises the machine's
// non-loopback address, since Firefox never pairs with a loopback candidate. Nothing skips:
// without Firefox or Xvfb these tests fail (`infra/setup.sh test` installs both).
//
// The lesson is recorded like any other: once the teacher ends it, the recorder's export of it
// holds VP8 and Opus (Firefox sends them on payload types 120 and 109, Chromium on 96 and 111).
//
// Each run also keeps every SDP the browsers sent in `artifacts/sdp/` (the source of the golden
// offers in server/golden/sdp/, see its README).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS, DEMO, ensureArtifacts, launchBrowser, newUser, REPO_ROOT, signIn, startServer, waitUntil,
} from '../lib/harness.js';
import {
  chromiumUser,
  clickWhenVisible,
  enterLesson,
  launchFirefox,
  lessonState,
  newFirefoxUser,
  nonLoopbackIPv4,
  saveSdps,
  signInAs,
  startDisplay,
  streamCounters,
  waitForRisingMedia,
  waitVisible,
} from '../lib/firefox.js';

/** @typedef {import('../lib/firefox.js').AnyUser} AnyUser */

const run = promisify(execFile);
const RECORDER = process.env.LIVEGATE_RECORDER_BIN || path.join(REPO_ROOT, 'target', 'debug', 'livegate-recorder');

/**
 * Everything one mixed lesson needs: a server on the non-loopback address, Chromium, and
 * Firefox on its own X display. `users` collects everyone for the logs.
 */
function mixedSession() {
  const s = {
    /** @type {Awaited<ReturnType<typeof startServer>> | undefined} */ server: undefined,
    /** @type {import('playwright-core').Browser | undefined} */ chromium: undefined,
    /** @type {import('puppeteer-core').Browser | undefined} */ firefox: undefined,
    /** @type {Awaited<ReturnType<typeof startDisplay>> | undefined} */ display: undefined,
    /** @type {AnyUser[]} */ users: [],
    dataDir: '',
    async open() {
      ensureArtifacts();
      s.dataDir = mkdtempSync(path.join(os.tmpdir(), 'livegate-mixed-'));
      s.display = await startDisplay();
      s.server = await startServer({ advertiseIp: nonLoopbackIPv4(), dataDir: s.dataDir });
      s.chromium = await launchBrowser();
      s.firefox = await launchFirefox(s.display.display);
    },
    /** @param {string} label @param {'chromium' | 'firefox'} engine @param {{phone?: boolean}} [opts] */
    async user(label, engine, opts = {}) {
      const url = /** @type {NonNullable<typeof s.server>} */ (s.server).url;
      const u = engine === 'firefox'
        ? await newFirefoxUser(/** @type {import('puppeteer-core').Browser} */ (s.firefox), url, label, opts)
        : await chromiumUser(await newUser(/** @type {import('playwright-core').Browser} */ (s.chromium), url, label, opts), url);
      s.users.push(u);
      return u;
    },
    async close() {
      for (const u of s.users) writeFileSync(path.join(ARTIFACTS, `console-${u.label}.log`), u.console.join('\n'));
      if (s.server) writeFileSync(path.join(ARTIFACTS, 'server-mixed.log'), s.server.log.join(''));
      for (const u of s.users) await u.context.close().catch(() => {});
      await s.chromium?.close().catch(() => {});
      await s.firefox?.close().catch(() => {});
      await s.server?.stop();
      await s.display?.stop();
      if (s.dataDir) rmSync(s.dataDir, { recursive: true, force: true });
    },
  };
  return s;
}

/**
 * The teacher's camera and microphone leave her browser.
 * @param {AnyUser} teacher
 */
async function teacherPublishes(teacher) {
  await signInAs(teacher, DEMO.teacher);
  const state = await enterLesson(teacher);
  assert.equal(state.role, 'teacher');
  const sent = await waitUntilSending(teacher, 'camera');
  assert.equal(sent.state, 'connected');
  const status = await teacher.page.evaluate(() => document.querySelector('#lesson-status')?.textContent || '');
  assert.doesNotMatch(status, /not accepted/i, `the teacher's camera was accepted (status: ${status})`);
  return state.participant_id;
}

/**
 * @param {AnyUser} user
 * @param {'camera' | 'microphone' | 'screen'} kind
 */
async function waitUntilSending(user, kind) {
  return waitUntil(async () => (await streamCounters(user)).find((s) => s.direction === 'send' && s.kind === kind
    && (kind === 'microphone' || s.videoSent > 0) && (kind === 'screen' || s.audioSent > 0)),
  { timeoutMs: 15_000, intervalMs: 100, what: `${user.label}'s ${kind} to send` });
}

/**
 * Pupils join and decode the teacher's video and hear her, counters rising.
 * @param {AnyUser[]} pupils
 * @param {string} teacherId
 */
async function pupilsReceive(pupils, teacherId) {
  for (const p of pupils) {
    await signInAs(p, DEMO[/** @type {'ada' | 'ben'} */ (p.label.split('-')[1])]);
    const state = await enterLesson(p);
    assert.equal(state.role, 'pupil');
    assert.deepEqual(state.grants, [], `${p.label} starts with no grants`);
  }
  for (const p of pupils) {
    const { later } = await waitForRisingMedia(p, (s) => s.publisher_id === teacherId && s.kind === 'camera',
      { video: true, audio: true, what: "the teacher's camera and voice" });
    assert.equal(later.state, 'connected');
    const sends = (await streamCounters(p)).filter((s) => s.direction === 'send');
    assert.equal(sends.length, 0, `${p.label} publishes nothing by default`);
    const playing = await p.page.evaluate(() => {
      const v = document.querySelector('#p-stage video');
      return v instanceof HTMLVideoElement && !v.paused && !v.muted && v.videoWidth > 0;
    });
    assert.ok(playing, `${p.label}'s stage video plays with sound`);
  }
}

/**
 * The teacher grants a pupil the microphone; the pupil turns it on and the teacher hears it.
 * @param {AnyUser} teacher
 * @param {AnyUser} pupil
 */
async function grantedMicIsHeard(teacher, pupil) {
  const pupilId = (await lessonState(pupil)).participant_id;
  await clickWhenVisible(teacher, `#t-people li[data-participant-id="${pupilId}"] button[data-action="microphone"]`);
  await clickWhenVisible(pupil, '#p-mic:not([disabled])');
  await waitUntilSending(pupil, 'microphone');
  const { later } = await waitForRisingMedia(teacher, (s) => s.publisher_id === pupilId && s.kind === 'microphone',
    { video: false, audio: true, what: `${pupil.label}'s microphone` });
  assert.ok(later.audioEnergy > 0, `the teacher hears sound from ${pupil.label}, not silence`);
  const playing = await teacher.page.evaluate((id) => {
    const el = document.querySelector(`#t-remote [data-publisher-id="${id}"] audio`);
    return el instanceof HTMLAudioElement && !el.paused && !el.muted;
  }, pupilId);
  assert.ok(playing, `${pupil.label}'s audio element plays on the teacher's page`);
}

/**
 * The teacher shares the screen; every pupil decodes it on the stage.
 * @param {AnyUser} teacher
 * @param {AnyUser[]} pupils
 * @param {string} teacherId
 */
async function sharedScreenReachesPupils(teacher, pupils, teacherId) {
  await clickWhenVisible(teacher, '#t-screen');
  await waitUntilSending(teacher, 'screen');
  for (const p of pupils) {
    await waitForRisingMedia(p, (s) => s.publisher_id === teacherId && s.kind === 'screen',
      { video: true, audio: false, what: "the teacher's screen" });
    await waitVisible(p, '#p-stage figure[data-kind="screen"]');
  }
}

/**
 * The teacher ends the lesson; a safeguarding leader (Chromium) waits for its recording to be
 * complete; the recorder CLI exports it and ffprobe lists its codecs.
 * @param {ReturnType<typeof mixedSession>} s
 * @param {AnyUser} teacher
 */
async function recordedCodecs(s, teacher) {
  await clickWhenVisible(teacher, '#t-end');
  // The dialog's choice answers only once armed (a double click cannot end a lesson).
  const confirm = 'dialog.choice-dialog button[data-value="end"]';
  await waitUntil(() => teacher.page.evaluate((/** @type {string} */ sel) => {
    const b = document.querySelector(sel);
    return b instanceof HTMLButtonElement && !b.disabled;
  }, confirm), { timeoutMs: 5_000, what: 'the end dialog to arm' });
  await clickWhenVisible(teacher, confirm);
  await waitVisible(teacher, '#view-message');
  const leader = await s.user('mixed-leader', 'chromium');
  await signIn(/** @type {any} */ (leader), { email: 'dsl@demo.sch.uk', password: 'demo-leader' });
  const id = await waitUntil(() => leader.page.evaluate(async () => {
    const list = await (await fetch('/api/recordings')).json();
    const done = list.recordings.find((/** @type {any} */ r) => r.status === 'complete');
    return done ? String(done.id) : null;
  }), { timeoutMs: 30_000, intervalMs: 500, what: 'the recording to be complete' });
  const out = path.join(s.dataDir, 'export.webm');
  const store = ['--key-file', path.join(s.dataDir, 'keys', 'sch_demo.key'), '--local', path.join(s.dataDir, 'recordings')];
  await run(RECORDER, ['verify', id, ...store]);
  await run(RECORDER, ['export', id, ...store, '--out', out]);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', out]);
  return [...new Set(JSON.parse(stdout).streams.map((/** @type {any} */ x) => String(x.codec_name)))].sort();
}

/** @param {{dir: string, type: string, kind?: string, sdp: string}[]} sdps */
function published(sdps) {
  /** @param {string} kind */
  const offer = (kind) => sdps.find((x) => x.dir === 'out' && x.type === 'publish' && x.kind === kind)?.sdp;
  return {
    camera: offer('camera'),
    screen: offer('screen'),
    microphone: offer('microphone'),
    answer: sdps.find((x) => x.dir === 'out' && x.type === 'answer')?.sdp,
  };
}

for (const [teacherEngine, pupilEngine] of /** @type {const} */ ([['firefox', 'chromium'], ['chromium', 'firefox']])) {
  describe(`a ${teacherEngine} teacher teaches ${pupilEngine} pupils`, () => {
    const s = mixedSession();
    /** @type {AnyUser} */
    let teacher;
    /** @type {AnyUser[]} */
    let pupils = [];
    let teacherId = '';

    before(() => s.open());
    after(() => s.close());

    it(`the ${teacherEngine} teacher publishes camera and microphone`, async () => {
      teacher = await s.user(`${teacherEngine}-teacher`, teacherEngine);
      teacherId = await teacherPublishes(teacher);
    });

    it(`${pupilEngine} pupils (one on a phone) decode her video and hear her`, async () => {
      assert.ok(teacherId, 'needs the teacher from the previous test');
      pupils = [
        await s.user(`${pupilEngine}-ada`, pupilEngine, { phone: true }),
        await s.user(`${pupilEngine}-ben`, pupilEngine),
      ];
      await pupilsReceive(pupils, teacherId);
      const phone = pupils[0];
      await phone.page.screenshot({ path: path.join(ARTIFACTS, `${pupilEngine}-pupil-phone-of-${teacherEngine}-teacher.png`) });
      const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling on ${pupilEngine} on a phone (overflow ${overflow}px)`);
    });

    it(`a ${pupilEngine} pupil granted the microphone is heard by the ${teacherEngine} teacher`, async () => {
      assert.ok(pupils.length, 'needs the pupils from the previous test');
      await grantedMicIsHeard(teacher, pupils[0]);
      const ben = (await streamCounters(pupils[1])).filter((x) => x.direction === 'send');
      assert.equal(ben.length, 0, 'the pupil without a grant still sends nothing');
    });

    it(`the ${teacherEngine} teacher's shared screen reaches every ${pupilEngine} pupil`, async () => {
      assert.ok(pupils.length, 'needs the pupils from the previous test');
      await sharedScreenReachesPupils(teacher, pupils, teacherId);
      await teacher.page.screenshot({ path: path.join(ARTIFACTS, `${teacherEngine}-teacher-laptop-sharing.png`) });
      await pupils[0].page.screenshot({ path: path.join(ARTIFACTS, `${pupilEngine}-pupil-phone-screen.png`) });
    });

    it(`a ${pupilEngine} pupil's raised hand shows to the teacher; after a dropped socket the pupil rejoins and decodes again`, async () => {
      assert.ok(pupils.length, 'needs the pupils from the previous tests');
      const ben = pupils[1];
      const benId = (await lessonState(ben)).participant_id;
      await clickWhenVisible(ben, '#p-hand');
      await waitVisible(teacher, `#t-people li[data-participant-id="${benId}"] .badge-hand`);
      await clickWhenVisible(ben, '#p-hand');
      const before = (await streamCounters(ben)).map((x) => x.stream_id);
      await ben.page.evaluate(() => /** @type {any} */ (window).testCutSocket());
      await waitUntil(async () => (await lessonState(ben)).state !== 'joined',
        { timeoutMs: 5_000, intervalMs: 20, what: `${ben.label} to notice the lost socket` });
      const { later } = await waitForRisingMedia(ben, (x) => x.publisher_id === teacherId && x.kind === 'camera'
        && !before.includes(x.stream_id), { video: true, audio: true, what: "the teacher's camera after rejoining" });
      assert.equal(later.state, 'connected');
      assert.equal((await lessonState(ben)).state, 'joined');
    });

    it(`the ${teacherEngine} teacher's lesson is recorded: VP8 and Opus`, async () => {
      assert.ok(pupils.length, 'needs the lesson from the previous tests');
      assert.deepEqual(await recordedCodecs(s, teacher), ['opus', 'vp8']);
    });

    it('keeps the SDP each engine sent (artifacts/sdp)', async () => {
      await saveSdps(teacher, (sdps) => {
        const { camera, screen } = published(sdps);
        assert.ok(camera && screen, `${teacherEngine} sent a camera and a screen offer`);
        return { camera, screen };
      });
      await saveSdps(pupils[0], (sdps) => {
        const { microphone, answer } = published(sdps);
        assert.ok(microphone && answer, `${pupilEngine} sent a microphone offer and a receive answer`);
        return { microphone, answer };
      });
    });
  });
}
