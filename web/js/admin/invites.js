// The invite sheet of a class (for schools without single sign-on), on the class page: one
// press makes a one-time invite link for each pupil who has no password yet, and shows them as
// cards (name, class, QR code, link) laid out for printing on A4, eight to a page (admin.css,
// `@media print`). Pupils already set up get no card and are named below the sheet. The links
// live only in this page: leaving it forgets them.
// @ts-check

import { h } from '../lib/dom.js';
import { button, errorLine, errorText } from '../lib/widgets.js';
import { inviteSheet } from './api.js';

/** @typedef {import('./api.js').InviteSheet} InviteSheet */

/**
 * The box on a class page that makes the sheet, and the sheet once made.
 * @param {{id: string, name: string}} c the class
 * @returns {HTMLElement}
 */
export function inviteBox(c) {
  const error = errorLine();
  const out = h('div', { id: 'invite-sheet-box' });
  const make = button('Make invite sheet', { class: 'btn btn-secondary', id: 'invite-make' });
  make.addEventListener('click', async () => {
    make.disabled = true;
    error.textContent = '';
    try {
      const sheet = await inviteSheet(c.id);
      out.replaceChildren(drawSheet(sheet));
      const heading = out.querySelector('h3');
      if (heading instanceof HTMLElement) heading.focus();
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      make.disabled = false;
    }
  });
  return h('section', { class: 'admin-box', 'aria-labelledby': 'invite-title' }, [
    h('h3', { id: 'invite-title' }, ['Invite links to print']),
    h('p', { class: 'hint' }, [
      'For pupils who have no password yet: a card each with a link and a QR code to set their password, to print and hand out. '
      + 'Each link works once, for 72 hours. Making a new sheet replaces the links on any earlier one.',
    ]),
    make,
    error,
    out,
  ]);
}

/** A moment as "10 Dec, 14:05", in the browser's time zone. @param {number} ms */
const until = (ms) => new Date(ms).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/**
 * The printable sheet.
 * @param {InviteSheet} sheet
 * @returns {HTMLElement}
 */
function drawSheet(sheet) {
  const print = button('Print the sheet', { class: 'btn btn-primary no-print', id: 'invite-print' });
  print.addEventListener('click', () => window.print());
  const n = sheet.cards.length;
  const said = n === 0
    ? 'Every pupil in this class has set a password already: there is nothing to print.'
    : `${n} ${n === 1 ? 'card' : 'cards'}, each link working once until ${until(sheet.expires_at || 0)}.`;
  const left = [];
  if (sheet.already_set_up.length) left.push(`Already set up: ${sheet.already_set_up.map((p) => p.display_name).join(', ')}.`);
  if (sheet.disabled.length) left.push(`Account disabled, no card: ${sheet.disabled.map((p) => p.display_name).join(', ')}.`);
  return h('div', { class: 'invite-sheet', id: 'invite-sheet' }, [
    h('h3', { class: 'no-print', tabindex: '-1' }, [`Invite sheet: ${sheet.class.name}`]),
    h('p', { class: 'admin-ok no-print', role: 'status' }, [said]),
    n ? print : h('span'),
    h('ul', { class: 'invite-cards' }, sheet.cards.map((card) => h('li', { class: 'invite-card', 'data-user-id': card.user_id }, [
      h('p', { class: 'invite-name' }, [card.display_name]),
      h('p', { class: 'invite-class' }, [sheet.class.name]),
      h('img', {
        class: 'invite-qr',
        alt: `QR code of ${card.display_name}'s link`,
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(card.qr_svg)}`,
      }),
      h('p', { class: 'invite-how' }, [`Scan the code or type the link to choose your Livegate password. It works once, until ${until(sheet.expires_at || 0)}.`]),
      h('p', { class: 'invite-link' }, [card.url]),
    ]))),
    ...left.map((t) => h('p', { class: 'hint no-print invite-left' }, [t])),
  ]);
}
