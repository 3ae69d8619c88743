// REST calls of the school administration API (PROTOCOL.md section 5): one function per
// route, failures as ApiError with the server's stable code. The roster import sends the file
// as JSON (its bytes in base64, with the columns to read) and keeps the server's report. The
// teacher's readiness list, though listed in section 5, is a home page call (home/api.js).
// @ts-check

import { ApiError, request } from '../lib/api.js';

/**
 * @typedef {import('../lib/api.js').Role} Role
 * @typedef {{id: string, email: string, display_name: string, role: Role, disabled: boolean,
 *   has_password: boolean}} AdminUser
 * @typedef {{id: string, name: string, pupils: number, teachers: number}} ClassRow
 * @typedef {{user: AdminUser, as: 'pupil' | 'teacher'}} Member
 * @typedef {{domain: string, note: string, added_by: string, added_at: number}} Domain
 * @typedef {{id: string, pupil_id: string, pupil_signed: boolean, parent_name: string,
 *   signed_on: number, method: string, conduct_version: number, opt_out: boolean,
 *   recorded_by: string, recorded_at: number, withdrawn_at: number | null,
 *   withdrawn_by: string | null}} ConsentRecord
 * @typedef {{pupil_signed: boolean, parent_name: string, signed_on: number, method: 'paper' | 'digital',
 *   conduct_version: number, opt_out: boolean}} ConsentInput
 * @typedef {{version: number, text: string, recording_notice: string, created_at: number}} Conduct
 * @typedef {{camera_always_off: boolean, alias: string | null, hidden_from_pupils: boolean}} Privacy
 * @typedef {{code: string, message: string}} RowProblem
 * @typedef {{line: number, email: string, first_name: string, last_name: string, class: string,
 *   user: 'new' | 'existing' | null, class_status: 'new' | 'existing' | null,
 *   membership: 'new' | 'existing' | null, unchanged: boolean, errors: RowProblem[],
 *   warnings: RowProblem[]}} ImportRow
 * @typedef {{rows: number, users_created: number, classes_created: number,
 *   memberships_created: number, unchanged: number, rows_with_errors: number}} ImportSummary
 * @typedef {{applied: boolean, ok: boolean, summary: ImportSummary, rows: ImportRow[]}} ImportReport
 * @typedef {{url: string, purpose: 'invite' | 'reset', expires_at: number}} SetPasswordLink
 * @typedef {{email: number | null, first_name: number | null, last_name: number | null,
 *   class: number | null, role: number | null}} ColumnMap
 * @typedef {{header: string[], mapping: ColumnMap, proposed: boolean, own_header: boolean,
 *   missing: string[]}} Columns
 * @typedef {{user_id: string, display_name: string}} PupilRef
 * @typedef {{class: {id: string, name: string}, expires_at: number | null,
 *   cards: {user_id: string, display_name: string, url: string, qr_svg: string}[],
 *   already_set_up: PupilRef[], disabled: PupilRef[]}} InviteSheet
 */

/** A failed roster import: the server's code plus what it said about the file or rows. */
export class RosterError extends ApiError {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {{line?: number | null, detail?: string, report?: ImportReport, columns?: Columns}} extra
   */
  constructor(status, code, message, extra) {
    super(status, code, message);
    this.line = extra.line ?? null;
    this.detail = extra.detail || '';
    this.report = extra.report || null;
    /** The file's columns, when the server could not use them as chosen. */
    this.columns = extra.columns || null;
  }
}

const enc = encodeURIComponent;

/** @returns {Promise<{users: AdminUser[]}>} */
export const listUsers = () => request('GET', '/api/admin/users');

/**
 * @param {{email: string, display_name: string, role: Role}} user
 * @returns {Promise<{user: AdminUser}>}
 */
export const createUser = (user) => request('POST', '/api/admin/users', user);

/**
 * @param {string} id
 * @param {{role?: Role, disabled?: boolean}} change
 * @returns {Promise<{user: AdminUser}>}
 */
export const updateUser = (id, change) => request('PATCH', `/api/admin/users/${enc(id)}`, change);

/**
 * Issues a one-time set-password link for a user of the superuser's school.
 * @param {string} userId
 * @param {'invite' | 'reset'} purpose invite: 72 hours; reset: 1 hour
 * @returns {Promise<{link: SetPasswordLink}>}
 */
export const issueLink = (userId, purpose) => request('POST', `/api/admin/users/${enc(userId)}/${purpose}`);

/** @returns {Promise<{classes: ClassRow[]}>} */
export const listClasses = () => request('GET', '/api/admin/classes');

/** @param {string} name @returns {Promise<{class: {id: string, name: string}}>} */
export const createClass = (name) => request('POST', '/api/admin/classes', { name });

/** @param {string} id @returns {Promise<{class: {id: string, name: string}, members: Member[]}>} */
export const classDetail = (id) => request('GET', `/api/admin/classes/${enc(id)}`);

/** @param {string} classId @param {string} userId @param {'pupil' | 'teacher'} as */
export const addMember = (classId, userId, as) => request('POST', `/api/admin/classes/${enc(classId)}/members`, { user_id: userId, as });

/** @param {string} classId @param {string} userId */
export const removeMember = (classId, userId) => request('DELETE', `/api/admin/classes/${enc(classId)}/members/${enc(userId)}`);

/** The address of a class's roster export (a download link; the session cookie goes along). @param {string} classId */
export const rosterCsvUrl = (classId) => `/api/admin/classes/${enc(classId)}/roster.csv`;

/**
 * Makes a class's invite sheet: a new one-time link for each pupil without a password.
 * @param {string} classId
 * @returns {Promise<InviteSheet>}
 */
export const inviteSheet = (classId) => request('POST', `/api/admin/classes/${enc(classId)}/invite-sheet`);

/** @returns {Promise<{domains: Domain[]}>} */
export const listDomains = () => request('GET', '/api/admin/domains');

/**
 * Trusts a domain; a public webmail domain only with `confirmPublic` (else `public_webmail_domain`).
 * @param {string} domain @param {string} note @param {boolean} [confirmPublic]
 * @returns {Promise<{domain: string}>}
 */
export const addDomain = (domain, note, confirmPublic = false) => request('POST', '/api/admin/domains', { domain, note, confirm_public: confirmPublic });

/** @param {string} domain */
export const removeDomain = (domain) => request('DELETE', `/api/admin/domains/${enc(domain)}`);

/** @param {string} pupilId @returns {Promise<{pupil: AdminUser, state: ConsentState, records: ConsentRecord[]}>} */
export const pupilConsents = (pupilId) => request('GET', `/api/admin/pupils/${enc(pupilId)}/consents`);

/** @param {string} pupilId @param {ConsentInput} input @returns {Promise<{consent_id: string, state: ConsentState}>} */
export const recordConsent = (pupilId, input) => request('POST', `/api/admin/pupils/${enc(pupilId)}/consents`, input);

/** @param {string} consentId */
export const withdrawConsent = (consentId) => request('POST', `/api/admin/consents/${enc(consentId)}/withdraw`);

/**
 * @param {string} classId
 * @returns {Promise<{class: {id: string, name: string}, pupils: {user: AdminUser, consent: ConsentState}[]}>}
 */
export const withoutConsent = (classId) => request('GET', `/api/admin/classes/${enc(classId)}/without-consent`);

/** @returns {Promise<{conduct: Conduct | null, required_version: number}>} */
export const getConduct = () => request('GET', '/api/admin/conduct');

/**
 * @param {{text: string, recording_notice: string, require_resign: boolean}} conduct
 * @returns {Promise<{version: number, require_resign: boolean}>}
 */
export const publishConduct = (conduct) => request('POST', '/api/admin/conduct', conduct);

/** @param {string} pupilId @returns {Promise<{pupil_id: string, privacy: Privacy}>} */
export const getPrivacy = (pupilId) => request('GET', `/api/admin/pupils/${enc(pupilId)}/privacy`);

/** The school's pupils with a privacy profile, by name. @returns {Promise<{profiles: {pupil_id: string, display_name: string, email: string, privacy: Privacy}[]}>} */
export const listPrivacy = () => request('GET', '/api/admin/privacy');

/** @param {string} pupilId @param {Privacy} privacy @returns {Promise<{pupil_id: string, privacy: Privacy}>} */
export const setPrivacy = (pupilId, privacy) => request('PUT', `/api/admin/pupils/${enc(pupilId)}/privacy`, privacy);

/** @returns {Promise<{time_zone: string, zones: string[]}>} the school's zone and those it may pick */
export const getTimeZone = () => request('GET', '/api/admin/time-zone');

/** @param {string} zone an IANA name such as Europe/London @returns {Promise<null>} */
export const setTimeZone = (zone) => request('PUT', '/api/admin/time-zone', { time_zone: zone });

/**
 * Sends any roster CSV, in base64, with the columns to read (null: the server proposes them),
 * for a preview (`apply` false) or the import.
 * @param {string} base64 the file's bytes
 * @param {ColumnMap | null} mapping
 * @param {boolean} apply
 * @returns {Promise<{columns: Columns, report: ImportReport}>}
 */
export function importMapped(base64, mapping, apply) {
  const body = JSON.stringify({ format: 'csv', file: base64, mapping });
  return sendImport(body, 'application/json', apply);
}

/** The address of the roster template (a download link). */
export const rosterTemplateUrl = '/api/admin/roster/template.csv';

/**
 * @param {BodyInit} body @param {string} contentType @param {boolean} apply
 * @returns {Promise<any>} the answer's JSON
 */
async function sendImport(body, contentType, apply) {
  let res;
  try {
    res = await fetch(`/api/admin/roster/import?apply=${apply}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json', 'content-type': contentType },
      body,
    });
  } catch (err) {
    throw new ApiError(0, 'network', `could not reach the server: ${err}`);
  }
  /** @type {any} */
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok && data && data.report) return data;
  const e = data && typeof data === 'object' ? data.error : null;
  const code = e && typeof e.code === 'string' ? e.code : res.status === 413 ? 'payload_too_large' : 'internal';
  const message = e && typeof e.message === 'string' ? e.message : `HTTP ${res.status}`;
  throw new RosterError(res.status, code, message, { line: e?.line, detail: e?.detail, report: data?.report, columns: data?.columns });
}
