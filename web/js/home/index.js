// The home view after sign-in (`#/`): a teacher's classes with "Start lesson" / "Rejoin
// lesson", or a pupil's classes with "Join lesson" when one is live and a clear "no live
// lesson" state; and the teacher's readiness lists (readiness.js). app.js starts and opens
// lessons from here.
// @ts-check

import { byId, h, visuallyHidden } from '../lib/dom.js';

export { renderReadiness } from './readiness.js';

/** @typedef {import('../lib/api.js').User} User */
/** @typedef {import('../lib/api.js').ClassSummary} ClassSummary */

/**
 * @typedef {{onStart: (classId: string, button: HTMLButtonElement) => void,
 *   onOpen: (lessonId: string) => void}} HomeActions
 */

/**
 * Renders (or re-renders) the class list. Keeps keyboard focus on the same button when the
 * list is refreshed in the background.
 * @param {User} user
 * @param {ClassSummary[]} classes
 * @param {HomeActions} actions
 */
export function renderHome(user, classes, actions) {
  const list = byId('class-list');
  const focusedKey = document.activeElement instanceof HTMLElement
    ? document.activeElement.dataset.key : undefined;
  const teacher = user.role === 'teacher';
  byId('home-title').textContent = teacher ? 'Your classes' : 'Your lessons';
  byId('home-intro').textContent = teacher
    ? 'Start a live lesson for a class. Pupils on the class list can join once you are in.'
    : 'When your teacher starts a live lesson, it appears here. This page updates by itself.';

  list.replaceChildren(...classes.map((c) => classCard(c, teacher, actions)));
  byId('home-log').hidden = !teacher;

  const anyLive = classes.some((c) => c.live_lesson_id);
  const empty = byId('home-empty');
  if (classes.length === 0) {
    empty.hidden = false;
    empty.textContent = teacher ? 'You have no classes yet.' : 'You are not in any classes yet.';
  } else if (!teacher && !anyLive) {
    empty.hidden = false;
    empty.textContent = 'No live lesson right now. When your teacher starts one, a Join button appears here.';
  } else {
    empty.hidden = true;
    empty.textContent = '';
  }

  if (focusedKey) {
    const again = list.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`);
    if (again instanceof HTMLElement) again.focus();
  }
}

/**
 * @param {ClassSummary} c
 * @param {boolean} teacher
 * @param {HomeActions} actions
 */
function classCard(c, teacher, actions) {
  const live = Boolean(c.live_lesson_id);
  const status = h('p', { class: live ? 'card-status card-status-live' : 'card-status' }, [
    live ? 'Live now' : 'No live lesson',
  ]);
  /** @type {HTMLElement[]} */
  const buttons = [];
  if (teacher && c.can_teach) {
    const button = /** @type {HTMLButtonElement} */ (h('button', {
      type: 'button',
      class: 'btn btn-primary',
      'data-key': `start-${c.id}`,
      'data-class-id': c.id,
    }, [live ? 'Rejoin lesson' : 'Start lesson', visuallyHidden(` for ${c.name}`)]));
    button.addEventListener('click', () => {
      if (c.live_lesson_id) actions.onOpen(c.live_lesson_id);
      else actions.onStart(c.id, button);
    });
    buttons.push(button);
  } else if (live && c.live_lesson_id) {
    const lessonId = c.live_lesson_id;
    const button = h('button', {
      type: 'button',
      class: 'btn btn-primary',
      'data-key': `join-${c.id}`,
      'data-class-id': c.id,
    }, ['Join lesson', visuallyHidden(` for ${c.name}`)]);
    button.addEventListener('click', () => actions.onOpen(lessonId));
    buttons.push(button);
  }
  return h('li', { class: live ? 'card card-live' : 'card', 'data-class-id': c.id }, [
    h('h2', { class: 'card-title' }, [c.name]),
    status,
    h('div', { class: 'card-actions' }, buttons),
  ]);
}
