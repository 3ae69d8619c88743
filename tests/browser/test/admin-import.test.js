// The roster import of an MIS export in Chromium, on a phone (390x844) and a laptop
// (1280x800), against the livegate binary in demo mode: the superuser uploads a file with a
// SIMS-like header (legal names, a registration group, a teaching group, UPN), sees the columns
// Livegate matched (the teaching group as the class), changes the class to the registration
// group, sees the preview follow, imports, and the class list shows the new class at once.
// The template downloads with Livegate's header. Then, after each kind of change (adding a
// person, a class place, a consent form, a trusted domain), the list showing it follows without
// a reload. Screenshots: admin-import-{phone,laptop}.png, admin-lists-laptop.png.
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

  it('every list follows the change that concerns it, without a reload (laptop)', async () => {
    const admin = await newUser(browser, server.url, 'lists-laptop');
    users.push(admin);
    const { page } = admin;
    await signIn(admin, ADMIN);
    // A mark on the window: a reload would lose it.
    await page.evaluate(() => { /** @type {any} */ (window).sameDocument = true; });

    // Adding a person: the list and its count include them, and a search finds them.
    await page.locator('#admin-users li').first().waitFor();
    const count = async () => Number((await page.locator('#view-admin p.hint[role="status"]').textContent() || '').split(' ')[0]);
    const before = await count();
    await page.getByText('Add a person').click();
    await page.getByLabel('Email address').fill('maxim.lists@pupils.demo.sch.uk');
    await page.getByLabel('Name shown in lessons').fill('Maxim Listed');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.locator('#admin-users li', { hasText: 'Maxim Listed' }).waitFor();
    assert.equal(await count(), before + 1);
    await page.getByLabel('Find a person').fill('Maxim');
    await page.locator('#view-admin p.hint[role="status"]', { hasText: '1 person.' }).waitFor();

    // A class place: the class page's pupils, then the class list's count.
    await page.getByRole('link', { name: 'Classes & rosters' }).click();
    const row = page.locator('#admin-classes li', { hasText: '8B History' });
    const pupilsIn = async () => Number(((await row.textContent()) || '').match(/(\d+) pupils?/)?.[1]);
    await row.waitFor();
    const seated = await pupilsIn();
    await row.locator('a.item-name').click();
    await page.getByRole('heading', { name: '8B History', level: 2 }).waitFor();
    await page.getByLabel('Add someone to this class').fill('Maxim');
    await page.getByRole('button', { name: 'Add Maxim Listed (pupil)' }).click();
    await page.locator('#class-pupils li', { hasText: 'Maxim Listed' }).waitFor();
    await page.getByRole('link', { name: '← All classes' }).click();
    await row.waitFor();
    assert.equal(await pupilsIn(), seated + 1);

    // A consent form: the class's "without a signed form" list drops the pupil.
    await page.getByRole('link', { name: 'Consent', exact: true }).first().click();
    await page.getByLabel('Class', { exact: true }).selectOption({ label: '8B History' });
    const missing = page.locator('#consent-missing li', { hasText: 'Maxim Listed' });
    await missing.waitFor();
    await missing.getByRole('button').click();
    await page.getByLabel('Parent or carer who signed').fill('M. Parent');
    await page.getByRole('button', { name: 'Record form' }).click();
    await missing.waitFor({ state: 'detached' });

    // A trusted domain: the list shows it.
    await page.getByRole('link', { name: 'Trusted domains' }).click();
    await page.locator('#admin-domains li').first().waitFor();
    await page.getByText('Trust another domain').click();
    await page.getByLabel('Domain', { exact: true }).fill('lists.partner.sch.uk');
    await page.getByLabel('Why it is trusted').fill('Partner staff for the lists test');
    await page.getByRole('button', { name: 'Trust this domain' }).click();
    await page.locator('#admin-domains li[data-domain="lists.partner.sch.uk"]').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-lists-laptop.png'), fullPage: true });
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).sameDocument), true, 'the page was never reloaded');
  });
});
