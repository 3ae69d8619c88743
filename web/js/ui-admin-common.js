// Shared pieces of the admin pages: labelled form fields, inline error lines, two-step
// confirmation buttons, dates, and a pupil picker (search by name or email). No API calls.
// @ts-check

import { ApiError } from './api.js';
import { explain } from './messages.js';
import { h, visuallyHidden } from './ui-dom.js';

/** @typedef {import('./ui-admin-api.js').AdminUser} AdminUser */

const CONFIRM_MS = 4_000;
const PICKER_MAX = 8;

let counter = 0;

/** A fresh element id. @param {string} prefix */
export function freshId(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * A label and an input, stacked.
 * @param {string} label
 * @param {Record<string, string | boolean>} [attrs] input attributes (type, name, required...)
 * @param {string} [hint] a line under the label, tied to the input for screen readers
 * @returns {{row: HTMLElement, input: HTMLInputElement}}
 */
export function field(label, attrs = {}, hint) {
  const id = freshId('f');
  /** @type {Record<string, string | boolean>} */
  const described = hint ? { 'aria-describedby': `${id}-hint` } : {};
  const input = /** @type {HTMLInputElement} */ (h('input', { id, type: 'text', ...described, ...attrs }));
  const row = h('div', { class: 'field' }, [h('label', { for: id }, [label])]);
  if (hint) row.append(h('p', { id: `${id}-hint`, class: 'hint' }, [hint]));
  row.append(input);
  return { row, input };
}

/**
 * A label and a multi-line text box.
 * @param {string} label
 * @param {Record<string, string | boolean>} [attrs]
 * @returns {{row: HTMLElement, input: HTMLTextAreaElement}}
 */
export function textArea(label, attrs = {}) {
  const id = freshId('t');
  const input = /** @type {HTMLTextAreaElement} */ (h('textarea', { id, rows: '6', ...attrs }));
  return { row: h('div', { class: 'field' }, [h('label', { for: id }, [label]), input]), input };
}

/**
 * A label and a drop-down.
 * @param {string} label
 * @param {[string, string][]} options value and text
 * @param {Record<string, string | boolean>} [attrs]
 * @returns {{row: HTMLElement, input: HTMLSelectElement}}
 */
export function selectField(label, options, attrs = {}) {
  const id = freshId('s');
  const input = /** @type {HTMLSelectElement} */ (h('select', { id, ...attrs }, options.map(([value, text]) => h('option', { value }, [text]))));
  return { row: h('div', { class: 'field' }, [h('label', { for: id }, [label]), input]), input };
}

/**
 * A checkbox with its label beside it.
 * @param {string} label
 * @param {Record<string, string | boolean>} [attrs]
 * @returns {{row: HTMLElement, input: HTMLInputElement}}
 */
export function checkbox(label, attrs = {}) {
  const id = freshId('c');
  const input = /** @type {HTMLInputElement} */ (h('input', { id, type: 'checkbox', ...attrs }));
  return { row: h('div', { class: 'check' }, [input, h('label', { for: id }, [label])]), input };
}

/** An empty error line that screen readers announce when it fills. */
export function errorLine() {
  return h('p', { class: 'form-error', role: 'alert' });
}

/** A status line for what just happened ("Saved."), announced politely. */
export function statusLine() {
  return h('p', { class: 'admin-ok', role: 'status' });
}

/**
 * The plain sentence for a failed call: for a refused text field, the server's sentence
 * naming the field and why.
 * @param {unknown} err
 * @returns {string}
 */
export function errorText(err) {
  if (err instanceof ApiError && err.field && err.detail) return err.detail;
  const code = err instanceof ApiError ? err.code : 'internal';
  return explain(code).text;
}

/**
 * A primary button.
 * @param {string} label
 * @param {Record<string, string | boolean>} [attrs]
 * @returns {HTMLButtonElement}
 */
export function button(label, attrs = {}) {
  return /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-primary', ...attrs }, [label]));
}

/**
 * A button that needs a second press within a few seconds: the first press turns it into
 * "Confirm: ...", so nothing happens by one slip of a finger, and no modal dialog is needed.
 * @param {string} label
 * @param {string} confirmLabel
 * @param {string} name who or what it is about, for screen readers ("Remove for Ada")
 * @param {(button: HTMLButtonElement) => void} onConfirm
 * @param {string} [cls]
 * @returns {HTMLButtonElement}
 */
export function confirmButton(label, confirmLabel, name, onConfirm, cls = 'btn btn-danger-quiet btn-small') {
  const b = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: cls }));
  const set = (/** @type {string} */ text) => b.replaceChildren(text, visuallyHidden(` for ${name}`));
  set(label);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  b.addEventListener('click', () => {
    if (b.dataset.confirming === '1') {
      clearTimeout(timer);
      delete b.dataset.confirming;
      b.classList.remove('is-confirming');
      set(label);
      onConfirm(b);
      return;
    }
    b.dataset.confirming = '1';
    b.classList.add('is-confirming');
    set(confirmLabel);
    timer = setTimeout(() => {
      delete b.dataset.confirming;
      b.classList.remove('is-confirming');
      set(label);
    }, CONFIRM_MS);
  });
  return b;
}

/** A day as people write it, e.g. "5 Mar 2026". @param {number} ms */
export function day(ms) {
  return new Date(ms).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
}

/** Today as an `<input type="date">` value. */
export function todayInput() {
  const d = new Date();
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

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
