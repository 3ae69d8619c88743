// The school's code of conduct for live lessons (`#/conduct`), as anyone of the school reads
// it: the current version's text, so a pupil told that a signed form is missing, or a parent
// beside them, can read what they are asked to sign. Reached from the home page and from a
// refusal for missing or withdrawn consent; "Back" returns to where they came from.
// @ts-check

import { ApiError } from '../lib/api.js';
import { explain } from '../lib/messages.js';
import { byId, h, showView } from '../lib/dom.js';
import { conduct } from './api.js';

/** Shows the conduct view and fills it from the server. */
export async function openConduct() {
  const body = byId('conduct-body');
  const meta = byId('conduct-meta');
  body.replaceChildren(h('p', { class: 'muted' }, ['Loading…']));
  meta.textContent = '';
  showView('conduct');
  try {
    const { conduct: c } = await conduct();
    if (!c) {
      body.replaceChildren(h('p', { class: 'empty' }, ['Your school has not written its code of conduct yet. Ask the school office.']));
      return;
    }
    const published = new Date(c.published_at).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric' });
    meta.textContent = `Version ${c.version}, published ${published}. To join live lessons, you and your parent or carer sign it on a form from the school office.`;
    // Paragraphs as the school wrote them; text only, never markup.
    const paragraphs = c.text.split(/\n\s*\n/).map((para) => h('p', {}, [para.trim()])).filter((p) => p.textContent);
    body.replaceChildren(h('div', { class: 'conduct-page' }, paragraphs));
  } catch (err) {
    body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, [explain(err instanceof ApiError ? err.code : 'internal').text]));
  }
}
