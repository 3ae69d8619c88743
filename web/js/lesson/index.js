// The live lesson (`#/lessons/<id>`, after the recording notice), entry of the lesson/ folder:
// the view shell shared by everyone in it. Creates the LessonConnection (lib/signalling.js),
// shows the lesson title next to the always-visible recording indicator, the waiting panels (a
// visiting member of staff in the lobby; a pupil who arrived before the teacher, moved in by
// the server's push when the teacher arrives), and hands role-specific work to teacher.js (the
// class's teacher) or pupil.js (pupils, and guests let in from the lobby) once the server says
// which role this person has in the lesson; media.js has the tiles both use.
//
// The status line is one state-driven area (status.js): it is drawn afresh from the
// connection's state and the role's own states (sharing, lobby, teacher away, what the teacher
// turned off) whenever any of them changes, so it never keeps a sentence that has stopped being
// true. When the lesson is not being recorded (`lesson.recording` false, or the server reports
// `recording_unavailable`), the indicator says "Not recording" and the teacher is told that
// pupils cannot join. lesson/ imports lib/ and its own files, never another role.
// @ts-check

import { LessonConnection } from '../lib/signalling.js';
import { explain, explainFor } from '../lib/messages.js';
import { byId } from '../lib/dom.js';
import { dismiss } from '../lib/dialog.js';
import { TeacherConsole } from './teacher.js';
import { PupilView } from './pupil.js';
import { StatusArea } from './status.js';

/** @typedef {import('../lib/api.js').User} User */
/** @typedef {import('../lib/api.js').LessonSummary} LessonSummary */
/** @typedef {import('../lib/signalling.js').Role} Role */
/** @typedef {import('./status.js').StatusItem} StatusItem */

/**
 * What the role-specific controllers implement: `status()` lists the states worth saying now,
 * most important first.
 * @typedef {{start(): void, destroy(): void, status(): StatusItem[]}} RoleController
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
    this.status = new StatusArea(byId('lesson-status'), () => this.statusItems());
  }

  start() {
    byId('lesson-title').textContent = this.lesson.class_name;
    this.showRecording();
    byId('teacher-console').hidden = true;
    byId('pupil-view').hidden = true;
    byId('lobby-wait').hidden = true;
    byId('teacher-wait').hidden = true;
    const conn = this.connection;
    const signal = this.abort.signal;
    byId('lobby-leave').addEventListener('click', () => conn.leave(), { signal });
    byId('teacher-wait-leave').addEventListener('click', () => conn.leave(), { signal });
    conn.addEventListener('state', (ev) => this.onState(/** @type {CustomEvent} */ (ev).detail.state));
    conn.addEventListener('waiting', () => this.onWaiting());
    conn.addEventListener('joined', (ev) => this.onJoined(/** @type {CustomEvent} */ (ev).detail.role));
    conn.addEventListener('flow', () => this.refreshStatus());
    conn.addEventListener('problem', (ev) => {
      const { code } = /** @type {CustomEvent} */ (ev).detail;
      if (code === 'recording_unavailable') {
        this.recording = false;
        this.showRecording();
        return;
      }
      this.note('problem', explain(code).text, true);
    });
    conn.addEventListener('closed', (ev) => {
      const { code } = /** @type {CustomEvent} */ (ev).detail;
      this.destroyController();
      this.abort.abort();
      this.status.stop();
      dismiss();
      byId('lobby-wait').hidden = true;
      byId('teacher-wait').hidden = true;
      if (!this.stopped) this.onClosed(code);
    });
    this.refreshStatus();
    conn.start();
  }

  /** Leaves the lesson because the user navigated away or signed out. */
  stop() {
    this.stopped = true;
    this.connection.leave();
    this.destroyController();
    this.abort.abort();
    this.status.stop();
    dismiss();
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
    byId('teacher-wait').hidden = true;
    if (this.controller && this.controllerRole === role) return;
    this.destroyController();
    const teacher = role === 'teacher';
    byId('teacher-console').hidden = !teacher;
    byId('pupil-view').hidden = teacher;
    this.controllerRole = role;
    this.controller = teacher ? new TeacherConsole(this.connection, this) : new PupilView(this.connection, this);
    this.controller.start();
    if (role === 'guest') this.note('guest', 'The teacher let you in. You are in the lesson as a guest.');
    this.refreshStatus();
  }

  /** @param {string} state */
  onState(state) {
    // Waiting for the teacher: the page stays, and moves in by itself when they arrive.
    const held = state === 'held';
    byId('teacher-wait').hidden = !held;
    if (held && !this.controller) byId('pupil-view').hidden = true;
    this.refreshStatus();
  }

  /**
   * The states worth saying now, most important first: the connection's, the recording's,
   * recent events, then the role's own.
   * @returns {StatusItem[]}
   */
  statusItems() {
    const conn = this.connection;
    /** @type {StatusItem[]} */
    const items = [];
    const state = conn.state;
    if (state === 'connecting') items.push({ key: 'connecting', text: 'Joining the lesson…' });
    else if (state === 'reconnecting') items.push({ key: 'reconnecting', text: 'Connection lost. Reconnecting…', warn: true });
    else if (state === 'waiting') items.push({ key: 'lobby', text: 'You are waiting for the teacher to let you in.' });
    else if (state === 'held') {
      items.push({ key: 'held', text: 'Waiting for your teacher.' });
    } else if (state === 'joined' && conn.frozen) {
      items.push({ key: 'frozen', text: 'Your connection is frozen. Reconnecting…', warn: true });
    }
    if (!this.recording) {
      const words = this.user.role === 'teacher' ? explainFor('recording_unavailable', 'teacher') : explain('recording_unavailable');
      items.push({ key: 'not-recording', text: words.text, warn: true });
    }
    if (state === 'joined' && this.controller) items.push(...this.controller.status());
    return items;
  }

  /** Draws the status area again: call after any state it reads has changed. */
  refreshStatus() {
    this.status.refresh();
  }

  /**
   * Says that something just happened, for a few seconds (states say what is still true).
   * @param {string} key
   * @param {string} text
   * @param {boolean} [warn]
   */
  note(key, text, warn = false) {
    this.status.note({ key, text, warn });
  }

  /** The recording indicator; while not recording, the status area says so. */
  showRecording() {
    byId('rec-badge').classList.toggle('rec-badge-off', !this.recording);
    byId('rec-badge-text').textContent = this.recording ? 'Recording' : 'Not recording';
    this.refreshStatus();
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
