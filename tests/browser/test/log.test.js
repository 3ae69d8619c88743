// End-to-end test of the livestream log page (web/log.html) on a phone in portrait, in
// Debian's Chromium against the livegate binary in demo mode. A teacher and a pupil join a
// lesson over the signalling socket (from their own pages, so the server sees a real browser's
// User-Agent), the teacher ends it and notes a concern; the teacher's log lists the lesson,
// shows the attendance with times in the school's zone and the device the server observed
// (and the rostered pupils who never joined, absent),
// takes a new note (which cannot be edited), and prints cleanly (no navigation or forms). The
// leader sees the concern on their list. A pupil is told the log is for staff and sees no
// attendance. Screenshots go to the artifacts folder. Run with `npm test` in tests/browser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARTIFACTS, closeSession, DEMO, newUser, openSession, signIn, startServer } from '../lib/harness.js';

const LEADER = { email: 'dsl@demo.sch.uk', password: 'demo-leader' };

/**
 * Calls the JSON API from a page, with that page's session cookie.
 * @param {import('playwright-core').Page} page
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 */
function call(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    /** @type {RequestInit} */
    const init = { method: String(m), headers: { 'content-type': 'application/json' } };
    if (b !== undefined) init.body = JSON.stringify(b);
    const res = await fetch(String(u), init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }, [method, url, body]);
}

/**
 * Joins a lesson over the signalling WebSocket from a page; the socket stays in `window.testWs`.
 * @param {import('playwright-core').Page} page
 * @param {string} lessonId
 */
function joinOverSocket(page, lessonId) {
  return page.evaluate(async (id) => {
    const res = await fetch(`/api/lessons/${id}/ticket`, { method: 'POST' });
    const t = await res.json();
    const ws = new WebSocket(`ws://${location.host}${t.ws_path}`);
    /** @type {any} */ (window).testWs = ws;
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    ws.send(JSON.stringify({ type: 'join', protocol: 1, ticket: t.ticket }));
    return new Promise((resolve) => {
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'joined' || m.type === 'error') resolve(m.type);
      };
    });
  }, lessonId);
}

describe('the livestream log page on a phone', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  let lessonId = '';

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('shows a teacher their lesson, takes notes and prints', async () => {
    const teacher = await newUser(browser, server.url, 'log-teacher', { phone: true });
    const ada = await newUser(browser, server.url, 'log-ada', { phone: true });
    users.push(teacher, ada);
    await signIn(teacher, DEMO.teacher);
    await signIn(ada, DEMO.ada);
    const started = await call(teacher.page, 'POST', '/api/lessons', { class_id: '7a' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    lessonId = started.body.lesson.id;
    assert.equal(await joinOverSocket(teacher.page, lessonId), 'joined');
    assert.equal(await joinOverSocket(ada.page, lessonId), 'joined');
    await teacher.page.evaluate(() => new Promise((resolve) => {
      const ws = /** @type {any} */ (window).testWs;
      ws.addEventListener('message', (/** @type {MessageEvent} */ e) => { if (JSON.parse(e.data).type === 'lesson_ended') resolve(null); });
      ws.send(JSON.stringify({ type: 'end_lesson' }));
    }));
    const note = await call(teacher.page, 'POST', `/api/log/lessons/${lessonId}/notes`, { category: 'concern', text: 'Ada said something worrying about home' });
    assert.equal(note.status, 201, JSON.stringify(note.body));

    const { page } = teacher;
    await page.goto('/log.html');
    const card = page.locator('#log-lessons .card', { hasText: '7A Science' });
    await card.waitFor({ state: 'visible' });
    assert.match(await page.locator('#log-school').textContent() || '', /Europe\/London/);
    assert.match(await page.locator('#export-intervals').getAttribute('href') || '', /^\/api\/log\/intervals\.csv/);
    await card.getByRole('link', { name: '7A Science' }).click();
    await page.locator('#log-lesson:not([hidden])').waitFor();
    const rows = page.locator('#attendance tr');
    assert.equal(await rows.count(), 2);
    const adaRow = rows.filter({ hasText: 'Ada' });
    const adaText = await adaRow.textContent() || '';
    assert.match(adaText, /lesson ended/);
    assert.match(adaText, /current, code v1/);
    assert.match(adaText, /Chrome \d+ on Linux/, 'the device the server observed');
    assert.match(adaText, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (GMT|BST)/, 'local time with its zone');
    assert.match(await page.locator('#events').textContent() || '', /Joined: Ada — pupil/);
    assert.match(await page.locator('#notes').textContent() || '', /Ada said something worrying/);
    // 7A's other rostered pupils never joined: the absent list names them, and not Ada.
    const absent = await page.locator('#absent li').allTextContents();
    assert.deepEqual(absent, ['Ben', 'Cara', 'Dev', 'Eve', 'Finn']);
    assert.equal(await page.locator('#absent-empty').isVisible(), false);

    await page.getByLabel('Kind of note').selectOption('technical');
    await page.getByLabel('Note', { exact: true }).fill('Ada\'s sound dropped twice');
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.locator('#notes li', { hasText: "Ada's sound dropped twice" }).waitFor();
    assert.equal(await page.locator('#notes li').count(), 2);
    assert.equal(await page.locator('#notes button, #notes [contenteditable]').count(), 0, 'notes cannot be edited');

    // Phone width: nothing overflows sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'log-lesson-phone.png'), fullPage: true });

    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.topbar').isVisible(), false);
    assert.equal(await page.locator('#note-form').isVisible(), false);
    assert.equal(await page.locator('#log-print').isVisible(), false);
    assert.ok(await page.locator('#attendance-table thead').isVisible(), 'printed table has its header');
    await page.screenshot({ path: path.join(ARTIFACTS, 'log-lesson-print.png'), fullPage: true });
    await page.emulateMedia({ media: 'screen' });

    // A pupil's attendance across lessons, from the attendance table.
    await adaRow.getByRole('link', { name: 'Ada' }).click();
    await page.locator('#log-pupil:not([hidden])').waitFor();
    assert.match(await page.locator('#pupil-total').textContent() || '', /in 1 of 1 lessons/);

    const bad = teacher.console.filter((line) => line.startsWith('[pageerror]') || /Content Security Policy/i.test(line));
    assert.deepEqual(bad, [], "the teacher's console");
  });

  it('lists the concern for the leader', async () => {
    const leader = await newUser(browser, server.url, 'log-leader', { phone: true });
    users.push(leader);
    await signIn(leader, LEADER);
    await leader.page.goto('/log.html');
    const concern = leader.page.locator('#concern-list li', { hasText: 'Ada said something worrying' });
    await concern.waitFor({ state: 'visible' });
    const link = concern.getByRole('link', { name: 'Watch the recording at this moment' });
    assert.match(String(await link.getAttribute('href')), /^\/#\/recordings\/rec_[0-9a-f]+\/at\/\d+$/, 'the concern links to its recording at its moment');
  });

  it('tells a pupil the log is for staff and shows no attendance', async () => {
    const ada = users.find((u) => u.label === 'log-ada');
    assert.ok(ada);
    await ada.page.goto('/log.html');
    await ada.page.getByText('The livestream log is for school staff.').waitFor();
    assert.equal(await ada.page.locator('#log-list').isVisible(), false);
    assert.equal(await ada.page.locator('#attendance tr').count(), 0);
    const res = await call(ada.page, 'GET', `/api/log/lessons/${lessonId}`);
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'forbidden_role');
  });
});
