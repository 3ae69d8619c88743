// The live lesson (`#/lessons/<id>`, after the recording notice), entry of the lesson/ folder:
// the view shell shared by everyone in it. Creates the LessonConnection (lib/signalling.js),
// shows the lesson title and connection status next to the always-visible recording indicator,
// shows the waiting panel while a visiting member of staff is in the lobby, and hands
// role-specific work to teacher.js (the class's teacher) or pupil.js (pupils, and guests let in
// from the lobby) once the server says which role this person has in the lesson; media.js has
// the tiles both use. When the lesson is not being recorded (`lesson.recording` false, or the
// server reports `recording_unavailable`), the indicator says "Not recording" and the teacher
// is told that pupils cannot join. lesson/ imports lib/ and its own files, never another role.
// @ts-check

import { LessonConnection } from '../lib/signalling.js';
import { explain, explainFor } from '../lib/messages.js';
import { byId } from '../lib/dom.js';
import { TeacherConsole } from './teacher.js';
import { PupilView } from './pupil.js';

/** @typedef {import('../lib/api.js').User} User */
/** @typedef {import('../lib/api.js').LessonSummary} LessonSummary */
/** @typedef {import('../lib/signalling.js').Role} Role */

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
    /** @type {RoleController | null} created at the first `joined`, when the role is known */
    this.controller = null;
    /** @type {Role | null} */
    this.controllerRole = null;
    this.abort = new AbortController();
    /** False once the server says the lesson is not being recorded. */
    this.recording = lesson.recording !== false;
  }

  start() {
    byId('lesson-title').textContent = this.lesson.class_name;
    this.showRecording();
    byId('teacher-console').hidden = true;
    byId('pupil-view').hidden = true;
    byId('lobby-wait').hidden = true;
    this.setStatus('Joining the lesson…');
    const conn = this.connection;
    byId('lobby-leave').addEventListener('click', () => conn.leave(), { signal: this.abort.signal });
    conn.addEventListener('state', (ev) => this.onState(/** @type {CustomEvent} */ (ev).detail.state));
    conn.addEventListener('waiting', () => this.onWaiting());
    conn.addEventListener('joined', (ev) => this.onJoined(/** @type {CustomEvent} */ (ev).detail.role));
    conn.addEventListener('problem', (ev) => {
      const { code } = /** @type {CustomEvent} */ (ev).detail;
      if (code === 'recording_unavailable') {
        this.recording = false;
        this.showRecording();
        return;
      }
      this.setStatus(explain(code).text, true);
    });
    conn.addEventListener('closed', (ev) => {
      const { code } = /** @type {CustomEvent} */ (ev).detail;
      this.destroyController();
      this.abort.abort();
      byId('lobby-wait').hidden = true;
      if (!this.stopped) this.onClosed(code);
    });
    conn.start();
  }

  /** Leaves the lesson because the user navigated away or signed out. */
  stop() {
    this.stopped = true;
    this.connection.leave();
    this.destroyController();
    this.abort.abort();
  }

  destroyController() {
    if (this.controller) this.controller.destroy();
    this.controller = null;
    this.controllerRole = null;
  }

  /** In the lobby: nothing of the lesson is shown until a teacher lets us in. */
  onWaiting() {
    this.destroyController();
    byId('teacher-console').hidden = true;
    byId('pupil-view').hidden = true;
    byId('lobby-wait').hidden = false;
  }

  /**
   * Shows the controls of this person's role in the lesson (reconnections keep them).
   * @param {Role} role
   */
  onJoined(role) {
    byId('lobby-wait').hidden = true;
    if (this.controller && this.controllerRole === role) return;
    this.destroyController();
    const teacher = role === 'teacher';
    byId('teacher-console').hidden = !teacher;
    byId('pupil-view').hidden = teacher;
    this.controllerRole = role;
    this.controller = teacher ? new TeacherConsole(this.connection, this) : new PupilView(this.connection, this);
    this.controller.start();
    if (role === 'guest') this.setStatus('The teacher let you in. You are in the lesson as a guest.');
  }

  /** @param {string} state */
  onState(state) {
    if (state === 'connecting') this.setStatus('Joining the lesson…');
    else if (state === 'reconnecting') this.setStatus('Connection lost. Reconnecting…', true);
    else if (state === 'waiting') this.setStatus('You are waiting for the teacher to let you in.');
    else if (state === 'joined') this.setStatus('You are in the lesson.');
    if (!this.recording && (state === 'joined' || state === 'connecting')) this.showRecording();
  }

  /** The recording indicator; while not recording, a warning that stays in the status line. */
  showRecording() {
    byId('rec-badge').classList.toggle('rec-badge-off', !this.recording);
    byId('rec-badge-text').textContent = this.recording ? 'Recording' : 'Not recording';
    if (this.recording) return;
    const words = this.user.role === 'teacher' ? explainFor('recording_unavailable', 'teacher') : explain('recording_unavailable');
    this.setStatus(words.text, true);
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
