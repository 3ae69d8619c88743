// A second browser engine for the end-to-end tests: Debian's Firefox ESR (`/usr/bin/firefox-esr`,
// installed by `infra/setup.sh test`) driven by puppeteer-core over WebDriver BiDi, with fake
// camera and microphone (prefs, not flags). It runs headed on its own Xvfb display rather than
// headless: headless Firefox has no screen, so `getDisplayMedia` fails there with NotFoundError
// (its fake devices are a camera and a microphone only), while on Xvfb it captures the display.
// Nothing here skips: a missing Firefox or Xvfb fails the test that needs it, since setup
// installs both.
//
// The helpers at the bottom drive the web client with CSS selectors, `page.click` (a real input
// event, so `getDisplayMedia` sees a user activation), `page.keyboard` and `page.evaluate`,
// which Playwright's and Puppeteer's pages both have: one test can mix Chromium and Firefox
// users.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { ARTIFACTS, waitUntil } from './harness.js';

export const FIREFOX_BIN = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';
const XVFB_BIN = process.env.XVFB_BIN || '/usr/bin/Xvfb';

/** Fake media without a prompt, sound that plays without a gesture, no first-run noise. */
export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.getdisplaymedia.enabled': true,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
};

/**
 * The machine's first non-loopback IPv4 address. Firefox never pairs with a loopback
 * candidate, so the server must advertise this one (as the Janus benchmark does, bench.sh).
 */
export function nonLoopbackIPv4() {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs || []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  throw new Error('no non-loopback IPv4 address on this machine: Firefox cannot reach a loopback media address');
}

/**
 * Starts Xvfb on a free display number.
 * @returns {Promise<{display: string, stop: () => Promise<void>}>}
 */
export async function startDisplay() {
  if (!existsSync(XVFB_BIN)) throw new Error(`${XVFB_BIN} not found: run \`bash infra/setup.sh test\` (it installs xvfb)`);
  const child = spawn(XVFB_BIN, ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c) => { err += c; });
  const fd = /** @type {import('node:stream').Readable} */ (child.stdio[3]);
  const display = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb gave no display within 10 s: ${err}`)), 10_000);
    fd.on('data', (c) => {
      out += c;
      if (out.includes('\n')) { clearTimeout(timer); resolve(`:${out.trim()}`); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Xvfb exited (${code}): ${err}`)); });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  return { display, stop };
}

/**
 * Launches Firefox ESR on the given X display.
 * @param {string} display
 */
export async function launchFirefox(display) {
  if (!existsSync(FIREFOX_BIN)) {
    throw new Error(`${FIREFOX_BIN} not found: run \`bash infra/setup.sh test\` (it installs firefox-esr)`);
  }
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_BIN,
    headless: false,
    env: { ...process.env, DISPLAY: display, MOZ_HEADLESS: '' },
    extraPrefsFirefox: FIREFOX_PREFS,
  });
}

/**
 * Records the SDP a page sends (`publish` offers, `answer`s) and receives (`offer`s), so a test
 * can keep real offers of each engine as golden files (server/golden/sdp/README.md), and keeps
 * each socket so a test can cut one as a network failure would. Runs in the page, before its
 * scripts.
 */
function recordSignalling() {
  const Original = window.WebSocket;
  /** @type {{dir: 'out' | 'in', type: string, kind?: string, sdp: string}[]} */
  const sdps = [];
  /** @type {WebSocket[]} */
  const sockets = [];
  /** @param {'out' | 'in'} dir @param {unknown} data */
  const note = (dir, data) => {
    try {
      const m = JSON.parse(String(data));
      if (typeof m.sdp === 'string') sdps.push({ dir, type: m.type, kind: m.kind, sdp: m.sdp });
    } catch { /* not JSON: nothing to keep */ }
  };
  window.WebSocket = class extends Original {
    /** @param {string | URL} url @param {string | string[]} [protocols] */
    constructor(url, protocols) {
      super(url, protocols);
      sockets.push(this);
      this.addEventListener('message', (e) => note('in', e.data));
    }

    /** @param {string | ArrayBufferLike | Blob | ArrayBufferView} data */
    send(data) {
      note('out', data);
      super.send(data);
    }
  };
  Object.defineProperty(window, 'testSdps', { get: () => sdps.slice() });
  Object.defineProperty(window, 'testCutSocket', { value: () => sockets[sockets.length - 1]?.close() });
}

/**
 * One Firefox user in their own user context (own cookies), console collected.
 * @param {import('puppeteer-core').Browser} browser
 * @param {string} baseURL
 * @param {string} label
 * @param {{phone?: boolean}} [opts]
 */
export async function newFirefoxUser(browser, baseURL, label, opts = {}) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(opts.phone ? { width: 390, height: 844, deviceScaleFactor: 2 } : { width: 1280, height: 800 });
  await page.evaluateOnNewDocument(recordSignalling);
  /** @type {string[]} */
  const console = [];
  page.on('console', (msg) => console.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => console.push(`[pageerror] ${err instanceof Error ? err.message : String(err)}`));
  return { label, engine: 'firefox', baseURL, context, page, console };
}

/**
 * Adds the SDP recorder to a Chromium user made by `newUser` (harness.js) before its first page load.
 * @param {import('./harness.js').User} user
 * @param {string} baseURL
 */
export async function chromiumUser(user, baseURL) {
  await user.context.addInitScript(recordSignalling);
  return { ...user, engine: 'chromium', baseURL };
}

/**
 * A user of either engine, as the helpers below take it.
 * @typedef {{label: string, engine: string, baseURL: string, page: any, context: any, console: string[]}} AnyUser
 */

/**
 * Waits until an element matching `selector` is displayed.
 * @param {AnyUser} user @param {string} selector @param {number} [timeoutMs]
 */
export function waitVisible(user, selector, timeoutMs = 10_000) {
  return waitUntil(() => user.page.evaluate((/** @type {string} */ sel) => {
    const el = document.querySelector(sel);
    return el instanceof HTMLElement && !el.closest('[hidden]') && el.getClientRects().length > 0;
  }, selector), { timeoutMs, intervalMs: 100, what: `${user.label}: ${selector} to show` });
}

/**
 * Clicks an element once it shows, with a real pointer event at its centre (a user
 * activation, as `getDisplayMedia` needs). By position rather than through an element handle:
 * the client re-renders lists (the home view's class cards on each refresh), and a handle can
 * be detached between finding the node and clicking it, while the new node sits where the old one did.
 * @param {AnyUser} user @param {string} selector @param {number} [timeoutMs]
 */
export async function clickWhenVisible(user, selector, timeoutMs = 10_000) {
  await waitVisible(user, selector, timeoutMs);
  const at = await user.page.evaluate((/** @type {string} */ sel) => {
    const el = document.querySelector(sel);
    if (!(el instanceof HTMLElement)) return null;
    el.scrollIntoView({ block: 'center', inline: 'center' });
    const r = el.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  }, selector);
  if (!at) throw new Error(`${user.label}: ${selector} went away before the click`);
  await user.page.mouse.click(at.x, at.y);
}

/**
 * Signs in through the form.
 * @param {AnyUser} user @param {{email: string, password: string}} who
 */
export async function signInAs(user, who) {
  await user.page.goto(`${user.baseURL}/`);
  for (const [sel, text] of [['#signin-email', who.email], ['#signin-password', who.password]]) {
    await clickWhenVisible(user, sel);
    await user.page.keyboard.type(text);
  }
  await user.page.click('#signin-submit');
  await waitVisible(user, '#view-home');
}

/** @param {AnyUser} user */
export function lessonState(user) {
  return user.page.evaluate(() => window.livegate.state());
}

/**
 * From the home view: opens 7A's lesson (starting it for a teacher), passes the recording
 * notice and waits to be in it.
 * @param {AnyUser} user
 */
export async function enterLesson(user) {
  await clickWhenVisible(user, 'li[data-class-id="7a"] button[data-class-id="7a"]', 15_000);
  await clickWhenVisible(user, '#notice-join');
  await waitVisible(user, '#view-lesson');
  return waitUntil(async () => {
    const s = await lessonState(user);
    return s.state === 'joined' ? s : null;
  }, { timeoutMs: 10_000, what: `${user.label} to join` });
}

/**
 * Per-stream media counters from getStats, with audio energy.
 * @param {AnyUser} user
 * @returns {Promise<{stream_id: string, direction: string, kind: string, publisher_id: string | null,
 *   state: string, videoFrames: number, audioPackets: number, audioEnergy: number,
 *   videoSent: number, audioSent: number}[]>}
 */
export function streamCounters(user) {
  return user.page.evaluate(async () => {
    const out = [];
    for (const entry of window.livegate.peerConnections()) {
      const c = { stream_id: entry.stream_id, direction: entry.direction, kind: entry.kind,
        publisher_id: entry.publisher_id, state: entry.pc.connectionState,
        videoFrames: 0, audioPackets: 0, audioEnergy: 0, videoSent: 0, audioSent: 0 };
      (await entry.pc.getStats()).forEach((/** @type {any} */ s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') c.videoFrames += s.framesDecoded || 0;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          c.audioPackets += s.packetsReceived || 0;
          c.audioEnergy += s.totalAudioEnergy || 0;
        }
        if (s.type === 'outbound-rtp' && s.kind === 'video') c.videoSent += s.packetsSent || 0;
        if (s.type === 'outbound-rtp' && s.kind === 'audio') c.audioSent += s.packetsSent || 0;
      });
      out.push(c);
    }
    return out;
  });
}

/**
 * Waits until one received stream matching `match` shows decoded video frames and/or audio
 * packets and energy still rising: sampled, then sampled again until each chosen counter grew
 * (a stalled stream fails, however much it got before).
 * @param {AnyUser} user
 * @param {(s: Awaited<ReturnType<typeof streamCounters>>[number]) => boolean} match
 * @param {{video: boolean, audio: boolean, what: string, timeoutMs?: number}} want
 */
export async function waitForRisingMedia(user, match, want) {
  const timeoutMs = want.timeoutMs ?? 15_000;
  const pick = async () => (await streamCounters(user)).find((s) => s.direction === 'recv' && match(s));
  const first = await waitUntil(async () => {
    const s = await pick();
    return s && (!want.video || s.videoFrames > 0) && (!want.audio || s.audioPackets > 0) ? s : null;
  }, { timeoutMs, intervalMs: 100, what: `${user.label}: first media of ${want.what}` });
  const later = await waitUntil(async () => {
    const s = await pick();
    if (!s || s.stream_id !== first.stream_id) return null;
    const video = !want.video || s.videoFrames > first.videoFrames;
    const audio = !want.audio || (s.audioPackets > first.audioPackets && s.audioEnergy > first.audioEnergy);
    return video && audio ? s : null;
  }, { timeoutMs, intervalMs: 250, what: `${user.label}: ${want.what} still rising` });
  return { first, later };
}

/**
 * Keeps each SDP the user sent or received as `artifacts/sdp/<engine>-<name>.sdp`.
 * @param {AnyUser} user
 * @param {(sdps: {dir: string, type: string, kind?: string, sdp: string}[]) => Record<string, string | undefined>} choose
 */
export async function saveSdps(user, choose) {
  const dir = path.join(ARTIFACTS, 'sdp');
  mkdirSync(dir, { recursive: true });
  const agent = String(await user.page.evaluate(() => navigator.userAgent));
  const version = (/(?:Firefox|Chrome)\/(\d+)/.exec(agent) || ['', 'unknown'])[1];
  const chosen = choose(await user.page.evaluate(() => /** @type {any} */ (window).testSdps));
  for (const [name, sdp] of Object.entries(chosen)) {
    if (sdp) writeFileSync(path.join(dir, `${user.engine}-${version}-${name}.sdp`), sdp);
  }
}
