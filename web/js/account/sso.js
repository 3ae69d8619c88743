// Sign-in with the school's Microsoft or Google account, on the sign-in page: a button per
// provider this server is registered with (GET /api/sso/providers), under the email field. The
// person types their school email (the browser usually fills it in) and taps their school's
// button: the email's domain tells the server which school, and so which tenant or Workspace
// domain, to send them to (PROTOCOL.md section 7). They come back signed in (`#/`), or to
// `#/sso-refused?code=...`, which ssoRefusal() reads and explainSso() words.
// Imports lib/ only, never another role's folder (web/README.md).
// @ts-check

import { ApiError, request } from '../lib/api.js';
import { explain } from '../lib/messages.js';
import { byId, h } from '../lib/dom.js';

/** @typedef {'microsoft' | 'google'} Provider */

/** @type {Record<Provider, string>} */
const LABELS = {
  microsoft: 'Sign in with Microsoft',
  google: 'Sign in with Google',
};

/** @type {Record<string, import('../lib/messages.js').Explanation>} */
const WORDS = {
  sso_unknown_person: {
    title: 'Ask your school to add you',
    text: 'Your school account worked, but Livegate has no account for you at this school yet. Ask your teacher or the school office to add you. Signing in does not create an account.',
    retry: true,
  },
  sso_other_school: {
    title: 'This account is at another school',
    text: 'Your account belongs to another school on Livegate. Sign in with the email address of the school whose lessons you join.',
    retry: true,
  },
  sso_other_organisation: {
    title: 'Use your school account',
    text: 'That account is not from your school. Sign in with the Microsoft or Google account your school gave you.',
    retry: true,
  },
  sso_consumer_account: {
    title: 'Use your school account',
    text: 'That is a personal Microsoft account. Sign in with the account your school gave you.',
    retry: true,
  },
  sso_email_unverified: {
    title: 'Your email could not be checked',
    text: "Your school's sign-in did not confirm your email address, so Livegate cannot tell who you are. Ask your school's IT team.",
    retry: true,
  },
  sso_cancelled: {
    title: 'Sign-in was cancelled',
    text: 'You did not finish signing in. Try again when you are ready.',
    retry: true,
  },
  sso_not_configured: {
    title: 'Your school does not use this sign-in',
    text: 'Your school does not sign in with this button here. Try the other button, or your password.',
    retry: true,
  },
  password_sign_in_off: {
    title: 'Use your school account',
    text: 'Your school signs pupils in with their school Microsoft or Google account. Use the button for it.',
    retry: true,
  },
};

/**
 * Words for a sign-in refusal: the school-account ones here, any other code as the shared
 * messages word it, or a plain "start again" for the token checks a person cannot fix.
 * @param {string} code
 * @returns {import('../lib/messages.js').Explanation}
 */
export function explainSso(code) {
  if (WORDS[code]) return WORDS[code];
  if (code.startsWith('sso_')) {
    return {
      title: 'Sign-in did not work',
      text: `Your school's sign-in answer could not be accepted (${code}). Nothing was changed. Start again from the sign-in page.`,
      retry: true,
    };
  }
  return explain(code);
}

/**
 * The refusal code of a `#/sso-refused?code=...` address, or null.
 * @param {string} [hash]
 * @returns {string | null}
 */
export function ssoRefusal(hash = location.hash) {
  const m = /^#\/sso-refused\?code=([a-z_]{1,64})$/.exec(hash);
  return m ? m[1] : null;
}

/**
 * Starts a sign-in; resolves with the provider's address to go to.
 * @param {Provider} provider
 * @param {string} email
 * @returns {Promise<{redirect: string}>}
 */
export function startSso(provider, email) {
  return request('POST', '/api/sso/start', { provider, email });
}

let drawn = false;

/**
 * Draws the provider buttons under the email field, once, for the providers this server offers.
 * @param {() => string} email the email field's value
 * @param {(text: string) => void} showError
 */
export async function showSsoButtons(email, showError) {
  if (drawn) return;
  /** @type {{providers: Provider[]}} */
  let offered;
  try {
    offered = await request('GET', '/api/sso/providers');
  } catch {
    return; // the password form still works
  }
  if (drawn || offered.providers.length === 0) return;
  drawn = true;
  const box = byId('signin-sso');
  const buttons = offered.providers.map((provider) => {
    const button = /** @type {HTMLButtonElement} */ (h('button', {
      type: 'button',
      class: `btn btn-wide btn-sso btn-sso-${provider}`,
      'data-provider': provider,
    }, [LABELS[provider]]));
    button.addEventListener('click', () => void go(provider, button, email, showError));
    return button;
  });
  box.replaceChildren(
    ...buttons,
    h('p', { class: 'sso-or muted' }, ['or sign in with your password']),
  );
  box.hidden = false;
}

/**
 * @param {Provider} provider @param {HTMLButtonElement} button
 * @param {() => string} email @param {(text: string) => void} showError
 */
async function go(provider, button, email, showError) {
  const address = email().trim();
  if (!address) {
    showError(`Type your school email address first, then tap "${LABELS[provider]}".`);
    byId('signin-email').focus();
    return;
  }
  button.disabled = true;
  showError('');
  try {
    const { redirect } = await startSso(provider, address);
    location.assign(redirect);
  } catch (err) {
    button.disabled = false;
    const code = err instanceof ApiError ? err.code : 'internal';
    showError(explainSso(code).text);
  }
}
