// Plain HTTP from another device (issue 13, part 7), in Chromium against the livegate binary in
// demo mode served on this machine's own non-loopback address (http://<ip>:<port>, which a
// browser does not count as a secure context, unlike localhost or any 127.x.x.x address): the
// teacher is told why her camera and microphone cannot start and what to do (the https://
// address, or IT) instead of "the browser could not start it"; a pupil granted the microphone
// is told the same in a pupil's words, and still receives the lesson. The deciding function
// (web/js/lib/secure.js) is also evaluated in the page for the cases this machine cannot serve
// (localhost, 127.0.0.2, an https page). Screenshots in artifacts/insecure-*.png.

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS,
  closeSession,
  debugState,
  DEMO,
  ensureArtifacts,
  launchBrowser,
  signIn,
  startServer,
  startTeaching,
  waitUntil,
} from '../lib/harness.js';

/** This machine's first non-loopback IPv4 address (a test machine with none fails here). */
function outwardIp() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address to serve plain HTTP on');
}

describe('plain HTTP from another device', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];

  before(async () => {
    ensureArtifacts();
    server = await startServer({ http: `${outwardIp()}:0` });
    browser = await launchBrowser();
  });

  after(() => closeSession(server, browser, users));

  /**
   * One person in their own context, like the harness's newUser but without granting the
   * camera: Chromium refuses to grant it to an insecure origin at all.
   * @param {string} label @param {{phone?: boolean}} [opts]
   */
  async function user(label, opts = {}) {
    const context = await browser.newContext({
      baseURL: server.url,
      ...(opts.phone
        ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
        : { viewport: { width: 1280, height: 800 } }),
    });
    const page = await context.newPage();
    /** @type {string[]} */
    const console = [];
    page.on('console', (msg) => console.push(`[${msg.type()}] ${msg.text()}`));
    page.on('pageerror', (err) => console.push(`[pageerror] ${err.message}`));
    const u = { label, context, page, console };
    users.push(u);
    return u;
  }

  it('decides from the page\'s address: only a non-local http:// page needs https', async () => {
    const u = await user('probe');
    await u.page.goto('/');
    const cases = await u.page.evaluate(async () => {
      const { needsHttps, httpsAdvice } = await import('/js/lib/secure.js');
      const at = (/** @type {string} */ hostname, secure = false) => ({ isSecureContext: secure, location: { hostname, port: '8080' } });
      return {
        here: { secure: window.isSecureContext, needs: needsHttps() },
        lan: needsHttps(at('192.168.1.20')),
        name: needsHttps(at('livegate.school.example')),
        localhost: needsHttps(at('localhost')),
        loopback2: needsHttps(at('127.0.0.2')),
        ipv6: needsHttps(at('[::1]')),
        https: needsHttps(at('192.168.1.20', true)),
        advice: httpsAdvice('teacher', at('192.168.1.20')),
      };
    });
    assert.deepEqual(cases.here, { secure: false, needs: true }, `${server.url} is not a secure context`);
    assert.equal(cases.lan, true);
    assert.equal(cases.name, true);
    assert.equal(cases.localhost, false);
    assert.equal(cases.loopback2, false);
    assert.equal(cases.ipv6, false);
    assert.equal(cases.https, false);
    assert.match(cases.advice, /https:\/\/192\.168\.1\.20\//);
  });

  it('the teacher and a granted pupil are told why the camera cannot start, and what to do', async () => {
    const teacher = await user('teacher');
    await signIn(teacher, DEMO.teacher);
    const t = teacher.page;
    await startTeaching(t);
    const status = t.locator('#lesson-status');
    await waitUntil(async () => ((await status.textContent()) || '').includes('https://'),
      { timeoutMs: 10_000, what: "the teacher's status to explain https" });
    const said = (await status.textContent()) || '';
    assert.match(said, /cannot start here/);
    assert.match(said, /IT support/);
    assert.doesNotMatch(said, /could not start it/, 'not the generic failure');
    assert.equal(await t.locator('#t-screen').isVisible(), true, 'Share screen stays, to say the same when pressed');
    assert.equal(await t.locator('#t-screen-note').isVisible(), false, 'not the iPhone note');
    await t.screenshot({ path: path.join(ARTIFACTS, 'insecure-teacher-laptop.png') });

    const ada = await user('ada', { phone: true });
    await signIn(ada, DEMO.ada);
    const a = ada.page;
    await a.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ }).click({ timeout: 15_000 });
    await a.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await waitUntil(async () => (await debugState(a)).state === 'joined', { timeoutMs: 15_000, what: 'Ada in' });
    await t.getByRole('button', { name: 'Allow mic for Ada' }).click();
    await a.locator('#p-mic:not([disabled])').click({ timeout: 10_000 });
    await waitUntil(async () => ((await a.locator('#lesson-status').textContent()) || '').includes('https://'),
      { timeoutMs: 10_000, what: "the pupil's status to explain https" });
    assert.match((await a.locator('#lesson-status').textContent()) || '', /You can still watch and listen/);
    await a.screenshot({ path: path.join(ARTIFACTS, 'insecure-pupil-phone.png') });
  });
});
