// The account role: sign-in with the school's Microsoft or Google account (sso.js), and the set-password page that a superuser's invite or reset link opens
// (`#/set-password?token=...`), needing no sign-in. The token stays in the URL fragment, which
// the browser never sends to the server. Issuing those links is the admin's (admin/api.js).
// Imports lib/ only, never another role's folder (web/README.md).
// @ts-check

import { ApiError, request } from '../lib/api.js';
import { explain } from '../lib/messages.js';
import { byId, showView } from '../lib/dom.js';

export { explainSso, showSsoButtons, ssoRefusal } from './sso.js';

const MIN_LENGTH = 10;
const MAX_LENGTH = 256;

/**
 * The token of a set-password link: the token, '' for a set-password link without a usable
 * token, or null when the hash is not a set-password link at all.
 * @param {string} [hash]
 * @returns {string | null}
 */
export function setPasswordToken(hash = location.hash) {
  if (!hash.startsWith('#/set-password')) return null;
  const m = /^#\/set-password\?token=([0-9a-f]{64})$/.exec(hash);
  return m ? m[1] : '';
}

/**
 * Sets a password with a link's token; the token is spent.
 * @param {string} token
 * @param {string} password
 * @returns {Promise<null>}
 */
export function setPassword(token, password) {
  return request('POST', '/api/account/password', { token, password });
}

/** Characters, not UTF-16 units, as the server counts them. @param {string} s */
function length(s) {
  return [...s].length;
}

/** @type {{token: string, onDone: () => void} | null} */
let current = null;

/**
 * Shows the set-password page for a link's token.
 * @param {string} token
 * @param {() => void} onDone called once the password is set
 */
export function openSetPassword(token, onDone) {
  current = { token, onDone };
  const form = /** @type {HTMLFormElement} */ (byId('password-form'));
  form.reset();
  byId('password-error').textContent = token ? '' : explain('token_invalid').text;
  /** @type {HTMLButtonElement} */ (byId('password-submit')).disabled = !token;
  showView('password');
}

/** @param {SubmitEvent} ev */
async function onSubmit(ev) {
  ev.preventDefault();
  if (!current || !current.token) return;
  const first = /** @type {HTMLInputElement} */ (byId('password-new'));
  const again = /** @type {HTMLInputElement} */ (byId('password-again'));
  const error = byId('password-error');
  const submit = /** @type {HTMLButtonElement} */ (byId('password-submit'));
  if (length(first.value) < MIN_LENGTH || first.value.length > MAX_LENGTH) {
    error.textContent = explain('weak_password').text;
    first.focus();
    return;
  }
  if (first.value !== again.value) {
    error.textContent = 'The two passwords are different. Type the same password twice.';
    again.focus();
    return;
  }
  submit.disabled = true;
  error.textContent = '';
  const { token, onDone } = current;
  try {
    await setPassword(token, first.value);
    current = null;
    first.value = '';
    again.value = '';
    onDone();
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 'internal';
    error.textContent = explain(code).text;
    if (code === 'token_invalid') return; // the link is spent: leave the button off
    submit.disabled = false;
    first.focus();
  }
}

byId('password-form').addEventListener('submit', (ev) => void onSubmit(/** @type {SubmitEvent} */ (ev)));

export { openSecondFactor, openTwoStep } from './second-factor.js';
