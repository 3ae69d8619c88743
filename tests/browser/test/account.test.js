// End-to-end account pages in Chromium against the livegate binary in demo mode: a superuser's
// reset link opens the set-password page on a phone, refuses a short or mistyped password,
// sets the new one, then is spent (a second use is refused in plain words); sign-in with the new
// password works and the old one fails; repeated wrong passwords lock sign-in with a plain
// message. Run with `npm test` in tests/browser.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeSession, DEMO, newUser, openSession, signIn, startServer } from '../lib/harness.js';

/**
 * One JSON call to the API from outside the browser.
 * @param {string} base
 * @param {string} method
 * @param {string} path
 * @param {{cookie?: string, body?: unknown}} [opts]
 */
async function api(base, method, path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json' };
  if (opts.cookie) headers.cookie = opts.cookie;
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  return { status: res.status, cookie, body: text ? JSON.parse(text) : null };
}

describe('account pages in a real browser', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  let link = '';

  before(async () => {
    ({ server, browser } = await openSession());
    const admin = await api(server.url, 'POST', '/api/session', { body: { email: 'admin@demo.sch.uk', password: 'demo-admin' } });
    const ada = await api(server.url, 'POST', '/api/session', { body: { email: DEMO.ada.email, password: DEMO.ada.password } });
    assert.equal(admin.status, 200);
    const reset = await api(server.url, 'POST', `/api/admin/users/${ada.body.user.id}/reset`, { cookie: admin.cookie });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(reset.body.link.purpose, 'reset');
    assert.match(reset.body.link.url, /^\/#\/set-password\?token=[0-9a-f]{64}$/);
    link = reset.body.link.url;
  });

  after(() => closeSession(server, browser, users));

  it('a reset link sets a new password once, on a phone', async () => {
    const ada = await newUser(browser, server.url, 'account-ada', { phone: true });
    users.push(ada);
    const { page } = ada;
    await page.goto(link);
    await page.locator('#view-password').waitFor({ state: 'visible' });
    await page.getByLabel('New password').fill('short');
    await page.getByLabel('Type it again').fill('short');
    await page.getByRole('button', { name: 'Set password' }).click();
    assert.match(await page.locator('#password-error').textContent() || '', /at least 10 characters/);
    await page.getByLabel('New password').fill('a sentence for ada');
    await page.getByLabel('Type it again').fill('a sentence for adx');
    await page.getByRole('button', { name: 'Set password' }).click();
    assert.match(await page.locator('#password-error').textContent() || '', /different/);
    await page.getByLabel('Type it again').fill('a sentence for ada');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.locator('#view-signin').waitFor({ state: 'visible' });
    assert.match(await page.locator('#signin-note').textContent() || '', /password is set/);
    assert.equal(new URL(page.url()).hash, '#/', 'the spent link leaves the address bar');

    // The old password no longer works; the new one does.
    const old = await api(server.url, 'POST', '/api/session', { body: { email: DEMO.ada.email, password: DEMO.ada.password } });
    assert.equal(old.body.error.code, 'bad_credentials');
    await signIn(ada, { email: DEMO.ada.email, password: 'a sentence for ada' });

    // The link is spent: opening it again explains, and submitting is refused in plain words.
    await page.goto(`${link}`);
    await page.reload();
    await page.locator('#view-password').waitFor({ state: 'visible' });
    await page.getByLabel('New password').fill('another sentence');
    await page.getByLabel('Type it again').fill('another sentence');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.locator('#password-error').filter({ hasText: /expired or has already been used/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Set password' }).isDisabled(), true);
  });

  it('a broken link explains itself without asking the server', async () => {
    const u = await newUser(browser, server.url, 'account-broken');
    users.push(u);
    await u.page.goto('/#/set-password?token=abc');
    await u.page.locator('#view-password').waitFor({ state: 'visible' });
    assert.match(await u.page.locator('#password-error').textContent() || '', /Ask your school for a new one/);
    assert.equal(await u.page.getByRole('button', { name: 'Set password' }).isDisabled(), true);
  });

  it('five wrong passwords lock sign-in with a plain message', async () => {
    const u = await newUser(browser, server.url, 'account-ben');
    users.push(u);
    const { page } = u;
    await page.goto('/');
    await page.getByLabel('Email', { exact: true }).fill(DEMO.ben.email);
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Password', { exact: true }).fill(`wrong-${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#signin-error').filter({ hasText: /not right/ }).waitFor();
      await page.locator('#signin-submit:not([disabled])').waitFor();
    }
    await page.getByLabel('Password', { exact: true }).fill(DEMO.ben.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error').filter({ hasText: /too many wrong passwords/i }).waitFor();
    assert.equal(await page.locator('#view-home').isVisible(), false);
  });
});
