// Admin section "School sign-in": which provider the school's people sign in with (Microsoft
// with the school's tenant id, or Google with its Workspace domain), the email domains that
// lead to it, whether it is on, and whether pupils may still use a password; and the people
// whose school account is linked, each of whom can be unlinked. Every change is on the audit
// chain (PROTOCOL.md section 7). Its three calls live here rather than in api.js, so this
// section is one file.
// @ts-check

import { ApiError, request } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { checkbox, confirmButton, day, errorLine, errorText, field, selectField, statusLine } from '../lib/widgets.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */
/** @typedef {'microsoft' | 'google'} Provider */
/**
 * @typedef {{provider: Provider, directory: string, email_domains: string[], enabled: boolean,
 *   pupils_password: boolean}} SsoSettings
 * @typedef {{user_id: string, display_name: string, email: string, issuer: string,
 *   linked_at: number, last_used: number}} LinkedPerson
 * @typedef {{settings: SsoSettings | null, offered: Provider[], redirect_url: string,
 *   linked: LinkedPerson[]}} SsoAdmin
 */

/** @returns {Promise<SsoAdmin>} */
const getSso = () => request('GET', '/api/admin/sso');
/** @param {SsoSettings} s @returns {Promise<SsoAdmin>} */
const putSso = (s) => request('PUT', '/api/admin/sso', s);
/** @param {string} userId @returns {Promise<null>} */
const unlink = (userId) => request('DELETE', `/api/admin/users/${encodeURIComponent(userId)}/identities`);

/** @type {Record<string, string>} */
const REFUSALS = {
  sso_settings_invalid: 'Check the settings: a Microsoft tenant id looks like 0f4a3c2e-1b2d-4e5f-8a9b-0c1d2e3f4a5b (not "common" and not the personal-account tenant), a Google domain like school.sch.uk, and at least one email domain.',
  sso_domain_taken: "One of those email domains already leads to another school's sign-in. Remove it here, or ask the server's operator.",
  sso_unavailable: 'This Livegate server has no app registration for that provider yet. Its operator adds one to the configuration (README, "Sign-in with Microsoft or Google").',
};

/** @param {unknown} err */
function refusal(err) {
  return err instanceof ApiError && REFUSALS[err.code] ? REFUSALS[err.code] : errorText(err);
}

/** @param {AdminContext} ctx @param {string} [saved] */
export async function renderSso(ctx, saved = '') {
  const view = await getSso();
  if (!ctx.isCurrent()) return;
  const s = view.settings;
  const provider = selectField('Provider', [['microsoft', 'Microsoft 365 (Entra ID)'], ['google', 'Google Workspace']], { name: 'provider' });
  provider.input.value = s ? s.provider : (view.offered[0] || 'microsoft');
  const directory = field('Tenant id or Workspace domain', { name: 'directory', autocomplete: 'off', spellcheck: 'false', value: s ? s.directory : '' },
    'Microsoft: the Directory (tenant) id from Entra ID, Overview. Google: your Workspace primary domain.');
  const domains = field('Email domains that sign in here', { name: 'email_domains', autocomplete: 'off', spellcheck: 'false', value: s ? s.email_domains.join(', ') : '' },
    'Separate with commas, e.g. school.sch.uk, pupils.school.sch.uk. A person types their email; its domain picks this school.');
  const enabled = checkbox('Sign-in with the school account is on', { name: 'enabled' });
  enabled.input.checked = s ? s.enabled : true;
  const pupilsPassword = checkbox('Pupils may also sign in with a password', { name: 'pupils_password' });
  pupilsPassword.input.checked = s ? s.pupils_password : true;
  const done = statusLine();
  done.textContent = saved;
  const error = errorLine();
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'btn btn-primary' }, ['Save sign-in settings']));
  const form = h('form', { class: 'form admin-form', novalidate: true },
    [provider.row, directory.row, domains.row, enabled.row, pupilsPassword.row, error, submit]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    /** @type {SsoSettings} */
    const body = {
      provider: /** @type {Provider} */ (provider.input.value),
      directory: directory.input.value.trim(),
      email_domains: domains.input.value.split(/[\s,]+/).filter(Boolean),
      enabled: enabled.input.checked,
      pupils_password: pupilsPassword.input.checked,
    };
    try {
      await putSso(body);
      await renderSso(ctx, 'Saved. People of these email domains can now use the sign-in button.');
    } catch (err) {
      submit.disabled = false;
      error.textContent = refusal(err);
    }
  });
  const offered = view.offered.length
    ? `This server is registered with: ${view.offered.map((p) => (p === 'microsoft' ? 'Microsoft' : 'Google')).join(' and ')}.`
    : 'This server has no app registration yet: its operator adds one (README, "Sign-in with Microsoft or Google").';
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['School sign-in']),
    h('p', { class: 'muted' }, ['Pupils and staff can sign in with the Microsoft or Google account the school gave them. Nobody gets an account by signing in: a person must already be a user here, with the same email address. Staff can always use their password too, in case the provider is down.']),
    h('p', { class: 'hint' }, [offered, ' The app registration must allow the redirect address ', h('code', {}, [view.redirect_url]), '.']),
    done,
    h('section', { class: 'admin-box', 'aria-labelledby': 'sso-edit-title' }, [h('h3', { id: 'sso-edit-title' }, ['Settings']), form]),
    linkedList(ctx, view.linked),
  );
}

/** @param {AdminContext} ctx @param {LinkedPerson[]} people */
function linkedList(ctx, people) {
  const error = errorLine();
  const rows = people.map((p) => {
    const remove = confirmButton('Unlink', 'Confirm: unlink', p.display_name, async (b) => {
      b.disabled = true;
      try {
        await unlink(p.user_id);
        await renderSso(ctx, `Unlinked ${p.display_name}: their next sign-in links their account again by email.`);
      } catch (err) {
        b.disabled = false;
        error.textContent = refusal(err);
      }
    });
    return h('li', { class: 'admin-item admin-item-row', 'data-user': p.user_id }, [
      h('span', {}, [h('strong', {}, [p.display_name]), ` ${p.email}`]),
      h('span', { class: 'muted' }, [` linked ${day(p.linked_at)}, last used ${day(p.last_used)} `]),
      remove,
    ]);
  });
  return h('section', { class: 'admin-box', 'aria-labelledby': 'sso-linked-title' }, [
    h('h3', { id: 'sso-linked-title' }, [`Linked accounts (${people.length})`]),
    people.length ? h('ul', { class: 'admin-list', id: 'sso-linked' }, rows) : h('p', { class: 'muted' }, ['Nobody has signed in with a school account yet.']),
    error,
  ]);
}
