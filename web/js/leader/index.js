// The safeguarding leader's recording pages: routes `#/recordings` (the concerns teachers
// noted in lessons, each linked to its recording at its moment; then the school's recordings,
// newest first, filtered by class, teacher and dates, with their status and legal hold) and
// `#/recordings/<id>` or `#/recordings/<id>/at/<ms>` (one recording: give a reason to open it,
// then the player, at that moment if one is given; legal hold), the latter drawn by
// recording.js. A leader's home is `#/recordings`. Entry of the leader/
// folder, which imports lib/ and its own files, never another role.
// @ts-check

import { ApiError } from '../lib/api.js';
import { explainFor } from '../lib/messages.js';
import { byId, h, showView, view, visuallyHidden } from '../lib/dom.js';
import { errorLine, field, selectField } from '../lib/widgets.js';
import { listConcerns, listRecordings } from './api.js';
import { clock } from './player.js';
import { badges, canOpen, className, length, statusWords, teacherName, when } from './words.js';
import { renderRecording, closeRecording } from './recording.js';

/** @typedef {import('./api.js').Recording} Recording */
/** @typedef {import('./api.js').Concern} Concern */

/** The newest concerns shown on the home; the rest are in the livestream log. */
const CONCERNS_SHOWN = 5;


/** @typedef {import('./api.js').RecordingFilter} RecordingFilter */

/**
 * What the recording page gets from here.
 * @typedef {{panel: HTMLElement, go: (hash: string) => void, isCurrent: () => boolean}} LeaderContext
 */

/** The filter form's values, kept while the leader moves between the list and a recording. */
const filters = { classId: '', teacherId: '', from: '', to: '' };
let generation = 0;

/**
 * The leader route in a location hash, or null if it is not one. `at` is a moment in the
 * recording (ms since it started) to open it at.
 * @param {string} [hash]
 * @returns {{id: string | null, at?: number} | null}
 */
export function leaderRoute(hash = location.hash) {
  const m = /^#\/recordings(?:\/([A-Za-z0-9_-]{1,128})(?:\/at\/(\d{1,10}))?)?\/?$/.exec(hash);
  if (!m) return null;
  return m[2] ? { id: m[1], at: Number(m[2]) } : { id: m[1] || null };
}

/** Stops any playing recording and forgets its view (on leaving the pages or signing out). */
export function leaveLeader() {
  generation += 1;
  closeRecording();
}

/** Forgets the last leader's filters too (on sign-out). */
export function resetLeader() {
  leaveLeader();
  Object.assign(filters, { classId: '', teacherId: '', from: '', to: '' });
}

/**
 * Shows the list or one recording.
 * @param {{id: string | null, at?: number}} route
 * @param {(hash: string) => void} go
 * @param {() => void} onSignedOut called if the session has ended
 */
export async function openLeader(route, go, onSignedOut) {
  leaveLeader();
  const gen = generation;
  const panel = byId('recordings-panel');
  panel.replaceChildren(h('p', { class: 'muted' }, ['Loading…']));
  byId('recordings-title').textContent = route.id ? 'Lesson recording' : 'Lesson recordings';
  if (view() !== 'recordings') showView('recordings');
  else byId('recordings-title').focus({ preventScroll: true });
  /** @type {LeaderContext} */
  const ctx = { panel, go, isCurrent: () => gen === generation && view() === 'recordings' };
  try {
    if (route.id) await renderRecording(ctx, route.id, route.at);
    else await renderList(ctx);
  } catch (err) {
    if (!ctx.isCurrent()) return;
    const code = err instanceof ApiError ? err.code : 'internal';
    if (code === 'not_signed_in') {
      onSignedOut();
      return;
    }
    const { title, text } = explainFor(code, 'leader');
    panel.replaceChildren(
      h('h2', {}, [title]),
      h('p', { class: 'form-error', role: 'alert' }, [text]),
      h('p', {}, [h('a', { href: '#/recordings' }, ['All recordings'])]),
    );
  }
}

// ---------------------------------------------------------------- the list

/**
 * `yyyy-mm-dd` as local midnight in UTC ms; `nextDay` gives the following midnight.
 * @param {string} value
 * @param {boolean} nextDay
 */
function dayStart(value, nextDay) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (nextDay ? 1 : 0)).getTime();
}

/** @returns {RecordingFilter} */
function currentFilter() {
  /** @type {RecordingFilter} */
  const f = {};
  if (filters.classId) f.class_id = filters.classId;
  if (filters.teacherId) f.teacher_id = filters.teacherId;
  const from = dayStart(filters.from, false);
  const to = dayStart(filters.to, true);
  if (from !== undefined) f.from = from;
  if (to !== undefined) f.to = to;
  return f;
}

/**
 * Distinct values of a key with their words, sorted by the words.
 * @param {Recording[]} rows
 * @param {(r: Recording) => string} key
 * @param {(r: Recording) => string} words
 * @returns {[string, string][]}
 */
function options(rows, key, words) {
  const seen = new Map();
  for (const r of rows) if (!seen.has(key(r))) seen.set(key(r), words(r));
  return [...seen.entries()].sort((a, b) => a[1].localeCompare(b[1]));
}

/** @param {LeaderContext} ctx */
async function renderList(ctx) {
  // Every recording once, for the filters' choices and the concerns' links; then the filtered list.
  const all = (await listRecordings()).recordings;
  const filtered = Object.values(currentFilter()).length ? (await listRecordings(currentFilter())).recordings : all;
  // The concerns are worth showing even if they cannot be had: the recordings still are.
  const concerns = await listConcerns().then((d) => d.concerns, () => null);
  if (!ctx.isCurrent()) return;
  const list = h('ul', { class: 'rec-list', 'aria-label': 'Recordings' });
  const count = h('p', { class: 'rec-count', role: 'status' });
  const error = errorLine();
  const fill = (/** @type {Recording[]} */ rows) => {
    list.replaceChildren(...rows.map((r) => listItem(r)));
    count.textContent = rows.length === 0
      ? (all.length === 0 ? 'No lessons have been recorded yet.' : 'No recording matches these filters.')
      : `${rows.length} recording${rows.length === 1 ? '' : 's'}${rows.length !== all.length ? ` of ${all.length}` : ''}`;
  };
  const form = filterForm(all, async () => {
    error.textContent = '';
    try {
      const rows = (await listRecordings(currentFilter())).recordings;
      if (ctx.isCurrent()) fill(rows);
    } catch (err) {
      if (ctx.isCurrent()) error.textContent = explainFor(err instanceof ApiError ? err.code : 'internal', 'leader').text;
    }
  });
  fill(filtered);
  ctx.panel.replaceChildren(
    h('p', { class: 'muted' }, [
      'Every live lesson is recorded from its first second. Opening a recording is written to the ',
      "school's audit log with your name and your reason.",
    ]),
    concernSection(concerns, all),
    h('h2', { class: 'rec-list-title' }, ['All recordings']),
    form,
    error,
    count,
    list,
  );
}

/**
 * The concerns teachers noted in lessons, newest first, each linked to the moment in its
 * recording it was noted at.
 * @param {Concern[] | null} concerns null if they could not be had
 * @param {Recording[]} recordings
 */
function concernSection(concerns, recordings) {
  const title = h('h2', { id: 'rec-concerns-title' }, ['Concerns noted in lessons']);
  if (!concerns) {
    return h('section', { class: 'rec-concerns', 'aria-labelledby': 'rec-concerns-title' }, [
      title, h('p', { class: 'form-error' }, ['The concerns could not be loaded. Reload the page to try again.']),
    ]);
  }
  if (concerns.length === 0) {
    return h('section', { class: 'rec-concerns', 'aria-labelledby': 'rec-concerns-title' }, [
      title, h('p', { class: 'muted' }, ['No teacher has noted a safeguarding concern in a lesson.']),
    ]);
  }
  const items = concerns.slice(0, CONCERNS_SHOWN).map((c) => {
    const rec = recordings.find((r) => r.id === c.recording_id);
    const moment = rec ? Math.max(0, c.at - rec.started_at) : 0;
    const where = rec && canOpen(rec)
      ? h('a', { class: 'btn btn-primary btn-small', href: `#/recordings/${rec.id}/at/${moment}` }, [
        `Watch the moment (${clock(moment)})`, visuallyHidden(`: ${c.class_name}, concern noted at ${c.at_local}`),
      ])
      : h('span', { class: 'muted' }, [rec ? statusWords(rec).label : 'No recording of this lesson']);
    return h('li', { class: 'rec-concern', 'data-concern-id': c.id, 'data-recording-id': c.recording_id || '' }, [
      h('p', { class: 'rec-concern-head' }, [`${c.at_local} · ${c.class_name}${c.author_name ? ` · ${c.author_name}` : ''}`]),
      h('p', { class: 'rec-concern-body' }, [c.body]),
      h('div', { class: 'item-actions' }, [where]),
    ]);
  });
  const more = concerns.length > CONCERNS_SHOWN
    ? h('p', {}, [h('a', { href: '/log.html' }, [`All ${concerns.length} concerns, in the livestream log`])])
    : '';
  return h('section', { class: 'rec-concerns', 'aria-labelledby': 'rec-concerns-title' }, [
    title,
    h('ul', { class: 'rec-concern-list', 'aria-label': 'Concerns' }, items),
    more,
  ]);
}

/**
 * The filter form; `onApply` runs after the shared `filters` are updated.
 * @param {Recording[]} all
 * @param {() => Promise<void>} onApply
 */
function filterForm(all, onApply) {
  const cls = selectField('Class', [['', 'All classes'], ...options(all, (r) => r.class_id, className)]);
  const teacher = selectField('Teacher', [['', 'All teachers'], ...options(all, (r) => r.teacher_id, teacherName)]);
  const from = field('From', { type: 'date' });
  const to = field('To', { type: 'date' });
  cls.input.value = filters.classId;
  teacher.input.value = filters.teacherId;
  from.input.value = filters.from;
  to.input.value = filters.to;
  const apply = h('button', { type: 'submit', class: 'btn btn-primary' }, ['Show recordings']);
  const clear = h('button', { type: 'button', class: 'btn btn-secondary' }, ['Clear filters']);
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'rec-filters', 'aria-label': 'Filter recordings' }, [
    h('div', { class: 'rec-filter-fields' }, [cls.row, teacher.row, from.row, to.row]),
    h('div', { class: 'item-actions' }, [apply, clear]),
  ]));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    Object.assign(filters, { classId: cls.input.value, teacherId: teacher.input.value, from: from.input.value, to: to.input.value });
    void onApply();
  });
  clear.addEventListener('click', () => {
    cls.input.value = '';
    teacher.input.value = '';
    from.input.value = '';
    to.input.value = '';
    form.requestSubmit();
  });
  return form;
}

/** @param {Recording} r */
function listItem(r) {
  const { note } = statusWords(r);
  const sub = [when(r.started_at), length(r) && `${length(r)} long`, teacherName(r)].filter(Boolean).join(' · ');
  const action = canOpen(r)
    ? h('a', { class: 'btn btn-primary', href: `#/recordings/${r.id}` }, ['Open', visuallyHidden(`: ${className(r)}, ${when(r.started_at)}`)])
    : h('a', { class: 'btn btn-secondary', href: `#/recordings/${r.id}` }, ['Details', visuallyHidden(`: ${className(r)}, ${when(r.started_at)}`)]);
  return h('li', { class: `rec-item rec-item-${r.status}`, 'data-recording-id': r.id }, [
    h('div', { class: 'rec-item-main' }, [
      h('div', { class: 'item-head' }, [h('h2', { class: 'rec-item-title' }, [className(r)]), ...badges(r)]),
      h('p', { class: 'item-sub' }, [sub]),
      note ? h('p', { class: 'rec-note' }, [note]) : '',
    ]),
    h('div', { class: 'rec-item-actions' }, [action]),
  ]);
}
