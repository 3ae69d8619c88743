// The home view after sign-in (`#/`): a teacher's classes with "Start lesson" / "Rejoin
// lesson", or a pupil's classes with "Join lesson" when one is live and they may join it, and
// otherwise, before they try, why not and who to ask (the server's JoinCheck, from the
// admission gate): no Join button for a lesson the gate would refuse, a link to the code of
// conduct where consent is missing, and "Sign out" only for an account whose email domain the
// school does not trust. The teacher's readiness lists are in readiness.js, the code of
// conduct page in conduct.js. app.js starts and opens lessons from here.
// @ts-check

import { byId, h, visuallyHidden } from '../lib/dom.js';
import { ASK_WORDS, joinAdvice } from '../lib/messages.js';

export { renderReadiness } from './readiness.js';
export { openConduct } from './conduct.js';

/** @typedef {import('../lib/api.js').User} User */
/** @typedef {import('../lib/api.js').ClassSummary} ClassSummary */

/**
 * @typedef {{onStart: (classId: string, button: HTMLButtonElement) => void,
 *   onOpen: (lessonId: string) => void, onSignOut: () => void}} HomeActions
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
  } else if (!teacher && !anyLive && classes.every((c) => !c.join || c.join.state !== 'refused')) {
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
  }
  /** @type {(Node | string)[]} */
  const advice = [];
  if (!teacher) {
    const { canJoin, note, words } = joinAdvice(c.join, live);
    if (canJoin && c.live_lesson_id) {
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
    if (note) advice.push(h('p', { class: 'hint card-note' }, [note]));
    if (words) advice.push(refusal(c, words, actions));
  }
  return h('li', { class: live ? 'card card-live' : 'card', 'data-class-id': c.id }, [
    h('h2', { class: 'card-title' }, [c.name]),
    status,
    ...advice,
    h('div', { class: 'card-actions' }, buttons),
  ]);
}

/**
 * Why a pupil cannot join this class's lessons, who to ask, and the one next step that fits:
 * the code of conduct to read, or signing out of an account the school does not accept.
 * @param {ClassSummary} c
 * @param {import('../lib/messages.js').Explanation} words
 * @param {HomeActions} actions
 */
function refusal(c, words, actions) {
  const box = h('div', { class: 'card-refusal', 'data-reason': (c.join && c.join.reason) || '' }, [
    h('p', { class: 'card-refusal-title' }, [words.title]),
    h('p', {}, [words.text]),
  ]);
  if (words.ask) box.append(h('p', { class: 'hint card-ask' }, [`Who can help: ${ASK_WORDS[words.ask]}.`]));
  /** @type {HTMLElement[]} */
  const steps = [];
  // `data-key`s keep keyboard focus on these when the list is drawn again in the background.
  if (words.conduct) {
    steps.push(h('a', { class: 'btn btn-secondary btn-small', href: '#/conduct', 'data-key': `conduct-${c.id}` }, ['Read the code of conduct']));
  }
  if (words.signOut) {
    const out = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-key': `sign-out-${c.id}` },
      ['Sign out', visuallyHidden(' to use your school account')]);
    out.addEventListener('click', () => actions.onSignOut());
    steps.push(out);
  }
  if (steps.length) box.append(h('div', { class: 'card-steps' }, steps));
  return box;
}
