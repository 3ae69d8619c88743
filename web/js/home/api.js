// REST calls of the home page: the teacher's readiness list (PROTOCOL.md section 5,
// `GET /api/classes/{class_id}/readiness`, open to a teacher of the class). The calls every
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
