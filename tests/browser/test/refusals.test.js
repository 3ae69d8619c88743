// Refusals with a next step (issue 13, part 5), in Chromium against the livegate binary in
// demo mode, pupils on phones: before they try, the home page tells a pupil the gate would
// refuse why and who to ask, with no Join button (Eve: no signed form, so the code of conduct
// to read; Finn: an email domain the school does not trust, so "Sign out", offered to him and
// to nobody else); asking the home page records nothing in the livestream log, while every real
// attempt does, once per person, reason and lesson however often it is repeated (Owen opening
// another class's lesson link and asking for its ticket; Eve's attempts). The code of conduct
// is readable from the home page and from the refusal. Screenshots in artifacts/refusals-*.png.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS,
  callApi,
  closeSession,
  DEMO,
  newUser,
  openSession,
  signIn,
  startTeaching,
  waitUntil,
} from '../lib/harness.js';

const EVE = { email: 'eve@pupils.demo.sch.uk', password: 'demo-pupil' };
const FINN = { email: 'finn@home-mail.example', password: 'demo-pupil' };

describe('refusals with a next step', () => {
  /** @type {Awaited<ReturnType<typeof openSession>>['server']} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @type {Record<string, import('playwright-core').Page>} */
  const page = {};
  let lessonId = '';

  /** @param {string} label @param {{phone?: boolean}} [opts] */
  async function user(label, opts = { phone: true }) {
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    page[label] = u.page;
    return u;
  }

  /** @param {import('playwright-core').Page} p @param {string} name */
  const shot = (p, name) => p.screenshot({ path: path.join(ARTIFACTS, `refusals-${name}.png`), fullPage: true });

  /** The lesson's `refused` events, as the teacher reads them in the livestream log. */
  async function refusals() {
    const res = await callApi(page.teacher, 'GET', `/api/log/lessons/${lessonId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return /** @type {any[]} */ (res.body.events).filter((e) => e.kind === 'refused')
      .map((e) => ({ who: e.subject_name, reason: e.detail, count: e.count }));
  }

  /** The card of 7A on a pupil's home page. @param {import('playwright-core').Page} p */
  const card7a = (p) => p.locator('li[data-class-id="7a"]');

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('the home page says why before a pupil tries, with no Join button, and logs nothing', async () => {
    await signIn(await user('teacher', {}), DEMO.teacher);
    lessonId = (await startTeaching(page.teacher)).lesson_id;

    // Ada may join: her card has the Join button and no refusal.
    await signIn(await user('ada'), DEMO.ada);
    await card7a(page.ada).getByRole('button', { name: /Join lesson/ }).waitFor({ timeout: 10_000 });
    assert.equal(await card7a(page.ada).locator('.card-refusal').count(), 0);

    // Eve has no signed form: live now, but no Join; why, who to ask, the code of conduct.
    await signIn(await user('eve'), EVE);
    const eve = page.eve;
    await card7a(eve).locator('.card-status-live').waitFor({ timeout: 10_000 });
    const eveBox = card7a(eve).locator('.card-refusal');
    await eveBox.waitFor();
    assert.equal(await card7a(eve).getByRole('button', { name: /Join lesson/ }).count(), 0, 'no Join button for Eve');
    assert.equal(await eveBox.getAttribute('data-reason'), 'consent_missing');
    const eveText = (await eveBox.textContent()) || '';
    assert.match(eveText, /code of conduct/);
    assert.match(eveText, /Who can help: the school office/);
    assert.equal(await eveBox.getByRole('button', { name: /Sign out/ }).count(), 0, 'no sign-out for a consent refusal');
    await shot(eve, 'eve-home-phone');

    // Finn's email domain is not trusted: the same, with "Sign out" as his next step.
    await signIn(await user('finn'), FINN);
    const finnBox = card7a(page.finn).locator('.card-refusal');
    await finnBox.waitFor({ timeout: 10_000 });
    assert.equal(await finnBox.getAttribute('data-reason'), 'domain_not_trusted');
    assert.equal(await card7a(page.finn).getByRole('button', { name: /Join lesson/ }).count(), 0, 'no Join button for Finn');
    assert.match((await finnBox.textContent()) || '', /sign out and sign in with it/);
    assert.equal(await finnBox.getByRole('link', { name: /code of conduct/ }).count(), 0);
    await shot(page.finn, 'finn-home-phone');

    // The home page refreshes itself (every 8 s): let it ask again, then nothing is logged.
    await eve.waitForTimeout(9_000);
    assert.deepEqual(await refusals(), [], 'asking the home page is not an attempt to join');

    // Finn signs out from his card, back to the sign-in form.
    await finnBox.getByRole('button', { name: /Sign out/ }).click();
    await page.finn.locator('#view-signin').waitFor({ state: 'visible', timeout: 10_000 });
  });

  it('the code of conduct is readable from a refusal and from the home page', async () => {
    const eve = page.eve;
    await card7a(eve).getByRole('link', { name: 'Read the code of conduct' }).click();
    await eve.locator('#view-conduct').waitFor({ state: 'visible', timeout: 10_000 });
    await waitUntil(async () => ((await eve.locator('#conduct-body').textContent()) || '').includes('our agreement'),
      { timeoutMs: 10_000, what: "the school's code of conduct" });
    assert.match((await eve.locator('#conduct-meta').textContent()) || '', /Version \d+, published/);
    await shot(eve, 'conduct-phone');
    await eve.getByRole('button', { name: 'Back' }).click();
    await eve.locator('#view-home').waitFor({ state: 'visible' });
    await eve.locator('#home-conduct a').click();
    await eve.locator('#view-conduct').waitFor({ state: 'visible', timeout: 10_000 });
    await eve.getByRole('button', { name: 'Back' }).click();
    await eve.locator('#view-home').waitFor({ state: 'visible' });
    // The teacher reads it too, at a laptop's size.
    await page.teacher.evaluate(() => { location.hash = '#/conduct'; });
    await page.teacher.locator('#view-conduct').waitFor({ state: 'visible', timeout: 10_000 });
    await waitUntil(async () => ((await page.teacher.locator('#conduct-body').textContent()) || '').includes('our agreement'),
      { timeoutMs: 10_000, what: 'the code of conduct for the teacher' });
  });

  it('every attempt is logged once per person, reason and lesson; refusals name who to ask', async () => {
    // Owen opens 7A's lesson link (another class's), three times, and asks for its ticket.
    await signIn(await user('owen'), DEMO.owen);
    const owen = page.owen;
    for (let i = 0; i < 3; i += 1) {
      await owen.goto('/#/');
      await owen.locator('#view-home').waitFor({ state: 'visible' });
      await owen.goto(`/#/lessons/${lessonId}`);
      await owen.locator('#view-message[data-code="not_on_roster"]').waitFor({ state: 'visible', timeout: 10_000 });
    }
    assert.equal(await owen.locator('#message-ask').textContent(), 'Who can help: your teacher.');
    assert.equal(await owen.locator('#message-sign-out').isVisible(), false, 'no sign-out for a roster refusal');
    assert.equal(await owen.locator('#message-conduct').isVisible(), false);
    await shot(owen, 'owen-link-phone');
    const ticket = await callApi(owen, 'POST', `/api/lessons/${lessonId}/ticket`);
    assert.equal(ticket.body?.error?.code, 'not_on_roster');

    // Eve tries anyway, by the lesson's link: refused at the ticket, twice; the page says why,
    // who to ask and offers the code of conduct.
    const eve = page.eve;
    for (let i = 0; i < 2; i += 1) {
      await eve.goto('/#/');
      await eve.locator('#view-home').waitFor({ state: 'visible' });
      await eve.goto(`/#/lessons/${lessonId}`);
      await eve.getByRole('button', { name: 'Join lesson', exact: true }).click();
      await eve.locator('#view-message[data-code="consent_missing"]').waitFor({ state: 'visible', timeout: 10_000 });
    }
    assert.equal(await eve.locator('#message-ask').textContent(), 'Who can help: the school office.');
    assert.equal(await eve.locator('#message-conduct').isVisible(), true);
    assert.equal(await eve.locator('#message-sign-out').isVisible(), false);
    await shot(eve, 'eve-refused-phone');

    // One row per person and reason, each counting every attempt.
    const rows = await waitUntil(async () => {
      const r = await refusals();
      return r.length >= 2 && r.find((x) => x.who === 'Eve')?.count >= 2 ? r : null;
    }, { timeoutMs: 10_000, what: 'the refusals in the log' });
    const byWho = rows.map((r) => `${r.who}:${r.reason}`).sort();
    assert.deepEqual(byWho, ['Eve:consent_missing', 'Owen:not_on_roster'], JSON.stringify(rows));
    const owenRow = rows.find((r) => r.who === 'Owen');
    assert.ok(owenRow && owenRow.count >= 4, `Owen's 3 link openings and his ticket count on one row (${JSON.stringify(rows)})`);
    assert.ok(rows.find((r) => r.who === 'Eve').count >= 2, JSON.stringify(rows));
  });
});
