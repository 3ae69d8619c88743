// A class of 30 on the teacher's laptop (issue 13, part 2): in Chromium against the livegate
// binary in demo mode, the school's superuser adds 26 pupils to 7A over the admin API (with
// signed forms and passwords, as the office would), and 30 pupils join the teacher's lesson as
// real participants of the real server: one browser page signs in as each in turn and joins
// over its own WebSocket (no media: they need none to be in the list). On a 1366x768 laptop the
// teacher's page does not scroll: all 30 rows are in the pupil list, which scrolls inside its
// own panel when it is taller than the screen, and "End lesson" stays on the screen while it
// does. A raised hand comes first. Screenshots at laptop and phone sizes in
// artifacts/class-of-30-*.png.

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

const ADMIN = { email: 'admin@demo.sch.uk', password: 'demo-admin' };
const PASSWORD = 'a-long-test-password';
const EXTRA = 26;

describe('a class of 30 on a laptop', () => {
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

  /** @param {string} label @param {{phone?: boolean}} [opts] */
  async function user(label, opts = {}) {
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    return u.page;
  }

  it('30 pupils fit the teacher\'s laptop screen, the list scrolling inside its panel', async () => {
    // The office adds 26 pupils to 7A, with signed forms and passwords.
    const admin = await user('admin');
    await admin.goto('/');
    const session = await callApi(admin, 'POST', '/api/session', ADMIN);
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const conduct = await callApi(admin, 'GET', '/api/admin/conduct');
    const version = conduct.body.required_version;
    /** @type {{email: string, password: string}[]} */
    const pupils = ['ada', 'ben', 'cara', 'dev'].map((k) => ({ email: DEMO[k].email, password: DEMO[k].password }));
    for (let i = 1; i <= EXTRA; i += 1) {
      const email = `class30-${i}@pupils.demo.sch.uk`;
      const name = i % 7 === 0 ? `Pupil ${i} Bartholomew-Featherstonehaugh` : `Pupil ${i}`;
      const made = await callApi(admin, 'POST', '/api/admin/users', { email, display_name: name, role: 'pupil' });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const id = made.body.user.id;
      const member = await callApi(admin, 'POST', '/api/admin/classes/7a/members', { user_id: id, as: 'pupil' });
      assert.equal(member.status, 201, JSON.stringify(member.body));
      const form = await callApi(admin, 'POST', `/api/admin/pupils/${id}/consents`, {
        pupil_signed: true, parent_name: 'A. Parent', signed_on: Date.now() - 86_400_000, method: 'paper', conduct_version: version,
      });
      assert.equal(form.status, 201, JSON.stringify(form.body));
      const invite = await callApi(admin, 'POST', `/api/admin/users/${id}/invite`);
      const token = new URL(invite.body.link.url, server.url).hash.split('token=')[1];
      const set = await callApi(admin, 'POST', '/api/account/password', { token, password: PASSWORD });
      assert.equal(set.status, 204, JSON.stringify(set.body));
      pupils.push({ email, password: PASSWORD });
    }

    // The teacher starts 7A's lesson on a 1366x768 laptop.
    const tUser = await newUser(browser, server.url, 'teacher');
    users.push(tUser);
    const t = tUser.page;
    await t.setViewportSize({ width: 1366, height: 768 });
    await signIn(tUser, DEMO.teacher);
    const teacher = await startTeaching(t);

    // 30 pupils join as participants of the real server, one socket each.
    const crowd = await user('crowd');
    await crowd.goto('/');
    const joined = await crowd.evaluate(async ({ list, lesson }) => {
      /** @type {WebSocket[]} */
      const sockets = [];
      /** @type {string[]} */
      const ids = [];
      for (const who of list) {
        const signedIn = await fetch('/api/session', {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(who),
        });
        if (!signedIn.ok) throw new Error(`sign-in ${who.email}: ${signedIn.status}`);
        const res = await fetch(`/api/lessons/${lesson}/ticket`, { method: 'POST' });
        const ticket = await res.json();
        if (!res.ok) throw new Error(`ticket ${who.email}: ${JSON.stringify(ticket)}`);
        const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/ws`);
        const id = await new Promise((resolve, reject) => {
          ws.onopen = () => ws.send(JSON.stringify({ type: 'join', protocol: 1, ticket: ticket.ticket }));
          ws.onmessage = (ev) => {
            const msg = JSON.parse(ev.data);
            if (msg.type === 'joined') resolve(msg.participant_id);
            else if (msg.type === 'error' || msg.type === 'removed') reject(new Error(`${who.email}: ${ev.data}`));
          };
          ws.onclose = () => reject(new Error(`${who.email}: closed`));
        });
        ws.onclose = null;
        sockets.push(ws);
        ids.push(/** @type {string} */ (id));
      }
      // Keep every socket alive (the protocol's heartbeat).
      setInterval(() => sockets.forEach((s) => s.send('{"type":"ping"}')), 5_000);
      Object.defineProperty(window, 'crowd', { value: sockets });
      return ids;
    }, { list: pupils, lesson: teacher.lesson_id });
    assert.equal(joined.length, 30);

    await waitUntil(async () => (await t.locator('#t-count').textContent()) === '(30)',
      { timeoutMs: 20_000, what: 'all 30 pupils in the teacher\'s list' });
    // One pupil raises a hand: that row comes first.
    await crowd.evaluate(() => /** @type {any} */ (window).crowd[17].send('{"type":"hand","raised":true}'));
    await waitUntil(async () => (await t.locator('#t-people > li').first().getAttribute('class'))?.includes('person-hand'),
      { timeoutMs: 10_000, what: 'the raised hand first' });
    await t.waitForTimeout(500);
    await t.screenshot({ path: path.join(ARTIFACTS, 'class-of-30-laptop.png') });

    const layout = await t.evaluate(() => {
      const panel = /** @type {HTMLElement} */ (document.querySelector('#teacher-console .panel'));
      const p = panel.getBoundingClientRect();
      const rows = [...document.querySelectorAll('#t-people > li')].map((li) => li.getBoundingClientRect());
      const end = /** @type {HTMLElement} */ (document.getElementById('t-end')).getBoundingClientRect();
      // What reaches below the screen, outside a scrolling box: names the culprit if the page scrolls.
      const below = [...document.querySelectorAll('body *')].filter((el) => {
        const r = el.getBoundingClientRect();
        if (r.height === 0 || r.bottom <= window.innerHeight + 1) return false;
        for (let a = el.parentElement; a; a = a.parentElement) {
          if (/(auto|scroll|hidden)/.test(getComputedStyle(a).overflowY) && a !== document.body && a !== document.documentElement) return false;
        }
        return true;
      }).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`).slice(0, 5);
      return {
        below,
        pageScrolls: document.documentElement.scrollHeight > window.innerHeight + 1,
        viewport: window.innerHeight,
        panel: { top: p.top, bottom: p.bottom, scrolls: panel.scrollHeight > panel.clientHeight + 1 },
        rows: rows.length,
        rowHeight: Math.max(...rows.map((r) => r.height)),
        visibleRows: rows.filter((r) => r.top >= p.top && r.bottom <= p.bottom).length,
        end: { top: end.top, bottom: end.bottom },
      };
    });
    console.log(`class of 30 at 1366x768: ${JSON.stringify(layout)}`);
    assert.equal(layout.rows, 30);
    assert.equal(layout.pageScrolls, false, `the page itself does not scroll (${JSON.stringify(layout)})`);
    assert.ok(layout.end.top >= 0 && layout.end.bottom <= layout.viewport, 'End lesson is on the screen');
    assert.ok(layout.panel.bottom <= layout.viewport, 'the pupil panel ends on the screen');
    assert.ok(layout.rowHeight <= 40, `compact rows (${layout.rowHeight}px)`);
    assert.ok(layout.visibleRows === 30 || layout.panel.scrolls, 'every row is visible, or the panel scrolls to it');

    // The last row is reached by scrolling the panel, never the page; End lesson stays put.
    await t.locator('#t-people > li').last().scrollIntoViewIfNeeded();
    const after = await t.evaluate(() => {
      const end = /** @type {HTMLElement} */ (document.getElementById('t-end')).getBoundingClientRect();
      const last = /** @type {HTMLElement} */ (document.querySelector('#t-people > li:last-child')).getBoundingClientRect();
      return { scrollY: window.scrollY, endBottom: end.bottom, lastBottom: last.bottom, viewport: window.innerHeight };
    });
    assert.equal(after.scrollY, 0, 'the page did not scroll');
    assert.ok(after.endBottom <= after.viewport && after.lastBottom <= after.viewport, JSON.stringify(after));
    await t.screenshot({ path: path.join(ARTIFACTS, 'class-of-30-laptop-scrolled.png') });

    // The same console on a phone: one column, every row there.
    await t.setViewportSize({ width: 390, height: 844 });
    await t.waitForTimeout(300);
    assert.equal(await t.locator('#t-people > li').count(), 30);
    await t.screenshot({ path: path.join(ARTIFACTS, 'class-of-30-phone.png') });
    await t.screenshot({ path: path.join(ARTIFACTS, 'class-of-30-phone-full.png'), fullPage: true });
  });
});
