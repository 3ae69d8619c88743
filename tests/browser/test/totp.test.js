// Two-step sign-in in Chromium at phone size against the livegate binary in demo mode: the
// safeguarding leader signs in with a password, is led to set up an authenticator (the key read
// from the page, the code computed here by RFC 6238 in Node, as a phone app would), gets ten
// recovery codes, opens the recordings page, signs out, and signs in again with a code; a wrong
// code and a reused one are refused in plain words, and a recovery code works once.
// Screenshots: totp-*.png in artifacts/.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, newUser, openSession } from '../lib/harness.js';
import { base32Decode, nextCode, rememberKey, stepNow, totpAt } from '../lib/totp.js';

const LEADER = { email: 'dsl@demo.sch.uk', password: 'demo-leader' };

describe('two-step sign-in in a real browser (phone)', () => {
  /** @type {Awaited<ReturnType<typeof openSession>>['server']} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];

  before(async () => {
    ({ server, browser } = await openSession());
  });
  after(() => closeSession(server, browser, users));

  it('computes the RFC 6238 appendix B SHA-1 codes', () => {
    // The key "12345678901234567890", in base32; the 8-digit values' last six digits.
    const key = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    assert.equal(base32Decode(key).toString(), '12345678901234567890');
    assert.equal(totpAt(key, Math.floor(59 / 30)), '287082');
    assert.equal(totpAt(key, Math.floor(1111111109 / 30)), '081804');
    assert.equal(totpAt(key, Math.floor(2000000000 / 30)), '279037');
  });

  it('a leader enrols, signs out, and signs in again with a code', async () => {
    const leader = await newUser(browser, server.url, 'totp-leader', { phone: true });
    users.push(leader);
    const { page } = leader;
    const shot = (/** @type {string} */ name) => page.screenshot({ path: path.join(ARTIFACTS, `totp-${name}.png`), fullPage: true });

    await page.goto('/');
    await page.getByLabel('Email', { exact: true }).fill(LEADER.email);
    await page.getByLabel('Password', { exact: true }).fill(LEADER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Led to the set-up, which says why.
    await page.locator('#view-two-step').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await page.locator('#two-step-status').textContent() || '', /needs two-step sign-in/);
    await page.locator('#two-step-start').click();
    await page.locator('#two-step-qr').waitFor({ state: 'visible' });
    const qrLoaded = await page.locator('#two-step-qr').evaluate((img) => /** @type {HTMLImageElement} */ (img).naturalWidth > 0);
    assert.ok(qrLoaded, 'the QR code image loads under the page\'s CSP');
    await shot('1-enrol');
    // A wrong first code is refused and nothing is turned on.
    const secret = ((await page.locator('#two-step-secret').textContent()) || '').replace(/\s+/g, '');
    const right = totpAt(secret, stepNow());
    await page.locator('#two-step-code').fill(right === '123456' ? '654321' : '123456');
    await page.locator('#two-step-confirm').click();
    await page.locator('#two-step-error:text-matches("not right")').waitFor({ timeout: 10_000 });
    // The right code turns it on and shows the recovery codes once.
    const step = stepNow();
    await page.locator('#two-step-code').fill(totpAt(secret, step));
    await page.locator('#two-step-confirm').click();
    await page.locator('#two-step-codes li').first().waitFor({ state: 'visible', timeout: 10_000 });
    rememberKey(server.url, LEADER.email, secret, step);
    const codes = await page.locator('#two-step-codes li').allTextContents();
    assert.equal(codes.length, 10, 'ten recovery codes');
    assert.equal(await page.locator('#two-step-secret').textContent(), '', 'the key is gone from the page');
    await shot('2-recovery-codes');
    await page.locator('#two-step-done').click();
    await page.locator('#view-recordings').waitFor({ state: 'visible', timeout: 10_000 });
    await shot('3-recordings');

    // Sign out; the password alone now leads to the code step.
    await page.locator('#sign-out').click();
    await page.getByLabel('Email', { exact: true }).fill(LEADER.email);
    await page.getByLabel('Password', { exact: true }).fill(LEADER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#view-second-factor').waitFor({ state: 'visible', timeout: 10_000 });
    await shot('4-code-step');
    const code = await nextCode(server.url, LEADER.email);
    await page.locator('#second-factor-code').fill(code);
    await page.locator('#second-factor-submit').click();
    await page.locator('#view-recordings').waitFor({ state: 'visible', timeout: 10_000 });

    // The same code again, after signing out: refused as reused, in plain words.
    await page.locator('#sign-out').click();
    await page.getByLabel('Email', { exact: true }).fill(LEADER.email);
    await page.getByLabel('Password', { exact: true }).fill(LEADER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#view-second-factor').waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('#second-factor-code').fill(code);
    await page.locator('#second-factor-submit').click();
    await page.locator('#second-factor-error:text-matches("already been used")').waitFor({ timeout: 10_000 });
    await shot('5-code-reused');

    // A recovery code signs in once.
    await page.locator('#second-factor-code').fill(codes[0]);
    await page.locator('#second-factor-submit').click();
    await page.locator('#view-recordings').waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('#sign-out').click();
    await page.getByLabel('Email', { exact: true }).fill(LEADER.email);
    await page.getByLabel('Password', { exact: true }).fill(LEADER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#second-factor-code').fill(codes[0]);
    await page.locator('#second-factor-submit').click();
    await page.locator('#second-factor-error:text-matches("not right")').waitFor({ timeout: 10_000 });
  });
});
