// The account's two-step sign-in (TOTP): the sign-in's second step (a code or a recovery code
// after the password) and the enrolment page `#/account/two-step` (QR code and key, the first
// code, then the recovery codes shown once). The REST calls are PROTOCOL.md section 1,
// "Second factor". Imports lib/ only (web/README.md).
// @ts-check

import { ApiError, request } from '../lib/api.js';
import { explain } from '../lib/messages.js';
import { byId, h, showView } from '../lib/dom.js';

/**
 * @typedef {import('../lib/api.js').SignInState} SignInState
 */

/** True for a typed code that is the authenticator's six digits (spaces allowed). @param {string} typed */
function isSixDigits(typed) {
  return /^\d{6}$/.test(typed.replace(/\s+/g, ''));
}

/**
 * The second step: a code or a recovery code for a pending sign-in.
 * @param {string} pending @param {string} typed
 */
export function sendSecondFactor(pending, typed) {
  const body = isSixDigits(typed)
    ? { pending, code: typed.replace(/\s+/g, '') }
    : { pending, recovery_code: typed.trim() };
  return request('POST', '/api/session/second-factor', body);
}

/** @type {{pending: string, onDone: () => void, onRestart: () => void} | null} */
let step = null;

/**
 * Shows the code form for a pending sign-in (the answer to a correct password).
 * @param {string} pending
 * @param {() => void} onDone signed in
 * @param {() => void} onRestart back to the email and password
 */
export function openSecondFactor(pending, onDone, onRestart) {
  step = { pending, onDone, onRestart };
  /** @type {HTMLFormElement} */ (byId('second-factor-form')).reset();
  byId('second-factor-error').textContent = '';
  showView('second-factor');
  byId('second-factor-code').focus();
}

/** @param {SubmitEvent} ev */
async function onSecondFactor(ev) {
  ev.preventDefault();
  const current = step;
  if (!current) return;
  const input = /** @type {HTMLInputElement} */ (byId('second-factor-code'));
  const error = byId('second-factor-error');
  const submit = /** @type {HTMLButtonElement} */ (byId('second-factor-submit'));
  if (!input.value.trim()) {
    error.textContent = 'Enter the 6-digit code from your authenticator app.';
    input.focus();
    return;
  }
  submit.disabled = true;
  error.textContent = '';
  try {
    await sendSecondFactor(current.pending, input.value);
    step = null;
    input.value = '';
    current.onDone();
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 'internal';
    error.textContent = explain(code).text;
    input.select();
    if (code === 'pending_sign_in_invalid') {
      step = null;
      current.onRestart();
    }
  } finally {
    submit.disabled = false;
  }
}

// ---------------------------------------------------------------- enrolment

/** @returns {Promise<SignInState & {recovery_codes_left: number}>} */
function factorStatus() {
  return request('GET', '/api/account/second-factor');
}

/** @type {(() => void) | null} */
let enrolDone = null;

/**
 * Shows the two-step sign-in page: set up an authenticator, or what is set up.
 * @param {() => void} onDone leaves the page (Continue)
 */
export async function openTwoStep(onDone) {
  enrolDone = onDone;
  for (const id of ['two-step-start-block', 'two-step-form', 'two-step-codes-block']) byId(id).hidden = true;
  byId('two-step-error').textContent = '';
  byId('two-step-status').textContent = '';
  showView('two-step');
  try {
    const status = await factorStatus();
    byId('two-step-status').textContent = statusText(status);
    byId('two-step-start-block').hidden = status.totp_enrolled;
  } catch (err) {
    byId('two-step-status').textContent = explain(err instanceof ApiError ? err.code : 'internal').text;
  }
}

/** @param {SignInState & {recovery_codes_left: number}} s */
function statusText(s) {
  if (s.totp_enrolled) {
    return `Two-step sign-in is on for your account. You have ${s.recovery_codes_left} unused recovery codes.`;
  }
  if (s.second_factor_required) {
    return 'Your role needs two-step sign-in before you can open recordings or change the school. Set it up now; it takes a minute.';
  }
  return 'Two-step sign-in is off for your account. Turning it on keeps your account safe even if your password leaks.';
}

async function onStart() {
  const start = /** @type {HTMLButtonElement} */ (byId('two-step-start'));
  start.disabled = true;
  try {
    /** @type {{secret: string, otpauth_url: string, qr_svg: string}} */
    const enrolment = await request('POST', '/api/account/second-factor/totp');
    /** @type {HTMLImageElement} */ (byId('two-step-qr')).src =
      `data:image/svg+xml;base64,${btoa(enrolment.qr_svg)}`;
    byId('two-step-secret').textContent = enrolment.secret.replace(/(.{4})/g, '$1 ').trim();
    byId('two-step-start-block').hidden = true;
    byId('two-step-form').hidden = false;
    byId('two-step-code').focus();
  } catch (err) {
    byId('two-step-status').textContent = explain(err instanceof ApiError ? err.code : 'internal').text;
  } finally {
    start.disabled = false;
  }
}

/** @param {SubmitEvent} ev */
async function onConfirm(ev) {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('two-step-code'));
  const error = byId('two-step-error');
  const submit = /** @type {HTMLButtonElement} */ (byId('two-step-confirm'));
  if (!isSixDigits(input.value)) {
    error.textContent = 'Type the 6 digits your authenticator app shows.';
    input.focus();
    return;
  }
  submit.disabled = true;
  error.textContent = '';
  try {
    /** @type {{recovery_codes: string[]}} */
    const done = await request('POST', '/api/account/second-factor/totp/confirm', { code: input.value.replace(/\s+/g, '') });
    input.value = '';
    byId('two-step-form').hidden = true;
    byId('two-step-secret').textContent = '';
    byId('two-step-codes').replaceChildren(...done.recovery_codes.map((c) => h('li', {}, [c])));
    byId('two-step-codes-block').hidden = false;
    byId('two-step-status').textContent = 'Two-step sign-in is on for your account.';
  } catch (err) {
    error.textContent = explain(err instanceof ApiError ? err.code : 'internal').text;
    input.select();
  } finally {
    submit.disabled = false;
  }
}

byId('second-factor-form').addEventListener('submit', (ev) => void onSecondFactor(/** @type {SubmitEvent} */ (ev)));
byId('second-factor-back').addEventListener('click', () => {
  const restart = step?.onRestart;
  step = null;
  if (restart) restart();
});
byId('two-step-start').addEventListener('click', () => void onStart());
byId('two-step-form').addEventListener('submit', (ev) => void onConfirm(/** @type {SubmitEvent} */ (ev)));
byId('two-step-done').addEventListener('click', () => {
  byId('two-step-codes').replaceChildren();
  if (enrolDone) enrolDone();
});
