// HTTP client for the livestream log routes (server/LOG.md). Kept apart from the page code.
// @ts-check

import { request } from '../lib/api.js';

/**
 * The log's filters. Dates are calendar days as picked (`YYYY-MM-DD`, both inclusive); the
 * server reads them as whole days in the school's time zone, not the browser's.
 * @typedef {{class_id?: string, pupil_id?: string, from_date?: string, to_date?: string}} LogFilter
 */

/**
 * The filter as a query string (without `?`); empty values are left out.
 * @param {LogFilter} f
 */
export function query(f) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (v !== undefined && v !== '' && v !== null) q.set(k, String(v));
  }
  return q.toString();
}

/** @param {LogFilter} f */
export function listLessons(f) {
  const q = query(f);
  return request('GET', `/api/log/lessons${q ? `?${q}` : ''}`);
}

/** @param {string} id */
export function lessonLog(id) {
  return request('GET', `/api/log/lessons/${encodeURIComponent(id)}`);
}

/**
 * @param {string} id
 * @param {'behaviour' | 'concern' | 'technical'} category
 * @param {string} text
 */
export function addNote(id, category, text) {
  return request('POST', `/api/log/lessons/${encodeURIComponent(id)}/notes`, { category, text });
}

/** @param {string} pupil */
export function attendance(pupil) {
  return request('GET', `/api/log/pupils/${encodeURIComponent(pupil)}/attendance`);
}

export function concerns() {
  return request('GET', '/api/log/concerns');
}

/**
 * Links to the CSV exports for a filter.
 * @param {LogFilter} f
 */
export function exportLinks(f) {
  const q = query(f);
  const tail = q ? `?${q}` : '';
  return { intervals: `/api/log/intervals.csv${tail}`, lessons: `/api/log/lessons.csv${tail}` };
}
