// A graceful stop seen from the browser: SIGTERM mid-lesson ends each live lesson with
// `lesson_ended` reason `server_stopping`, so the teacher's laptop and the pupil's phone both
// say Livegate is restarting (not the plain "The lesson has ended"), and the server exits 0.
// Screenshot: artifacts/shutdown-pupil-phone.png.

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

/** What the page says (web/js/lib/messages.js, `server_stopping`). */
const RESTARTING = {
  title: 'Livegate is restarting',
  text: 'The lesson stopped because Livegate is restarting. Try again in a minute: your teacher can start the lesson again.',
};

/**
 * Waits for `page` to reach `state` in the lesson.
 * @param {import('playwright-core').Page} page @param {string} state @param {string} who
 */
function reach(page, state, who) {
  return waitUntil(async () => (await debugState(page)).state === state, { timeoutMs: 10_000, what: `${who} to be ${state}` });
}

describe('a graceful stop in real browsers', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('SIGTERM mid-lesson: teacher and phone pupil are told Livegate is restarting; exit 0', async () => {
    const teacher = await newUser(browser, server.url, 'stop-teacher');
    const pupil = await newUser(browser, server.url, 'stop-pupil', { phone: true });
    users.push(teacher, pupil);

    await signIn(teacher, DEMO.teacher);
    await teacher.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson|Rejoin lesson/ }).click();
    await teacher.page.getByRole('button', { name: 'Start teaching' }).click();
    await reach(teacher.page, 'joined', 'the teacher');
    const teacherId = (await debugState(teacher.page)).participant_id;

    await signIn(pupil, DEMO.ada);
    const join = pupil.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
    await join.waitFor({ state: 'visible', timeout: 10_000 });
    await join.click();
    await pupil.page.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await reach(pupil.page, 'joined', 'the pupil');
    // A real lesson: the pupil decodes the teacher's camera before the server stops.
    await waitUntil(async () => (await mediaStats(pupil.page)).some((s) => s.direction === 'recv'
      && s.publisher_id === teacherId && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
    { timeoutMs: 10_000, what: "the pupil to decode the teacher's video" });

    const exit = await server.terminate();
    assert.deepEqual(exit, { code: 0, signal: null }, 'the server exits 0 by itself after SIGTERM');

    for (const { label, page } of [teacher, pupil]) {
      const message = page.locator('#view-message');
      await message.waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await message.getAttribute('data-code'), 'server_stopping', label);
      assert.equal(await page.locator('#message-title').textContent(), RESTARTING.title, label);
      assert.equal(await page.locator('#message-text').textContent(), RESTARTING.text, label);
      assert.equal(await page.getByText('The lesson has ended').count(), 0, `${label}: not the plain ending`);
      assert.deepEqual(await mediaStats(page), [], `${label} holds no peer connection`);
    }
    await pupil.page.screenshot({ path: path.join(ARTIFACTS, 'shutdown-pupil-phone.png') });
    for (const u of users) {
      const errors = u.console.filter((l) => l.startsWith('[pageerror]'));
      assert.deepEqual(errors, [], `${u.label}: ${errors.join('\n')}`);
    }
  });
});
