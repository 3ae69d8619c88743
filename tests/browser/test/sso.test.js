// Sign-in with the school's Microsoft account in Chromium at phone size, against a real,
// independent OpenID provider: npm `oidc-provider` 8 (OpenID Certified), run on loopback by this
// test with a small configuration, its issuer mounted under `/{tenant}/v2.0` exactly as Entra ID
// names a tenant's issuer, so Livegate's Microsoft rules (issuer, `tid`, verified email by
// `xms_edov`) apply unchanged. A pupil types her school email, taps "Sign in with Microsoft",
// signs in on the provider's own login page, comes back signed in, joins the live lesson and
// decodes its video; someone the school never added gets the "ask your school to add you" page.
// Screenshots land in artifacts/ (sso-*.png). Run with `node --test test/sso.test.js`.

import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Provider from 'oidc-provider';
import {
  ARTIFACTS, closeSession, debugState, DEMO, ensureArtifacts, launchBrowser, mediaStats, newUser, signIn, startServer, waitUntil,
} from '../lib/harness.js';

const TENANT = '0f4a3c2e-1b2d-4e5f-8a9b-0c1d2e3f4a5b';
const CLIENT_ID = 'livegate-browser-test';
const CLIENT_SECRET = 'browser-test-secret-0123456789';
const PREFIX = `/${TENANT}/v2.0`;

/**
 * The provider's HTTP server, bound before Livegate starts (Livegate needs its address, the
 * provider needs Livegate's redirect address): requests under PREFIX reach the provider with
 * the prefix as its mount path, as Express's `app.use(PREFIX, provider.callback())` would.
 */
async function listenForProvider() {
  /** @type {((req: http.IncomingMessage, res: http.ServerResponse) => void) | null} */
  let handler = null;
  const server = http.createServer((req, res) => {
    const url = req.url || '/';
    if (!handler || !url.startsWith(PREFIX)) {
      res.statusCode = 404;
      res.end();
      return;
    }
    /** @type {any} */ (req).originalUrl = url;
    req.url = url.slice(PREFIX.length) || '/';
    handler(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    server,
    base: `http://127.0.0.1:${address.port}`,
    /** @param {(req: http.IncomingMessage, res: http.ServerResponse) => void} h */
    use(h) { handler = h; },
  };
}

/**
 * The provider: one confidential client (Livegate), the development login page (any login, the
 * login naming the pupil), and claims shaped as Entra ID's: `tid`, `email`, `xms_edov`.
 * @param {string} issuer @param {string} redirect
 */
function makeProvider(issuer, redirect) {
  return new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirect],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { methods: ['S256'], required: () => true },
    claims: { openid: ['sub', 'tid'], email: ['email', 'xms_edov'], profile: ['name'] },
    // The email and tenant go into the ID token itself, as Entra ID puts them there.
    conformIdTokenClaims: false,
    interactions: { url: (_ctx, interaction) => `${PREFIX}/interaction/${interaction.uid}` },
    cookies: { keys: ['livegate-browser-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, tid: TENANT, email: `${sub}@pupils.demo.sch.uk`, xms_edov: true, name: sub };
        },
      };
    },
  });
}

/** One JSON call to Livegate from outside the browser. */
async function api(/** @type {string} */ base, /** @type {string} */ method, /** @type {string} */ p, /** @type {{cookie?: string, body?: unknown}} */ opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json' };
  if (opts.cookie) headers.cookie = opts.cookie;
  const res = await fetch(`${base}${p}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, cookie: (res.headers.get('set-cookie') || '').split(';')[0], body: text ? JSON.parse(text) : null };
}

describe('sign-in with a school Microsoft account, phone first', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {Awaited<ReturnType<typeof listenForProvider>>} */
  let op;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  let lessonId = '';
  let teacherId = '';

  before(async () => {
    ensureArtifacts();
    op = await listenForProvider();
    server = await startServer({
      env: {
        LIVEGATE_SSO_MICROSOFT_CLIENT_ID: CLIENT_ID,
        LIVEGATE_SSO_MICROSOFT_CLIENT_SECRET: CLIENT_SECRET,
        LIVEGATE_SSO_MICROSOFT_ISSUER_BASE: op.base,
      },
    });
    const provider = makeProvider(`${op.base}${PREFIX}`, `${server.url}/api/sso/callback`);
    op.use(provider.callback());
    browser = await launchBrowser();
    const admin = await api(server.url, 'POST', '/api/session', { body: { email: 'admin@demo.sch.uk', password: 'demo-admin' } });
    const saved = await api(server.url, 'PUT', '/api/admin/sso', {
      cookie: admin.cookie,
      body: { provider: 'microsoft', directory: TENANT, email_domains: ['pupils.demo.sch.uk'], enabled: true, pupils_password: false },
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
  });

  after(async () => {
    await closeSession(server, browser, users);
    op?.server.close();
  });

  it('the teacher starts 7A with her camera', async () => {
    const teacher = await newUser(browser, server.url, 'sso-teacher');
    users.push(teacher);
    await signIn(teacher, DEMO.teacher);
    const { page } = teacher;
    await page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson/ }).click();
    await page.getByRole('button', { name: 'Start teaching' }).click();
    const state = await waitUntil(async () => {
      const s = await debugState(page);
      return s.state === 'joined' ? s : null;
    }, { timeoutMs: 15_000, what: 'the teacher to join' });
    lessonId = state.lesson_id;
    teacherId = state.participant_id;
  });

  it('a pupil taps "Sign in with Microsoft", signs in at the provider, and joins the lesson', async () => {
    assert.ok(lessonId, 'needs the lesson');
    const ada = await newUser(browser, server.url, 'sso-ada', { phone: true });
    users.push(ada);
    const { page } = ada;
    await page.goto('/');
    const button = page.getByRole('button', { name: 'Sign in with Microsoft' });
    await button.waitFor({ state: 'visible' });
    // Without an email the page asks for it first.
    await button.click();
    assert.match(await page.locator('#signin-error').textContent() || '', /email address first/);
    await page.getByLabel('Email', { exact: true }).fill(DEMO.ada.email);
    await page.screenshot({ path: path.join(ARTIFACTS, 'sso-signin-phone.png') });
    await button.click();
    // The provider's own login page (oidc-provider's development interaction).
    await page.waitForURL((u) => u.href.startsWith(op.base), { timeout: 15_000 });
    await page.locator('input[name="login"]').fill('ada');
    await page.locator('input[name="password"]').fill('any password');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sso-provider-login-phone.png') });
    await page.locator('button[type="submit"]').click();
    // Its consent page, then back to Livegate.
    const consent = page.locator('button[type="submit"]');
    await consent.waitFor({ state: 'visible', timeout: 15_000 });
    if (page.url().startsWith(op.base)) await consent.click();
    await page.waitForURL((u) => u.href.startsWith(server.url), { timeout: 15_000 });
    await page.locator('#view-home').waitFor({ state: 'visible', timeout: 15_000 });
    const me = await debugState(page);
    assert.equal(me.user?.role, 'pupil');
    assert.equal(me.user?.display_name, 'Ada');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sso-home-phone.png') });

    const join = page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
    await join.waitFor({ state: 'visible', timeout: 15_000 });
    await join.click();
    await page.getByRole('button', { name: 'Join lesson', exact: true }).click();
    await waitUntil(async () => {
      const stats = await mediaStats(page);
      return stats.some((s) => s.direction === 'recv' && s.publisher_id === teacherId
        && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0));
    }, { timeoutMs: 20_000, what: 'Ada to decode the teacher\'s video' });
    assert.equal((await debugState(page)).role, 'pupil');
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(ARTIFACTS, 'sso-lesson-phone.png') });

    // Her password no longer signs her in: the school turned passwords off for pupils.
    const pw = await api(server.url, 'POST', '/api/session', { body: { email: DEMO.ada.email, password: DEMO.ada.password } });
    assert.equal(pw.body.error.code, 'password_sign_in_off');
  });

  it('someone the school never added is told to ask the school, and gets no account', async () => {
    const stranger = await newUser(browser, server.url, 'sso-stranger', { phone: true });
    users.push(stranger);
    const { page } = stranger;
    await page.goto('/');
    await page.getByLabel('Email', { exact: true }).fill('newcomer@pupils.demo.sch.uk');
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await page.waitForURL((u) => u.href.startsWith(op.base), { timeout: 15_000 });
    await page.locator('input[name="login"]').fill('newcomer');
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    const consent = page.locator('button[type="submit"]');
    await consent.waitFor({ state: 'visible', timeout: 15_000 });
    if (page.url().startsWith(op.base)) await consent.click();
    await page.locator('#view-message').waitFor({ state: 'visible', timeout: 15_000 });
    assert.equal(await page.locator('#message-title').textContent(), 'Ask your school to add you');
    assert.equal((await debugState(page)).refusal, 'sso_unknown_person');
    await page.screenshot({ path: path.join(ARTIFACTS, 'sso-unknown-person-phone.png') });
    const me = await page.evaluate(async () => (await fetch('/api/me')).status);
    assert.equal(me, 401, 'no session');
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.locator('#view-signin').waitFor({ state: 'visible' });
  });

  it("the superuser's School sign-in page shows the settings and the linked pupil, on a phone", async () => {
    const admin = await newUser(browser, server.url, 'sso-admin', { phone: true });
    users.push(admin);
    await admin.page.goto('/');
    await admin.page.getByLabel('Email', { exact: true }).fill('admin@demo.sch.uk');
    await admin.page.getByLabel('Password', { exact: true }).fill('demo-admin');
    await admin.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await admin.page.locator('#view-admin').waitFor({ state: 'visible', timeout: 10_000 });
    await admin.page.goto('/#/admin/sso');
    await admin.page.getByRole('heading', { name: 'School sign-in' }).waitFor({ state: 'visible' });
    assert.equal(await admin.page.getByLabel('Tenant id or Workspace domain').inputValue(), TENANT);
    const linked = admin.page.locator('#sso-linked li');
    assert.equal(await linked.count(), 1, 'Ada is linked; the newcomer is not');
    assert.match(await linked.first().textContent() || '', /ada@pupils\.demo\.sch\.uk/);
    await admin.page.screenshot({ path: path.join(ARTIFACTS, 'sso-admin-phone.png'), fullPage: true });
  });
});
