// End-to-end test of the school administration pages and the teacher's readiness lists in
// Debian's Chromium (playwright-core) against the livegate binary in demo mode. A superuser on
// a phone (390x844) finds people, checks a roster CSV (row problems shown, nothing imported),
// imports a fixed file, re-checks it (everything already in place), records a pupil's consent
// and trusts a domain; a teacher then sees who can join her class and why not; a pupil cannot
// reach the admin pages. Saves artifacts/admin-phone.png (the import on a phone), and
// admin-phone-users.png, admin-phone-problems.png, teacher-readiness.png. Run with `npm test`
// in tests/browser.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, DEMO, ensureArtifacts, launchBrowser, newUser, startServer } from '../lib/harness.js';

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };

const BAD_FILE = [
  'Pupil Email,First Name,Last Name,Class',
  'nia@pupils.demo.sch.uk,Nia,Obi,7A Science',
  'not-an-email,Bad,Row,7A Science',
  'kid@gmail.example,Un,Trusted,7A Science',
  'yan@pupils.other.sch.uk,Yan,Other,7A Science',
].join('\r\n');

const GOOD_FILE = [
  'Pupil Email,First Name,Last Name,Class',
  'nia@pupils.demo.sch.uk,Nia,Obi,7A Science',
  'omar@pupils.demo.sch.uk,Omar,Haddad,10X Drama',
  'owen@pupils.demo.sch.uk,Owen,Ray,10X Drama',
].join('\r\n');

describe('school administration in a real browser', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @type {import('../lib/harness.js').User} */
  let admin;

  /**
   * Signs in through the form; does not wait for a particular view.
   * @param {import('../lib/harness.js').User} user
   * @param {{email: string, password: string}} who
   */
  async function signInAs(user, who) {
    await user.page.goto('/');
    await user.page.locator('#signin-email').fill(who.email);
    await user.page.locator('#signin-password').fill(who.password);
    await user.page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** @param {string} name @param {string} text */
  async function fileInput(name, text) {
    await admin.page.getByLabel('Roster file (CSV)').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(text, 'utf8') });
  }

  before(async () => {
    ensureArtifacts();
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    if (server) {
      for (const u of users) writeFileSync(path.join(ARTIFACTS, `console-admin-${u.label}.log`), u.console.join('\n'));
      writeFileSync(path.join(ARTIFACTS, 'server-admin.log'), server.log.join(''));
    }
    for (const u of users) await u.context.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  it('a superuser on a phone lands on the admin pages and finds people', async () => {
    admin = await newUser(browser, server.url, 'superuser', { phone: true });
    users.push(admin);
    const { page } = admin;
    await signInAs(admin, ADMIN);
    await page.locator('#view-admin').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(page.url(), /#\/admin/);
    assert.equal(await page.locator('#admin-nav a[aria-current="page"]').textContent(), 'Users');
    await page.locator('#admin-users li').first().waitFor();
    assert.ok(await page.locator('#admin-users li', { hasText: 'ada@pupils.demo.sch.uk' }).count() === 1);
    await page.getByLabel('Find a person').fill('eve@');
    await page.locator('#admin-users li').first().waitFor();
    assert.equal(await page.locator('#admin-users li').count(), 1, 'the search narrows the list');
    // Every form control in the admin view has a label.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('#view-admin input, #view-admin select, #view-admin textarea')]
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).length);
    assert.equal(unlabelled, 0);
    await page.getByLabel('Find a person').fill('');
    await page.locator('#admin-users li details').first().locator('summary').click();
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-phone-users.png') });
  });

  it('a forged name is refused in the form, in the server\'s words; an honest one is kept in NFC', async () => {
    const { page } = admin;
    const count = () => page.evaluate(async () => (await (await fetch('/api/admin/users')).json()).users.length);
    const before = await count();
    await page.getByText('Add a person').click();
    await page.getByLabel('Email address').fill('chen@partner.sch.uk');
    // "Dr Chen (partner school)" with a right-to-left override inside.
    await page.getByLabel('Name shown in lessons').fill('Dr Chen \u202e(partner school)');
    await page.getByRole('button', { name: 'Add person' }).click();
    const error = page.locator('#view-admin .form-error').filter({ hasText: 'direction' });
    await error.waitFor();
    assert.equal(await error.textContent(), 'The name contains a character that changes the direction of text.');
    assert.equal(await page.getByLabel('Name shown in lessons').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Name shown in lessons').fill('\u200b\u2060');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.locator('#view-admin .form-error').filter({ hasText: 'invisible characters' }).waitFor();
    assert.equal(await count(), before, 'nothing was sent');
    // Typed decomposed (NFD), kept composed (NFC).
    await page.getByLabel('Email address').fill('zoe.obrien@partner.sch.uk');
    await page.getByLabel('Name shown in lessons').fill('Zoe\u0308 O\'Brien-N\u0303u\u0301n\u0303ez');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.locator('#view-admin .admin-ok').filter({ hasText: 'Added Zo\u00eb O\'Brien-\u00d1\u00fa\u00f1ez' }).waitFor();
    assert.equal(await count(), before + 1);
    const stored = await page.evaluate(async () => (await (await fetch('/api/admin/users')).json()).users.find((/** @type {any} */ u) => u.email === 'zoe.obrien@partner.sch.uk').display_name);
    assert.equal(stored, 'Zo\u00eb O\'Brien-\u00d1\u00fa\u00f1ez');
  });

  it('a roster with problems is shown row by row and nothing is imported', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Classes & rosters' }).click();
    await page.getByRole('heading', { name: 'Classes and rosters' }).waitFor();
    await fileInput('roster.csv', BAD_FILE);
    await page.getByRole('button', { name: 'Check file' }).click();
    const alert = page.locator('#import-result .form-error');
    await alert.waitFor();
    assert.match(await alert.textContent() || '', /3 of 4 rows have problems/);
    const bad = page.locator('#import-result tr.row-bad');
    assert.equal(await bad.count(), 3);
    assert.match(await page.locator('tr[data-line="3"]').textContent() || '', /not an email address/);
    assert.match(await page.locator('tr[data-line="4"]').textContent() || '', /not one of this school's trusted domains/);
    assert.match(await page.locator('tr[data-line="5"]').textContent() || '', /cannot manage/);
    assert.equal(await page.locator('#import-apply').isVisible(), false, 'no import while rows have problems');
    await page.locator('#import-result').screenshot({ path: path.join(ARTIFACTS, 'admin-phone-problems.png') });
    const res = await page.request.get('/api/admin/users');
    assert.ok(!(await res.text()).includes('nia@'), 'nothing was imported');
  });

  it('a fixed roster imports, and checking it again finds everything in place', async () => {
    const { page } = admin;
    await fileInput('roster.csv', GOOD_FILE);
    await page.getByRole('button', { name: 'Check file' }).click();
    await page.locator('#import-result .admin-ok').waitFor();
    assert.match(await page.locator('#import-result .admin-ok').textContent() || '', /2 new pupils, 1 new class/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px)`);
    await page.locator('#import-apply').click();
    const done = page.locator('.admin-ok', { hasText: 'Imported.' });
    await done.waitFor();
    await page.locator('#admin-classes li', { hasText: '10X Drama' }).waitFor();
    assert.match(await page.locator('#admin-classes li', { hasText: '10X Drama' }).textContent() || '', /2 pupils/);

    await page.getByRole('button', { name: 'Check file' }).click();
    await page.locator('#import-result .admin-ok').waitFor();
    assert.equal(await page.locator('#import-result tr', { hasText: 'Already in place' }).count(), 3);
    assert.equal(await page.locator('#import-apply').isVisible(), false, 'nothing left to import');

    // The class page lists the new pupils and offers the CSV export.
    await page.locator('#admin-classes a.item-name', { hasText: '10X Drama' }).click();
    await page.getByRole('heading', { name: '10X Drama' }).waitFor();
    assert.equal(await page.locator('#class-pupils li').count(), 2);
    const href = await page.getByRole('link', { name: 'Download roster CSV' }).getAttribute('href');
    const csv = await (await page.request.get(href || '')).text();
    assert.match(csv, /^pupil email,first name,last name,class\r\n/);
    assert.match(csv, /omar@pupils\.demo\.sch\.uk,Omar,Haddad,10X Drama/);
  });

  it('consent is recorded for a pupil without a signed form', async () => {
    const { page } = admin;
    await page.goto('/#/admin/consent/7a');
    const eve = page.locator('#consent-missing li', { hasText: 'Eve' });
    await eve.waitFor();
    assert.match(await eve.textContent() || '', /No form yet/);
    await eve.getByRole('button').click();
    await page.getByRole('heading', { name: 'Eve', level: 3 }).waitFor();
    await page.getByLabel('Parent or carer who signed').fill('E. Parent');
    await page.getByRole('button', { name: 'Record form' }).click();
    await page.locator('#consent-state', { hasText: 'Signed' }).waitFor();
    await page.locator('#consent-missing li', { hasText: 'Eve' }).waitFor({ state: 'detached' });
  });

  it('a partner domain is trusted with a note, and removed again', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Trusted domains' }).click();
    await page.locator('#admin-domains li').first().waitFor();
    await page.getByText('Trust another domain').click();
    await page.getByLabel('Domain', { exact: true }).fill('Partner2.SCH.uk');
    await page.getByLabel('Why it is trusted').fill('Staff of our second partner school');
    await page.getByRole('button', { name: 'Trust this domain' }).click();
    const row = page.locator('#admin-domains li[data-domain="partner2.sch.uk"]');
    await row.waitFor();
    const remove = row.getByRole('button', { name: /Remove/ });
    await remove.click();
    await row.getByRole('button', { name: /Confirm remove/ }).click();
    await row.waitFor({ state: 'detached' });
  });

  it('the teacher sees who can join 7A and why not, in plain words', async () => {
    const teacher = await newUser(browser, server.url, 'teacher');
    users.push(teacher);
    const { page } = teacher;
    await signInAs(teacher, DEMO.teacher);
    await page.locator('#view-home').waitFor({ state: 'visible', timeout: 10_000 });
    const section = page.locator('#home-readiness details[data-class-id="7a"]');
    await section.waitFor();
    // Eve's consent was recorded above; Finn's email is on an untrusted domain; Nia was
    // imported without a form.
    assert.match(await section.locator('summary').textContent() || '', /5 of 7 can join/);
    await section.locator('summary').click();
    const finn = section.locator('li', { hasText: 'Finn' });
    assert.match(await finn.textContent() || '', /Cannot join yet.*not on one of the school's trusted domains/);
    assert.match(await section.locator('li', { hasText: 'Eve' }).textContent() || '', /Can join/);
    assert.match(await section.locator('li', { hasText: 'Nia Obi' }).textContent() || '', /Cannot join yet.*No signed code-of-conduct form/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'teacher-readiness.png'), fullPage: true });
  });

  it('a pupil cannot open the admin pages', async () => {
    const pupil = await newUser(browser, server.url, 'pupil', { phone: true });
    users.push(pupil);
    const { page } = pupil;
    await signInAs(pupil, DEMO.ada);
    await page.locator('#view-home').waitFor({ state: 'visible', timeout: 10_000 });
    await page.goto('/#/admin/users');
    await page.locator('#view-message').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#message-title').textContent(), 'Not allowed');
    const res = await page.request.get('/api/admin/users');
    assert.equal(res.status(), 403);
    assert.equal((await res.json()).error.code, 'forbidden_role');
  });
});
