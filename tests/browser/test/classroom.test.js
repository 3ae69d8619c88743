// The classroom as a teacher on a laptop and pupils on phones live it (issue 13, parts 2 to 4),
// in real browsers (Debian's Chromium via playwright-core) against the livegate binary in demo
// mode: a lesson is left behind by nobody who backs out of the notice; a pupil who arrives
// first waits and is moved in by the server's push within 2 s of the teacher's arrival; the
// teacher talks with her camera off (a pupil's totalAudioEnergy rises while no video arrives)
// and sees her microphone's level; raised hands come first, are lowered by the teacher and by a
// grant; "Turn off" says exactly what it turned off, on both sides; sharing keeps "End lesson"
// on a laptop screen; a teacher who steps out is "away" for pupils, then "back"; a frozen
// connection is said at once; a phone on its side shows the video alone; and a double click on
// End lesson or Remove answers nothing. Screenshots of each state are in artifacts/.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS,
  closeSession,
  debugState,
  DEMO,
  mediaStats,
  newUser,
  openSession,
  signIn,
  startServer,
  waitUntil,
} from '../lib/harness.js';

/** The bound for moving a waiting pupil in. */
const MOVED_IN_MS = 2_000;

describe('the classroom: lifecycle, teacher controls and status', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @type {Record<string, import('playwright-core').Page>} */
  const page = {};
  let lessonId = '';
  let teacherId = '';

  /** @param {string} label @param {{phone?: boolean}} [opts] */
  async function user(label, opts) {
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    page[label] = u.page;
    return u;
  }

  /** @param {import('playwright-core').Page} p @param {string} name */
  const shot = (p, name) => p.screenshot({ path: path.join(ARTIFACTS, `classroom-${name}.png`) });

  /** The keys of what a page's status area says now. @param {import('playwright-core').Page} p */
  const statusKeys = (p) => p.locator('#lesson-status [data-status]').evaluateAll(
    (els) => els.map((e) => /** @type {HTMLElement} */ (e).dataset.status || ''),
  );

  /** @param {import('playwright-core').Page} p @param {string} key @param {boolean} [present] */
  const statusSays = (p, key, present = true) => waitUntil(async () => (await statusKeys(p)).includes(key) === present,
    { timeoutMs: 10_000, what: `status ${present ? '' : 'not '}to say ${key}` });

  /** The teacher goes (back) into 7A's live lesson from her home. */
  async function teacherEnters() {
    const t = page.teacher;
    if (!(await t.locator('#view-home').isVisible())) await t.goto('/#/');
    await t.locator('li[data-class-id="7a"]').getByRole('button', { name: /Rejoin lesson|Start lesson/ }).click();
    await t.getByRole('button', { name: 'Start teaching' }).click();
    const s = await waitUntil(async () => {
      const st = await debugState(t);
      return st.state === 'joined' ? st : null;
    }, { timeoutMs: 10_000, what: 'the teacher to join' });
    teacherId = s.participant_id;
    return s;
  }

  /** A pupil on her phone opens the lesson's link and agrees to the notice. */
  async function pupilJoins(label) {
    const p = page[label];
    await p.goto(`/#/lessons/${lessonId}`);
    await p.locator('#view-notice').waitFor({ state: 'visible', timeout: 10_000 });
    await p.getByRole('button', { name: 'Join lesson', exact: true }).click();
  }

  /** Received streams from the teacher, by kind. @param {import('playwright-core').Page} p */
  async function fromTeacher(p) {
    return (await mediaStats(p)).filter((s) => s.direction === 'recv' && s.publisher_id === teacherId);
  }

  /** The summed totalAudioEnergy of what a page receives. @param {import('playwright-core').Page} p */
  const audioEnergy = (p) => p.evaluate(async () => {
    let total = 0;
    for (const entry of window.livegate.peerConnections()) {
      if (entry.direction !== 'recv') continue;
      (await entry.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') total += s.totalAudioEnergy || 0;
      });
    }
    return total;
  });

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('backing out of the notice leaves no lesson behind', async () => {
    await signIn(await user('teacher'), DEMO.teacher);
    await signIn(await user('ada', { phone: true }), DEMO.ada);
    const t = page.teacher;
    await t.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).click();
    await t.locator('#view-notice').waitFor({ state: 'visible' });
    assert.ok(((await t.locator('#notice-text').textContent()) || '').trim().length > 20, 'the school\'s notice is read first');
    await shot(t, 'teacher-notice-laptop');
    await t.getByRole('button', { name: 'Back to classes' }).click();
    await t.locator('#view-home').waitFor({ state: 'visible' });
    const me = await t.evaluate(() => fetch('/api/me').then((r) => r.json()));
    const c7a = me.classes.find((/** @type {any} */ c) => c.id === '7a');
    assert.equal(c7a.live_lesson_id, null, 'no lesson was started');
    assert.equal(await t.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).count(), 1);
  });

  it('a pupil who arrives first waits, and is moved in within 2 s of the teacher\'s arrival', async () => {
    const t = page.teacher;
    const ada = page.ada;
    // The lesson exists (started through the API) but its teacher is not in it yet.
    const started = await t.evaluate(() => fetch('/api/lessons', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ class_id: '7a' }),
    }).then((r) => r.json()));
    lessonId = started.lesson.id;
    const me = await ada.evaluate(() => fetch('/api/me').then((r) => r.json()));
    assert.equal(me.classes.find((/** @type {any} */ c) => c.id === '7a').live_lesson_id, null,
      'not live for pupils before the teacher is in it');

    /** @type {number[]} */
    const tickets = [];
    ada.on('request', (req) => { if (req.url().includes('/ticket')) tickets.push(Date.now()); });
    await pupilJoins('ada');
    await ada.locator('#teacher-wait').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal((await debugState(ada)).state, 'held');
    await statusSays(ada, 'held');
    await shot(ada, 'pupil-waits-for-teacher-phone');
    await new Promise((r) => setTimeout(r, 4_000));
    assert.equal(tickets.length, 1, `the waiting page does not poll: ${tickets.length} ticket requests in 4 s`);

    const teacher = await teacherEnters();
    const joined = await waitUntil(async () => {
      const st = await debugState(ada);
      return st.state === 'joined' ? st : null;
    }, { timeoutMs: 10_000, intervalMs: 25, what: 'Ada to be moved in' });
    const lag = joined.joined_at - teacher.joined_at;
    console.log(`teacher joined -> waiting pupil joined: ${lag} ms`);
    assert.ok(lag <= MOVED_IN_MS, `moved in ${lag} ms after the teacher arrived`);
    assert.equal(await ada.locator('#teacher-wait').isVisible(), false);
    await waitUntil(async () => (await fromTeacher(ada)).some((s) => s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
      { timeoutMs: 10_000, what: 'Ada to see the teacher' });
    await shot(ada, 'pupil-moved-in-phone');
  });

  it('the teacher talks with her camera off: the pupil hears her and gets no video; the meter moves', async () => {
    const t = page.teacher;
    const ada = page.ada;
    await statusSays(t, 'live');
    await t.getByRole('button', { name: 'Turn camera off' }).click();
    await statusSays(t, 'camera-off');
    await waitUntil(async () => {
      const streams = await fromTeacher(ada);
      return streams.length === 1 && streams[0].kind === 'microphone'
        && streams[0].inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0);
    }, { timeoutMs: 10_000, what: "Ada to receive the teacher's microphone alone" });
    const sends = (await mediaStats(t)).filter((s) => s.direction === 'send');
    assert.deepEqual(sends.map((s) => s.kind), ['microphone'], 'no video is sent');
    const e0 = await audioEnergy(ada);
    const e1 = await waitUntil(async () => {
      const e = await audioEnergy(ada);
      return e > e0 ? e : null;
    }, { timeoutMs: 8_000, intervalMs: 250, what: "Ada's totalAudioEnergy to rise" });
    console.log(`camera off: Ada's totalAudioEnergy ${e0.toFixed(4)} -> ${e1.toFixed(4)}`);
    assert.ok((await fromTeacher(ada)).every((s) => s.inbound.every((i) => i.kind !== 'video')), 'Ada receives no video');
    assert.match((await ada.locator('#p-waiting').textContent()) || '', /camera is off/);
    const level = await waitUntil(async () => {
      const v = await t.locator('#t-mic-level').evaluate((m) => /** @type {HTMLMeterElement} */ (m).value);
      return v > 0.01 ? v : null;
    }, { timeoutMs: 8_000, intervalMs: 50, what: 'the microphone meter to move' });
    console.log(`microphone meter at ${level.toFixed(3)}`);
    await shot(t, 'teacher-camera-off-laptop');
    await shot(ada, 'pupil-hears-teacher-camera-off-phone');

    // Muted too: nothing is sent; then both back on, as one camera stream with sound.
    await t.getByRole('button', { name: 'Mute microphone' }).click();
    await statusSays(t, 'all-off');
    await waitUntil(async () => (await fromTeacher(ada)).length === 0, { timeoutMs: 8_000, what: 'nothing from the teacher' });
    await t.getByRole('button', { name: 'Unmute microphone' }).click();
    await t.getByRole('button', { name: 'Turn camera on' }).click();
    await statusSays(t, 'live');
    await waitUntil(async () => (await fromTeacher(ada)).some((s) => s.kind === 'camera'
      && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)
      && s.inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0)),
    { timeoutMs: 10_000, what: 'Ada to see and hear the teacher again' });
  });

  it('hands come first, the teacher lowers them, a grant clears them; "Turn off" says what it turned off', async () => {
    const t = page.teacher;
    await signIn(await user('ben', { phone: true }), DEMO.ben);
    const ben = page.ben;
    await pupilJoins('ben');
    await waitUntil(async () => (await debugState(ben)).state === 'joined', { timeoutMs: 10_000, what: 'Ben to join' });
    const firstRow = () => t.locator('#t-people li').first().getAttribute('data-name');
    await waitUntil(async () => (await t.locator('#t-people li').count()) === 2, { timeoutMs: 5_000, what: 'two rows' });
    assert.equal(await firstRow(), 'Ada', 'by name while no hand is up');
    await ben.getByRole('button', { name: 'Raise hand' }).click();
    await waitUntil(async () => (await firstRow()) === 'Ben', { timeoutMs: 5_000, what: "Ben's raised hand to come first" });
    await shot(t, 'teacher-hand-first-laptop');
    await t.getByRole('button', { name: 'Lower hand for Ben' }).click();
    await ben.getByRole('button', { name: 'Raise hand' }).waitFor({ timeout: 5_000 });
    assert.equal(await firstRow(), 'Ada', 'lowered: back in name order');

    await ben.getByRole('button', { name: 'Raise hand' }).click();
    await t.getByRole('button', { name: 'Lower hand for Ben' }).waitFor({ timeout: 5_000 });
    await t.getByRole('button', { name: 'Allow mic for Ben' }).click();
    await ben.getByRole('button', { name: 'Raise hand' }).waitFor({ timeout: 5_000 });
    await t.getByRole('button', { name: 'Allow camera for Ben' }).click();
    await ben.getByRole('button', { name: 'Turn mic on' }).click();
    await ben.getByRole('button', { name: 'Turn camera on' }).click();
    const off = t.getByRole('button', { name: 'Turn off mic and camera for Ben' });
    await off.waitFor({ timeout: 10_000 });
    await off.click();
    await statusSays(ben, 'turned-off');
    const said = await ben.locator('#lesson-status [data-status="turned-off"]').textContent();
    assert.equal(said, 'Your teacher turned your microphone and camera off.');
    await shot(ben, 'pupil-turned-off-phone');

    const heights = await t.locator('#t-people li').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    console.log(`pupil row heights on a laptop: ${heights.map((x) => Math.round(x)).join(', ')} px`);
    assert.ok(Math.max(...heights) <= 60, `compact rows (${heights}): 30 fit a laptop screen`);
  });

  it('sharing keeps End lesson on a 1366x768 laptop screen, and the status says sharing only while it is', async () => {
    const t = page.teacher;
    await t.setViewportSize({ width: 1366, height: 768 });
    await t.getByRole('button', { name: 'Share screen' }).click();
    await t.locator('#t-screen-tile').waitFor({ state: 'visible', timeout: 10_000 });
    await statusSays(t, 'sharing');
    for (const sel of ['#t-end', '#t-leave', '#t-screen', '#t-mic']) {
      const box = await t.locator(sel).boundingBox();
      assert.ok(box && box.y >= 0 && box.y + box.height <= 768, `${sel} on screen: ${JSON.stringify(box)}`);
    }
    await shot(t, 'teacher-sharing-1366x768');
    // The same console on a phone: every control still reachable, in one column.
    await t.setViewportSize({ width: 390, height: 844 });
    await shot(t, 'teacher-sharing-phone');
    await t.getByRole('button', { name: 'Stop sharing' }).click();
    await statusSays(t, 'sharing', false);
    await t.setViewportSize({ width: 1366, height: 768 });
  });

  it('a teacher who steps out is "away" for pupils, who are told when she is back', async () => {
    const t = page.teacher;
    const ada = page.ada;
    await t.getByRole('button', { name: 'Leave', exact: true }).click();
    await t.getByRole('dialog').getByRole('button', { name: 'Step out' }).click();
    await statusSays(ada, 'teacher-away');
    assert.equal((await debugState(ada)).state, 'joined', 'the pupil stays in the lesson');
    await shot(ada, 'pupil-teacher-away-phone');
    await teacherEnters();
    await statusSays(ada, 'teacher-back');
    await statusSays(ada, 'teacher-away', false);
    await shot(ada, 'pupil-teacher-back-phone');
  });

  it('a frozen connection is said at once, and cleared when media flows again', async () => {
    const ada = page.ada;
    await waitUntil(async () => (await fromTeacher(ada)).some((s) => s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
      { timeoutMs: 10_000, what: 'Ada to see the teacher' });
    process.kill(server.pid, 'SIGSTOP');
    try {
      await statusSays(ada, 'frozen');
      await shot(ada, 'pupil-frozen-phone');
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await waitUntil(async () => {
      const keys = await statusKeys(ada);
      return (await debugState(ada)).state === 'joined' && !keys.includes('frozen') && !keys.includes('reconnecting');
    }, { timeoutMs: 30_000, what: 'Ada to recover' });
    await waitUntil(async () => (await fromTeacher(ada)).some((s) => s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
      { timeoutMs: 15_000, what: 'Ada to see the teacher again' });
  });

  it('on a phone on its side the video fills the screen, with a full-screen control', async () => {
    const ada = page.ada;
    await ada.setViewportSize({ width: 844, height: 390 });
    const stage = await ada.locator('#p-stage').boundingBox();
    assert.ok(stage && stage.width >= 830 && stage.height >= 380, `the stage fills the screen: ${JSON.stringify(stage)}`);
    const full = ada.getByRole('button', { name: 'Full screen' });
    assert.ok(await full.isVisible(), 'a full-screen control');
    await shot(ada, 'pupil-landscape-phone');
    await full.click();
    await waitUntil(() => ada.evaluate(() => document.fullscreenElement?.id === 'pupil-view'),
      { timeoutMs: 5_000, what: 'full screen' });
    await ada.getByRole('button', { name: 'Exit full screen' }).click();
    await waitUntil(() => ada.evaluate(() => document.fullscreenElement === null), { timeoutMs: 5_000, what: 'back' });
    await ada.setViewportSize({ width: 390, height: 844 });
  });

  it('a double click on End lesson or Remove answers nothing; the dialog does', async () => {
    const t = page.teacher;
    await t.locator('#t-end').dblclick();
    await t.getByRole('dialog').waitFor({ state: 'visible' });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await debugState(page.ada)).state, 'joined', 'the lesson did not end');
    assert.equal((await debugState(t)).state, 'joined');
    await shot(t, 'teacher-end-dialog-laptop');
    await t.getByRole('dialog').getByRole('button', { name: 'Keep teaching' }).click();
    await t.getByRole('dialog').waitFor({ state: 'detached' });

    await t.getByRole('button', { name: 'Remove for Ben' }).dblclick();
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await debugState(page.ben)).state, 'joined', 'Ben was not removed');
    await t.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();

    await t.getByRole('button', { name: 'End lesson', exact: true }).click();
    await t.getByRole('dialog').getByRole('button', { name: 'End lesson for everyone' }).click();
    for (const label of ['teacher', 'ada', 'ben']) {
      await page[label].locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await page[label].locator('#view-message').getAttribute('data-code'), 'lesson_ended', label);
    }
  });

  it('ran without script errors', () => {
    for (const u of users) {
      const errors = u.console.filter((l) => l.startsWith('[pageerror]'));
      assert.deepEqual(errors, [], `${u.label}: ${errors.join('\n')}`);
    }
  });
});
