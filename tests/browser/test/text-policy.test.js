// The web client's copy of the text policy (web/js/lib/text.js) against the server's own cases
// (server/src/text/cases.json, run by the server's unit tests too) and field table
// (server/src/text/fields.json), so the browser refuses exactly what the server refuses and
// says it in the same words. Plain Node: no browser, no server.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FIELDS, check, fieldById, sentence } from '../../../web/js/lib/text.js';

const serverFile = (/** @type {string} */ name) => JSON.parse(readFileSync(new URL(`../../../server/src/text/${name}`, import.meta.url), 'utf8'));

describe('the text policy in the browser', () => {
  it('has the server\'s fields and limits', () => {
    assert.deepEqual(FIELDS, serverFile('fields.json'));
  });

  it('agrees with the server on every shared case', () => {
    const { cases } = serverFile('cases.json');
    assert.ok(cases.length > 50);
    for (const c of cases) {
      const input = c.input.repeat(c.repeat || 1);
      const got = check(c.field, input);
      const shown = `${c.field} ${JSON.stringify(c.input)} (${c.why || ''})`;
      if (c.problem) {
        assert.deepEqual(got, { ok: false, reason: c.problem, detail: sentence(fieldById(c.field), c.problem) }, shown);
      } else {
        assert.deepEqual(got, { ok: true, value: c.ok_repeat ? input : c.ok }, shown);
      }
    }
  });

  it('says what the server says', () => {
    assert.equal(sentence(fieldById('class_name'), 'too_long'), 'The class name is longer than 100 characters.');
    assert.equal(sentence(fieldById('display_name'), 'bidi_control'), 'The name contains a character that changes the direction of text.');
    assert.equal(sentence(fieldById('reason'), 'too_short'), 'The reason needs at least 5 letters or digits.');
  });

  it('counts characters, not UTF-16 units as maxlength would', () => {
    // 60 emoji are 120 UTF-16 units: a maxlength of 60 would have cut them in half.
    assert.deepEqual(check('alias', '🦊'.repeat(60)), { ok: false, reason: 'no_letters', detail: 'The alias needs at least one letter or digit.' });
    assert.equal(check('alias', `Fox ${'🦊'.repeat(56)}`).ok, true);
    assert.equal(check('alias', `Fox ${'🦊'.repeat(57)}`).ok, false);
  });
});
