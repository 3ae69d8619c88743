// A modal choice for destructive or two-way actions (end a lesson, remove someone, leave or
// step out): a <dialog> whose buttons sit away from the button that opened it and do nothing for
// the first ARM_MS, so a double click or a double tap on "End lesson" opens the question and
// never answers it. Escape and "Cancel" answer null. Like all of lib/, it imports only lib/.
// @ts-check

import { h } from './dom.js';

/** How long the choices ignore presses after the dialog opens: longer than a double click. */
export const ARM_MS = 700;

/**
 * @typedef {{value: string, label: string, cls?: string, hint?: string}} Choice
 */

/** @type {HTMLDialogElement | null} the dialog open now */
let open = null;

/**
 * Asks a question and resolves with the chosen value, or null when cancelled. A second call
 * while one is open cancels the first.
 * @param {{title: string, text: string, choices: Choice[], cancel?: string}} q
 * @returns {Promise<string | null>}
 */
export function choose({ title, text, choices, cancel = 'Cancel' }) {
  if (open) open.close('');
  const titleId = `dialog-title-${Date.now()}`;
  const buttons = choices.map((c) => /** @type {HTMLButtonElement} */ (h('button', {
    type: 'button', class: `btn ${c.cls || 'btn-primary'}`, 'data-value': c.value, disabled: true,
  }, [c.label])));
  const hints = choices.filter((c) => c.hint).map((c) => h('p', { class: 'hint' }, [`${c.label}: ${c.hint}`]));
  const cancelButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-secondary', 'data-value': '' }, [cancel]));
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'choice-dialog', 'aria-labelledby': titleId }, [
    h('h2', { id: titleId }, [title]),
    h('p', {}, [text]),
    ...hints,
    h('div', { class: 'choice-actions' }, [...buttons, cancelButton]),
  ]));
  document.body.append(dialog);
  const opened = performance.now();
  const timer = setTimeout(() => { for (const b of buttons) b.disabled = false; }, ARM_MS);
  return new Promise((resolve) => {
    dialog.addEventListener('click', (ev) => {
      const target = /** @type {HTMLElement} */ (ev.target);
      const button = target.closest('button[data-value]');
      // A press that began before the choices were armed (a double click's second half) or
      // a repeated press (a triple click) answers nothing.
      if (!(button instanceof HTMLButtonElement) || button.disabled) return;
      if (button !== cancelButton && (performance.now() - opened < ARM_MS || ev.detail > 1)) return;
      dialog.close(button.dataset.value || '');
    });
    dialog.addEventListener('close', () => {
      clearTimeout(timer);
      if (open === dialog) open = null;
      dialog.remove();
      resolve(dialog.returnValue || null);
    }, { once: true });
    open = dialog;
    dialog.showModal();
    cancelButton.focus();
  });
}

/** Closes the open dialog, if any, as if cancelled (the page it belongs to is going away). */
export function dismiss() {
  if (open) open.close('');
}
