// Test harness for the browser end-to-end tests: starts the livegate binary in demo mode,
// launches Debian's Chromium through playwright-core with fake camera and microphone, opens
// one browser context per user, and reads WebRTC statistics through `window.livegate`.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { nextCode, rememberKey, stepNow, totpAt } from './totp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const ARTIFACTS = path.resolve(here, '..', 'artifacts');

/** Flags from reference/stack.md section 7, plus autoplay with sound and no user gesture. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

/**
 * Parses a Content-Security-Policy header into directive name -> source list.
 * (The tests check the header the server sends rather than adding one: a page the test
 * fulfilled itself would lose Chromium's local-network classification, and its WebSocket to
 * 127.0.0.1 would then be blocked.)
 * @param {string} header
 * @returns {Map<string, string[]>}
 */
export function parseCsp(header) {
  const out = new Map();
  for (const part of header.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
}

export const DEMO = {
  teacher: { email: 'teacher@demo.sch.uk', password: 'demo-teacher', name: 'Ms Rivera' },
  ada: { email: 'ada@pupils.demo.sch.uk', password: 'demo-pupil', name: 'Ada' },
  ben: { email: 'ben@pupils.demo.sch.uk', password: 'demo-pupil', name: 'Ben' },
  cara: { email: 'cara@pupils.demo.sch.uk', password: 'demo-pupil', name: 'Cara' },
  dev: { email: 'dev@pupils.demo.sch.uk', password: 'demo-pupil', name: 'Dev' },
  owen: { email: 'owen@pupils.demo.sch.uk', password: 'demo-pupil', name: 'Owen' },
};

export function ensureArtifacts() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

/**
 * Starts `livegate demo` (or `opts.command`, e.g. `serve` for a server with no demo seed) on
 * ephemeral ports and waits for its ready line.
 * @param {{dataDir?: string, args?: string[], env?: Record<string, string>, command?: string, advertiseIp?: string,
 *   http?: string}} [opts]
 *   `dataDir` becomes `--data-dir` (recordings, keys and spool land there); `env` is added to
 *   the server's environment (e.g. LIVEGATE_S3_*); `args` are extra flags; `advertiseIp` is
 *   the media address (loopback unless given: Firefox needs another, lib/firefox.js); `http` the
 *   address HTTP listens on (`127.0.0.1:0` unless given: another makes the page insecure).
 * @returns {Promise<{url: string, media: string, log: string[], pid: number, stop: () => Promise<void>,
 *   terminate: (timeoutMs?: number) => Promise<{code: number | null, signal: NodeJS.Signals | null}>}>}
 */
export async function startServer(opts = {}) {
  const bin = process.env.LIVEGATE_BIN || path.join(REPO_ROOT, 'target', 'debug', 'livegate');
  if (!existsSync(bin)) {
    throw new Error(`livegate binary not found at ${bin}; run \`cargo build -p livegate\` or set LIVEGATE_BIN`);
  }
  const child = spawn(bin, [
    opts.command || 'demo', '--http', opts.http || '127.0.0.1:0', '--media-port', '0', '--advertise-ip', opts.advertiseIp || '127.0.0.1',
    ...(opts.dataDir ? ['--data-dir', opts.dataDir] : []),
    ...(opts.args || []),
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...(opts.env || {}) } });
  /** @type {string[]} */
  const log = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => log.push(chunk));
  child.stdout.setEncoding('utf8');
  let stdout = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 30 s; stderr:\n${log.join('').slice(-4000)}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const m = /livegate ready http=(\S+) media=(\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], media: m[2] });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`livegate exited early (code ${code}, signal ${signal}); stderr:\n${log.join('').slice(-4000)}`));
    });
  });
  const { url, media } = /** @type {{url: string, media: string}} */ (await ready);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  /**
   * Sends SIGTERM (a graceful stop) and waits for the process to exit by itself; SIGKILL only
   * after `timeoutMs`, which the caller then sees as `signal: 'SIGKILL'`.
   * @param {number} [timeoutMs]
   * @returns {Promise<{code: number | null, signal: NodeJS.Signals | null}>}
   */
  const terminate = async (timeoutMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    return { code: child.exitCode, signal: child.signalCode };
  };
  // `pid` lets a test pause the whole server (SIGSTOP) as a frozen network would.
  return { url, media, log, pid: /** @type {number} */ (child.pid), stop, terminate };
}

/** Launches headless Chromium with fake media devices. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    // Playwright mutes audio output in headless mode; keep it on so playback is real.
    ignoreDefaultArgs: ['--mute-audio'],
  });
}

/**
 * One person in their own browser context (own cookies), with console output collected.
 * @param {import('playwright-core').Browser} browser
 * @param {string} baseURL
 * @param {string} label
 * @param {{phone?: boolean, trackSockets?: boolean}} [opts]
 */
export async function newUser(browser, baseURL, label, opts = {}) {
  const context = await browser.newContext({
    baseURL,
    ...(opts.phone
      ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { width: 1280, height: 800 } }),
  });
  await context.grantPermissions(['camera', 'microphone'], { origin: baseURL });
  if (opts.trackSockets) {
    // Keeps a reference to each WebSocket the page opens, so a test can cut one as a network
    // failure would (the client did not ask for the close, so it must reconnect by itself),
    // and logs the type and time of every frame sent and received.
    await context.addInitScript(() => {
      const Original = window.WebSocket;
      /** @type {WebSocket[]} */
      const sockets = [];
      /** @type {{at: number, dir: 'out' | 'in', type: string}[]} */
      const frames = [];
      /** @param {unknown} data */
      const typeOf = (data) => {
        try { return String(JSON.parse(String(data)).type); } catch { return '?'; }
      };
      window.WebSocket = class extends Original {
        /** @param {string | URL} url @param {string | string[]} [protocols] */
        constructor(url, protocols) {
          super(url, protocols);
          sockets.push(this);
          this.addEventListener('message', (e) => frames.push({ at: Date.now(), dir: 'in', type: typeOf(e.data) }));
        }

        /** @param {string | ArrayBufferLike | Blob | ArrayBufferView} data */
        send(data) {
          frames.push({ at: Date.now(), dir: 'out', type: typeOf(data) });
          super.send(data);
        }
      };
      Object.defineProperty(window, 'testSockets', { get: () => sockets.slice() });
      Object.defineProperty(window, 'testFrames', { get: () => frames.slice() });
    });
  }
  const page = await context.newPage();
  /** @type {string[]} */
  const console = [];
  page.on('console', (msg) => console.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => console.push(`[pageerror] ${err.message}`));
  return { label, context, page, console };
}

/** @typedef {Awaited<ReturnType<typeof newUser>>} User */

/**
 * Signs in through the form and waits for the home view (a safeguarding leader's home is the
 * recordings view, a superuser's the admin pages). A leader without two-step sign-in is led to
 * set it up first: this enrols an authenticator through the page, as a person would, computing
 * the code from the key it shows; an account enrolled so before answers the code step with a
 * fresh code.
 * @param {User} user
 * @param {{email: string, password: string}} who
 */
export async function signIn(user, who) {
  const { page } = user;
  await page.goto('/');
  // Exact labels: other views (set password, admin forms) have fields with similar names.
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const landed = '#view-home:not([hidden]), #view-recordings:not([hidden]), #view-admin:not([hidden]), #view-two-step:not([hidden]), #view-second-factor:not([hidden])';
  await page.locator(landed).first().waitFor({ state: 'visible', timeout: 10_000 });
  const baseURL = new URL(page.url()).origin;
  if (await page.locator('#view-second-factor').isVisible()) {
    await page.locator('#second-factor-code').fill(await nextCode(baseURL, who.email));
    await page.locator('#second-factor-submit').click();
  } else if (await page.locator('#view-two-step').isVisible()) {
    await enrolTotp(user, who.email);
    await page.locator('#two-step-done').click();
  }
  await page.locator('#view-home:not([hidden]), #view-recordings:not([hidden]), #view-admin:not([hidden])').waitFor({ state: 'visible', timeout: 10_000 });
}

/**
 * On the two-step sign-in page: sets up an authenticator as a person with a phone would (the
 * key read from the page, the code computed here) and returns the recovery codes it shows.
 * @param {User} user
 * @param {string} email
 * @returns {Promise<string[]>}
 */
export async function enrolTotp(user, email) {
  const { page } = user;
  await page.locator('#two-step-start').click();
  // The key is shown once the server answers.
  await page.locator('#two-step-form').waitFor({ state: 'visible', timeout: 10_000 });
  const shown = (await page.locator('#two-step-secret').textContent()) || '';
  const secret = shown.replace(/\s+/g, '');
  const step = stepNow();
  await page.locator('#two-step-code').fill(totpAt(secret, step));
  await page.locator('#two-step-confirm').click();
  await page.locator('#two-step-codes li').first().waitFor({ state: 'visible', timeout: 20_000 });
  rememberKey(new URL(page.url()).origin, email, secret, step);
  return page.locator('#two-step-codes li').allTextContents();
}

/**
 * WebRTC statistics of every peer connection the page holds, summarised.
 * @param {import('playwright-core').Page} page
 */
export function mediaStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const entry of window.livegate.peerConnections()) {
      const report = await entry.pc.getStats();
      /** @type {any[]} */
      const inbound = [];
      /** @type {any[]} */
      const outbound = [];
      report.forEach((s) => {
        if (s.type === 'inbound-rtp') {
          inbound.push({ kind: s.kind, packetsReceived: s.packetsReceived || 0, framesDecoded: s.framesDecoded || 0 });
        } else if (s.type === 'outbound-rtp') {
          outbound.push({ kind: s.kind, packetsSent: s.packetsSent || 0, framesEncoded: s.framesEncoded || 0 });
        }
      });
      out.push({
        stream_id: entry.stream_id,
        direction: entry.direction,
        kind: entry.kind,
        publisher_id: entry.publisher_id,
        connectionState: entry.pc.connectionState,
        inbound,
        outbound,
      });
    }
    return out;
  });
}

/**
 * Polls `check` until it returns a truthy value or the deadline passes.
 * @template T
 * @param {() => Promise<T>} check
 * @param {{timeoutMs: number, intervalMs?: number, what: string}} opts
 * @returns {Promise<T>}
 */
export async function waitUntil(check, { timeoutMs, intervalMs = 50, what }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** @param {import('playwright-core').Page} page */
export function debugState(page) {
  return page.evaluate(() => window.livegate.state());
}

/**
 * Writes each user's console log and the server log to the artifacts folder.
 * @param {User[]} users
 * @param {string[]} serverLog
 */
export function saveLogs(users, serverLog) {
  ensureArtifacts();
  for (const u of users) writeFileSync(path.join(ARTIFACTS, `console-${u.label}.log`), u.console.join('\n'));
  writeFileSync(path.join(ARTIFACTS, 'server.log'), serverLog.join(''));
}

/**
 * A test file's shared set-up: the artifacts folder, a demo server and a browser.
 * @returns {Promise<{server: Awaited<ReturnType<typeof startServer>>, browser: import('playwright-core').Browser}>}
 */
export async function openSession() {
  ensureArtifacts();
  const server = await startServer();
  const browser = await launchBrowser();
  return { server, browser };
}

/**
 * Tears down what `openSession` started (either may be missing if it failed part-way), after
 * saving the users' console logs and the server log.
 * @param {Awaited<ReturnType<typeof startServer>> | undefined} server
 * @param {import('playwright-core').Browser | undefined} browser
 * @param {User[]} users
 */
export async function closeSession(server, browser, users) {
  if (server) saveLogs(users, server.log);
  for (const u of users) await u.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
}

/** @param {number[]} values */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Calls the JSON API from a page, with that page's session cookie: the status, the content
 * type and the parsed body (null if it is not JSON).
 * @param {import('playwright-core').Page} page
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 */
export function callApi(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    /** @type {RequestInit} */
    const init = { method: String(m), headers: { 'content-type': 'application/json' } };
    if (b !== undefined) init.body = JSON.stringify(b);
    const res = await fetch(String(u), init);
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { json = null; }
    return { status: res.status, type: res.headers.get('content-type') || '', body: json };
  }, [method, url, body]);
}

/**
 * The class's teacher, signed in on her home page, starts its lesson from the class card and
 * confirms the recording notice ("Start teaching"); resolves with her debug state once she is
 * in the lesson.
 * @param {import('playwright-core').Page} page
 * @param {string} [classId]
 */
export async function startTeaching(page, classId = '7a') {
  await page.locator(`li[data-class-id="${classId}"]`).getByRole('button', { name: /Start lesson/ }).click();
  await page.getByRole('button', { name: 'Start teaching' }).click();
  return waitUntil(async () => {
    const st = await debugState(page);
    return st.state === 'joined' ? st : null;
  }, { timeoutMs: 15_000, what: 'the teacher in her lesson' });
}
