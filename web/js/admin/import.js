// The roster CSV import box on the "Classes and rosters" page: choose a file (Livegate's own
// columns, from the template, or an MIS export as it is), check it (a preview that changes
// nothing, with every row's problems; for an MIS export first the columns the server matched,
// which the superuser can change: columns.js), then import it in one go with those columns.
// @ts-check

import { ApiError } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { explain } from '../lib/messages.js';
import { button, errorLine, errorText, field, statusLine } from '../lib/widgets.js';
import { importMapped, RosterError, rosterTemplateUrl } from './api.js';
import { columnsBox } from './columns.js';
import { changed } from './changes.js';

/** @typedef {import('./api.js').ImportReport} ImportReport */
/** @typedef {import('./api.js').ImportRow} ImportRow */
/** @typedef {import('./api.js').ColumnMap} ColumnMap */
/** @typedef {import('./api.js').Columns} Columns */

const PREVIEW_MAX = 200;
/** The server's limit for a roster file (PROTOCOL.md section 5). */
const MAX_BYTES = 5 * 1024 * 1024;

/**
 * The parts of the import box, the chosen file in base64 once read, the columns chosen, and
 * whether the last preview may be imported.
 * @typedef {{file: HTMLInputElement, check: HTMLButtonElement, apply: HTMLButtonElement,
 *   error: HTMLElement, done: HTMLElement, columns: HTMLElement, result: HTMLElement,
 *   base64: string | null, mapping: ColumnMap | null, ready: boolean, busy: number}} ImportState
 */

/**
 * The import box; an import announces its changes (changes.js), so the lists redraw.
 * @returns {HTMLElement}
 */
export function importBox() {
  const file = field('Roster file (CSV)', { type: 'file', accept: '.csv,text/csv' },
    "Your MIS export as it is, or Livegate's template (pupil email, first name, last name, class). A class that does not exist yet is created.");
  /** @type {ImportState} */
  const st = {
    file: file.input,
    check: button('Check file', { class: 'btn btn-secondary', id: 'import-check' }),
    apply: button('Import', { id: 'import-apply', hidden: true }),
    error: errorLine(),
    done: statusLine(),
    columns: h('div', { id: 'import-columns-box' }),
    result: h('div', { class: 'import-result', id: 'import-result' }),
    base64: null,
    mapping: null,
    ready: false,
    busy: 0,
  };
  st.file.addEventListener('change', () => {
    reset(st);
    st.columns.replaceChildren();
    st.base64 = null;
    st.mapping = null;
  });
  st.check.addEventListener('click', () => void checkFile(st));
  st.apply.addEventListener('click', () => void applyFile(st));
  return h('section', { class: 'admin-box', 'aria-labelledby': 'import-title' }, [
    h('h3', { id: 'import-title' }, ['Import rosters from your MIS']),
    h('p', { class: 'hint' }, ['Nothing changes until you check the file and press Import. Importing only adds pupils and class places; it never removes anyone.']),
    h('p', {}, [h('a', { href: rosterTemplateUrl, download: 'livegate-roster-template.csv', id: 'import-template' }, ['Download a template CSV'])]),
    file.row,
    h('div', { class: 'item-actions' }, [st.check, st.apply]),
    st.error,
    st.done,
    st.columns,
    st.result,
  ]);
}

/** @param {ImportState} st */
function reset(st) {
  st.error.textContent = '';
  st.done.textContent = '';
  st.result.replaceChildren();
  st.apply.hidden = true;
  st.ready = false;
}

/**
 * A file's bytes in base64 (the server reads them exactly as exported, whatever the encoding).
 * @param {File} file
 * @returns {Promise<string>}
 */
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(new ApiError(0, 'bad_request', 'the file could not be read'));
    reader.readAsDataURL(file);
  });
}

/** Sends the chosen file (with the chosen columns) for a preview. @param {ImportState} st */
async function checkFile(st) {
  reset(st);
  const chosen = st.file.files && st.file.files[0];
  if (!chosen) {
    st.error.textContent = 'Choose a CSV file first.';
    st.file.focus();
    return;
  }
  if (chosen.size > MAX_BYTES) {
    st.error.textContent = errorText(new ApiError(413, 'payload_too_large', 'file too large'));
    return;
  }
  const turn = ++st.busy;
  st.check.disabled = true;
  try {
    st.base64 = st.base64 ?? await readBase64(chosen);
    const { columns, report } = await importMapped(st.base64, st.mapping, false);
    if (turn !== st.busy) return; // a newer check is under way
    showColumns(st, columns);
    st.result.replaceChildren(...preview(report));
    const s = report.summary;
    if (report.ok && s.users_created + s.classes_created + s.memberships_created > 0) {
      st.mapping = columns.mapping;
      st.ready = true;
      st.apply.hidden = false;
      st.apply.textContent = `Import ${s.rows} ${s.rows === 1 ? 'row' : 'rows'}`;
    }
  } catch (err) {
    if (turn !== st.busy) return;
    if (err instanceof RosterError && err.columns) showColumns(st, err.columns);
    st.error.textContent = fileProblem(err);
  } finally {
    if (turn === st.busy) st.check.disabled = false;
  }
}

/**
 * Shows the column choices for a file that is not in Livegate's own format (once per file:
 * later checks keep the superuser's selects as they are).
 * @param {ImportState} st @param {Columns} columns
 */
function showColumns(st, columns) {
  if (columns.own_header || st.columns.firstChild) return;
  st.columns.replaceChildren(columnsBox(columns, (mapping) => {
    st.mapping = mapping;
    void checkFile(st);
  }));
}

/** Imports the checked file with the columns of its preview. @param {ImportState} st */
async function applyFile(st) {
  if (!st.ready || !st.base64) return;
  st.apply.disabled = true;
  st.error.textContent = '';
  try {
    const { report } = await importMapped(st.base64, st.mapping, true);
    st.apply.hidden = true;
    st.ready = false;
    st.result.replaceChildren();
    st.columns.replaceChildren();
    st.done.textContent = `Imported. ${sentence(report)}`;
    changed('users', 'classes', 'members');
  } catch (err) {
    // The directory may have changed since the check: show the fresh report.
    if (err instanceof RosterError && err.report) st.result.replaceChildren(...preview(err.report));
    st.error.textContent = fileProblem(err);
    st.apply.hidden = true;
  } finally {
    st.apply.disabled = false;
  }
}

/** The sentence for a failed check or import, with the line and detail the server gave. @param {unknown} err */
function fileProblem(err) {
  const base = errorText(err);
  if (!(err instanceof RosterError) || !err.detail) return base;
  // The detail is the specific sentence; the code's title says what kind of problem it is.
  const where = err.line ? ` (line ${err.line})` : '';
  return `${explain(err.code).title}: ${err.detail}${where}`;
}

/** What an import did or would do, in one sentence. @param {ImportReport} r */
function sentence(r) {
  const s = r.summary;
  const n = (/** @type {number} */ k, /** @type {string} */ one, /** @type {string} */ many) => `${k} ${k === 1 ? one : many}`;
  return `${n(s.users_created, 'new pupil', 'new pupils')}, ${n(s.classes_created, 'new class', 'new classes')}, `
    + `${n(s.memberships_created, 'pupil added to a class', 'pupils added to classes')}; `
    + `${n(s.unchanged, 'row was', 'rows were')} already in place.`;
}

/**
 * The preview: a summary, then a table with the rows that have problems first.
 * @param {ImportReport} r
 * @returns {HTMLElement[]}
 */
function preview(r) {
  const s = r.summary;
  const head = r.ok
    ? h('p', { class: 'admin-ok', role: 'status' }, [`The file is ready. ${sentence(r)}`])
    : h('p', { class: 'form-error', role: 'alert' }, [
      `${s.rows_with_errors} of ${s.rows} ${s.rows === 1 ? 'row has' : 'rows have'} problems, so nothing can be imported yet. Fix them in the file and check it again.`,
    ]);
  const rows = [...r.rows].sort((a, b) => Number(b.errors.length > 0) - Number(a.errors.length > 0) || a.line - b.line);
  const shown = rows.slice(0, PREVIEW_MAX);
  const table = h('table', { class: 'admin-table' }, [
    h('caption', {}, [shown.length < rows.length ? `First ${shown.length} of ${rows.length} rows, problems first` : 'Rows, problems first']),
    h('thead', {}, [h('tr', {}, ['Line', 'Pupil', 'Class', 'Result'].map((t) => h('th', { scope: 'col' }, [t])))]),
    h('tbody', {}, shown.map(rowLine)),
  ]);
  return [head, h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Import preview', tabindex: '0' }, [table])];
}

/** @param {ImportRow} row */
function rowLine(row) {
  const bad = row.errors.length > 0;
  const name = `${row.first_name} ${row.last_name}`.trim();
  const result = bad
    ? row.errors.map((e) => e.message).join(' ')
    : [outcome(row), ...row.warnings.map((w) => w.message)].join(' ');
  return h('tr', { class: bad ? 'row-bad' : row.unchanged ? 'row-same' : 'row-new', 'data-line': String(row.line) }, [
    h('td', { 'data-label': 'Line' }, [String(row.line)]),
    h('td', { 'data-label': 'Pupil' }, [h('div', {}, [h('span', { class: 'cell-name' }, [name || '—']), h('span', { class: 'cell-sub' }, [row.email || '—'])])]),
    h('td', { 'data-label': 'Class' }, [row.class || '—']),
    h('td', { 'data-label': 'Result' }, [result]),
  ]);
}

/** @param {ImportRow} row */
function outcome(row) {
  if (row.unchanged) return 'Already in place.';
  const parts = [];
  if (row.user === 'new') parts.push('new pupil');
  if (row.class_status === 'new') parts.push('new class');
  if (row.membership === 'new') parts.push('added to the class');
  const text = parts.join(', ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
