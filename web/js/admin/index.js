// The superuser's administration view, entry of the admin/ folder: routes
// `#/admin/<section>[/<id>]`, the section navigation, and one section panel at a time, each
// drawn by its own module here (users.js, classes.js with import.js, domains.js, consent.js,
// conduct.js, privacy.js, timezone.js); api.js has the calls, people.js the people picker.
// admin/ imports lib/ and its own files, never another role.
// @ts-check

import { ApiError } from '../lib/api.js';
import { explain } from '../lib/messages.js';
import { byId, h, showView, view } from '../lib/dom.js';
import { listUsers } from './api.js';
import { renderUsers } from './users.js';
import { renderClasses } from './classes.js';
import { renderDomains } from './domains.js';
import { renderConsent } from './consent.js';
import { renderConduct } from './conduct.js';
import { renderPrivacy } from './privacy.js';
import { renderTimeZone } from './timezone.js';
import { onChange } from './changes.js';
import { renderSso } from './sso.js';

/** @typedef {import('./api.js').AdminUser} AdminUser */

/**
 * What a section's renderer gets.
 * @typedef {{
 *   panel: HTMLElement,
 *   param: string | null,
 *   go: (hash: string) => void,
 *   users: (fresh?: boolean) => Promise<AdminUser[]>,
 *   isCurrent: () => boolean,
 * }} AdminContext
 */

/** @type {Record<string, (ctx: AdminContext) => Promise<void>>} */
const SECTIONS = {
  users: renderUsers,
  classes: renderClasses,
  domains: renderDomains,
  consent: renderConsent,
  conduct: renderConduct,
  privacy: renderPrivacy,
  timezone: renderTimeZone,
  sso: (ctx) => renderSso(ctx),
};

/**
 * The admin route in a location hash, or null if it is not one.
 * @param {string} [hash]
 * @returns {{section: string, param: string | null} | null}
 */
export function adminRoute(hash = location.hash) {
  const m = /^#\/admin(?:\/([a-z]+)(?:\/([A-Za-z0-9_-]{1,64}))?)?\/?$/.exec(hash);
  if (!m) return null;
  const section = m[1] && m[1] in SECTIONS ? m[1] : 'users';
  return { section, param: m[2] || null };
}

let generation = 0;
/** @type {AdminUser[] | null} */
let usersCache = null;

// A change to the people forgets the cached list, so the next `ctx.users()` fetches it again.
onChange(['users'], () => { usersCache = null; }, () => true);

/** Forgets what was loaded for the last superuser (on sign-out). */
export function resetAdmin() {
  generation += 1;
  usersCache = null;
}

/**
 * Shows one admin section.
 * @param {{section: string, param: string | null}} route
 * @param {(hash: string) => void} go navigates to another hash
 * @param {() => void} onSignedOut called if the session has ended
 */
export async function openAdmin(route, go, onSignedOut) {
  const gen = ++generation;
  for (const a of byId('admin-nav').querySelectorAll('a')) {
    if (a instanceof HTMLElement && a.dataset.section === route.section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const panel = byId('admin-panel');
  panel.replaceChildren(h('p', { class: 'muted' }, ['Loading…']));
  const switching = view() !== 'admin';
  if (switching) showView('admin');
  /** @type {AdminContext} */
  const ctx = {
    panel,
    param: route.param,
    go,
    isCurrent: () => gen === generation && view() === 'admin',
    async users(fresh = false) {
      if (!usersCache || fresh) usersCache = (await listUsers()).users;
      return usersCache;
    },
  };
  try {
    await SECTIONS[route.section](ctx);
  } catch (err) {
    if (!ctx.isCurrent()) return;
    const code = err instanceof ApiError ? err.code : 'internal';
    if (code === 'not_signed_in') {
      onSignedOut();
      return;
    }
    const { title, text } = explain(code);
    panel.replaceChildren(h('h2', { tabindex: '-1' }, [title]), h('p', { class: 'form-error', role: 'alert' }, [text]));
  }
  if (!switching && ctx.isCurrent()) {
    // Within the admin view, move focus to the new section's heading.
    const heading = panel.querySelector('h2');
    if (heading instanceof HTMLElement) heading.focus({ preventScroll: true });
  }
}
