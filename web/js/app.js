// Entry module of the web client (index.html): routing between views (sign-in, home, recording
// notice, message, lesson), sign-in and sign-out, and the read-only `window.livegate` debug hook.
// Routes, each drawn by one role folder: `#/` home (home/), `#/lessons/<id>` the recording
// notice and then the lesson itself (lesson/), `#/set-password?token=...` the page an invite or
// reset link opens, no sign-in needed (account/), `#/admin/<section>` the superuser's
// administration pages (admin/; a superuser's home), `#/recordings[/<id>]` the safeguarding
// leader's recording pages (leader/; a leader's home), `#/conduct` the school's code of conduct
// for anyone signed in (home/). The livestream log is its own page
// (log.html, log/).
//
// Imports only go down (web/README.md): this module may import lib/ and each role folder's
// index.js; a role folder imports lib/ and its own files, never another role; lib/ imports only
// lib/. tests/browser/test/web-modules.test.js keeps the rule.
// @ts-check

import * as api from './lib/api.js';
import { ApiError } from './lib/api.js';
import { ASK_WORDS, explain, explainFor } from './lib/messages.js';
import { announce, byId, firstView, showView, view } from './lib/dom.js';
import { openConduct, renderHome, renderReadiness } from './home/index.js';
import {
  explainSso, openSecondFactor, openSetPassword, openTwoStep, setPasswordToken, showSsoButtons, ssoRefusal,
} from './account/index.js';
import { LessonView } from './lesson/index.js';
import { adminRoute, openAdmin, resetAdmin } from './admin/index.js';
import { leaderRoute, leaveLeader, openLeader, resetLeader } from './leader/index.js';

/** @typedef {import('./lib/api.js').User} User */
/** @typedef {import('./lib/api.js').ClassSummary} ClassSummary */
/** @typedef {import('./lib/api.js').LessonSummary} LessonSummary */

const HOME_REFRESH_MS = 8_000;
/** The account's two-step sign-in page (account/second-factor.js). */
const TWO_STEP = '#/account/two-step';

const app = {
  /** @type {User | null} */
  user: null,
  /** @type {ClassSummary[]} */
  classes: [],
  /** @type {LessonView | null} */
  lesson: null,
  /** @type {LessonSummary | null} */
  noticeLesson: null,
  /** @type {ClassSummary | null} a class whose lesson the teacher starts from the notice */
  noticeClass: null,
  /** The school's recording notice (GET /api/me), shown before a teacher starts a lesson. */
  recordingNotice: '',
  /** False when a lesson started now could not be recorded (GET /api/me). */
  recordingReady: true,
  /** @type {ReturnType<typeof setInterval> | null} */
  homeTimer: null,
  /** Bumped on every navigation so late responses for an old route are ignored. */
  navigation: 0,
};

/** @returns {string | null} */
function lessonIdFromHash() {
  const m = /^#\/lessons\/([A-Za-z0-9_-]{1,128})$/.exec(location.hash);
  return m ? m[1] : null;
}

/** @param {string} hash */
function go(hash) {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

async function route() {
  const nav = ++app.navigation;
  stopHomeRefresh();
  if (!leaderRoute()) leaveLeader();
  const lessonId = lessonIdFromHash();
  if (app.lesson && app.lesson.lessonId !== lessonId) leaveLesson();
  if (app.lesson) return; // already in this lesson
  const refused = ssoRefusal();
  if (refused) {
    // Back from the school's sign-in page without a session: say why, then sign in again.
    showMessage(refused, () => { history.replaceState(null, '', '#/'); void route(); }, explainSso(refused));
    return;
  }
  const token = setPasswordToken();
  if (token !== null) {
    openSetPassword(token, onPasswordSet);
    return;
  }
  if (!app.user && !(await loadMe(nav))) return;
  if (nav !== app.navigation) return;
  if (location.hash === '#/conduct') {
    await openConduct();
    return;
  }
  if (location.hash === TWO_STEP) {
    await openTwoStep(() => void api.me().then((data) => markTwoStep(data.sign_in), () => {}).finally(() => go('#/')));
    return;
  }
  const admin = adminRoute();
  if (admin || (!lessonId && app.user?.role === 'superuser')) {
    if (app.user?.role !== 'superuser') {
      showMessage('forbidden_role');
      return;
    }
    if (!admin) history.replaceState(null, '', '#/admin/users');
    await openAdmin(admin || { section: 'users', param: null }, go, () => showSignIn());
    return;
  }
  const leader = leaderRoute();
  if (leader || (!lessonId && app.user?.role === 'leader')) {
    if (app.user?.role !== 'leader') {
      showMessage('forbidden_role', undefined, explainFor('forbidden_role', 'leader'));
      return;
    }
    if (!leader) history.replaceState(null, '', '#/recordings');
    await openLeader(leader || { id: null }, go, () => showSignIn());
    return;
  }
  if (lessonId) await openNotice(lessonId, nav);
  else showHome();
}

/**
 * Loads the signed-in user and their classes. Shows the sign-in form when signed out.
 * @param {number} nav
 * @returns {Promise<boolean>} whether a user is signed in
 */
async function loadMe(nav) {
  try {
    const data = await api.me();
    setUser(data.user, data.classes, data.recording_notice, data.recording_ready);
    markTwoStep(data.sign_in);
    return true;
  } catch (err) {
    if (nav !== app.navigation) return false;
    if (err instanceof ApiError && err.code === 'not_signed_in') showSignIn();
    else showMessage(err instanceof ApiError ? err.code : 'internal');
    return false;
  }
}

/**
 * @param {User | null} user @param {ClassSummary[]} classes
 * @param {string} [notice] @param {boolean} [recordingReady]
 */
function setUser(user, classes, notice = '', recordingReady = true) {
  app.user = user;
  app.classes = classes;
  app.recordingNotice = notice;
  app.recordingReady = recordingReady !== false;
  byId('account').hidden = !user;
  byId('account-name').textContent = user ? user.display_name : '';
  byId('account-two-step').hidden = !user || user.role === 'pupil';
}

// ---------------------------------------------------------------- sign-in and sign-out

/** @param {string} [note] a line shown above the form, e.g. after setting a password */
function showSignIn(note = '') {
  setUser(null, []);
  byId('signin-error').textContent = '';
  const noteEl = byId('signin-note');
  noteEl.textContent = note;
  noteEl.hidden = !note;
  showView('signin');
  // Not on the page's first view, where the first Tab goes to the skip link.
  if (!firstView()) byId('signin-email').focus();
  void showSetupNotice();
  const email = /** @type {HTMLInputElement} */ (byId('signin-email'));
  void showSsoButtons(() => email.value, (text) => { byId('signin-error').textContent = text; });
}

/** On a server with no school yet, says so above the sign-in form, with the command to run. */
async function showSetupNotice() {
  const notice = byId('signin-setup');
  notice.hidden = true; // never the last page's answer while this one is asked
  try {
    const status = await api.setup();
    byId('signin-setup-command').textContent = status.create_school_command || '';
    notice.hidden = status.has_school;
  } catch {
    notice.hidden = true;
  }
}

function onPasswordSet() {
  // The link is spent; drop it from the address bar. Setting a password ends every session.
  app.navigation++;
  history.replaceState(null, '', '#/');
  showSignIn('Your password is set. Sign in with your email address and your new password.');
}

async function onSignIn(/** @type {SubmitEvent} */ ev) {
  ev.preventDefault();
  const email = /** @type {HTMLInputElement} */ (byId('signin-email'));
  const password = /** @type {HTMLInputElement} */ (byId('signin-password'));
  const error = byId('signin-error');
  const submit = /** @type {HTMLButtonElement} */ (byId('signin-submit'));
  if (!email.value.trim() || !password.value) {
    error.textContent = 'Enter your email address and password.';
    (email.value.trim() ? password : email).focus();
    return;
  }
  submit.disabled = true;
  error.textContent = '';
  try {
    const answer = await api.signIn(email.value.trim(), password.value);
    password.value = '';
    // An account with two-step sign-in answers a correct password with a pending sign-in.
    if (answer && 'pending' in answer) {
      openSecondFactor(answer.pending, () => void afterSignIn(), () => showSignIn());
      return;
    }
    await afterSignIn();
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 'internal';
    error.textContent = explainSso(code).text;
    password.focus();
  } finally {
    submit.disabled = false;
  }
}

/**
 * Loads who signed in and goes on: to the two-step set-up first when their role needs it and
 * they have none (superusers and leaders, teachers where the school says), else where they were
 * going.
 */
async function afterSignIn() {
  const data = await api.me();
  setUser(data.user, data.classes, data.recording_notice, data.recording_ready);
  const state = data.sign_in;
  markTwoStep(state);
  // A leader's pages (recordings) need two factors, so they set it up first; a superuser's
  // pages do not yet, so the top bar asks them to (markTwoStep).
  if (needsTwoStep(state) && data.user.role !== 'superuser') go(TWO_STEP);
  else await route();
}

/**
 * True when the person's role needs two-step sign-in and they have none.
 * @param {import('./lib/api.js').SignInState | undefined} state
 */
function needsTwoStep(state) {
  return Boolean(state && state.second_factor_required && !state.totp_enrolled && !state.two_factors);
}

/**
 * The top bar's two-step link: a call to set it up while the role needs it and it is not.
 * @param {import('./lib/api.js').SignInState | undefined} state
 */
function markTwoStep(state) {
  const link = byId('account-two-step');
  const needed = needsTwoStep(state);
  link.textContent = needed ? 'Set up two-step' : 'Two-step sign-in';
  link.classList.toggle('btn-primary', needed);
  link.classList.toggle('btn-quiet', !needed);
}

async function onSignOut() {
  leaveLesson();
  try {
    await api.signOut();
  } catch (err) {
    console.warn('livegate: sign-out failed', err);
  }
  app.navigation++;
  resetAdmin();
  resetLeader();
  history.replaceState(null, '', '#/');
  showSignIn();
}

// ---------------------------------------------------------------- home

function showHome() {
  if (!app.user) return;
  byId('home-error').textContent = '';
  renderHome(app.user, app.classes, homeActions);
  void renderReadiness(app.user.role === 'teacher' ? app.classes : []);
  if (view() !== 'home') showView('home');
  app.homeTimer = setInterval(() => void refreshHome(), HOME_REFRESH_MS);
}

function stopHomeRefresh() {
  if (app.homeTimer) clearInterval(app.homeTimer);
  app.homeTimer = null;
}

async function refreshHome() {
  if (view() !== 'home' || !app.user) return;
  try {
    const data = await api.me();
    if (view() !== 'home') return;
    setUser(data.user, data.classes, data.recording_notice, data.recording_ready);
    renderHome(data.user, data.classes, homeActions);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_signed_in') showSignIn();
  }
}

const homeActions = {
  /**
   * The teacher reads the recording notice first; the lesson starts only when they confirm it
   * ("Start teaching"), so going back from the notice leaves no lesson behind.
   * @param {string} classId
   */
  onStart(classId) {
    const c = app.classes.find((x) => x.id === classId);
    if (!c) return;
    stopHomeRefresh();
    app.noticeLesson = null;
    app.noticeClass = c;
    showNotice(c.name, app.recordingNotice, true, false, !app.recordingReady);
  },
  /** @param {string} lessonId */
  onOpen(lessonId) {
    go(`#/lessons/${lessonId}`);
  },
  /** An account the school does not accept for lessons: sign out, to use the school one. */
  onSignOut() {
    void onSignOut();
  },
};

// ---------------------------------------------------------------- recording notice

/** @param {string} lessonId @param {number} nav */
async function openNotice(lessonId, nav) {
  let lesson;
  try {
    lesson = (await api.getLesson(lessonId)).lesson;
  } catch (err) {
    if (nav === app.navigation) showMessage(err instanceof ApiError ? err.code : 'internal', () => go(location.hash));
    return;
  }
  if (nav !== app.navigation) return;
  if (lesson.state !== 'live') {
    showMessage('lesson_not_live', () => go(location.hash));
    return;
  }
  app.noticeLesson = lesson;
  app.noticeClass = null;
  const mine = app.classes.find((c) => c.id === lesson.class_id);
  const teacher = Boolean(mine && mine.can_teach);
  // Staff who neither teach nor are on the class wait in the lobby until the teacher admits them.
  const visitor = !mine && app.user?.role !== 'pupil';
  showNotice(lesson.class_name, lesson.recording_notice, teacher, visitor, lesson.recording === false);
}

/**
 * The recording notice, before joining (or, for a teacher, before starting) a lesson.
 * @param {string} className
 * @param {string} text
 * @param {boolean} teacher
 * @param {boolean} visitor
 * @param {boolean} notRecording
 */
function showNotice(className, text, teacher, visitor, notRecording) {
  byId('notice-class').textContent = className;
  byId('notice-text').textContent = text;
  byId('notice-role-text').textContent = teacher
    ? 'Your camera and microphone go live for the class when you join. You can share your screen too.'
    : visitor
      ? 'You will wait in the lobby until the teacher lets you in. Your camera and microphone stay off unless the teacher allows them.'
      : 'Your camera and microphone stay off. Your teacher can let you turn them on.';
  byId('notice-join').textContent = teacher ? 'Start teaching' : visitor ? 'Ask to join' : 'Join lesson';
  // Pupils are only admitted while the lesson is recorded: the teacher must know before starting.
  const off = byId('notice-recording-off');
  off.hidden = !(teacher && notRecording);
  off.textContent = off.hidden ? '' : explainFor('recording_unavailable', 'teacher').text;
  byId('notice-error').textContent = '';
  showView('notice');
}

async function onJoin() {
  const user = app.user;
  const start = app.noticeClass;
  if (start && user) {
    // Confirmed: only now does the lesson start (and go live for pupils once we are in it).
    const button = /** @type {HTMLButtonElement} */ (byId('notice-join'));
    if (button.disabled) return;
    button.disabled = true;
    const nav = app.navigation;
    try {
      const { lesson } = await api.startLesson(start.id);
      if (nav !== app.navigation || app.noticeClass !== start) return;
      app.noticeClass = null;
      history.replaceState(null, '', `#/lessons/${lesson.id}`);
      enterLesson(lesson, user);
    } catch (err) {
      byId('notice-error').textContent = explain(err instanceof ApiError ? err.code : 'internal').text;
    } finally {
      button.disabled = false;
    }
    return;
  }
  const lesson = app.noticeLesson;
  if (!lesson || !user) return;
  enterLesson(lesson, user);
}

/** @param {LessonSummary} lesson @param {User} user */
function enterLesson(lesson, user) {
  leaveLesson();
  const lessonView = new LessonView(lesson, user, (code) => {
    if (app.lesson !== lessonView) return;
    app.lesson = null;
    if (code === 'not_signed_in') {
      showSignIn();
      return;
    }
    // The class's teacher reads what stepping out or ending means for the class.
    const words = lessonView.connection.role === 'teacher' ? explainFor(code, 'teacher') : explain(code);
    showMessage(code, () => enterLesson(lesson, user), words);
  });
  app.lesson = lessonView;
  showView('lesson');
  lessonView.start();
}

function leaveLesson() {
  const lesson = app.lesson;
  app.lesson = null;
  if (lesson) lesson.stop();
}

// ---------------------------------------------------------------- messages

/**
 * Shows a full-page explanation of a refusal or of how the lesson ended.
 * @param {string} code
 * @param {(() => void)} [retry]
 * @param {import('./lib/messages.js').Explanation} [words] other wording than explain(code)
 */
function showMessage(code, retry, words = explain(code)) {
  const { title, text, retry: retryHelps } = words;
  if (!retryHelps) retry = undefined;
  byId('message-title').textContent = title;
  const p = byId('message-text');
  p.textContent = text;
  byId('view-message').dataset.code = code;
  const retryButton = byId('message-retry');
  retryButton.hidden = !retry;
  retryButton.onclick = retry ? () => retry() : null;
  // The next step that fits this refusal: who can fix it, the code of conduct to read, or
  // signing out of an account the school does not accept (never for other refusals).
  const ask = byId('message-ask');
  ask.textContent = words.ask ? `Who can help: ${ASK_WORDS[words.ask]}.` : '';
  ask.hidden = !words.ask;
  byId('message-conduct').hidden = !(words.conduct && app.user);
  byId('message-sign-out').hidden = !(words.signOut && app.user);
  byId('message-back').hidden = !app.user;
  showView('message');
  announce(`${title}. ${text}`);
}

// ---------------------------------------------------------------- debug hook for tests

const debugHook = Object.freeze({
  /** The current participant and connection state, as plain data. */
  state() {
    const conn = app.lesson ? app.lesson.connection : null;
    return {
      view: view(),
      user: app.user ? { ...app.user } : null,
      lesson_id: app.lesson ? app.lesson.lessonId : null,
      participant_id: conn ? conn.participantId : null,
      role: conn ? conn.role : null,
      state: conn ? conn.state : 'idle',
      end_code: conn ? conn.endCode : null,
      refusal: view() === 'message' ? byId('view-message').dataset.code || null : null,
      joined_at: conn ? conn.joinedAt : null,
      grants: conn ? [...conn.grants] : [],
      participants: conn ? [...conn.participants.values()].map((p) => ({ ...p })) : [],
      lobby: conn ? conn.lobby.map((w) => ({ ...w })) : [],
    };
  },
  /** Live peer connections: {stream_id, direction: 'recv' | 'send', kind, publisher_id, pc}. */
  peerConnections() {
    return app.lesson ? app.lesson.connection.peerConnections() : [];
  },
});
Object.defineProperty(window, 'livegate', { value: debugHook, writable: false, configurable: false });

// ---------------------------------------------------------------- start-up

function init() {
  byId('signin-form').addEventListener('submit', (ev) => void onSignIn(/** @type {SubmitEvent} */ (ev)));
  byId('sign-out').addEventListener('click', () => void onSignOut());
  byId('notice-join').addEventListener('click', () => void onJoin());
  byId('notice-back').addEventListener('click', () => go('#/'));
  byId('message-back').addEventListener('click', () => go('#/'));
  byId('message-sign-out').addEventListener('click', () => void onSignOut());
  byId('conduct-back').addEventListener('click', () => (history.length > 1 ? history.back() : go('#/')));
  window.addEventListener('hashchange', () => void route());
  void route();
}

init();
