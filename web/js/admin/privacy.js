// Admin section "Privacy profiles" (policy 40.8): for a vulnerable pupil, keep the camera
// always off, show them to other pupils by an alias, or keep them out of lists other pupils
// see. Livegate records the settings only, never the reason. The pupils who have a profile are
// listed first (refreshed after each save), each opening their profile.
// @ts-check

import { h } from '../lib/dom.js';
import { checkbox, errorLine, errorText, field, statusLine } from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import { getPrivacy, listPrivacy, setPrivacy } from './api.js';
import { picker } from './people.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */
/** @typedef {import('./api.js').AdminUser} AdminUser */

/** @param {AdminContext} ctx */
export async function renderPrivacy(ctx) {
  const users = await ctx.users();
  if (!ctx.isCurrent()) return;
  const pupils = users.filter((u) => u.role === 'pupil');
  const box = h('section', { class: 'admin-box', id: 'privacy-pupil', 'aria-live': 'polite' });
  const list = h('ul', { class: 'admin-list', id: 'privacy-list' });
  /** @param {AdminUser} u */
  const open = (u) => void showProfile(box, u, () => void drawList(list, pupils, open));
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Privacy profiles']),
    h('p', { class: 'muted' }, ['For pupils who need extra privacy, such as looked-after children or pupils in a sensitive family situation. Do not write the reason here.']),
    h('h3', {}, ['Pupils with a privacy profile']),
    list,
    h('div', { class: 'admin-box' }, [picker(pupils, 'Find a pupil', open)]),
    box,
  );
  await drawList(list, pupils, open);
  const preset = ctx.param ? pupils.find((u) => u.id === ctx.param) : undefined;
  if (preset) open(preset);
}

/**
 * The pupils who have a privacy profile, each with what it sets and a button opening it.
 * @param {HTMLElement} list @param {AdminUser[]} pupils @param {(u: AdminUser) => void} open
 */
async function drawList(list, pupils, open) {
  let profiles;
  try {
    profiles = (await listPrivacy()).profiles;
  } catch (err) {
    list.replaceChildren(h('li', { class: 'form-error', role: 'alert' }, [errorText(err)]));
    return;
  }
  if (profiles.length === 0) {
    list.replaceChildren(h('li', { class: 'empty' }, ['No pupil has a privacy profile.']));
    return;
  }
  list.replaceChildren(...profiles.map((p) => {
    const sets = [
      p.privacy.camera_always_off ? 'camera always off' : '',
      p.privacy.alias ? `shown to pupils as "${p.privacy.alias}"` : '',
      p.privacy.hidden_from_pupils ? "left out of pupils' lists" : '',
    ].filter(Boolean).join(', ');
    const pupil = pupils.find((u) => u.id === p.pupil_id);
    const edit = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'aria-label': `Open ${p.display_name}'s profile` }, ['Open']));
    if (pupil) edit.addEventListener('click', () => open(pupil));
    else edit.disabled = true;
    return h('li', { class: 'admin-item admin-item-row', 'data-pupil': p.pupil_id }, [
      h('div', {}, [h('span', { class: 'item-name' }, [p.display_name]), h('p', { class: 'item-sub' }, [sets])]),
      edit,
    ]);
  }));
}

/**
 * @param {HTMLElement} box
 * @param {AdminUser} pupil
 * @param {() => void} saved called after each save (the list above refreshes)
 */
async function showProfile(box, pupil, saved) {
  box.replaceChildren(h('p', { class: 'muted' }, ['Loading…']));
  let privacy;
  try {
    privacy = (await getPrivacy(pupil.id)).privacy;
  } catch (err) {
    box.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, [errorText(err)]));
    return;
  }
  const camera = checkbox('Camera always off, even if the teacher allows cameras', { checked: privacy.camera_always_off });
  const alias = field('Name other pupils see (leave empty to use their own name)', { autocomplete: 'off' });
  alias.input.value = privacy.alias || '';
  const hidden = checkbox('Leave out of the lists other pupils see', { checked: privacy.hidden_from_pupils });
  const error = errorLine();
  const done = statusLine();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, ['Save privacy profile']);
  const form = h('form', { class: 'form admin-form', novalidate: true }, [camera.row, alias.row, hidden.row, error, submit, done]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    done.textContent = '';
    const checked = checkInputs(error, [['alias', alias.input, { optional: true }]]);
    if (!checked) return;
    try {
      await setPrivacy(pupil.id, {
        camera_always_off: camera.input.checked,
        alias: checked[0],
        hidden_from_pupils: hidden.input.checked,
      });
      done.textContent = `Saved for ${pupil.display_name}. It applies in live lessons at once.`;
      saved();
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  const heading = h('h3', { tabindex: '-1' }, [pupil.display_name]);
  box.replaceChildren(heading, h('p', { class: 'item-sub' }, [pupil.email]), form);
  heading.focus();
}
