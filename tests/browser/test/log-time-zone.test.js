// End-to-end test of the school's time zone, in Debian's Chromium against the livegate binary
// in demo mode. A superuser on a phone opens the admin "Time zone" section, sees the current
// zone (Europe/London), picks Pacific/Kiritimati (UTC+14) and sees it saved, also after a
// reload. A teacher whose browser runs on Pacific/Pago_Pago (UTC-11, 25 hours behind the
// school, so the two never share a calendar day) starts a lesson and filters the log by the
// school's day of it: the lesson is listed, the CSV links carry the days as picked, the
// browser's own day of the lesson lists nothing, and a range that ends before it starts is
// explained next to the filter, which stays on screen. (A filter that turned the picked days
// into the browser's midnights would find nothing on the school's day.) Screenshots go to
// the artifacts folder. Run with `npm test` in tests/browser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, DEMO, newUser, openSession, signIn, startServer } from '../lib/harness.js';

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };
const SCHOOL_ZONE = 'Pacific/Kiritimati';
const BROWSER_ZONE = 'Pacific/Pago_Pago';

/**
 * The calendar day before a `YYYY-MM-DD` day.
 * @param {string} day
 */
function dayBefore(day) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

describe("the school's time zone and the log's days", () => {
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

  it('a superuser sets the time zone in the admin pages and it stays set', async () => {
    const admin = await newUser(browser, server.url, 'tz-admin', { phone: true });
    users.push(admin);
    const { page } = admin;
    await page.goto('/');
    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#view-admin').waitFor({ state: 'visible', timeout: 10_000 });

    await page.getByRole('link', { name: 'Time zone' }).click();
    await page.getByRole('heading', { name: 'Time zone', exact: true }).waitFor();
    assert.equal(await page.locator('#admin-nav a[aria-current="page"]').textContent(), 'Time zone');
    assert.match(await page.locator('#time-zone-current').textContent() || '', /The school's time zone is Europe\/London \(\d\d:\d\d (GMT|BST|GMT\+1)/);
    const choice = page.getByLabel('Time zone', { exact: true });
    assert.equal(await choice.inputValue(), 'Europe/London', 'the current zone is chosen');
    assert.ok(await choice.locator('option').count() > 300, 'the places of the zone database are offered');
    assert.equal(await choice.locator('option[value="GB"]').count(), 0, 'old aliases are not');

    await choice.selectOption(SCHOOL_ZONE);
    await page.getByRole('button', { name: 'Save time zone' }).click();
    await page.locator('.admin-ok', { hasText: `Saved. The livestream log now shows times in ${SCHOOL_ZONE}.` }).waitFor();
    assert.match(await page.locator('#time-zone-current').textContent() || '', new RegExp(`is ${SCHOOL_ZONE}`));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px)`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-time-zone-phone.png'), fullPage: true });

    // Saved on the server: a fresh load shows it, and the log answers in it.
    await page.goto('/#/admin/timezone');
    await page.locator('#time-zone-current', { hasText: SCHOOL_ZONE }).waitFor();
    assert.equal(await page.getByLabel('Time zone', { exact: true }).inputValue(), SCHOOL_ZONE);
    const res = await page.request.get('/api/log/lessons');
    assert.equal((await res.json()).time_zone, SCHOOL_ZONE);
    const bad = admin.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
    assert.deepEqual(bad, [], "the superuser's console");
  });

  it("filters the log by the school's day, not the browser's", async () => {
    const teacher = await newUser(browser, server.url, 'tz-teacher');
    users.push(teacher);
    const { page } = teacher;
    const cdp = await teacher.context.newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: BROWSER_ZONE });
    await signIn(teacher, DEMO.teacher);
    assert.equal(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), BROWSER_ZONE);

    const started = await page.request.post('/api/lessons', { data: { class_id: '7a' } });
    assert.equal(started.status(), 201, await started.text());
    const lessonId = (await started.json()).lesson.id;
    // The lesson's day at school, from the log itself (its start in the school's zone).
    /** @type {any} */
    let row;
    for (let i = 0; i < 100 && !row; i += 1) {
      const list = await (await page.request.get('/api/log/lessons')).json();
      row = list.lessons.find((/** @type {any} */ l) => l.id === lessonId);
      if (!row) await page.waitForTimeout(100);
    }
    assert.ok(row, 'the lesson is in the log');
    const schoolDay = String(row.started_local).slice(0, 10);
    const browserDay = await page.evaluate((ms) => {
      const d = new Date(ms);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    }, row.started_at);
    assert.notEqual(browserDay, schoolDay, 'the browser and the school are on different days');

    await page.goto('/log.html');
    await page.locator('#log-list:not([hidden])').waitFor();
    assert.equal(await page.locator('#log-school').textContent(), `Times in ${SCHOOL_ZONE}`);
    const card = page.locator('#log-lessons .card', { hasText: '7A Science' });

    await page.getByLabel('From').fill(schoolDay);
    await page.getByLabel('To').fill(schoolDay);
    await page.getByRole('button', { name: 'Show' }).click();
    // The unfiltered list already shows the card: wait for the filtered one, drawn together
    // with the export links that carry the filter's days.
    const days = `from_date=${schoolDay}&to_date=${schoolDay}`;
    await page.waitForFunction(
      (want) => document.getElementById('export-lessons')?.getAttribute('href') === want,
      `/api/log/lessons.csv?${days}`,
    );
    await card.waitFor({ state: 'visible' });
    assert.equal(await card.count(), 1);
    assert.match(await card.textContent() || '', new RegExp(`^7A Science${schoolDay} \\d\\d:\\d\\d:\\d\\d `));
    assert.equal(await page.locator('#export-lessons').getAttribute('href'), `/api/log/lessons.csv?${days}`, 'the CSVs take the same days');
    assert.equal(await page.locator('#export-intervals').getAttribute('href'), `/api/log/intervals.csv?${days}`);
    const csv = await (await page.request.get(await page.locator('#export-lessons').getAttribute('href') || '')).text();
    assert.ok(csv.includes(lessonId), 'the lesson is in the CSV of that day');

    // The browser's own day of the lesson is not the school's day of it.
    await page.getByLabel('From').fill(browserDay);
    await page.getByLabel('To').fill(browserDay);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('#log-empty:not([hidden])').waitFor();
    assert.equal(await card.count(), 0);

    // The day before the school's day, up to it: listed again.
    await page.getByLabel('From').fill(dayBefore(schoolDay));
    await page.getByLabel('To').fill(schoolDay);
    await page.getByRole('button', { name: 'Show' }).click();
    await card.waitFor({ state: 'visible' });

    // A range that ends before it starts: said plainly beside the filter, which stays.
    await page.getByLabel('From').fill(schoolDay);
    await page.getByLabel('To').fill(dayBefore(schoolDay));
    await page.getByRole('button', { name: 'Show' }).click();
    const error = page.locator('#filter-error');
    await error.filter({ hasText: 'The From day must be on or before the To day.' }).waitFor();
    assert.ok(await page.locator('#log-filter').isVisible(), 'the filter stays on screen');
    assert.equal(await card.count(), 0, 'no stale lessons under the error');
    assert.equal(await page.locator('#export-lessons').isVisible(), false, 'no export of the last good filter under the error');
    const refused = await page.request.get(`/api/log/lessons?from_date=${schoolDay}&to_date=${dayBefore(schoolDay)}`);
    assert.equal(refused.status(), 400);
    assert.equal((await refused.json()).error.code, 'bad_date');
    await page.screenshot({ path: path.join(ARTIFACTS, 'log-filter-bad-range.png'), fullPage: true });
    // Put right, the error goes.
    await page.getByLabel('To').fill(schoolDay);
    await page.getByRole('button', { name: 'Show' }).click();
    await card.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), '');
    assert.ok(await page.locator('#export-lessons').isVisible());

    const bad = teacher.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
    assert.deepEqual(bad, [], "the teacher's console");
  });
});
