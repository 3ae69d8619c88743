// Admin section "Trusted domains": the email domains whose accounts may join live lessons
// (policy 40.4.3: trust only domains you know), each with a note of why, and adding or
// removing one. Removing a domain takes its people out of live lessons at once. A public
// webmail domain (gmail.com, outlook.com...) is trusted only after a warning the superuser
// confirms: the server refuses it without the confirmation (`public_webmail_domain`).
// @ts-check

import { h } from '../lib/dom.js';
import { ApiError } from '../lib/api.js';
import { confirmButton, day, errorLine, errorText, field, statusLine } from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import { addDomain, listDomains, removeDomain } from './api.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */

/** @param {AdminContext} ctx */
export async function renderDomains(ctx) {
  const { domains } = await listDomains();
  if (!ctx.isCurrent()) return;
  const error = errorLine();
  const done = statusLine();
  const list = h('ul', { class: 'admin-list', id: 'admin-domains' }, domains.map((d) => h('li', { class: 'admin-item admin-item-row', 'data-domain': d.domain }, [
    h('div', {}, [
      h('span', { class: 'item-name' }, [d.domain]),
      h('p', { class: 'item-sub' }, [d.note]),
      h('p', { class: 'hint' }, [`Added ${day(d.added_at)}`]),
    ]),
    confirmButton('Remove', 'Confirm remove', d.domain, async (b) => {
      b.disabled = true;
      try {
        await removeDomain(d.domain);
        await renderDomains(ctx);
        const line = ctx.panel.querySelector('.admin-ok');
        if (line) line.textContent = `${d.domain} is no longer trusted.`;
      } catch (err) {
        b.disabled = false;
        error.textContent = errorText(err);
      }
    }),
  ])));
  if (domains.length === 0) list.append(h('li', { class: 'empty' }, ['No trusted domains: nobody can join live lessons.']));
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Trusted domains']),
    h('p', { class: 'muted' }, ['Only accounts with an email address on these domains can join live lessons. Trust only domains you know, such as a partner school whose staff co-teach.']),
    done,
    error,
    list,
    addForm(ctx),
  );
}

/** @param {AdminContext} ctx */
function addForm(ctx) {
  const domain = field('Domain', { required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'pupils.example.sch.uk' });
  const note = field('Why it is trusted', { required: true }, 'For example: "Staff of our partner school, who co-teach Year 9 science."');
  const error = errorLine();
  const warning = h('div', { class: 'notice-warn admin-webmail', role: 'alert', hidden: true }, []);
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, ['Trust this domain']);
  const form = h('form', { class: 'form admin-form', novalidate: true }, [domain.row, note.row, error, warning, submit]);
  // Any change to the domain withdraws a warning given for the old one.
  domain.input.addEventListener('input', () => { warning.hidden = true; });
  /** @param {string} name @param {string} why @param {boolean} confirmed */
  const trust = async (name, why, confirmed) => {
    try {
      const added = await addDomain(name, why, confirmed);
      await renderDomains(ctx);
      const line = ctx.panel.querySelector('.admin-ok');
      if (line) line.textContent = `${added.domain} is now trusted.`;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'public_webmail_domain' && !confirmed) {
        warn(warning, name, () => trust(name, why, true));
      } else {
        error.textContent = errorText(err);
      }
    }
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    warning.hidden = true;
    if (!domain.input.value.trim() || !note.input.value.trim()) {
      error.textContent = 'Enter the domain and why it is trusted.';
      return;
    }
    const [why] = checkInputs(error, [['domain_note', note.input]]) || [];
    if (!why) return;
    await trust(domain.input.value.trim(), why, false);
  });
  return h('details', { class: 'admin-box' }, [h('summary', {}, ['Trust another domain']), form]);
}

/**
 * Shows why a public webmail domain is risky, with the one button that trusts it anyway.
 * @param {HTMLElement} box @param {string} name @param {() => Promise<void>} onConfirm
 */
function warn(box, name, onConfirm) {
  const go = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-danger btn-small' }, [`Trust ${name} anyway`]));
  go.addEventListener('click', async () => {
    go.disabled = true;
    await onConfirm();
    go.disabled = false;
  });
  box.replaceChildren(
    h('p', {}, [`${name} is a public webmail domain: anyone can make an account there. Trusting it lets every account on it that is on a class roster join live lessons, with nothing to show it belongs to a real pupil or parent.`]),
    h('p', {}, ['Prefer your school accounts or a partner school\'s domain. Trust it only if you mean to.']),
    go,
  );
  box.hidden = false;
  go.focus();
}
