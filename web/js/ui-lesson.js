// The lesson view shell shared by teacher and pupil: creates the LessonConnection, shows the
// lesson title and connection status next to the always-visible recording indicator, and hands
// role-specific work to ui-teacher.js or ui-pupil.js.
// @ts-check

import { LessonConnection } from './signalling.js';
import { explain } from './messages.js';
import { byId } from './ui-dom.js';
import { TeacherConsole } from './ui-teacher.js';
import { PupilView } from './ui-pupil.js';

/** @typedef {import('./api.js').User} User */
/** @typedef {import('./api.js').LessonSummary} LessonSummary */

/**
 * What the role-specific controllers implement.
 * @typedef {{start(): void, destroy(): void}} RoleController
 */

export class LessonView {
  /**
   * @param {LessonSummary} lesson
   * @param {User} user
   * @param {(code: string) => void} onClosed called once when the lesson ends for this user
   */
  constructor(lesson, user, onClosed) {
    this.lessonId = lesson.id;
    this.lesson = lesson;
    this.user = user;
    this.onClosed = onClosed;
    this.connection = new LessonConnection(lesson.id);
    this.stopped = false;
    /** @type {RoleController} */
    this.controller = user.role === 'teacher'
      ? new TeacherConsole(this.connection, this)
      : new PupilView(this.connection, this);
  }

  start() {
    const teacher = this.user.role === 'teacher';
    byId('lesson-title').textContent = this.lesson.class_name;
    byId('teacher-console').hidden = !teacher;
    byId('pupil-view').hidden = teacher;
    this.setStatus('Joining the lesson…');
    const conn = this.connection;
    conn.addEventListener('state', (ev) => this.onState(/** @type {CustomEvent} */ (ev).detail.state));
    conn.addEventListener('problem', (ev) => {
      const { code } = /** @type {CustomEvent} */ (ev).detail;
      this.setStatus(explain(code).text, true);
    });
    conn.addEventListener('closed', (ev) => {
      const { code } = /** @type {CustomEvent} */ (ev).detail;
      this.controller.destroy();
      if (!this.stopped) this.onClosed(code);
    });
    this.controller.start();
    conn.start();
  }

  /** Leaves the lesson because the user navigated away or signed out. */
  stop() {
    this.stopped = true;
    this.connection.leave();
    this.controller.destroy();
  }

  /** @param {string} state */
  onState(state) {
    if (state === 'connecting') this.setStatus('Joining the lesson…');
    else if (state === 'reconnecting') this.setStatus('Connection lost. Reconnecting…', true);
    else if (state === 'joined') this.setStatus('You are in the lesson.');
  }

  /**
   * @param {string} text
   * @param {boolean} [important] shown as a warning
   */
  setStatus(text, important = false) {
    const el = byId('lesson-status');
    el.textContent = text;
    // The element is a polite live region, so screen readers hear every change once.
    el.classList.toggle('lesson-status-warn', important);
  }

  /**
   * A display name for a participant id, or a neutral fallback.
   * @param {string} participantId
   */
  nameOf(participantId) {
    const p = this.connection.participants.get(participantId);
    return p ? p.display_name : 'Someone';
  }
}
