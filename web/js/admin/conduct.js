// Admin section "Code of conduct": the school's own livestream code of conduct and recording
// notice (policy 40.6, Appendix D), shown as published, and publishing a new version, with
// the choice to require everyone to sign it again.
// @ts-check

import { h } from '../lib/dom.js';
import { checkbox, confirmButton, day, errorLine, errorText, statusLine, textArea } from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import { getConduct, publishConduct } from './api.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */

/** @param {AdminContext} ctx */
export async function renderConduct(ctx) {
  const { conduct, required_version: required } = await getConduct();
  if (!ctx.isCurrent()) return;
  const done = statusLine();
  const error = errorLine();
  const text = textArea('Code of conduct', { rows: '12' });
  const notice = textArea('Recording notice shown before every lesson', { rows: '3' });
  text.input.value = conduct ? conduct.text : '';
  notice.input.value = conduct ? conduct.recording_notice : '';
  const resign = checkbox('Everyone must sign this new version (until they do, pupils cannot join live lessons)');
  const publish = confirmButton('Publish new version', 'Confirm: publish', 'the code of conduct', async (b) => {
    error.textContent = '';
    if (!text.input.value.trim() || !notice.input.value.trim()) {
      error.textContent = 'Both the code of conduct and the recording notice need some text.';
      return;
    }
    const [conductText, noticeText] = checkInputs(error, [['conduct_text', text.input], ['recording_notice', notice.input]]) || [];
    if (!conductText || !noticeText) return;
    b.disabled = true;
    try {
      const { version } = await publishConduct({ text: conductText, recording_notice: noticeText, require_resign: resign.input.checked });
      await renderConduct(ctx);
      const line = ctx.panel.querySelector('.admin-ok');
      if (line) line.textContent = `Version ${version} is published.`;
    } catch (err) {
      b.disabled = false;
      error.textContent = errorText(err);
    }
  }, 'btn btn-primary');
  const current = conduct
    ? [
      h('p', {}, [`Version ${conduct.version}, published ${day(conduct.created_at)}. Consent counts for version ${required} or later.`]),
      h('div', { class: 'conduct-text', id: 'conduct-current' }, [conduct.text]),
      h('p', { class: 'hint' }, ['Recording notice: ', conduct.recording_notice]),
    ]
    : [h('p', { class: 'empty' }, ['No code of conduct is published yet.'])];
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Code of conduct']),
    h('p', { class: 'muted' }, ['Pupils and their parents or carers sign this before a pupil can join live lessons. Write it in your school\'s own words.']),
    done,
    ...current,
    h('section', { class: 'admin-box', 'aria-labelledby': 'conduct-edit-title' }, [
      h('h3', { id: 'conduct-edit-title' }, ['Publish a new version']),
      text.row,
      notice.row,
      resign.row,
      error,
      publish,
    ]),
  );
}
