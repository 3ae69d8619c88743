// The teacher's readiness lists on the home page: for each class they teach, which pupils can
// join its live lessons and, for the others, why not, in plain words (lib/messages.js). The
// server answers from the admission gate with the school's directory facts.
// @ts-check

import { ApiError } from '../lib/api.js';
import { explain, readinessReason } from '../lib/messages.js';
import { byId, h } from '../lib/dom.js';
import { readiness } from './api.js';

/** @typedef {import('../lib/api.js').ClassSummary} ClassSummary */
/** @typedef {import('./api.js').ReadinessRow} ReadinessRow */

let drawing = 0;

/**
 * Fills `#home-readiness` with one disclosure per class the teacher teaches. Classes that were
 * open stay open when the lists are drawn again.
 * @param {ClassSummary[]} classes
 */
export async function renderReadiness(classes) {
  const box = byId('home-readiness');
  const mine = classes.filter((c) => c.can_teach);
  const turn = ++drawing;
  if (mine.length === 0) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  const open = new Set([...box.querySelectorAll('details[open]')].map((d) => d instanceof HTMLElement ? d.dataset.classId : ''));
  const sections = await Promise.all(mine.map((c) => classSection(c, open.has(c.id))));
  if (turn !== drawing) return;
  box.replaceChildren(
    h('h2', { class: 'section-title', id: 'readiness-title' }, ['Who can join your lessons']),
    h('p', { class: 'hint' }, ['Pupils on each class list, and what still stops the others. The school office can fix these.']),
    ...sections,
  );
  box.hidden = false;
}

/**
 * @param {ClassSummary} c
 * @param {boolean} open
 * @returns {Promise<HTMLElement>}
 */
async function classSection(c, open) {
  const details = h('details', { class: 'panel readiness', 'data-class-id': c.id, open });
  let pupils;
  try {
    pupils = (await readiness(c.id)).pupils;
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 'internal';
    details.append(h('summary', {}, [c.name]), h('p', { class: 'form-error' }, [explain(code).text]));
    return details;
  }
  const ready = pupils.filter((p) => p.can_join).length;
  details.append(
    h('summary', {}, [h('span', { class: 'readiness-class' }, [c.name]), h('span', { class: 'count' }, [`${ready} of ${pupils.length} can join`])]),
    pupils.length === 0
      ? h('p', { class: 'hint' }, ['No pupils on this class list yet.'])
      : h('ul', { class: 'people readiness-list' }, [...pupils].sort(notReadyFirst).map(pupilLine)),
  );
  return details;
}

/** @param {ReadinessRow} a @param {ReadinessRow} b */
function notReadyFirst(a, b) {
  return Number(a.can_join) - Number(b.can_join) || a.display_name.localeCompare(b.display_name);
}

/** @param {ReadinessRow} p */
function pupilLine(p) {
  return h('li', { class: p.can_join ? 'person ready' : 'person not-ready', 'data-user-id': p.id, 'data-reason': p.reason || '' }, [
    h('div', { class: 'person-head' }, [
      h('span', { class: 'person-name' }, [p.display_name]),
      h('span', { class: p.can_join ? 'badge badge-live' : 'badge badge-off' }, [p.can_join ? 'Can join' : 'Cannot join yet']),
    ]),
    p.can_join ? '' : h('p', { class: 'hint readiness-reason' }, [readinessReason(p.reason || '')]),
  ]);
}
