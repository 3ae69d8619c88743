// The livestream log page (log.html): the lessons a teacher, leader or superuser may see, with
// filters and CSV exports; one lesson's attendance, events and notes (printable); one
// pupil's attendance across lessons; the leaders' concern list. Every time shown is the
// server's, in the school's time zone. Pupils are told plainly that the log is for staff.
// Entry of the log/ folder, which imports lib/ and its own files, never another role.
// @ts-check

import { ApiError, me } from '../lib/api.js';
import { byId, h } from '../lib/dom.js';
import { checkInputs } from '../lib/text.js';
import { addNote, attendance, concerns, exportLinks, lessonLog, listLessons } from './api.js';

/** @type {{role: string, display_name: string} | null} */
let user = null;
/** @type {import('./api.js').LogFilter} */
let filter = {};

const SECTIONS = ['log-list', 'log-lesson', 'log-pupil'];

/** @param {string} name */
function show(name) {
  for (const s of SECTIONS) byId(s).hidden = s !== name;
  byId('log-status').hidden = true;
}

/** @param {string} text */
function fail(text) {
  byId('log-error').textContent = text;
  byId('log-status').hidden = true;
}

/** @param {unknown} err */
function explain(err) {
  if (err instanceof ApiError) {
    if (err.code === 'not_signed_in') return 'Please sign in to Livegate first, then come back to this page.';
    if (err.code === 'forbidden_role') return 'The livestream log is for school staff.';
    if (err.code === 'not_found') return 'There is no such lesson in the log for you.';
    if (err.code === 'network') return 'The server could not be reached. Check your connection and try again.';
    return err.detail || err.message;
  }
  return 'Something went wrong.';
}

/** Seconds as "1 h 05 min", "12 min 30 s" or "45 s". @param {number} s */
export function duration(s) {
  const hrs = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (hrs) return `${hrs} h ${String(min).padStart(2, '0')} min`;
  if (min) return `${min} min ${sec} s`;
  return `${sec} s`;
}

/** Plain words for the log's reasons and states. */
const WORDS = {
  lesson_started: 'Lesson started', lesson_ended: 'Lesson ended', admitted: 'Joined', left: 'Left',
  refused: 'Refused', lobby_waiting: 'Waiting in the lobby', lobby_left: 'Left the lobby',
  lobby_admitted: 'Let in from the lobby', lobby_refused: 'Turned away at the lobby', granted: 'Allowed',
  revoked: 'Stopped allowing', muted: 'Muted', removed: 'Removed', admission_revoked: 'Taken out by a directory change',
  recording_failed: 'Recording failed', reconnected: 'reconnected', removed_by_teacher: 'removed by the teacher',
  lesson_ended_reason: 'lesson ended', ended_by_teacher: 'ended by the teacher', teacher_absent: 'teacher away too long',
  server_stopped: 'server stopped (closed at its last heartbeat)', too_slow: 'connection too slow',
  server_stopping: 'the server was stopping', school_disabled: 'school disabled by the operator',
  too_many_messages: 'sent too many messages', rate_limited: 'too many requests',
  consent_missing: 'no signed code of conduct', consent_withdrawn: 'consent withdrawn', consent_opted_out: 'opted out by parent or carer',
  not_on_roster: 'not on the class list', domain_not_trusted: 'email domain not trusted', teacher_absent_code: 'teacher not there yet',
  refused_by_teacher: 'turned away by the teacher', account_disabled: 'account disabled', recording_unavailable: 'recording unavailable',
  not_required: 'not required (staff)', current: 'current', missing: 'missing', withdrawn: 'withdrawn', opted_out: 'opted out',
};

/** @param {string | null | undefined} key */
function word(key) {
  if (!key) return '';
  return /** @type {Record<string, string>} */ (WORDS)[key] || key.replace(/_/g, ' ');
}

/** @param {string} hash */
function route(hash) {
  const lesson = /^#\/lesson\/([A-Za-z0-9_-]{1,128})$/.exec(hash);
  if (lesson) return { kind: 'lesson', id: lesson[1] };
  const pupil = /^#\/pupil\/([A-Za-z0-9_-]{1,128})$/.exec(hash);
  if (pupil) return { kind: 'pupil', id: pupil[1] };
  return { kind: 'list', id: '' };
}

/** @param {any} l a lesson row */
function lessonCard(l) {
  const live = !l.ended_at;
  const rec = l.recording_id ? `Recording ${l.recording_id} (${l.recording_status || 'unknown'})` : 'No recording';
  return h('li', { class: live ? 'card card-live' : 'card' }, [
    h('h2', { class: 'card-title' }, [h('a', { href: `#/lesson/${l.id}` }, [l.class_name])]),
    h('p', { class: 'log-meta' }, [`${l.started_local} – ${live ? 'live now' : l.ended_local}`]),
    h('p', { class: 'log-meta' }, [`Started by ${l.started_by_name || l.started_by}`]),
    h('p', { class: 'log-meta' }, [rec]),
  ]);
}

/**
 * Reads the filter form into `filter`. The dates go as picked (`YYYY-MM-DD`): the server
 * makes them whole days in the school's time zone, whatever this browser's clock says.
 */
function readFilter() {
  const cls = /** @type {HTMLSelectElement} */ (byId('filter-class')).value;
  const from = /** @type {HTMLInputElement} */ (byId('filter-from')).value;
  const to = /** @type {HTMLInputElement} */ (byId('filter-to')).value;
  filter = { class_id: cls || undefined, from_date: from || undefined, to_date: to || undefined };
}

async function drawList() {
  const data = await listLessons(filter);
  byId('log-school').textContent = `Times in ${data.time_zone}`;
  byId('log-title').textContent = 'Livestream log';
  const select = /** @type {HTMLSelectElement} */ (byId('filter-class'));
  const known = new Set([...select.options].map((o) => o.value));
  for (const l of data.lessons) {
    if (!known.has(l.class_id)) {
      known.add(l.class_id);
      select.append(h('option', { value: l.class_id }, [l.class_name]));
    }
  }
  byId('log-lessons').replaceChildren(...data.lessons.map(lessonCard));
  byId('log-empty').hidden = data.lessons.length > 0;
  const links = exportLinks(filter);
  byId('export-intervals').setAttribute('href', links.intervals);
  byId('export-lessons').setAttribute('href', links.lessons);
  byId('log-exports').hidden = false;
  show('log-list');
  if (user && user.role === 'leader') await drawConcerns();
}

async function drawConcerns() {
  const data = await concerns();
  const items = data.concerns.map((/** @type {any} */ c) => h('li', { class: 'log-note-concern' }, [
    h('span', { class: 'log-time' }, [`${c.at_local} · ${c.class_name} · ${c.author_name || ''}`]),
    h('p', { class: 'log-note-body' }, [c.body]),
    h('p', { class: 'log-meta' }, [
      h('a', { href: `#/lesson/${c.lesson_id}` }, ['Open the lesson log']),
      // The leader's recording page, at the moment the concern was noted.
      c.recording_id ? ' · ' : '',
      c.recording_id ? h('a', { href: `/#/recordings/${c.recording_id}/at/${Math.max(0, c.at - c.lesson_started_at)}` }, ['Watch the recording at this moment']) : '',
    ]),
  ]));
  byId('concern-list').replaceChildren(...items);
  byId('concern-empty').hidden = items.length > 0;
  byId('log-concerns').hidden = false;
}

/** @param {any} l @param {any} counts */
function facts(l, counts) {
  /** @type {[string, string][]} */
  const rows = [
    ['Class', l.class_name],
    ['Teachers', (counts.teachers || []).join(', ') || (l.started_by_name || '')],
    ['Planned', l.scheduled_start_local ? `${l.scheduled_start_local} – ${l.scheduled_end_local}` : 'not given'],
    ['Started', l.started_local],
    ['Ended', l.ended_at ? `${l.ended_local} (${word(l.end_reason)})` : 'still live'],
    ['Recording', l.recording_id ? `${l.recording_id} (${l.recording_status || 'unknown'})` : 'none'],
    ['Pupils present', String(counts.pupils_present)],
    ['Refusals', String(counts.refusals)],
  ];
  return rows.flatMap(([k, v]) => [h('dt', {}, [k]), h('dd', {}, [v])]);
}

/** @param {any} i an interval */
function attendanceRow(i) {
  /** @param {string} label @param {(Node | string)[]} children @param {string} [cls] */
  const td = (label, children, cls) => h('td', { 'data-label': label, ...(cls ? { class: cls } : {}) }, children);
  const who = i.role === 'pupil'
    ? [h('a', { href: `#/pupil/${i.user_id}` }, [i.name || i.user_id])]
    : [`${i.name || i.user_id} (${i.role})`];
  const ended = i.left_at ? word(i.end === 'lesson_ended' ? 'lesson_ended_reason' : i.end) : 'still here';
  return h('tr', {}, [
    td('Who', who, 'log-who'),
    td('Joined', [i.joined_at_local]),
    td('Left', [i.left_at_local || '—']),
    td('Time present', [`${duration(i.seconds)}${i.sessions > 1 ? ` (${i.sessions} connections)` : ''}`]),
    td('Ended by', [ended], i.recovered ? 'log-recovered' : undefined),
    td('Consent', [`${word(i.consent)}${i.conduct_version ? `, code v${i.conduct_version}` : ''}`]),
    td('Device', [i.device]),
  ]);
}

/** A rostered pupil who never joined, linked to their attendance across lessons. @param {any} a */
function absentItem(a) {
  return h('li', {}, [h('a', { href: `#/pupil/${a.user_id}` }, [a.name])]);
}

/** @param {any} e an event */
function eventItem(e) {
  const who = [e.subject_name, e.actor_name && e.subject_name ? `by ${e.actor_name}` : e.actor_name].filter(Boolean).join(' ');
  const detail = e.detail ? ` — ${word(e.detail)}` : '';
  // A refusal asked for again and again is one event with a count.
  const repeated = e.count > 1 ? ` (${e.count} times, the last at ${e.last_at_local})` : '';
  return h('li', { class: `log-event-${e.kind}` }, [h('span', { class: 'log-time' }, [e.at_local]), `${word(e.kind)}${who ? `: ${who}` : ''}${detail}${repeated}`]);
}

/** @param {any} n a note */
function noteItem(n) {
  const head = `${n.at_local} · ${word(n.category)} · ${n.author_name || ''}${n.corrects ? ' · corrects an earlier note' : ''}`;
  return h('li', { class: n.category === 'concern' ? 'log-note-concern' : '' }, [h('span', { class: 'log-time' }, [head]), h('p', { class: 'log-note-body' }, [n.body])]);
}

/** @param {string} id */
async function drawLesson(id) {
  const log = await lessonLog(id);
  byId('log-school').textContent = `Times in ${log.time_zone}`;
  byId('log-title').textContent = `Livestream log: ${log.lesson.class_name}, ${log.lesson.started_local}`;
  byId('lesson-facts').replaceChildren(...facts(log.lesson, log.counts));
  byId('attendance').replaceChildren(...log.intervals.map(attendanceRow));
  const absent = log.absent || [];
  byId('absent').replaceChildren(...absent.map(absentItem));
  byId('absent-empty').hidden = absent.length > 0;
  byId('events').replaceChildren(...log.events.map(eventItem));
  byId('notes').replaceChildren(...log.notes.map(noteItem));
  byId('notes-empty').hidden = log.notes.length > 0;
  const form = byId('note-form');
  form.hidden = !(user && (user.role === 'teacher' || user.role === 'leader'));
  form.dataset.lesson = id;
  show('log-lesson');
}

/** @param {string} id */
async function drawPupil(id) {
  const data = await attendance(id);
  byId('log-school').textContent = `Times in ${data.time_zone}`;
  byId('log-title').textContent = `Attendance: ${data.pupil.display_name}`;
  byId('pupil-total').textContent = `${duration(data.total_seconds)} in ${data.lessons.filter((/** @type {any} */ l) => l.present).length} of ${data.lessons.length} lessons`;
  byId('pupil-lessons').replaceChildren(...data.lessons.map((/** @type {any} */ r) => h('li', { class: 'card' }, [
    h('h2', { class: 'card-title' }, [h('a', { href: `#/lesson/${r.lesson.id}` }, [`${r.lesson.class_name}, ${r.lesson.started_local}`])]),
    h('p', { class: 'log-meta' }, [r.present ? `Present ${duration(r.seconds)}` : 'Not present']),
    ...(r.refusals.length ? [h('p', { class: 'log-meta' }, [h('span', { class: 'log-pill log-pill-warn' }, [`Refused: ${r.refusals.map(word).join(', ')}`])])] : []),
  ])));
  show('log-pupil');
}

/** How many times the page has been drawn since it loaded. */
let drawn = 0;

async function render() {
  byId('log-error').textContent = '';
  byId('filter-error').textContent = '';
  const r = route(location.hash);
  try {
    if (r.kind === 'lesson') await drawLesson(r.id);
    else if (r.kind === 'pupil') await drawPupil(r.id);
    else await drawList();
    // Not on the first drawing, so the first Tab reaches the skip link (first on every page).
    if (drawn++ > 0) byId('log-title').focus({ preventScroll: true });
  } catch (err) {
    if (r.kind === 'list' && err instanceof ApiError && err.code === 'bad_date') {
      // Keep the filter on screen so the dates can be put right.
      byId('log-lessons').replaceChildren();
      byId('log-empty').hidden = true;
      byId('log-exports').hidden = true;
      const reversed = filter.from_date && filter.to_date && filter.from_date > filter.to_date;
      byId('filter-error').textContent = reversed ? 'The From day must be on or before the To day.' : err.message;
      show('log-list');
      byId('filter-from').focus();
      return;
    }
    for (const s of SECTIONS) byId(s).hidden = true;
    fail(explain(err));
  }
}

/** @param {SubmitEvent} ev */
async function submitNote(ev) {
  ev.preventDefault();
  const form = /** @type {HTMLFormElement} */ (ev.currentTarget);
  const text = /** @type {HTMLTextAreaElement} */ (byId('note-text'));
  const category = /** @type {HTMLSelectElement} */ (byId('note-category')).value;
  const error = byId('note-error');
  error.textContent = '';
  if (!text.value.trim()) {
    error.textContent = 'Write the note first.';
    text.focus();
    return;
  }
  const [body] = checkInputs(error, [['log_note', text]]) || [];
  if (!body) return;
  const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
  button.disabled = true;
  try {
    await addNote(form.dataset.lesson || '', /** @type {any} */ (category), body);
    text.value = '';
    await drawLesson(form.dataset.lesson || '');
  } catch (err) {
    error.textContent = explain(err);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  try {
    user = (await me()).user;
  } catch (err) {
    fail(explain(err));
    return;
  }
  if (user && (user.role === 'pupil' || user.role === 'external')) {
    fail('The livestream log is for school staff.');
    return;
  }
  byId('log-filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    readFilter();
    render();
  });
  byId('note-form').addEventListener('submit', (ev) => submitNote(/** @type {SubmitEvent} */ (ev)));
  byId('log-print').addEventListener('click', () => window.print());
  byId('pupil-print').addEventListener('click', () => window.print());
  window.addEventListener('hashchange', render);
  await render();
}

start();
