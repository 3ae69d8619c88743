// The roster import of an MIS export in Chromium, on a phone (390x844) and a laptop
// (1280x800), against the livegate binary in demo mode: the superuser uploads a file with a
// SIMS-like header (legal names, a registration group, a teaching group, UPN), sees the columns
// Livegate matched (the teaching group as the class), changes the class to the registration
// group, sees the preview follow, imports, and the class list shows the new class at once.
// The template downloads with Livegate's header. Screenshots: admin-import-{phone,laptop}.png.
// Run with `node --test test/admin-import.test.js` in tests/browser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, newUser, openSession, signIn } from '../lib/harness.js';

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };

/**
 * A SIMS-like export with invented pupils; `tag` keeps each run's emails and classes apart.
 * @param {string} tag
 */
function misExport(tag) {
  return 'UPN,Legal Surname,Legal Forename,Reg Group,Teaching Group,Pupil Email\r\n'
    + `A1,Fakename,Nell,9${tag}R,9${tag}/Hi1,nell.${tag}@pupils.demo.sch.uk\r\n`
    + `A2,Madeup,Ravi,9${tag}R,9${tag}/Hi1,ravi.${tag}@pupils.demo.sch.uk\r\n`;
}

describe('the roster import of an MIS export', () => {
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

  for (const [size, tag] of [['phone', 'p'], ['laptop', 'l']]) {
    it(`maps the columns, takes a changed one, previews and imports (${size})`, async () => {
      const admin = await newUser(browser, server.url, `import-${size}`, { phone: size === 'phone' });
      users.push(admin);
      const { page } = admin;
      await signIn(admin, ADMIN);
      await page.getByRole('link', { name: 'Classes & rosters' }).click();
      await page.getByRole('heading', { name: 'Classes and rosters' }).waitFor();

      const template = await page.request.get(await page.locator('#import-template').getAttribute('href') || '');
      assert.match(await template.text(), /^pupil email,first name,last name,class\r\n.*Example,Pupil/s);

      await page.getByLabel('Roster file (CSV)').setInputFiles({ name: 'sims.csv', mimeType: 'text/csv', buffer: Buffer.from(misExport(tag), 'utf8') });
      await page.getByRole('button', { name: 'Check file' }).click();
      const columns = page.locator('#import-columns');
      await columns.waitFor();
      const classSelect = columns.getByLabel('Class', { exact: true });
      assert.equal(await classSelect.inputValue(), '4', 'the teaching group is proposed');
      assert.equal(await columns.getByLabel('First name').inputValue(), '2');
      assert.equal(await columns.getByLabel("Pupil's email").inputValue(), '5');
      assert.match(await page.locator('#import-unused').textContent() || '', /Not imported: UPN, Reg Group/);
      await page.locator('#import-result tr', { hasText: `9${tag}/Hi1` }).first().waitFor();
      assert.match(await page.locator('#import-result tr[data-line="2"]').textContent() || '', /Nell Fakename/);

      // The office wants the registration group as the class.
      await classSelect.selectOption({ label: 'Column 4: Reg Group' });
      await page.locator('#import-result tr', { hasText: `9${tag}R` }).first().waitFor();
      assert.equal(await page.locator('#import-result tr', { hasText: `9${tag}/Hi1` }).count(), 0, 'the preview follows the change');
      assert.match(await page.locator('#import-unused').textContent() || '', /Not imported: UPN, Teaching Group/);
      const apply = page.locator('#import-apply');
      await apply.waitFor({ state: 'visible' });
      assert.equal(await apply.textContent(), 'Import 2 rows');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
      await page.screenshot({ path: path.join(ARTIFACTS, `admin-import-${size}.png`), fullPage: true });

      await apply.click();
      await page.locator('.admin-ok', { hasText: 'Imported.' }).waitFor();
      const row = page.locator('#admin-classes li', { hasText: `9${tag}R` });
      await row.waitFor();
      assert.match(await row.textContent() || '', /2 pupils/, 'the class list refreshed');
      assert.equal(await page.locator('#admin-classes li', { hasText: `9${tag}/Hi1` }).count(), 0);
      const user = await page.evaluate(async (email) => (await (await fetch('/api/admin/users')).json()).users
        .find((/** @type {any} */ u) => u.email === email), `ravi.${tag}@pupils.demo.sch.uk`);
      assert.equal(user.display_name, 'Ravi Madeup');
    });
  }
});
