// REST calls of the safeguarding leader's recording pages (Access::Leader routes): list the
// school's recordings and the concerns noted in lessons, open one with a reason (which the
// server audits before serving a byte), the URLs of one segment of a timeline of an opened
// recording and of the whole timeline as a download, and placing or lifting a legal hold.
// @ts-check

import { request } from '../lib/api.js';

/**
 * A recording as the list returns it. `class_name`, `teacher_name` and `lost_after_ms` are
 * shown when the server sends them; otherwise the page falls back to ids.
 * @typedef {{
 *   id: string, lesson_id: string, class_id: string, teacher_id: string,
 *   class_name?: string, teacher_name?: string,
 *   started_at: number, ended_at: number | null,
 *   status: 'recording' | 'complete' | 'interrupted' | 'failed' | 'destroyed',
 *   manifest_sha256: string | null, legal_hold: boolean, destroyed_at: number | null,
 *   lost_after_ms?: number | null,
 * }} Recording
 */

/**
 * One segment of a stream: about two seconds of WebM that starts on a keyframe; times are ms
 * since the recording started.
 * @typedef {{start_ms: number, end_ms: number}} RecordedSegment
 */

/**
 * One timeline of an opened recording (a person's streams of one kind, named as the lesson
 * showed them; one stream in a recording made before names were recorded), with its segments in
 * time order (fetched by position) and the spans it was on (`parts`: between two is a gap);
 * times are ms since the recording started.
 * @typedef {{label: string, title?: string, role?: 'teacher' | 'pupil' | 'guest', kind?: 'camera' | 'screen' | 'microphone',
 *   alias?: boolean, start_ms: number, end_ms: number, tracks: string[] | null,
 *   parts?: RecordedSegment[], segments: RecordedSegment[]}} RecordedStream
 */

/**
 * What opening a recording returns: a short-lived view token and the streams.
 * @typedef {{view: string, status: 'complete' | 'interrupted', lost_after_ms: number | null,
 *   streams: RecordedStream[]}} OpenedRecording
 */

/**
 * Filters for the list; times are UTC ms (`to` exclusive).
 * @typedef {{class_id?: string, teacher_id?: string, from?: number, to?: number}} RecordingFilter
 */

/**
 * @param {RecordingFilter} [filter]
 * @returns {Promise<{recordings: Recording[]}>}
 */
export function listRecordings(filter = {}) {
  const q = new URLSearchParams();
  if (filter.class_id) q.set('class_id', filter.class_id);
  if (filter.teacher_id) q.set('teacher_id', filter.teacher_id);
  if (filter.from !== undefined) q.set('from', String(filter.from));
  if (filter.to !== undefined) q.set('to', String(filter.to));
  const qs = q.toString();
  return request('GET', `/api/recordings${qs ? `?${qs}` : ''}`);
}

/**
 * Opens a recording: the server writes the view and its reason to the audit log first.
 * @param {string} id
 * @param {string} reason at least 5 characters
 * @param {string} concernRef optional; empty means none
 * @returns {Promise<OpenedRecording>}
 */
export function openRecording(id, reason, concernRef) {
  /** @type {{reason: string, concern_ref?: string}} */
  const body = { reason };
  if (concernRef) body.concern_ref = concernRef;
  return request('POST', `/api/recordings/${encodeURIComponent(id)}/views`, body);
}

/**
 * Where the player fetches segment `n` (from 0) of a stream of an opened recording (WebM).
 * @param {string} id
 * @param {string} label
 * @param {number} n
 * @param {string} view the token from openRecording
 */
export function segmentUrl(id, label, n, view) {
  const stream = `/api/recordings/${encodeURIComponent(id)}/streams/${encodeURIComponent(label)}`;
  return `${stream}/segments/${n}?view=${encodeURIComponent(view)}`;
}

/**
 * Where a leader downloads a whole timeline of an opened recording as one WebM file, named as
 * the player names it (the server logs the download first).
 * @param {string} id
 * @param {string} label
 * @param {string} view the token from openRecording
 */
export function downloadUrl(id, label, view) {
  return `/api/recordings/${encodeURIComponent(id)}/streams/${encodeURIComponent(label)}/download?view=${encodeURIComponent(view)}`;
}

/**
 * Places (`on`) or lifts a legal hold; retention never destroys a held recording.
 * @param {string} id
 * @param {boolean} on
 * @param {string} reason at least 5 characters
 * @returns {Promise<null>}
 */
export function setLegalHold(id, on, reason) {
  return request('POST', `/api/recordings/${encodeURIComponent(id)}/hold`, { on, reason });
}

/**
 * A concern a teacher noted in a lesson's log, with the recording of that lesson if there is one.
 * @typedef {{id: string, lesson_id: string, author_name: string | null, at: number, at_local: string,
 *   body: string, class_name: string, lesson_started_at: number, recording_id: string | null}} Concern
 */

/**
 * The concerns noted in the school's lessons, newest first (the server logs that the leader
 * read them).
 * @returns {Promise<{time_zone: string, concerns: Concern[]}>}
 */
export function listConcerns() {
  return request('GET', '/api/log/concerns');
}
