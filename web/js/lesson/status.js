// The lesson page's one status area. It holds no sentences of its own: every refresh asks the
// page for the states that are true now (connection, recording, the role's states) and draws
// them, most important first, so nothing said stays once it stops being true. Events ("your
// teacher is back", a request the server refused) are notes that show for a few seconds among
// them. The element is a polite live region: screen readers hear each change once.
// @ts-check

import { h } from '../lib/dom.js';

/** @typedef {{key: string, text: string, warn?: boolean}} StatusItem */

/** How long a note about an event stays. */
export const NOTE_MS = 6_000;
/** How many states show at once: the rest wait until those above them are over. */
const SHOWN = 2;

export class StatusArea {
  /**
   * @param {HTMLElement} el
   * @param {() => StatusItem[]} states the states that are true now, most important first
   */
  constructor(el, states) {
    this.el = el;
    this.states = states;
    /** @type {{item: StatusItem, until: number}[]} */
    this.notes = [];
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.last = '';
  }

  /** @param {StatusItem} item */
  note(item) {
    this.notes = this.notes.filter((n) => n.item.key !== item.key);
    this.notes.unshift({ item, until: Date.now() + NOTE_MS });
    this.refresh();
  }

  refresh() {
    const now = Date.now();
    this.notes = this.notes.filter((n) => n.until > now);
    const states = this.states();
    // Connection problems come before any note; notes before the role's everyday states.
    const urgent = states.filter((s) => s.warn);
    const calm = states.filter((s) => !s.warn);
    const items = [...urgent, ...this.notes.map((n) => n.item), ...calm].slice(0, SHOWN);
    const key = JSON.stringify(items);
    if (key !== this.last) {
      this.last = key;
      this.el.replaceChildren(...items.map((s) => h('span', {
        class: s.warn ? 'status-item status-warn' : 'status-item', 'data-status': s.key,
      }, [s.text])));
      this.el.classList.toggle('lesson-status-warn', items.some((s) => s.warn));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const next = Math.min(...this.notes.map((n) => n.until));
    if (Number.isFinite(next)) this.timer = setTimeout(() => this.refresh(), Math.max(50, next - now));
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.notes = [];
  }
}
