// The invite sheet in Chromium at laptop size (1280x800) and in print emulation, against the
// livegate binary in demo mode: the superuser opens 7A Science, makes the sheet, sees a card
// (name, class, QR code, link) for each pupil without a password and the demo pupils listed as
// already set up; printed, the sheet is alone on the page (no bar, navigation or class page)
// in two columns of cut-out cards. A pupil opens their card's link on a phone, sets a password
// and signs in; the link then refuses a second use; a second sheet has no card for them.
// Screenshots: invite-sheet-laptop.png, invite-sheet-print.png, invite-sheet-pupil-phone.png.
// Run with `node --test test/invite-sheet.test.js` in tests/browser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, newUser, openSession, signIn } from '../lib/harness.js';

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };
const NEW_PUPILS = 'pupil email,first name,last name,class\r\n'
  + 'zara.sheet@pupils.demo.sch.uk,Zara,Inventedname,7A Science\r\n'
  + 'yusuf.sheet@pupils.demo.sch.uk,Yusuf,Madeupname,7A Science\r\n'
  + 'xena.sheet@pupils.demo.sch.uk,Xena,Notarealname,7A Science\r\n';

describe('the invite sheet', () => {
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

  it('prints a card per pupil without a password, and each link works once', async () => {
    const admin = await newUser(browser, server.url, 'sheet-laptop');
    users.push(admin);
    const { page } = admin;
    await signIn(admin, ADMIN);
    const imported = await page.evaluate(async (csv) => (await fetch('/api/admin/roster/import?apply=true', {
      method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv,
    })).status, NEW_PUPILS);
    assert.equal(imported, 200);

    await page.goto('/#/admin/classes/7a');
    await page.getByRole('heading', { name: '7A Science', level: 2 }).waitFor();
    await page.getByRole('button', { name: 'Make invite sheet' }).click();
    const cards = page.locator('#invite-sheet .invite-card');
    await cards.first().waitFor();
    assert.equal(await cards.count(), 3);
    const zara = cards.filter({ hasText: 'Zara Inventedname' });
    assert.match(await zara.textContent() || '', /7A Science/);
    const link = await zara.locator('.invite-link').textContent() || '';
    assert.ok(link.startsWith(`${server.url}/#/set-password?token=`), link);
    const qr = await zara.locator('img.invite-qr').evaluate((img) => /** @type {HTMLImageElement} */ (img).naturalWidth);
    assert.ok(qr >= 160, `the QR code is drawn (${qr}px)`);
    assert.match(await page.locator('.invite-left').first().textContent() || '', /Already set up: .*Ada/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'invite-sheet-laptop.png'), fullPage: true });

    await page.emulateMedia({ media: 'print' });
    for (const hidden of ['.topbar', '#admin-nav', '#class-pupils', '#invite-make', '#invite-print']) {
      assert.equal(await page.locator(hidden).isVisible(), false, `${hidden} is not printed`);
    }
    assert.ok(await cards.first().isVisible());
    const box = await cards.first().boundingBox();
    const second = await cards.nth(1).boundingBox();
    assert.ok(box && second && Math.abs(box.y - second.y) < 1 && second.x > box.x, 'two cards to a row');
    assert.equal(await cards.first().evaluate((el) => getComputedStyle(el).borderTopStyle), 'dashed');
    await page.screenshot({ path: path.join(ARTIFACTS, 'invite-sheet-print.png'), fullPage: true });
    await page.emulateMedia({ media: 'screen' });

    // Zara opens her link on a phone and chooses a password.
    const pupil = await newUser(browser, server.url, 'sheet-pupil', { phone: true });
    users.push(pupil);
    await pupil.page.goto(link);
    await pupil.page.locator('#view-password').waitFor({ state: 'visible' });
    await pupil.page.screenshot({ path: path.join(ARTIFACTS, 'invite-sheet-pupil-phone.png') });
    await pupil.page.getByLabel('New password').fill('zara chose this one');
    await pupil.page.getByLabel('Type it again').fill('zara chose this one');
    await pupil.page.getByRole('button', { name: 'Set password' }).click();
    await pupil.page.locator('#view-signin').waitFor({ state: 'visible' });
    await signIn(pupil, { email: 'zara.sheet@pupils.demo.sch.uk', password: 'zara chose this one' });

    // The link is spent.
    const again = await page.evaluate(async (token) => (await fetch('/api/account/password', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password: 'someone else again' }),
    })).json(), link.split('token=')[1]);
    assert.equal(again.error.code, 'token_invalid');

    // A second sheet leaves Zara out and says she is set up.
    await page.getByRole('button', { name: 'Make invite sheet' }).click();
    await page.locator('#invite-sheet .invite-card').first().waitFor();
    await page.locator('.invite-left', { hasText: 'Zara Inventedname' }).waitFor();
    assert.equal(await page.locator('#invite-sheet .invite-card').count(), 2);
  });
});
