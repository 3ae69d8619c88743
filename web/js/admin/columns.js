// The column step of the roster import: for a file whose header is not Livegate's own (an
// MIS export such as SIMS, Arbor or Bromcom writes), one select per Livegate field, set to the
// server's proposal, that the superuser can change; each change checks the file again. The
// columns left unchosen are named as not imported: Livegate keeps only names, email and class.
// @ts-check

import { h } from '../lib/dom.js';
import { selectField } from '../lib/widgets.js';

/** @typedef {import('./api.js').Columns} Columns */
/** @typedef {import('./api.js').ColumnMap} ColumnMap */

/** Livegate's fields, in the order shown, with their labels. @type {[keyof ColumnMap, string, boolean][]} */
const FIELDS = [
  ['email', "Pupil's email", true],
  ['first_name', 'First name', true],
  ['last_name', 'Last name', true],
  ['class', 'Class', true],
  ['role', 'Role or type (optional: rows that are not pupils are refused)', false],
];

/**
 * The column choices for a file.
 * @param {Columns} columns what the server read and proposed
 * @param {(mapping: ColumnMap) => void} onChange called with the new mapping after each change
 * @returns {HTMLElement}
 */
export function columnsBox(columns, onChange) {
  const options = /** @type {[string, string][]} */ ([
    ['', '— not in this file —'],
    ...columns.header.map((name, i) => /** @type {[string, string]} */ ([String(i), `Column ${i + 1}: ${name || '(no name)'}`])),
  ]);
  const unused = h('p', { class: 'hint', id: 'import-unused' });
  const selects = FIELDS.map(([key, label]) => {
    const s = selectField(label, options, { 'data-field': key });
    const at = columns.mapping[key];
    s.input.value = at === null || at === undefined ? '' : String(at);
    return { key, s };
  });
  const current = () => {
    /** @type {ColumnMap} */
    const mapping = { email: null, first_name: null, last_name: null, class: null, role: null };
    for (const { key, s } of selects) mapping[key] = s.input.value === '' ? null : Number(s.input.value);
    return mapping;
  };
  const drawUnused = () => {
    const chosen = new Set(Object.values(current()).filter((v) => v !== null));
    const rest = columns.header.map((n, i) => n || `column ${i + 1}`).filter((_, i) => !chosen.has(i));
    unused.textContent = rest.length
      ? `Not imported: ${rest.join(', ')}. Livegate keeps only each pupil's name, email and class.`
      : '';
  };
  for (const { s } of selects) {
    s.input.addEventListener('change', () => {
      drawUnused();
      onChange(current());
    });
  }
  drawUnused();
  const intro = columns.proposed
    ? 'This file has its own column names. Livegate matched them as below: check each one, and change any that is wrong.'
    : 'The file is read with the columns chosen below.';
  return h('fieldset', { class: 'import-columns', id: 'import-columns' }, [
    h('legend', {}, ['Columns in your file']),
    h('p', { class: 'hint' }, [intro]),
    h('div', { class: 'columns-grid' }, selects.map(({ s }) => s.row)),
    unused,
  ]);
}
