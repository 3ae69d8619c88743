// Admin section "Users": add a person (an account without a password, then an invite link
// for them), find people by name or email, change a role, disable or enable an account, and
// issue invite or password-reset links.
// @ts-check

import { h, visuallyHidden } from '../lib/dom.js';
import { button, confirmButton, errorLine, errorText, field, selectField, statusLine } from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import { createUser, issueLink, updateUser } from './api.js';
import { ROLE_NAMES, matching } from './people.js';
import { changed, onChange } from './changes.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */
/** @typedef {import('./api.js').AdminUser} AdminUser */
/** @typedef {import('./api.js').Role} Role */

const SHOWN_MAX = 100;
const ROLE_OPTIONS = /** @type {[string, string][]} */ (Object.entries(ROLE_NAMES));

/** @param {AdminContext} ctx */
export async function renderUsers(ctx) {
  let users = await ctx.users(true);
  if (!ctx.isCurrent()) return;
  const list = h('ul', { class: 'admin-list', id: 'admin-users' });
  const count = h('p', { class: 'hint', role: 'status' });
  const search = field('Find a person', { type: 'search', autocomplete: 'off', spellcheck: 'false' }, 'Name or email address.');
  const roleFilter = selectField('Role', [['', 'Everyone'], ...ROLE_OPTIONS]);
  const draw = () => {
    const shown = matching(users, search.input.value).filter((u) => !roleFilter.input.value || u.role === roleFilter.input.value);
    list.replaceChildren(...shown.slice(0, SHOWN_MAX).map((u) => userItem(ctx, u)));
    count.textContent = shown.length > SHOWN_MAX
      ? `Showing ${SHOWN_MAX} of ${shown.length} people. Search to narrow the list.`
      : `${shown.length} ${shown.length === 1 ? 'person' : 'people'}.`;
  };
  search.input.addEventListener('input', draw);
  roleFilter.input.addEventListener('change', draw);
  // People added here or by an import, and changed accounts, show at once (keeping the search).
  onChange(['users'], () => void ctx.users().then((fresh) => {
    users = fresh;
    if (ctx.isCurrent()) draw();
  }), ctx.isCurrent);
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Users']),
    h('p', { class: 'muted' }, ['Everyone who can sign in at your school. Give each person the role they need and no more.']),
    addForm(ctx),
    h('div', { class: 'filters' }, [search.row, roleFilter.row]),
    count,
    list,
  );
  draw();
}

/** @param {AdminContext} ctx */
function addForm(ctx) {
  const email = field('Email address', { type: 'email', autocomplete: 'off', inputmode: 'email', spellcheck: 'false', required: true });
  const name = field('Name shown in lessons', { required: true });
  const role = selectField('Role', ROLE_OPTIONS);
  role.input.value = 'pupil';
  const error = errorLine();
  const done = statusLine();
  const invite = h('div', { class: 'invite' });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'btn btn-primary' }, ['Add person']));
  const form = h('form', { class: 'form admin-form', novalidate: true }, [email.row, name.row, role.row, error, submit, done, invite]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    done.textContent = '';
    invite.replaceChildren();
    if (!email.input.value.trim() || !name.input.value.trim()) {
      error.textContent = 'Enter an email address and a name.';
      return;
    }
    const [displayName] = checkInputs(error, [['display_name', name.input]]) || [];
    if (!displayName) return;
    submit.disabled = true;
    try {
      const { user } = await createUser({ email: email.input.value.trim(), display_name: displayName, role: /** @type {Role} */ (role.input.value) });
      changed('users');
      done.textContent = `Added ${user.display_name}. They need an invite link to choose a password.`;
      invite.append(linkButton(user, 'invite'));
      email.input.value = '';
      name.input.value = '';
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      submit.disabled = false;
    }
  });
  return h('details', { class: 'admin-box' }, [h('summary', {}, ['Add a person']), form]);
}

/**
 * One person in the list, with a "Manage" disclosure for changes.
 * @param {AdminContext} ctx
 * @param {AdminUser} u
 * @returns {HTMLElement}
 */
function userItem(ctx, u) {
  const badges = [h('span', { class: 'badge badge-role' }, [ROLE_NAMES[u.role] || u.role])];
  if (u.disabled) badges.push(h('span', { class: 'badge badge-off' }, ['Disabled']));
  if (!u.has_password) badges.push(h('span', { class: 'badge badge-note' }, ['No password yet']));
  const item = h('li', { class: 'admin-item', 'data-user-id': u.id }, [
    h('div', { class: 'item-head' }, [h('span', { class: 'item-name' }, [u.display_name]), ...badges]),
    h('p', { class: 'item-sub' }, [u.email]),
  ]);
  item.append(manage(ctx, u, item));
  return item;
}

/**
 * @param {AdminContext} ctx
 * @param {AdminUser} u
 * @param {HTMLElement} item the list item to replace after a change
 */
function manage(ctx, u, item) {
  const error = errorLine();
  const links = h('div', { class: 'invite' });
  const role = selectField('Role', ROLE_OPTIONS);
  role.input.value = u.role;
  const saveRole = button('Save role', { class: 'btn btn-secondary btn-small' });
  /** @param {{role?: Role, disabled?: boolean}} change */
  const apply = async (change) => {
    error.textContent = '';
    try {
      const { user } = await updateUser(u.id, change);
      const users = await ctx.users();
      const i = users.findIndex((x) => x.id === user.id);
      if (i >= 0) users[i] = user;
      const fresh = userItem(ctx, user);
      item.replaceWith(fresh);
      const details = fresh.querySelector('details');
      if (details) details.open = true;
      const again = fresh.querySelector('summary');
      if (again) again.focus();
    } catch (err) {
      error.textContent = errorText(err);
    }
  };
  saveRole.addEventListener('click', () => void apply({ role: /** @type {Role} */ (role.input.value) }));
  const toggle = u.disabled
    ? button('Enable account', { class: 'btn btn-secondary btn-small' })
    : confirmButton('Disable account', 'Confirm: disable', u.display_name, () => void apply({ disabled: true }));
  if (u.disabled) toggle.addEventListener('click', () => void apply({ disabled: false }));
  const purpose = u.has_password ? 'reset' : 'invite';
  return h('details', { class: 'manage' }, [
    h('summary', {}, ['Manage', visuallyHidden(` ${u.display_name}`)]),
    h('div', { class: 'manage-body' }, [
      h('div', { class: 'inline-form' }, [role.row, saveRole]),
      h('div', { class: 'item-actions' }, [toggle, linkButton(u, purpose, links)]),
      links,
      error,
    ]),
  ]);
}

/**
 * A button that issues an invite (or password-reset) link and shows it, ready to copy.
 * @param {AdminUser} u
 * @param {'invite' | 'reset'} purpose
 * @param {HTMLElement} [out] where the link goes (by default, after the button)
 */
function linkButton(u, purpose, out) {
  const label = purpose === 'invite' ? 'Create invite link' : 'Create password reset link';
  const b = button(label, { class: 'btn btn-secondary btn-small' });
  b.addEventListener('click', async () => {
    const target = out || /** @type {HTMLElement} */ (b.parentElement);
    b.disabled = true;
    try {
      const { link } = await issueLink(u.id, purpose);
      const input = /** @type {HTMLInputElement} */ (h('input', { type: 'text', readonly: true, class: 'link-box', 'aria-label': `Link for ${u.display_name}` }));
      input.value = `${location.origin}${link.url}`; // the link's url is relative to this server
      const hours = purpose === 'invite' ? '72 hours' : 'one hour';
      target.replaceChildren(
        h('p', { class: 'hint' }, [`Give this link to ${u.display_name} through the school's usual channel. It works once, for ${hours}.`]),
        input,
      );
      input.select();
    } catch (err) {
      target.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, [errorText(err)]));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
