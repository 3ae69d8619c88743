// Accessibility of the web client (issue 13, part 8), in Chromium against the livegate binary
// in demo mode: the skip link is the first Tab stop on every page (sign-in, home, the
// livestream log); a heading the page focuses after navigation shows no heavy outline, even
// after keyboard use (when :focus-visible would match); disclosure widgets show an expand
// marker that turns when open (screenshots); and who is speaking is said in words: a pupil
// sees "Speaking now: Ms Rivera" while the teacher talks, and it goes when she mutes.
// Screenshots in artifacts/a11y-*.png.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS,
  closeSession,
  DEMO,
  newUser,
  openSession,
  signIn,
  startTeaching,
  waitUntil,
} from '../lib/harness.js';

describe('accessibility: skip link, focus, disclosure markers, who is speaking', () => {
  /** @type {Awaited<ReturnType<typeof openSession>>['server']} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @type {Record<string, import('playwright-core').Page>} */
  const page = {};

  /** @param {string} label @param {{phone?: boolean}} [opts] */
  async function user(label, opts = {}) {
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    page[label] = u.page;
    return u;
  }

  /** @param {import('playwright-core').Page} p @param {string} name */
  const shot = (p, name) => p.screenshot({ path: path.join(ARTIFACTS, `a11y-${name}.png`) });

  /** What has focus: its id, classes and tag. @param {import('playwright-core').Page} p */
  const focused = (p) => p.evaluate(() => {
    const el = document.activeElement;
    return el ? { tag: el.tagName, id: el.id, cls: el.className } : null;
  });

  /** The first Tab on a freshly loaded page goes to the skip link. @param {import('playwright-core').Page} p */
  async function firstTabIsSkipLink(p, where) {
    await p.keyboard.press('Tab');
    const f = await focused(p);
    assert.equal(f?.cls, 'skip-link', `${where}: the first Tab focuses the skip link (got ${JSON.stringify(f)})`);
    assert.equal(await p.locator('.skip-link').isVisible(), true);
  }

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('the skip link is the first Tab stop, and a focused heading has no outline', async () => {
    const { page: p } = await user('keyboard');
    await p.goto('/');
    await p.locator('#view-signin').waitFor({ state: 'visible', timeout: 10_000 });
    await firstTabIsSkipLink(p, 'sign-in');
    await shot(p, 'skip-link-laptop');

    // Sign in with the keyboard alone, so focus-visible heuristics are in keyboard mode.
    await p.locator('#signin-email').focus();
    await p.keyboard.type(DEMO.ada.email);
    await p.keyboard.press('Tab');
    await p.keyboard.type(DEMO.ada.password);
    await p.keyboard.press('Enter');
    await p.locator('#view-home').waitFor({ state: 'visible', timeout: 10_000 });
    await waitUntil(async () => (await focused(p))?.id === 'home-title', { timeoutMs: 5_000, what: 'the home heading focused' });
    const ring = await p.locator('#home-title').evaluate((el) => {
      const s = getComputedStyle(el);
      return { outline: s.outlineStyle === 'none' ? 'none' : `${s.outlineStyle} ${s.outlineWidth}`, shadow: s.boxShadow };
    });
    assert.deepEqual(ring, { outline: 'none', shadow: 'none' }, 'a heading the page focused shows no ring');
    await shot(p, 'home-heading-focused-laptop');
    // A control reached by Tab still shows its ring.
    await p.keyboard.press('Tab');
    const controlRing = await p.evaluate(() => {
      const s = getComputedStyle(/** @type {Element} */ (document.activeElement));
      return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    });
    assert.ok(controlRing, 'keyboard focus on a control keeps its ring');

    // Reloaded while signed in, and on the livestream log's page: the skip link comes first.
    await p.reload();
    await p.locator('#view-home').waitFor({ state: 'visible', timeout: 10_000 });
    await firstTabIsSkipLink(p, 'home after a reload');
    await p.goto('/log.html');
    await p.locator('#log-title').waitFor({ state: 'visible', timeout: 10_000 });
    await p.waitForTimeout(500);
    await firstTabIsSkipLink(p, 'the livestream log');
  });

  it('disclosure widgets show an expand marker that turns when open', async () => {
    await signIn(await user('teacher'), DEMO.teacher);
    const t = page.teacher;
    const summary = t.locator('details.readiness summary').first();
    await summary.waitFor({ timeout: 10_000 });
    /** @param {import('playwright-core').Locator} s */
    const marker = (s) => s.evaluate((el) => {
      const m = getComputedStyle(el, '::before');
      return { content: m.content, width: parseFloat(m.borderLeftWidth), transform: m.transform };
    });
    const closed = await marker(summary);
    assert.notEqual(closed.content, 'none');
    assert.ok(closed.width >= 6, `a visible marker (${JSON.stringify(closed)})`);
    await t.locator('#home-readiness').screenshot({ path: path.join(ARTIFACTS, 'a11y-disclosure-closed-laptop.png') });
    await summary.click();
    const open = await marker(summary);
    assert.notEqual(open.transform, closed.transform, 'the marker turns when open');
    await t.locator('#home-readiness').screenshot({ path: path.join(ARTIFACTS, 'a11y-disclosure-open-laptop.png') });
  });

  it('who is speaking is said in words, and stops when the teacher mutes', async () => {
    const t = page.teacher;
    await startTeaching(t);
    await signIn(await user('ada', { phone: true }), DEMO.ada);
    const ada = page.ada;
    await ada.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ }).click({ timeout: 15_000 });
    await ada.getByRole('button', { name: 'Join lesson', exact: true }).click();
    const line = ada.locator('#p-speaking');
    await waitUntil(async () => ((await line.textContent()) || '').includes('Speaking now: Ms Rivera'),
      { timeoutMs: 20_000, what: "the pupil's indicator for the teacher's voice" });
    assert.match((await ada.locator('#p-stage figcaption').textContent()) || '', /speaking/, "the teacher's tile says speaking");
    await shot(ada, 'speaking-phone');
    // The people panel's marker, on a phone.
    const people = ada.locator('.people-panel summary');
    assert.ok((await people.evaluate((el) => parseFloat(getComputedStyle(el, '::before').borderLeftWidth))) >= 6);

    await t.getByRole('button', { name: 'Mute microphone' }).click();
    await waitUntil(async () => !(await line.isVisible()), { timeoutMs: 15_000, what: 'the indicator to go when she mutes' });
    assert.doesNotMatch((await ada.locator('#p-stage figcaption').textContent()) || '', /speaking/);
    await t.getByRole('button', { name: 'Unmute microphone' }).click();
    await waitUntil(async () => line.isVisible(), { timeoutMs: 20_000, what: 'the indicator back when she unmutes' });
  });
});
