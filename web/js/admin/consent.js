// Admin section "Consent": a class's pupils without a current signed code-of-conduct form
// (`#/admin/consent/<class id>`), and one pupil's forms: record a signed form or a parent's
// opt-out (policy 40.2 and 40.6), see the history, withdraw consent.
// @ts-check

import { h } from '../lib/dom.js';
import {
  checkbox, confirmButton, day, errorLine, errorText, field, selectField, statusLine, todayInput,
} from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import {
  getConduct, listClasses, pupilConsents, recordConsent, withdrawConsent, withoutConsent,
} from './api.js';
import { CONSENT_NAMES, picker } from './people.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */
/** @typedef {import('./api.js').AdminUser} AdminUser */
/** @typedef {import('./api.js').ConsentRecord} ConsentRecord */

/** @param {AdminContext} ctx */
export async function renderConsent(ctx) {
  const [{ classes }, users, conduct] = await Promise.all([listClasses(), ctx.users(), getConduct()]);
  if (!ctx.isCurrent()) return;
  const version = conduct.conduct ? conduct.conduct.version : conduct.required_version;
  const pupilBox = h('section', { class: 'admin-box', id: 'consent-pupil', 'aria-live': 'polite' });
  /** @param {AdminUser} u */
  const openPupil = (u) => void showPupil(pupilBox, u, version, () => void drawMissing());
  const classSelect = selectField('Class', [['', 'Choose a class'], ...classes.map((c) => /** @type {[string, string]} */ ([c.id, c.name]))]);
  classSelect.input.value = ctx.param && classes.some((c) => c.id === ctx.param) ? ctx.param : '';
  const missing = h('div', { id: 'consent-missing' });
  const drawMissing = async () => {
    const id = classSelect.input.value;
    if (!id) {
      missing.replaceChildren();
      return;
    }
    try {
      const { pupils } = await withoutConsent(id);
      missing.replaceChildren(pupils.length === 0
        ? h('p', { class: 'admin-ok' }, ['Every pupil in this class has a signed form.'])
        : h('ul', { class: 'admin-list' }, pupils.map((p) => {
          const b = h('button', { type: 'button', class: 'btn btn-secondary btn-small' }, [`Record a form for ${p.user.display_name}`]);
          b.addEventListener('click', () => openPupil(p.user));
          return h('li', { class: 'admin-item admin-item-row', 'data-user-id': p.user.id }, [
            h('div', {}, [h('span', { class: 'item-name' }, [p.user.display_name]), ' ', h('span', { class: `badge badge-consent-${p.consent}` }, [CONSENT_NAMES[p.consent]])]),
            b,
          ]);
        })));
    } catch (err) {
      missing.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, [errorText(err)]));
    }
  };
  classSelect.input.addEventListener('change', () => void drawMissing());
  const pupils = users.filter((u) => u.role === 'pupil');
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Consent']),
    h('p', { class: 'muted' }, ['A pupil joins live lessons only once the school has the code of conduct signed by the pupil and a parent or carer. Parents may opt their child out.']),
    h('section', { class: 'admin-box', 'aria-labelledby': 'consent-missing-title' }, [
      h('h3', { id: 'consent-missing-title' }, ['Pupils without a signed form']),
      classSelect.row,
      missing,
    ]),
    h('div', { class: 'admin-box' }, [picker(pupils, 'Find a pupil', (u) => openPupil(u))]),
    pupilBox,
  );
  await drawMissing();
}

/**
 * One pupil's consent: state, history with withdrawal, and the form to record a new one.
 * @param {HTMLElement} box
 * @param {AdminUser} pupil
 * @param {number} version the code-of-conduct version forms are normally for
 * @param {() => void} changed called after a change, to refresh the class list
 */
async function showPupil(box, pupil, version, changed) {
  box.replaceChildren(h('p', { class: 'muted' }, ['Loading…']));
  let data;
  try {
    data = await pupilConsents(pupil.id);
  } catch (err) {
    box.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, [errorText(err)]));
    return;
  }
  const done = statusLine();
  const error = errorLine();
  const again = (/** @type {string} */ said) => void showPupil(box, pupil, version, changed).then(() => {
    const line = box.querySelector('.admin-ok');
    if (line) line.textContent = said;
    changed();
  });
  const history = h('ul', { class: 'admin-list' }, data.records.map((r) => recordItem(r, pupil, error, () => again('Consent withdrawn. The pupil cannot join live lessons now.'))));
  if (data.records.length === 0) history.append(h('li', { class: 'hint' }, ['No forms recorded yet.']));
  const heading = h('h3', { tabindex: '-1' }, [pupil.display_name]);
  box.replaceChildren(
    heading,
    h('p', {}, ['Consent now: ', h('span', { class: `badge badge-consent-${data.state}`, id: 'consent-state' }, [CONSENT_NAMES[data.state]])]),
    done,
    error,
    h('h4', {}, ['Forms on record']),
    history,
    consentForm(pupil, version, () => again('Form recorded.')),
  );
  heading.focus();
}

/**
 * @param {ConsentRecord} r
 * @param {AdminUser} pupil
 * @param {HTMLElement} error
 * @param {() => void} withdrawn
 */
function recordItem(r, pupil, error, withdrawn) {
  const what = r.opt_out
    ? `Opt-out by ${r.parent_name || 'a parent or carer'}`
    : `Signed by ${r.pupil_signed ? 'the pupil and ' : ''}${r.parent_name} (${r.method}, version ${r.conduct_version})`;
  const status = r.withdrawn_at ? `Withdrawn ${day(r.withdrawn_at)}` : '';
  const item = h('li', { class: 'admin-item admin-item-row' }, [
    h('div', {}, [h('span', {}, [what]), h('p', { class: 'hint' }, [`Dated ${day(r.signed_on)}. ${status}`])]),
  ]);
  if (!r.withdrawn_at) {
    item.append(confirmButton('Withdraw', 'Confirm withdraw', pupil.display_name, async (b) => {
      b.disabled = true;
      try {
        await withdrawConsent(r.id);
        withdrawn();
      } catch (err) {
        b.disabled = false;
        error.textContent = errorText(err);
      }
    }));
  }
  return item;
}

/**
 * @param {AdminUser} pupil
 * @param {number} version
 * @param {() => void} recorded
 */
function consentForm(pupil, version, recorded) {
  const signed = checkbox('The pupil signed the form', { checked: true });
  const parent = field('Parent or carer who signed', { autocomplete: 'off' });
  const date = field('Date on the form', { type: 'date', required: true });
  date.input.value = todayInput();
  const method = selectField('How it was signed', [['paper', 'On paper'], ['digital', 'Digitally']]);
  const ver = field('Code of conduct version', { type: 'number', min: '1', step: '1', required: true });
  ver.input.value = String(version);
  const optOut = checkbox('The parent or carer opts the pupil out of live lessons');
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, ['Record form']);
  const form = h('form', { class: 'form admin-form', novalidate: true }, [signed.row, parent.row, date.row, method.row, ver.row, optOut.row, error, submit]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const when = Date.parse(`${date.input.value}T12:00:00Z`);
    if (!optOut.input.checked && !parent.input.value.trim()) {
      error.textContent = 'Enter the name of the parent or carer who signed.';
      parent.input.focus();
      return;
    }
    if (Number.isNaN(when)) {
      error.textContent = 'Enter the date on the form.';
      date.input.focus();
      return;
    }
    const checked = checkInputs(error, [['parent_name', parent.input, { optional: optOut.input.checked }]]);
    if (!checked) return;
    try {
      await recordConsent(pupil.id, {
        pupil_signed: signed.input.checked,
        parent_name: checked[0] || '',
        signed_on: when,
        method: method.input.value === 'digital' ? 'digital' : 'paper',
        conduct_version: Number(ver.input.value),
        opt_out: optOut.input.checked,
      });
      recorded();
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  return h('details', { class: 'admin-box', open: true }, [h('summary', {}, ['Record a signed form or an opt-out']), form]);
}
