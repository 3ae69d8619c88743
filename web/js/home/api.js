// REST calls of the home page: the teacher's readiness list (PROTOCOL.md section 5,
// `GET /api/classes/{class_id}/readiness`, open to a teacher of the class) and the school's
// code of conduct (`GET /api/conduct`, anyone signed in). The calls every
// signed-in person makes (me, start a lesson) are in lib/api.js.
// @ts-check

import { request } from '../lib/api.js';

/**
 * @typedef {'current' | 'missing' | 'withdrawn' | 'opted_out'} ConsentState
 * @typedef {{id: string, display_name: string, can_join: boolean, reason: string | null,
 *   consent: ConsentState}} ReadinessRow
 */

/**
 * @param {string} classId
 * @returns {Promise<{class: {id: string, name: string}, pupils: ReadinessRow[]}>}
 */
export const readiness = (classId) => request('GET', `/api/classes/${encodeURIComponent(classId)}/readiness`);

/**
 * @typedef {{version: number, text: string, published_at: number}} ConductView
 * @returns {Promise<{conduct: ConductView | null}>}
 */
export const conduct = () => request('GET', '/api/conduct');
