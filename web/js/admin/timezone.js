// Admin section "Time zone": the school's time zone, in which the livestream log shows every
// time and reads the days of its date filter (server/LOG.md "Times"). Times are stored in
// UTC, so a change alters only how they are shown; it is on the audit chain.
// @ts-check

import { ApiError } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { errorLine, errorText, selectField, statusLine } from '../lib/widgets.js';
import { getTimeZone, setTimeZone } from './api.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */

/**
 * The time now in a zone, such as "14:05 GMT", or '' if this browser does not know the zone.
 * @param {string} zone
 */
function nowIn(zone) {
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(new Date());
  } catch {
    return '';
  }
}

/** @param {AdminContext} ctx */
export async function renderTimeZone(ctx) {
  const { time_zone: current, zones } = await getTimeZone();
  if (!ctx.isCurrent()) return;
  const names = zones.includes(current) ? zones : [current, ...zones];
  const choice = selectField('Time zone', names.map((z) => [z, z.replace(/_/g, ' ')]), { name: 'time_zone' });
  choice.input.value = current;
  const done = statusLine();
  const error = errorLine();
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'btn btn-primary' }, ['Save time zone']));
  const form = h('form', { class: 'form admin-form', novalidate: true }, [choice.row, error, submit]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    done.textContent = '';
    const zone = choice.input.value;
    submit.disabled = true;
    try {
      await setTimeZone(zone);
      await renderTimeZone(ctx);
      const line = ctx.panel.querySelector('.admin-ok');
      if (line) line.textContent = `Saved. The livestream log now shows times in ${zone}.`;
    } catch (err) {
      submit.disabled = false;
      error.textContent = err instanceof ApiError && err.code === 'bad_request'
        ? 'That is not a time zone Livegate knows. Choose one from the list.'
        : errorText(err);
    }
  });
  const time = nowIn(current);
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Time zone']),
    h('p', { class: 'muted' }, ['The livestream log shows every time in the school\'s time zone, and a day picked in its date filter is a whole day there, across the clock changes. Times are stored in UTC, so changing the zone changes only how they are shown.']),
    done,
    h('p', { id: 'time-zone-current' }, [`The school's time zone is ${current}${time ? ` (${time} there now)` : ''}.`]),
    h('section', { class: 'admin-box', 'aria-labelledby': 'time-zone-edit-title' }, [
      h('h3', { id: 'time-zone-edit-title' }, ['Change the time zone']),
      form,
    ]),
  );
}
