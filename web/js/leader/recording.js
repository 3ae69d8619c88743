// One recording on the leader's pages (`#/recordings/<id>`): what it is (class, teacher, times,
// status, legal hold), the form that opens it (a reason of at least 5 letters or digits and an
// optional concern reference, with a plain statement that the view is logged; in a browser that
// cannot stream WebM, why it cannot), then the synchronised player; and the legal hold switch,
// which also needs a reason. Both check their text with the server's text policy (lib/text.js)
// before sending.
// @ts-check

import { ApiError } from '../lib/api.js';
import { explainFor } from '../lib/messages.js';
import { announce, h } from '../lib/dom.js';
import { errorLine, field, statusLine, textArea } from '../lib/widgets.js';
import { REASON_MIN_LETTERS, checkInputs } from '../lib/text.js';
import { listRecordings, openRecording, setLegalHold } from './api.js';
import { SyncPlayer, clock } from './player.js';
import { playbackSupported } from './segments.js';
import { badges, canOpen, className, length, statusWords, teacherName, when } from './words.js';

/** @typedef {import('./api.js').Recording} Recording */
/** @typedef {import('./index.js').LeaderContext} LeaderContext */

/** @type {SyncPlayer | null} */
let player = null;

/** Stops the player, if any; its view token is dropped with it. */
export function closeRecording() {
  if (player) player.destroy();
  player = null;
}

/** @param {unknown} err */
function codeOf(err) {
  return err instanceof ApiError ? err.code : 'internal';
}

/**
 * What to say about a failed call: the server's sentence about a refused text field, or the
 * plain words for its code.
 * @param {unknown} err
 */
function errorSentence(err) {
  if (err instanceof ApiError && err.field && err.detail) return err.detail;
  return explainFor(codeOf(err), 'leader').text;
}

/** A concern's moment is played from this long before it, so the leader sees what led to it. */
export const CONCERN_LEAD_MS = 30_000;

/**
 * @param {LeaderContext} ctx
 * @param {string} id
 * @param {number} [at] a moment to open it at (ms since the recording started): a concern's
 */
export async function renderRecording(ctx, id, at) {
  const rows = (await listRecordings()).recordings;
  if (!ctx.isCurrent()) return;
  const rec = rows.find((r) => r.id === id);
  if (!rec) throw new ApiError(404, 'not_found', 'no such recording');
  const head = h('div', {});
  const hold = h('section', { class: 'admin-box rec-hold-box', 'aria-labelledby': 'rec-hold-title' });
  const drawHead = () => head.replaceChildren(...summary(rec));
  const drawHold = (/** @type {string} */ message) => hold.replaceChildren(...holdSection(rec, message, (said) => {
    drawHead();
    drawHold(said);
    announce(said);
  }));
  drawHead();
  drawHold('');
  const viewing = h('section', { class: 'rec-viewing', 'aria-labelledby': 'rec-open-title' }, openSection(ctx, rec, at));
  ctx.panel.replaceChildren(
    h('p', { class: 'rec-back' }, [h('a', { href: '#/recordings' }, ['All recordings'])]),
    head,
    viewing,
    hold,
  );
}

/**
 * The heading and the facts about a recording.
 * @param {Recording} rec
 */
function summary(rec) {
  const { note } = statusWords(rec);
  /** @type {[string, string][]} */
  const facts = [
    ['Teacher', teacherName(rec)],
    ['Started', when(rec.started_at)],
    rec.status === 'interrupted'
      ? ['Closed', rec.ended_at ? `${when(rec.ended_at)}, when the server restarted` : 'When the server restarted']
      : ['Ended', rec.ended_at ? when(rec.ended_at) : 'Still live'],
  ];
  if (length(rec)) facts.push(['Length', length(rec)]);
  facts.push(['Legal hold', rec.legal_hold ? 'On: it will not be destroyed' : 'Off']);
  return [
    h('div', { class: 'item-head' }, [h('h2', { class: 'rec-title' }, [className(rec)]), ...badges(rec)]),
    note ? h('p', { class: 'rec-note' }, [note]) : '',
    h('dl', { class: 'rec-facts' }, facts.flatMap(([k, v]) => [h('dt', {}, [k]), h('dd', {}, [v])])),
  ];
}

/**
 * The reason form, or why the recording cannot be opened.
 * @param {LeaderContext} ctx
 * @param {Recording} rec
 * @param {number} [at] the moment of a concern
 * @returns {(HTMLElement | string)[]}
 */
function openSection(ctx, rec, at) {
  const title = h('h3', { id: 'rec-open-title', tabindex: '-1' }, ['Watch the recording']);
  const moment = at === undefined ? '' : h('p', { class: 'rec-moment' }, [
    `A concern was noted ${clock(at)} into this lesson. Once you open the recording, it plays from ${clock(Math.max(0, at - CONCERN_LEAD_MS))}, shortly before.`,
  ]);
  if (!canOpen(rec)) {
    const why = rec.status === 'recording'
      ? 'The lesson is still live. The recording can be opened once the lesson has ended and the recording is sealed.'
      : rec.status === 'destroyed'
        ? 'This recording has been destroyed. Only this record of it remains.'
        : 'This recording cannot be opened: nothing of it was sealed.';
    return [title, moment, h('p', { class: 'rec-cannot' }, [why])];
  }
  if (!playbackSupported()) {
    // Checked before the form, so no view is logged that this browser could not play.
    return [title, h('p', { class: 'rec-cannot' }, [
      'This browser cannot play recordings: it cannot stream WebM video (iPhone and iPad browsers cannot). ',
      'Open this page in Chrome, Edge or Firefox on a computer or an Android phone.',
    ])];
  }
  const reason = textArea('Reason for viewing', {
    required: true, rows: '3',
    'aria-describedby': 'rec-reason-hint', autocomplete: 'off',
  });
  reason.row.insertBefore(h('p', { id: 'rec-reason-hint', class: 'hint' }, [
    `Why you need to watch it, for example the concern you are looking into. At least ${REASON_MIN_LETTERS} letters or digits.`,
  ]), reason.input);
  const concern = field('Concern reference (optional)', { autocomplete: 'off', spellcheck: 'false' },
    'The number of the concern in your safeguarding records, if there is one.');
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, ['Open recording']);
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'rec-open-form', novalidate: true }, [
    h('div', { class: 'rec-logged', role: 'note' }, [
      h('p', { class: 'rec-logged-head' }, ['This view is logged']),
      h('p', {}, [
        'Opening the recording writes your name, the time, your reason and any concern reference to ',
        "the school's audit log. The log cannot be changed afterwards, and the school's data protection officer can read it.",
      ]),
    ]),
    reason.row,
    concern.row,
    error,
    h('div', { class: 'item-actions' }, [submit]),
  ]));
  const body = h('div', {}, [form]);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void onOpen(ctx, rec, { form, body, reason: reason.input, concern: concern.input, error, submit: /** @type {HTMLButtonElement} */ (submit) }, at);
  });
  return [title, moment, body];
}

/**
 * @typedef {{form: HTMLFormElement, body: HTMLElement, reason: HTMLTextAreaElement,
 *   concern: HTMLInputElement, error: HTMLElement, submit: HTMLButtonElement}} OpenForm
 */

/**
 * Opens the recording (the server logs it first) and starts the player.
 * @param {LeaderContext} ctx
 * @param {Recording} rec
 * @param {OpenForm} f
 * @param {number} [at] the moment of a concern: the player starts shortly before it
 */
async function onOpen(ctx, rec, f, at) {
  const checked = checkInputs(f.error, [['reason', f.reason], ['concern_ref', f.concern, { optional: true }]]);
  if (!checked) return;
  const [reason, concern] = checked;
  f.error.textContent = '';
  f.submit.disabled = true;
  try {
    const opened = await openRecording(rec.id, reason || '', concern || '');
    if (!ctx.isCurrent()) return;
    closeRecording();
    const stage = h('div', { class: 'rec-player' });
    const loggedAt = new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
    f.body.replaceChildren(
      h('p', { class: 'rec-opened', role: 'status' }, [`Opened at ${loggedAt}. Your view and reason are in the audit log.`]),
      stage,
    );
    player = new SyncPlayer(stage, rec.id, opened);
    if (at !== undefined) player.seekTo(Math.max(0, at - CONCERN_LEAD_MS));
    announce('Recording opened. Use Play to start it.');
    const play = stage.querySelector('.rec-play');
    if (play instanceof HTMLElement) play.focus();
  } catch (err) {
    if (!ctx.isCurrent()) return;
    f.error.textContent = errorSentence(err);
    f.submit.disabled = false;
  }
}

/**
 * The legal hold: its state and a form to place or lift it, with a reason.
 * @param {Recording} rec
 * @param {string} message what just happened, shown under the form
 * @param {(message: string) => void} onChanged redraws the page's parts that show the hold
 * @returns {HTMLElement[]}
 */
function holdSection(rec, message, onChanged) {
  const on = rec.legal_hold;
  const title = h('h3', { id: 'rec-hold-title' }, ['Legal hold']);
  const state = h('p', { class: on ? 'rec-hold-on' : '' }, [on
    ? 'On. This recording will not be destroyed when the retention period ends, until the hold is lifted.'
    : "Off. This recording is destroyed automatically at the end of the school's retention period."]);
  if (rec.status === 'destroyed') return [title, h('p', {}, ['This recording has been destroyed; there is nothing left to hold.'])];
  const reason = textArea(on ? 'Reason for lifting the hold' : 'Reason for the hold', {
    required: true, rows: '2', autocomplete: 'off',
  });
  const error = errorLine();
  const done = statusLine();
  done.textContent = message;
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: on ? 'btn btn-secondary' : 'btn btn-primary' },
    [on ? 'Lift legal hold' : 'Place legal hold']));
  const form = h('form', { class: 'rec-hold-form', novalidate: true }, [reason.row, error, h('div', { class: 'item-actions' }, [submit])]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [why] = checkInputs(error, [['reason', reason.input]]) || [];
    if (!why) return;
    error.textContent = '';
    submit.disabled = true;
    try {
      await setLegalHold(rec.id, !on, why);
      rec.legal_hold = !on;
      onChanged(rec.legal_hold ? 'Legal hold placed. The reason is in the audit log.' : 'Legal hold lifted. The reason is in the audit log.');
    } catch (err) {
      error.textContent = errorSentence(err);
      submit.disabled = false;
    }
  });
  return [title, state, form, done];
}
