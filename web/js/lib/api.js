// HTTP client for the Livegate REST API (PROTOCOL.md section 1): `request` and ApiError, which
// every role's api.js builds on, and one function per route that every signed-in person uses
// (session, me, lessons, tickets); every failure is an ApiError carrying the server's stable
// error code. Like all of lib/, it imports nothing outside lib/.
// @ts-check

/** @typedef {'superuser' | 'teacher' | 'leader' | 'pupil' | 'external'} Role */
/** @typedef {'microphone' | 'camera' | 'screen'} Media */
/** @typedef {'camera' | 'microphone' | 'screen'} StreamKind */
/** @typedef {{id: string, display_name: string, role: Role}} User */
/**
 * A pupil's `join` says what Join would meet (JoinCheck, PROTOCOL.md section 1); null for the
 * class's teachers.
 * @typedef {{state: 'ready' | 'wait' | 'refused', reason: string | null}} JoinCheck
 * @typedef {{id: string, name: string, live_lesson_id: string | null, can_teach: boolean,
 *   join?: JoinCheck | null}} ClassSummary
 */
/**
 * @typedef {{id: string, class_id: string, class_name: string, state: 'live' | 'ended',
 *   teacher_present: boolean, recording_notice: string, recording: boolean}} LessonSummary
 */
/** @typedef {{ticket: string, expires_in_ms: number, ws_path: string}} Ticket */

/**
 * An HTTP request that failed; `code` is the server's stable code, or `network`. A refused
 * text field (`text_invalid`, `reason_required`) also names the `field`, the `reason` and a
 * `detail` sentence to show.
 */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code stable error code from PROTOCOL.md section 4
   * @param {string} message a sentence from the server, for logs
   * @param {{field?: string, reason?: string, detail?: string}} [text] a refused text field
   */
  constructor(status, code, message, text = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = text.field || '';
    this.reason = text.reason || '';
    this.detail = text.detail || '';
  }
}

/**
 * Sends one JSON request. Resolves to the parsed body (null for 204).
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function request(method, path, body) {
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network', `could not reach the server: ${err}`);
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' ? data.error : null;
    const code = e && typeof e.code === 'string' ? e.code : res.status >= 500 ? 'internal' : 'bad_request';
    const message = e && typeof e.message === 'string' ? e.message : `HTTP ${res.status}`;
    const str = (/** @type {unknown} */ v) => (typeof v === 'string' ? v : '');
    throw new ApiError(res.status, code, message, e ? { field: str(e.field), reason: str(e.reason), detail: str(e.detail) } : {});
  }
  return data;
}

/**
 * @param {string} email
 * @param {string} password
 * @returns {Promise<{user: User} | {pending: string, expires_in_ms: number}>} the user, or (202)
 *   a pending sign-in that waits for the account's second factor
 */
export function signIn(email, password) {
  return request('POST', '/api/session', { email, password });
}

/** @returns {Promise<null>} */
export function signOut() {
  return request('DELETE', '/api/session');
}

/**
 * Whether the server has a school yet (PROTOCOL.md section 1, `GET /api/setup`): a new
 * installation's sign-in page shows the operator the command that creates one.
 * @returns {Promise<{has_school: boolean, create_school_command: string | null}>}
 */
export function setup() {
  return request('GET', '/api/setup');
}

/**
 * How the session signed in (`GET /api/me`'s `sign_in`).
 * @typedef {{method: string, two_factors: boolean, totp_enrolled: boolean, second_factor_required: boolean}} SignInState
 */

/**
 * @returns {Promise<{user: User, classes: ClassSummary[], recording_notice: string, recording_ready: boolean, sign_in: SignInState}>}
 */
export function me() {
  return request('GET', '/api/me');
}

/**
 * Starts a lesson, or returns the class's live one.
 * @param {string} classId
 * @returns {Promise<{lesson: LessonSummary}>}
 */
export function startLesson(classId) {
  return request('POST', '/api/lessons', { class_id: classId });
}

/**
 * @param {string} lessonId
 * @returns {Promise<{lesson: LessonSummary}>}
 */
export function getLesson(lessonId) {
  return request('GET', `/api/lessons/${encodeURIComponent(lessonId)}`);
}

/**
 * Runs the admission gate and returns a one-use ticket for the WebSocket `join`.
 * @param {string} lessonId
 * @returns {Promise<Ticket>}
 */
export function lessonTicket(lessonId) {
  return request('POST', `/api/lessons/${encodeURIComponent(lessonId)}/ticket`);
}
