// What Safari and iPhones do differently, played by Chromium (no WebKit browser with WebRTC can
// run here: README.md "Supported browsers"). Two rules of WebKit, emulated by init scripts:
// - iOS has no `getDisplayMedia`: the teacher's console hides "Share screen" and says why,
//   and her camera still goes out;
// - sound may not start without a tap: `play()` of an unmuted element is refused outside a
//   user gesture. The pupil still sees the teacher at once (muted autoplay is allowed), a
//   "Tap to hear the lesson" button shows, and the tap brings the sound.
// Phone-sized (390x844) screenshots: safari-teacher-phone.png, safari-pupil-phone.png.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, debugState, DEMO, mediaStats, newUser, openSession, signIn, waitUntil }
  from '../lib/harness.js';

describe('Safari and iPhone rules, emulated in Chromium', () => {
  /** @type {Awaited<ReturnType<typeof openSession>>['server']} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  let teacherId = '';

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('a teacher on an iPhone (no getDisplayMedia) is told why she cannot share, and still teaches', async () => {
    const teacher = await newUser(browser, server.url, 'safari-teacher', { phone: true });
    users.push(teacher);
    await teacher.context.addInitScript(() => {
      // As on iOS: mediaDevices has no getDisplayMedia at all.
      delete (/** @type {any} */ (MediaDevices.prototype)).getDisplayMedia;
    });
    await signIn(teacher, DEMO.teacher);
    const { page } = teacher;
    await page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson|Rejoin lesson/ }).click();
    await page.getByRole('button', { name: 'Start teaching' }).click();
    await page.locator('#view-lesson').waitFor({ state: 'visible' });
    await page.locator('#t-screen-note').waitFor({ state: 'visible', timeout: 5_000 });
    assert.match((await page.locator('#t-screen-note').textContent()) || '', /cannot share your screen/);
    assert.equal(await page.locator('#t-screen').isVisible(), false, 'no "Share screen" button that can only fail');
    await waitUntil(async () => (await mediaStats(page)).some((s) => s.direction === 'send' && s.kind === 'camera'
      && s.outbound.some((o) => o.kind === 'video' && o.packetsSent > 0)),
    { timeoutMs: 10_000, what: "the teacher's camera to go out" });
    teacherId = (await debugState(page)).participant_id;
    await page.screenshot({ path: path.join(ARTIFACTS, 'safari-teacher-phone.png') });
  });

  it('a pupil whose browser holds sound back until a tap sees the teacher at once and hears her after the tap', async () => {
    assert.ok(teacherId, 'needs the teacher from the previous test');
    const pupil = await newUser(browser, server.url, 'safari-pupil', { phone: true });
    users.push(pupil);
    await pupil.context.addInitScript(() => {
      // WebKit's rule: sound starts only from inside a user gesture's handler (not seconds
      // later, when the offer has come); muted playback is always allowed.
      let inTap = false;
      window.addEventListener('click', () => {
        inTap = true;
        setTimeout(() => { inTap = false; }, 0);
      }, { capture: true });
      const play = HTMLMediaElement.prototype.play;
      HTMLMediaElement.prototype.play = function () {
        if (!this.muted && !inTap) {
          return Promise.reject(new DOMException('sound needs a tap', 'NotAllowedError'));
        }
        return play.call(this);
      };
    });
    await signIn(pupil, DEMO.ada);
    const { page } = pupil;
    const join = page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
    await join.click();
    await page.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await waitUntil(async () => (await mediaStats(page)).some((s) => s.direction === 'recv' && s.publisher_id === teacherId
      && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
    { timeoutMs: 10_000, what: 'the pupil to decode the teacher' });
    const stage = () => page.evaluate(() => {
      const v = document.querySelector('#p-stage video');
      return v instanceof HTMLVideoElement
        ? { playing: !v.paused && v.videoWidth > 0, muted: v.muted, inline: v.hasAttribute('playsinline') }
        : null;
    });
    const before = await waitUntil(async () => {
      const s = await stage();
      return s && s.playing ? s : null;
    }, { timeoutMs: 10_000, what: 'the teacher to show on the stage' });
    assert.equal(before.inline, true, 'playsinline: an iPhone would otherwise open the video full screen');
    assert.equal(before.muted, true, 'the picture plays muted while the sound waits for a tap');
    const tap = page.getByRole('button', { name: 'Tap to hear the lesson' });
    await tap.waitFor({ state: 'visible', timeout: 5_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'safari-pupil-phone.png') });
    await tap.click();
    await waitUntil(async () => {
      const s = await stage();
      return s && s.playing && !s.muted;
    }, { timeoutMs: 5_000, what: 'the sound to start after the tap' });
    // The button goes once the sound plays (after every element's play() has resolved).
    await tap.waitFor({ state: 'hidden', timeout: 5_000 });
  });
});
