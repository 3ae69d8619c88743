// Admin section "Privacy profiles" (policy 40.8): for a vulnerable pupil, keep the camera
// always off, show them to other pupils by an alias, or keep them out of lists other pupils
// see. Livegate records the settings only, never the reason.
// @ts-check

import { h } from '../lib/dom.js';
import { checkbox, errorLine, errorText, field, statusLine } from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import { getPrivacy, setPrivacy } from './api.js';
import { picker } from './people.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */
/** @typedef {import('./api.js').AdminUser} AdminUser */

/** @param {AdminContext} ctx */
export async function renderPrivacy(ctx) {
  const users = await ctx.users();
  if (!ctx.isCurrent()) return;
  const pupils = users.filter((u) => u.role === 'pupil');
  const box = h('section', { class: 'admin-box', id: 'privacy-pupil', 'aria-live': 'polite' });
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Privacy profiles']),
    h('p', { class: 'muted' }, ['For pupils who need extra privacy, such as looked-after children or pupils in a sensitive family situation. Do not write the reason here.']),
    h('div', { class: 'admin-box' }, [picker(pupils, 'Find a pupil', (u) => void showProfile(box, u))]),
    box,
  );
  const preset = ctx.param ? pupils.find((u) => u.id === ctx.param) : undefined;
  if (preset) await showProfile(box, preset);
}

/**
 * @param {HTMLElement} box
 * @param {AdminUser} pupil
 */
async function showProfile(box, pupil) {
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
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  const heading = h('h3', { tabindex: '-1' }, [pupil.display_name]);
  box.replaceChildren(heading, h('p', { class: 'item-sub' }, [pupil.email]), form);
  heading.focus();
}
