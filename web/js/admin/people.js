// People on the admin pages: role and consent-state names in words, searching people by name
// or email, and a picker that offers the matches as buttons.
// @ts-check

import { h } from '../lib/dom.js';
import { field } from '../lib/widgets.js';

/** @typedef {import('./api.js').AdminUser} AdminUser */

const PICKER_MAX = 8;

/** Role names as people say them. @type {Record<string, string>} */
export const ROLE_NAMES = {
  superuser: 'Superuser',
  teacher: 'Teacher',
  leader: 'Leader (DSL)',
  pupil: 'Pupil',
  external: 'External staff',
};

/** Consent states in words. @type {Record<string, string>} */
export const CONSENT_NAMES = {
  current: 'Signed',
  missing: 'No form yet',
  withdrawn: 'Withdrawn',
  opted_out: 'Opted out',
};

/**
 * Users matching a search by name or email (case-insensitive).
 * @param {AdminUser[]} users
 * @param {string} query
 */
export function matching(users, query) {
  const q = query.trim().toLowerCase();
  if (!q) return users;
  return users.filter((u) => u.display_name.toLowerCase().includes(q) || u.email.includes(q));
}

/**
 * A search box with up to eight matching people as buttons; pressing one calls `onPick`.
 * @param {AdminUser[]} users the people to choose from
 * @param {string} label
 * @param {(user: AdminUser) => void} onPick
 * @param {(user: AdminUser) => string} [pickLabel] the button text for a person
 */
export function picker(users, label, onPick, pickLabel = (u) => u.display_name) {
  const { row, input } = field(label, { type: 'search', autocomplete: 'off', spellcheck: 'false' }, 'Type part of a name or email address.');
  const results = h('ul', { class: 'picker-results' });
  const render = () => {
    const found = input.value.trim() ? matching(users, input.value).slice(0, PICKER_MAX) : [];
    results.replaceChildren(...found.map((u) => {
      const b = h('button', { type: 'button', class: 'btn btn-secondary btn-small picker-pick' }, [pickLabel(u)]);
      b.addEventListener('click', () => onPick(u));
      return h('li', {}, [b, h('span', { class: 'picker-email' }, [u.email])]);
    }));
    if (input.value.trim() && found.length === 0) results.append(h('li', { class: 'hint' }, ['Nobody matches.']));
  };
  input.addEventListener('input', render);
  return h('div', { class: 'picker' }, [row, results]);
}
