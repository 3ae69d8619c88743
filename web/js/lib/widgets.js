// Form pieces any role's pages use (the admin pages, the leader's recording pages): labelled
// fields, inline error and status lines, buttons, two-step confirmation buttons, and dates as
// people write them. No API calls, and nothing about one role (the admin's people picker is
// admin/people.js). Like all of lib/, it imports nothing outside lib/.
// @ts-check

import { ApiError } from './api.js';
import { explain } from './messages.js';
import { h, visuallyHidden } from './dom.js';

const CONFIRM_MS = 4_000;

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
