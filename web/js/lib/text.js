// The text policy of server/src/text.rs, in the browser: the same fields, limits and rules, so
// a form says what is wrong before sending, in the server's words. Lengths are Unicode
// characters (code points) after NFC, never UTF-16 units, which is what `maxlength` would
// count. The server decides; server/src/text/cases.json is run against both
// (tests/browser/test/text-policy.test.js). Stored values written before the policy are not
// re-checked until someone changes them.
// @ts-check

/** @typedef {'name' | 'reason' | 'note'} Kind */
/** @typedef {{id: string, name: string, label: string, kind: Kind, max: number}} Field */
/** @typedef {{ok: true, value: string} | {ok: false, reason: string, detail: string}} Checked */

/** Every field, as server/src/text/fields.json (a test keeps the two equal). @type {Field[]} */
export const FIELDS = [
  { id: 'display_name', name: 'display_name', label: 'name', kind: 'name', max: 200 },
  { id: 'class_name', name: 'name', label: 'class name', kind: 'name', max: 100 },
  { id: 'alias', name: 'alias', label: 'alias', kind: 'name', max: 60 },
  { id: 'parent_name', name: 'parent_name', label: "parent or carer's name", kind: 'name', max: 200 },
  { id: 'school_name', name: 'school_name', label: 'school name', kind: 'name', max: 200 },
  { id: 'concern_ref', name: 'concern_ref', label: 'concern reference', kind: 'name', max: 100 },
  { id: 'first_name', name: 'first_name', label: 'first name', kind: 'name', max: 100 },
  { id: 'last_name', name: 'last_name', label: 'last name', kind: 'name', max: 100 },
  { id: 'csv_class', name: 'class', label: 'class', kind: 'name', max: 100 },
  { id: 'reason', name: 'reason', label: 'reason', kind: 'reason', max: 1000 },
  { id: 'log_note', name: 'text', label: 'note', kind: 'note', max: 4000 },
  { id: 'domain_note', name: 'note', label: 'note', kind: 'note', max: 500 },
  { id: 'conduct_text', name: 'text', label: 'code of conduct', kind: 'note', max: 100000 },
  { id: 'recording_notice', name: 'recording_notice', label: 'recording notice', kind: 'note', max: 2000 },
];

export const REASON_MIN_LETTERS = 5;
const MAX_MARKS_IN_A_ROW = 8;

const re = {
  mark: /\p{M}/u,
  letterOrDigit: /[\p{L}\p{N}]/u,
  visibleOther: /[\p{P}\p{S}]/u,
  control: /[\p{Cc}\p{Zl}\p{Zp}]/u,
  unsupported: /[\p{Co}\p{Cn}\p{Cs}]/u,
  format: /\p{Cf}/u,
  space: /^\p{White_Space}+|\p{White_Space}+$/gu,
};

/** @param {string} c */
const cp = (c) => /** @type {number} */ (c.codePointAt(0));
/** @param {string} c */
const isBidiOverride = (c) => (cp(c) >= 0x202a && cp(c) <= 0x202e) || (cp(c) >= 0x2066 && cp(c) <= 0x2069);
/** @param {string} c */
const isBidiMark = (c) => c === '\u200e' || c === '\u200f' || c === '\u061c';
/** @param {string} c */
const isTag = (c) => cp(c) >= 0xe0000 && cp(c) <= 0xe007f;
/** @param {string} c */
function isVariationSelector(c) {
  const n = cp(c);
  return (n >= 0xfe00 && n <= 0xfe0f) || (n >= 0xe0100 && n <= 0xe01ef) || (n >= 0x180b && n <= 0x180d) || n === 0x180f;
}
/** Cf, the other default-ignorable code points and the Hangul fillers. @param {string} c */
function isInvisible(c) {
  const n = cp(c);
  return re.format.test(c) || [0xad, 0x34f, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x3164, 0xffa0].includes(n)
    || (n >= 0x180b && n <= 0x180f) || isVariationSelector(c) || (n >= 0xe0000 && n <= 0xe0fff);
}
/** @param {string} c */
const isLetterOrDigit = (c) => re.letterOrDigit.test(c) && !isInvisible(c);
/** @param {string} c */
const isVisible = (c) => isLetterOrDigit(c) || (re.visibleOther.test(c) && c !== '\u2800');
/** @param {string} c */
const joinable = (c) => cp(c) >= 0x590 && (/\p{L}/u.test(c) || re.mark.test(c)) && !isInvisible(c);

/**
 * @param {string} c @param {boolean} multiLine
 * @returns {string | null}
 */
function commonProblem(c, multiLine) {
  if (re.control.test(c)) return multiLine && (c === '\n' || c === '\t') ? null : 'control_characters';
  if (re.unsupported.test(c)) return 'unsupported_characters';
  if (isBidiOverride(c)) return 'bidi_control';
  return null;
}

/**
 * @param {string} c @param {string | undefined} prev @param {string | undefined} next
 * @returns {string | null}
 */
function nameProblem(c, prev, next) {
  const common = commonProblem(c, false);
  if (common) return common;
  if (isBidiMark(c)) return 'bidi_control';
  const joinerInWord = (c === '\u200c' || c === '\u200d') && !!prev && joinable(prev) && !!next && joinable(next);
  const selectorOnBase = isVariationSelector(c) && !!prev && isVisible(prev) && !isVariationSelector(prev);
  if ((isInvisible(c) && !joinerInWord && !selectorOnBase) || c === '\u2800') return 'invisible_characters';
  return null;
}

/**
 * The first character the kind does not allow, as a reason name.
 * @param {Kind} kind @param {string[]} chars
 */
function firstProblem(kind, chars) {
  let marks = 0;
  let flagTags = false;
  for (let i = 0; i < chars.length; i += 1) {
    const c = chars[i];
    marks = re.mark.test(c) ? marks + 1 : 0;
    if (marks > MAX_MARKS_IN_A_ROW) return 'too_many_marks';
    if (isTag(c)) flagTags = flagTags || chars[i - 1] === '\u{1F3F4}';
    let problem;
    if (kind === 'name') {
      problem = nameProblem(c, chars[i - 1], chars[i + 1]);
    } else {
      problem = commonProblem(c, true);
      if (!problem && ((isTag(c) && !flagTags) || (cp(c) >= 0xfff9 && cp(c) <= 0xfffb))) problem = 'invisible_characters';
    }
    if (problem) return problem;
    if (!isTag(c) || c === '\u{E007F}') flagTags = false;
  }
  return null;
}

/**
 * The server's sentence for a refusal (TextError::sentence in text.rs).
 * @param {Field} f @param {string} reason
 */
export function sentence(f, reason) {
  const what = {
    empty: 'is empty',
    too_short: `needs at least ${REASON_MIN_LETTERS} letters or digits`,
    too_long: `is longer than ${f.max} characters`,
    no_letters: 'needs at least one letter or digit',
    control_characters: f.kind === 'name' ? 'must be one line without control characters' : 'contains a control character',
    bidi_control: 'contains a character that changes the direction of text',
    invisible_characters: 'contains invisible characters (such as zero-width spaces)',
    unsupported_characters: 'contains private-use or unassigned characters',
    too_many_marks: 'stacks too many accents on one character',
  }[reason] || 'cannot be accepted';
  return `The ${f.label} ${what}.`;
}

/** @param {string} id */
export function fieldById(id) {
  const f = FIELDS.find((x) => x.id === id);
  if (!f) throw new Error(`no text field ${id}`);
  return f;
}

/**
 * What the server would store for `input` in the field, or why it would refuse it.
 * @param {string} id a field id (FIELDS)
 * @param {string} input
 * @returns {Checked}
 */
export function check(id, input) {
  const f = fieldById(id);
  const refuse = (/** @type {string} */ reason) => /** @type {Checked} */ ({ ok: false, reason, detail: sentence(f, reason) });
  if (input.length > f.max * 12 + 64) return refuse('too_long');
  const unified = f.kind === 'name' ? input : input.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029]/g, '\n');
  const value = unified.normalize('NFC').replace(re.space, '');
  const chars = [...value];
  if (chars.length > f.max) return refuse('too_long');
  const problem = firstProblem(f.kind, chars);
  if (problem) return refuse(problem);
  const letters = chars.filter(isLetterOrDigit).length;
  if (f.kind === 'name' && letters === 0) return refuse(chars.length === 0 ? 'empty' : 'no_letters');
  if (f.kind !== 'name' && !chars.some(isVisible)) return refuse('empty');
  if (f.kind === 'reason' && letters < REASON_MIN_LETTERS) return refuse('too_short');
  return { ok: true, value };
}

/**
 * Checks a form's text inputs before it is sent. On the first refusal, says why in `error`
 * (the server's sentence), marks that input `aria-invalid`, focuses it and returns null;
 * otherwise clears the marks and returns the values to send. An optional input left empty
 * gives null.
 * @param {HTMLElement} error
 * @param {[string, HTMLInputElement | HTMLTextAreaElement, {optional?: boolean}?][]} inputs field id, input
 * @returns {(string | null)[] | null}
 */
export function checkInputs(error, inputs) {
  /** @type {(string | null)[]} */
  const values = [];
  for (const [id, input, opts] of inputs) {
    if (opts?.optional && !input.value.replace(re.space, '')) {
      input.removeAttribute('aria-invalid');
      values.push(null);
      continue;
    }
    const got = check(id, input.value);
    if (!got.ok) {
      error.textContent = got.detail;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return null;
    }
    input.removeAttribute('aria-invalid');
    values.push(got.value);
  }
  return values;
}
