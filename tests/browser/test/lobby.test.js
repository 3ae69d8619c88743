// End-to-end test of the lobby, privacy profiles and live enforcement in real browsers
// (Debian's Chromium via playwright-core) against the livegate binary in demo mode. Visiting
// staff open the lesson's link, see the recording notice, wait in the lobby seeing nothing, and
// the teacher admits one (who then receives the lesson as a guest) and refuses another (who is
// told so). A superuser's privacy profiles show from both sides: a classmate sees the alias and
// not the hidden pupil, the teacher sees real names with the settings, and the pupil whose
// camera stays off cannot turn it on. A superuser withdrawing a pupil's consent takes them out
// of the lesson within 2 seconds. Run with `npm test` in tests/browser.

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

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };
const VISITOR = { email: 'visitor@partner.sch.uk', password: 'demo-teacher', name: 'Dr Chen (partner school)' };
const LEADER = { email: 'dsl@demo.sch.uk', password: 'demo-leader', name: 'Mrs Grant (DSL)' };

describe('the lobby, privacy profiles and live enforcement in real browsers', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @type {Record<string, import('../lib/harness.js').User>} */
  const by = {};
  let lessonId = '';

  /** @param {string} label @param {{phone?: boolean}} [opts] */
  async function user(label, opts) {
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    by[label] = u;
    return u;
  }

  /**
   * Calls the JSON API from a page, with that page's session cookie.
   * @param {import('playwright-core').Page} page
   * @param {string} method
   * @param {string} url
   * @param {unknown} [body]
   */
  function call(page, method, url, body) {
    return page.evaluate(async ([m, u, b]) => {
      /** @type {RequestInit} */
      const init = { method: String(m), headers: { 'content-type': 'application/json' } };
      if (b !== undefined) init.body = JSON.stringify(b);
      const res = await fetch(String(u), init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    }, [method, url, body]);
  }

  /**
   * The admin's user id for an email.
   * @param {string} email
   */
  async function userId(email) {
    const { body } = await call(by.admin.page, 'GET', '/api/admin/users');
    const u = body.users.find((/** @type {any} */ x) => x.email === email);
    assert.ok(u, `no user ${email}`);
    return u.id;
  }

  /**
   * Opens the lesson's link, reads the notice and presses its button.
   * @param {import('../lib/harness.js').User} u
   * @param {string} buttonName
   */
  async function openAndJoin(u, buttonName) {
    await u.page.goto(`/#/lessons/${lessonId}`);
    await u.page.locator('#view-notice').waitFor({ state: 'visible', timeout: 10_000 });
    assert.ok(((await u.page.locator('#notice-text').textContent()) || '').trim().length > 0, 'the recording notice is shown');
    await u.page.getByRole('button', { name: buttonName, exact: true }).click();
  }

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('a superuser sets two privacy profiles, and the teacher starts 7A', async () => {
    const admin = await user('admin');
    await admin.page.goto('/');
    const signedIn = await call(admin.page, 'POST', '/api/session', ADMIN);
    assert.equal(signedIn.status, 200);
    const star = { camera_always_off: true, alias: 'Star', hidden_from_pupils: false };
    assert.equal((await call(admin.page, 'PUT', `/api/admin/pupils/${await userId(DEMO.ada.email)}/privacy`, star)).status, 200);
    const hidden = { camera_always_off: false, alias: null, hidden_from_pupils: true };
    assert.equal((await call(admin.page, 'PUT', `/api/admin/pupils/${await userId(DEMO.cara.email)}/privacy`, hidden)).status, 200);

    const teacher = await user('teacher');
    await signIn(teacher, DEMO.teacher);
    await teacher.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).click();
    await teacher.page.getByRole('button', { name: 'Start teaching' }).click();
    const s = await waitUntil(async () => {
      const st = await debugState(teacher.page);
      return st.state === 'joined' ? st : null;
    }, { timeoutMs: 10_000, what: 'the teacher to join' });
    assert.equal(s.role, 'teacher');
    lessonId = s.lesson_id;
    const link = (await teacher.page.locator('#t-lobby-link').textContent()) || '';
    assert.ok(link.endsWith(`#/lessons/${lessonId}`), `the lobby shows the lesson's link (${link})`);
  });

  it('visiting staff wait in the lobby seeing nothing; the teacher admits one as a guest', async () => {
    const visitor = await user('visitor', { phone: true });
    await signIn(visitor, VISITOR);
    await openAndJoin(visitor, 'Ask to join');
    await visitor.page.locator('#lobby-wait').waitFor({ state: 'visible', timeout: 10_000 });
    const waiting = await waitUntil(async () => {
      const st = await debugState(visitor.page);
      return st.state === 'waiting' ? st : null;
    }, { timeoutMs: 5_000, what: 'the visitor to be waiting' });
    assert.deepEqual(waiting.participants, [], 'nobody is listed to someone in the lobby');
    assert.equal(await visitor.page.locator('#pupil-view').isVisible(), false);
    assert.equal(await visitor.page.locator('#teacher-console').isVisible(), false);
    await visitor.page.screenshot({ path: path.join(ARTIFACTS, 'lobby-waiting-phone.png') });

    const { page } = by.teacher;
    const item = page.locator('#t-lobby li', { hasText: VISITOR.name });
    await item.waitFor({ state: 'visible', timeout: 5_000 });
    assert.match((await item.textContent()) || '', /Visiting staff · partner\.sch\.uk/);
    await visitor.page.waitForTimeout(1_000);
    assert.deepEqual(await mediaStats(visitor.page), [], 'no media reaches the lobby');

    // The teacher's status says who waits, while they wait (and not after: issue 13).
    const waitingSaid = page.locator('#lesson-status [data-status="lobby-waiting"]');
    await waitingSaid.waitFor({ state: 'visible', timeout: 5_000 });
    assert.match((await waitingSaid.textContent()) || '', /Dr Chen \(partner school\) is waiting to join/);
    const teacherId = (await debugState(page)).participant_id;
    await item.getByRole('button', { name: /Admit/ }).click();
    const joined = await waitUntil(async () => {
      const st = await debugState(visitor.page);
      return st.state === 'joined' ? st : null;
    }, { timeoutMs: 5_000, what: 'the visitor to be admitted' });
    assert.equal(joined.role, 'guest');
    await visitor.page.locator('#pupil-view').waitFor({ state: 'visible' });
    assert.equal(await visitor.page.locator('#lobby-wait').isVisible(), false);
    await waitUntil(async () => (await mediaStats(visitor.page)).some((x) => x.direction === 'recv'
      && x.publisher_id === teacherId && x.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
    { timeoutMs: 8_000, what: "the guest to decode the teacher's video" });
    assert.equal(await visitor.page.locator('#p-cam').isDisabled(), true, "a guest's camera waits for a grant");
    await page.locator('#t-people li', { hasText: 'Guest from the lobby' }).waitFor({ state: 'visible', timeout: 5_000 });
    await waitUntil(async () => (await page.locator('#t-lobby li').count()) === 0, { timeoutMs: 5_000, what: 'the lobby to empty' });
    await waitingSaid.waitFor({ state: 'detached', timeout: 5_000 });
  });

  it('the teacher refuses someone, who is told so and cannot come back', async () => {
    const leader = await user('leader');
    await signIn(leader, LEADER);
    await openAndJoin(leader, 'Ask to join');
    await leader.page.locator('#lobby-wait').waitFor({ state: 'visible', timeout: 10_000 });
    const item = by.teacher.page.locator('#t-lobby li', { hasText: LEADER.name });
    await item.waitFor({ state: 'visible', timeout: 5_000 });
    await item.getByRole('button', { name: /Refuse/ }).click();
    await by.teacher.page.getByRole('dialog').getByRole('button', { name: /^Refuse/ }).click();
    await leader.page.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await leader.page.locator('#view-message').getAttribute('data-code'), 'refused_by_teacher');
    assert.equal(await leader.page.locator('#message-retry').isVisible(), false, 'no retry after a refusal');
  });

  it('privacy profiles: a classmate sees the alias and not the hidden pupil; the teacher sees all', async () => {
    for (const label of /** @type {const} */ (['ada', 'cara', 'ben'])) {
      const u = await user(label);
      await signIn(u, DEMO[label]);
      await openAndJoin(u, 'Join lesson');
      await waitUntil(async () => (await debugState(u.page)).state === 'joined', { timeoutMs: 10_000, what: `${label} to join` });
    }
    const ben = by.ben.page;
    await ben.locator('#p-people li', { hasText: 'Star' }).waitFor({ state: 'attached', timeout: 5_000 });
    const people = (await ben.locator('#p-people').textContent()) || '';
    assert.doesNotMatch(people, /Ada|Cara/, `Ben's list shows neither Ada's name nor hidden Cara: ${people}`);
    const benState = await debugState(ben);
    assert.ok(benState.participants.every((/** @type {any} */ p) => !p.privacy), 'Ben learns of no profile');

    const teacher = by.teacher.page;
    const ada = teacher.locator('#t-people li', { hasText: 'Ada' });
    await ada.waitFor({ state: 'visible', timeout: 5_000 });
    assert.match((await ada.textContent()) || '', /Pupils see "Star"/);
    assert.equal(await ada.getByRole('button', { name: /Camera stays off/ }).isDisabled(), true);
    const cara = teacher.locator('#t-people li', { hasText: 'Cara' });
    assert.match((await cara.textContent()) || '', /Hidden from pupils/);

    const own = by.ada.page;
    assert.equal(await own.locator('#p-cam').isDisabled(), true);
    assert.match((await own.locator('#p-grant-note').textContent()) || '', /camera to stay off.*"Star"/);
    await teacher.screenshot({ path: path.join(ARTIFACTS, 'teacher-lobby-privacy.png') });
  });

  it("withdrawing a pupil's consent takes them out of the lesson within 2 seconds", async () => {
    const { body } = await call(by.admin.page, 'GET', `/api/admin/pupils/${await userId(DEMO.ben.email)}/consents`);
    const consent = body.records.find((/** @type {any} */ r) => r.withdrawn_at === null);
    assert.ok(consent, 'ben has a consent record');
    const t0 = Date.now();
    const res = await call(by.admin.page, 'POST', `/api/admin/consents/${consent.id}/withdraw`);
    assert.equal(res.status, 204);
    await by.ben.page.locator('#view-message').waitFor({ state: 'visible', timeout: 2_000 });
    const took = Date.now() - t0;
    console.log(`consent withdrawn -> pupil's page shows the refusal: ${took} ms`);
    assert.equal(await by.ben.page.locator('#view-message').getAttribute('data-code'), 'consent_withdrawn');
    assert.deepEqual(await mediaStats(by.ben.page), [], 'every peer connection is closed');
    // Everyone else is still in the lesson.
    for (const label of ['teacher', 'ada', 'cara', 'visitor']) {
      assert.equal((await debugState(by[label].page)).state, 'joined', `${label} is still in the lesson`);
    }
  });
});
