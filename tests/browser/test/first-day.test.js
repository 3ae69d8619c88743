// A school's first day in real browsers (Debian's Chromium via playwright-core), with no demo
// seed: `livegate serve` starts empty and its sign-in page says how to create a school; the
// operator runs `livegate school add`; the superuser opens the printed invite link on a phone,
// sets a password, signs in, trusts the school's domains, imports a roster CSV and records one
// pupil's consent form; the teacher (added by the superuser, with an invite link) starts the
// class's lesson and publishes; the pupil with consent decodes her video, and the pupil without
// one is refused (`consent_missing`) and receives nothing. On SQLite, and on PostgreSQL too when
// LIVEGATE_TEST_POSTGRES_URL is set. Saves artifacts/first-day-setup-phone.png (the sign-in page
// of a server with no school) and first-day-admin-phone.png. Run with `npm test` in
// tests/browser.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ARTIFACTS,
  debugState,
  ensureArtifacts,
  launchBrowser,
  mediaStats,
  newUser,
  REPO_ROOT,
  saveLogs,
  startServer,
  waitUntil,
} from '../lib/harness.js';

const BIN = process.env.LIVEGATE_BIN || path.join(REPO_ROOT, 'target', 'debug', 'livegate');
const PASSWORD = 'first day at brook';
const ROSTER = [
  'Pupil Email,First Name,Last Name,Class',
  'amy@pupils.brook.sch.uk,Amy,Shah,6B Science',
  'bo@pupils.brook.sch.uk,Bo,Lind,6B Science',
].join('\r\n');

/**
 * Runs an operator's command on the server's folder and database.
 * @param {string[]} args
 * @param {{dataDir: string, db: string}} where
 */
function livegate(args, where) {
  return execFileSync(BIN, [...args, '--data-dir', where.dataDir, '--database-url', where.db], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * A fresh PostgreSQL database on the test server, or null when PostgreSQL tests are off.
 * @returns {string | null}
 */
function freshPostgres() {
  const admin = process.env.LIVEGATE_TEST_POSTGRES_URL;
  if (!admin) return null;
  const name = `lg_firstday_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  execFileSync('psql', [admin, '-q', '-c', `CREATE DATABASE ${name}`], { stdio: 'ignore' });
  return `${admin.slice(0, admin.lastIndexOf('/'))}/${name}`;
}

/**
 * A same-origin JSON call from inside a signed-in page (its cookie, its Origin).
 * @param {import('playwright-core').Page} page
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 */
function call(page, method, url, body) {
  return page.evaluate(async ({ method, url, body }) => {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }, { method, url, body });
}

/**
 * Opens a set-password link and chooses the password, as a person would.
 * @param {import('playwright-core').Page} page
 * @param {string} link
 */
async function setPassword(page, link) {
  await page.goto(link);
  await page.locator('#view-password').waitFor({ state: 'visible' });
  await page.getByLabel('New password').fill(PASSWORD);
  await page.getByLabel('Type it again').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.locator('#view-signin').waitFor({ state: 'visible' });
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} email
 */
async function signInAs(page, email) {
  await page.goto('/');
  await page.locator('#signin-email').fill(email);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * The whole first day against one database.
 * @param {string} label
 * @param {(dataDir: string) => string | null} database the database URL for a data folder
 */
async function firstDay(label, database) {
  ensureArtifacts();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `livegate-${label}-`));
  const db = database(dataDir);
  if (!db) return;
  const where = { dataDir, db };
  const server = await startServer({ command: 'serve', dataDir, args: ['--database-url', db] });
  const browser = await launchBrowser();
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @param {string} name @param {{phone?: boolean}} [opts] */
  const person = async (name, opts) => {
    const u = await newUser(browser, server.url, `${label}-${name}`, opts);
    users.push(u);
    return u;
  };
  try {
    // A new server says how to begin, on its sign-in page.
    assert.match(server.log.join(''), /livegate school add/);
    const head = await person('superuser', { phone: true });
    await head.page.goto('/');
    const notice = head.page.locator('#signin-setup');
    await notice.waitFor({ state: 'visible' });
    assert.match(await notice.textContent() || '', /no school yet[\s\S]*livegate school add --name/);
    await head.page.screenshot({ path: path.join(ARTIFACTS, `${label}-setup-phone.png`), fullPage: true });

    const out = livegate(['school', 'add', '--name', 'Brook Academy', '--superuser', 'head@brook.sch.uk',
      '--public-url', server.url], where);
    const link = (out.match(/^(http\S+#\/set-password\?token=[0-9a-f]{64})$/m) || [])[1];
    assert.ok(link, `no invite link in: ${out}`);

    // The superuser sets a password from the link and signs in; the notice is gone.
    await setPassword(head.page, link);
    // The sign-in page asks the server again, and the notice goes (it asks while it renders).
    await head.page.locator('#signin-setup').waitFor({ state: 'hidden', timeout: 5_000 });
    await signInAs(head.page, 'head@brook.sch.uk');
    const page = head.page;
    await page.locator('#view-admin').waitFor({ state: 'visible', timeout: 10_000 });

    // Trust the school's domains, import the roster, record one consent form: in the pages.
    await page.getByRole('link', { name: 'Trusted domains' }).click();
    for (const [domain, why] of [['brook.sch.uk', 'Staff accounts'], ['pupils.brook.sch.uk', 'Pupil accounts']]) {
      await page.getByText('Trust another domain').click();
      await page.getByLabel('Domain', { exact: true }).fill(domain);
      await page.getByLabel('Why it is trusted').fill(why);
      await page.getByRole('button', { name: 'Trust this domain' }).click();
      await page.locator(`#admin-domains li[data-domain="${domain}"]`).waitFor();
    }
    await page.getByRole('link', { name: 'Classes & rosters' }).click();
    await page.getByRole('heading', { name: 'Classes and rosters' }).waitFor();
    await page.getByLabel('Roster file (CSV)').setInputFiles({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(ROSTER, 'utf8') });
    await page.getByRole('button', { name: 'Check file' }).click();
    await page.locator('#import-result .admin-ok').waitFor();
    await page.locator('#import-apply').click();
    await page.locator('.admin-ok', { hasText: 'Imported.' }).waitFor();
    const classes = await call(page, 'GET', '/api/admin/classes');
    const klass = classes.body.classes.find((/** @type {any} */ c) => c.name === '6B Science');
    assert.ok(klass, JSON.stringify(classes.body));
    await page.goto(`/#/admin/consent/${klass.id}`);
    const amy = page.locator('#consent-missing li', { hasText: 'Amy' });
    await amy.waitFor();
    await amy.getByRole('button').click();
    await page.getByLabel('Parent or carer who signed').fill('A. Shah');
    await page.getByRole('button', { name: 'Record form' }).click();
    await page.locator('#consent-state', { hasText: 'Signed' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, `${label}-admin-phone.png`), fullPage: true });

    // The teacher's account and class, and everyone's invite links (the API the pages use).
    const made = await call(page, 'POST', '/api/admin/users', { email: 'ms.lee@brook.sch.uk', display_name: 'Ms Lee', role: 'teacher' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const added = await call(page, 'POST', `/api/admin/classes/${klass.id}/members`, { user_id: made.body.user.id, as: 'teacher' });
    assert.ok(added.status < 300, JSON.stringify(added.body));
    const all = (await call(page, 'GET', '/api/admin/users')).body.users;
    /** @param {string} email */
    const inviteFor = async (email) => {
      const u = all.find((/** @type {any} */ x) => x.email === email);
      const res = await call(page, 'POST', `/api/admin/users/${u.id}/invite`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.link.url;
    };
    const teacher = await person('teacher');
    const amyUser = await person('amy', { phone: true });
    const boUser = await person('bo');
    for (const [u, email] of /** @type {const} */ ([[teacher, 'ms.lee@brook.sch.uk'], [amyUser, 'amy@pupils.brook.sch.uk'], [boUser, 'bo@pupils.brook.sch.uk']])) {
      await setPassword(u.page, await inviteFor(email));
      await signInAs(u.page, email);
      await u.page.locator('#view-home').waitFor({ state: 'visible', timeout: 10_000 });
    }

    // The teacher starts the lesson and publishes.
    const t = teacher.page;
    await t.locator(`li[data-class-id="${klass.id}"]`).getByRole('button', { name: /Start lesson/ }).click();
    await t.locator('#view-notice').waitFor({ state: 'visible' });
    await t.getByRole('button', { name: 'Start teaching' }).click();
    const joined = await waitUntil(async () => {
      const s = await debugState(t);
      return s.state === 'joined' ? s : null;
    }, { timeoutMs: 15_000, what: 'the teacher to join' });
    const lessonId = joined.lesson_id;
    await waitUntil(async () => (await mediaStats(t)).some((s) => s.direction === 'send'
      && s.outbound.some((o) => o.kind === 'video' && o.packetsSent > 0)), { timeoutMs: 15_000, what: 'the teacher to send video' });

    // Amy, with consent, joins and decodes the teacher's video.
    const a = amyUser.page;
    const join = a.locator(`li[data-class-id="${klass.id}"]`).getByRole('button', { name: /Join lesson/ });
    await join.waitFor({ state: 'visible', timeout: 15_000 });
    await join.click();
    await a.locator('#view-notice').waitFor({ state: 'visible' });
    await a.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await waitUntil(async () => (await mediaStats(a)).some((s) => s.direction === 'recv'
      && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)), { timeoutMs: 15_000, what: 'Amy to decode video' });

    // Bo, without consent, is refused in plain words and never holds a peer connection.
    const b = boUser.page;
    await b.goto(`/#/lessons/${lessonId}`);
    // On the class list, so the page offers the lesson; the gate refuses at the join.
    await b.locator('#view-notice').waitFor({ state: 'visible', timeout: 10_000 });
    await b.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await b.locator('#view-message').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await b.locator('#view-message').getAttribute('data-code'), 'consent_missing');
    const ticket = await call(b, 'POST', `/api/lessons/${lessonId}/ticket`);
    assert.equal(ticket.status, 403);
    assert.equal(ticket.body.error.code, 'consent_missing');
    await b.waitForTimeout(1_000);
    assert.deepEqual(await mediaStats(b), [], 'Bo holds no peer connection');

    // The operator sees the school, its people and its live lesson.
    const list = livegate(['school', 'list'], where);
    assert.match(list, /\tBrook Academy\t4\t1\t1\tpresent\tin service/);
  } finally {
    saveLogs(users, server.log);
    for (const u of users) await u.context.close().catch(() => {});
    await browser.close().catch(() => {});
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('a school\'s first day, from `livegate school add` to a lesson', () => {
  after(() => {});

  it('on SQLite', async () => {
    await firstDay('first-day', (dir) => `sqlite:${path.join(dir, 'livegate.db')}`);
  });

  it('on PostgreSQL (when LIVEGATE_TEST_POSTGRES_URL is set)', async (t) => {
    if (!process.env.LIVEGATE_TEST_POSTGRES_URL) {
      t.skip('LIVEGATE_TEST_POSTGRES_URL is not set');
      return;
    }
    await firstDay('first-day-pg', () => freshPostgres());
  });
});
