// Words and small pieces shared by the leader's recording pages: dates, class and teacher
// names (ids when the server sends no names), how long a lesson ran, and the status of a
// recording in plain words with its badges.
// @ts-check

import { h } from '../lib/dom.js';
import { clock } from './player.js';

/** @typedef {import('./api.js').Recording} Recording */

/** A date and time as people write them. @param {number} ms */
export function when(ms) {
  return new Date(ms).toLocaleString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** @param {Recording} r */
export function className(r) {
  return r.class_name || `Class ${r.class_id}`;
}

/** @param {Recording} r */
export function teacherName(r) {
  return r.teacher_name || `Teacher ${r.teacher_id}`;
}

/**
 * How long the lesson ran, for a recording that ended normally (an interrupted one's end is
 * when the server came back, not when the lesson stopped).
 * @param {Recording} r
 */
export function length(r) {
  return r.ended_at && r.status === 'complete' ? clock(r.ended_at - r.started_at) : '';
}

/**
 * The status badge and, for an interrupted recording, what was lost.
 * @param {Recording} r
 * @returns {{label: string, note: string}}
 */
export function statusWords(r) {
  switch (r.status) {
    case 'complete': return { label: 'Complete', note: '' };
    case 'recording': return { label: 'Recording now', note: 'The lesson is still live. It can be opened when it ends.' };
    case 'interrupted': {
      const lost = r.lost_after_ms;
      return {
        label: 'Interrupted',
        note: lost !== null && lost !== undefined
          ? `Media after ${clock(lost)} was lost.`
          : 'The server stopped during the lesson: media after the last saved moment was lost.',
      };
    }
    case 'failed': return { label: 'Failed', note: 'Recording stopped during the lesson, so pupils were taken out of it.' };
    case 'destroyed': return {
      label: 'Destroyed',
      note: r.destroyed_at ? `Destroyed ${when(r.destroyed_at)} at the end of the retention period.` : 'Destroyed at the end of the retention period.',
    };
    default: return { label: r.status, note: '' };
  }
}

/** Whether the server will let a leader open it. @param {Recording} r */
export function canOpen(r) {
  return r.status !== 'destroyed' && r.status !== 'recording' && Boolean(r.manifest_sha256);
}

/** @param {Recording} r */
export function badges(r) {
  const { label } = statusWords(r);
  const out = [h('span', { class: `badge rec-status rec-status-${r.status}` }, [label])];
  if (r.legal_hold) out.push(h('span', { class: 'badge rec-hold' }, ['Legal hold']));
  return out;
}
