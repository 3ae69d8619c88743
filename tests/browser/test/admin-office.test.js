// The school office's admin pages in Chromium, on a phone (390x844) and a laptop (1280x800),
// against the livegate binary in demo mode: trusting a public webmail domain (gmail.com) warns
// first and is done only when the superuser confirms (and nothing is trusted until then),
// while a school domain is trusted at once; the privacy page lists the pupils who have a
// profile and the list follows each save; the admin pages link the livestream log. Screenshots:
// admin-webmail-{phone,laptop}.png, admin-privacy-{phone,laptop}.png. Run with `node --test test/admin-office.test.js` in tests/browser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, newUser, openSession } from '../lib/harness.js';

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };

/**
 * Signs the superuser in through the form and waits for the admin pages.
 * @param {import('../lib/harness.js').User} user
 */
async function signInAdmin(user) {
  await user.page.goto('/');
  await user.page.locator('#signin-email').fill(ADMIN.email);
  await user.page.locator('#signin-password').fill(ADMIN.password);
  await user.page.getByRole('button', { name: 'Sign in' }).click();
  await user.page.locator('#view-admin').waitFor({ state: 'visible', timeout: 10_000 });
}

/** @param {import('playwright-core').Page} page */
async function trustedDomains(page) {
  const res = await page.evaluate(async () => (await fetch('/api/admin/domains')).json());
  return /** @type {{domains: {domain: string}[]}} */ (res).domains.map((d) => d.domain);
}

describe('the office admin pages', () => {
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

  for (const [size, phone, domain] of [['phone', true, 'gmail.com'], ['laptop', false, 'Yahoo.co.uk']]) {
    it(`warns before trusting a public webmail domain (${size})`, async () => {
      const admin = await newUser(browser, server.url, `office-${size}`, { phone: Boolean(phone) });
      users.push(admin);
      const { page } = admin;
      await signInAdmin(admin);
      await page.getByRole('link', { name: 'Trusted domains' }).click();
      await page.locator('#admin-domains li').first().waitFor();
      await page.getByText('Trust another domain').click();
      await page.getByLabel('Domain', { exact: true }).fill(String(domain));
      await page.getByLabel('Why it is trusted').fill('Families without a school account');
      await page.getByRole('button', { name: 'Trust this domain' }).click();
      const warning = page.locator('.admin-webmail');
      await warning.waitFor({ state: 'visible' });
      const name = String(domain).toLowerCase();
      assert.match(await warning.textContent() || '', /public webmail domain: anyone can make an account there/);
      assert.ok(!(await trustedDomains(page)).includes(name), 'nothing is trusted before the confirmation');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
      await page.screenshot({ path: path.join(ARTIFACTS, `admin-webmail-${size}.png`), fullPage: true });

      // Editing the domain withdraws the warning; a school domain needs no confirmation.
      await page.getByLabel('Domain', { exact: true }).fill(`staff-${size}.partner.sch.uk`);
      assert.equal(await warning.isVisible(), false);
      await page.getByRole('button', { name: 'Trust this domain' }).click();
      await page.locator(`#admin-domains li[data-domain="staff-${size}.partner.sch.uk"]`).waitFor();

      await page.getByText('Trust another domain').click();
      await page.getByLabel('Domain', { exact: true }).fill(String(domain));
      await page.getByLabel('Why it is trusted').fill('Families without a school account');
      await page.getByRole('button', { name: 'Trust this domain' }).click();
      await page.getByRole('button', { name: `Trust ${domain} anyway` }).click();
      await page.locator(`#admin-domains li[data-domain="${name}"]`).waitFor();
      assert.match(await page.locator('.admin-ok').textContent() || '', new RegExp(`${name.replace(/\./g, '\\.')} is now trusted`));
      const bad = admin.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
      assert.deepEqual(bad, []);
    });
  }

  for (const [size, phone, alias] of [['phone', true, 'Star'], ['laptop', false, 'Comet']]) {
    it(`lists the pupils with a privacy profile and links the log (${size})`, async () => {
      const admin = await newUser(browser, server.url, `privacy-${size}`, { phone: Boolean(phone) });
      users.push(admin);
      const { page } = admin;
      await signInAdmin(admin);
      const log = page.getByRole('link', { name: /Livestream log/ });
      assert.equal(await log.getAttribute('href'), '/log.html');
      await page.getByRole('link', { name: 'Privacy profiles' }).click();
      const list = page.locator('#privacy-list');
      await list.locator('li').first().waitFor();
      const cara = list.locator('li', { hasText: 'Cara' });
      assert.equal(await cara.count(), 0, 'Cara has no profile yet');
      await page.getByLabel('Find a pupil').fill('cara@');
      await page.locator('#view-admin li', { hasText: 'cara@pupils.demo.sch.uk' }).getByRole('button').first().click();
      await page.getByRole('heading', { name: 'Cara', level: 3 }).waitFor();
      await page.getByLabel('Name other pupils see (leave empty to use their own name)').fill(String(alias));
      await page.getByRole('button', { name: 'Save privacy profile' }).click();
      // The list refreshes after the save, with what the profile sets.
      await cara.waitFor();
      assert.match(await cara.textContent() || '', new RegExp(`shown to pupils as "${alias}"`));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
      await page.screenshot({ path: path.join(ARTIFACTS, `admin-privacy-${size}.png`), fullPage: true });

      // Saved back to the defaults, Cara leaves the list.
      await page.getByLabel('Name other pupils see (leave empty to use their own name)').fill('');
      await page.getByRole('button', { name: 'Save privacy profile' }).click();
      await cara.waitFor({ state: 'detached' });
      const bad = admin.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
      assert.deepEqual(bad, []);
    });
  }
});
