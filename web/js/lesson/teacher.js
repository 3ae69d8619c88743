// The teacher's lesson console: own camera preview and publishing (camera + mic), optional
// screen share, pupils' streams, the lobby (staff waiting to join, with Admit and Refuse, and
// the lesson's link to give them), and the list of pupils and guests with hand-raised state,
// their privacy settings, and the controls grant/revoke microphone and camera, mute, remove;
// end the lesson.
// @ts-check

import { byId, h, tryPlay, visuallyHidden } from '../lib/dom.js';
import { canShareScreen, deviceError, mediaTile, stopTracks } from './media.js';

/** @typedef {import('../lib/signalling.js').LessonConnection} LessonConnection */
/** @typedef {import('../lib/signalling.js').Participant} Participant */
/** @typedef {import('../lib/signalling.js').ReceivedStream} ReceivedStream */
/** @typedef {import('../lib/signalling.js').LobbyEntry} LobbyEntry */
/** @typedef {import('./index.js').LessonView} LessonView */
/** @typedef {import('../lib/api.js').Media} Media */

const CONFIRM_MS = 4_000;

export class TeacherConsole {
  /**
   * @param {LessonConnection} conn
   * @param {LessonView} shell
   */
  constructor(conn, shell) {
    this.conn = conn;
    this.shell = shell;
    /** @type {MediaStream | null} */
    this.camera = null;
    /** @type {MediaStream | null} */
    this.screen = null;
    /** @type {Map<string, HTMLElement>} list items by participant id */
    this.items = new Map();
    /** @type {Map<string, HTMLElement>} tiles by stream id */
    this.tiles = new Map();
    /** @type {Set<string>} lobby entries already announced */
    this.knocked = new Set();
    this.cameraBusy = false;
    this.abort = new AbortController();
  }

  start() {
    const signal = this.abort.signal;
    const conn = this.conn;
    byId('t-people').replaceChildren();
    byId('t-remote').replaceChildren();
    this.resetConfirm(byId('t-end'), 'End lesson');
    byId('t-lobby-link').textContent = `${location.origin}/#/lessons/${conn.lessonId}`;
    this.renderLobby();
    this.renderPeople();
    this.updateRemoteEmpty();
    this.updateButtons();
    byId('t-camera').addEventListener('click', () => void this.toggleCamera(), { signal });
    byId('t-screen').addEventListener('click', () => void this.toggleScreen(), { signal });
    byId('t-leave').addEventListener('click', () => conn.leave(), { signal });
    byId('t-end').addEventListener('click', (ev) => {
      const button = /** @type {HTMLButtonElement} */ (ev.currentTarget);
      if (this.confirmFirst(button, 'Confirm: end for everyone', 'End lesson')) conn.endLesson();
    }, { signal });
    byId('t-people').addEventListener('click', (ev) => this.onPeopleClick(ev), { signal });
    byId('t-lobby').addEventListener('click', (ev) => this.onLobbyClick(ev), { signal });
    conn.addEventListener('participants', () => this.renderPeople(), { signal });
    conn.addEventListener('lobby', () => this.renderLobby(), { signal });
    conn.addEventListener('stream-added', (ev) => this.addTile(/** @type {CustomEvent} */ (ev).detail.received), { signal });
    conn.addEventListener('stream-removed', (ev) => this.removeTile(/** @type {CustomEvent} */ (ev).detail.streamId), { signal });
    conn.addEventListener('publication', (ev) => this.onPublication(/** @type {CustomEvent} */ (ev).detail), { signal });
    void this.startCamera();
  }

  destroy() {
    this.abort.abort();
    stopTracks(this.camera);
    stopTracks(this.screen);
    this.camera = null;
    this.screen = null;
    /** @type {HTMLVideoElement} */ (byId('t-preview')).srcObject = null;
    /** @type {HTMLVideoElement} */ (byId('t-screen-preview')).srcObject = null;
    byId('t-screen-tile').hidden = true;
    for (const tile of this.tiles.values()) tile.remove();
    this.tiles.clear();
    this.items.clear();
    byId('t-people').replaceChildren();
    byId('t-lobby').replaceChildren();
  }

  // ---------------------------------------------------------------- own camera and screen

  async startCamera() {
    if (this.camera || this.cameraBusy) return;
    this.cameraBusy = true;
    this.updateButtons();
    try {
      const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      if (this.abort.signal.aborted) {
        stopTracks(media);
        return;
      }
      this.camera = media;
      const preview = /** @type {HTMLVideoElement} */ (byId('t-preview'));
      preview.muted = true;
      preview.srcObject = media;
      void tryPlay(preview);
      this.conn.publish('camera', media);
    } catch (err) {
      this.shell.setStatus(`Your camera and microphone did not start. ${deviceError(err)}`, true);
    } finally {
      this.cameraBusy = false;
      this.updateButtons();
    }
  }

  stopCamera() {
    this.conn.unpublish('camera');
    stopTracks(this.camera);
    this.camera = null;
    /** @type {HTMLVideoElement} */ (byId('t-preview')).srcObject = null;
    this.updateButtons();
  }

  async toggleCamera() {
    if (this.camera) this.stopCamera();
    else await this.startCamera();
  }

  async toggleScreen() {
    if (this.screen) {
      this.stopScreen();
      return;
    }
    let media;
    try {
      media = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      this.shell.setStatus(`Screen sharing did not start. ${deviceError(err)}`, true);
      return;
    }
    if (this.abort.signal.aborted) {
      stopTracks(media);
      return;
    }
    this.screen = media;
    for (const track of media.getVideoTracks()) {
      // The browser's own "Stop sharing" bar ends the track.
      track.addEventListener('ended', () => { if (this.screen === media) this.stopScreen(); });
    }
    const preview = /** @type {HTMLVideoElement} */ (byId('t-screen-preview'));
    preview.muted = true;
    preview.srcObject = media;
    byId('t-screen-tile').hidden = false;
    void tryPlay(preview);
    this.conn.publish('screen', new MediaStream(media.getVideoTracks()));
    this.updateButtons();
  }

  stopScreen() {
    this.conn.unpublish('screen');
    stopTracks(this.screen);
    this.screen = null;
    /** @type {HTMLVideoElement} */ (byId('t-screen-preview')).srcObject = null;
    byId('t-screen-tile').hidden = true;
    this.updateButtons();
  }

  /** @param {{kind: string, live: boolean, code?: string}} detail */
  onPublication(detail) {
    if (detail.live) {
      this.shell.setStatus(detail.kind === 'screen'
        ? 'Your screen is being shared with the class.'
        : 'You are live. The class can see and hear you.');
      return;
    }
    if (detail.kind === 'camera' && this.camera) {
      stopTracks(this.camera);
      this.camera = null;
      /** @type {HTMLVideoElement} */ (byId('t-preview')).srcObject = null;
      this.shell.setStatus('Your camera stopped. Choose "Turn camera on" to try again.', true);
    } else if (detail.kind === 'screen' && this.screen) {
      stopTracks(this.screen);
      this.screen = null;
      byId('t-screen-tile').hidden = true;
      this.shell.setStatus('Screen sharing stopped.', true);
    }
    this.updateButtons();
  }

  updateButtons() {
    const cam = /** @type {HTMLButtonElement} */ (byId('t-camera'));
    cam.textContent = this.camera ? 'Turn camera off' : 'Turn camera on';
    cam.classList.toggle('is-on', Boolean(this.camera));
    cam.disabled = this.cameraBusy;
    const screen = byId('t-screen');
    screen.textContent = this.screen ? 'Stop sharing' : 'Share screen';
    screen.classList.toggle('is-on', Boolean(this.screen));
    const canShare = canShareScreen();
    screen.hidden = !canShare;
    byId('t-screen-note').hidden = canShare;
  }

  // ---------------------------------------------------------------- pupils' streams

  /** @param {ReceivedStream} received */
  addTile(received) {
    this.removeTile(received.streamId);
    const { tile, media } = mediaTile(received, this.shell.nameOf(received.publisherId));
    this.tiles.set(received.streamId, tile);
    byId('t-remote').append(tile);
    void tryPlay(media);
    this.updateRemoteEmpty();
  }

  /** @param {string} streamId */
  removeTile(streamId) {
    const tile = this.tiles.get(streamId);
    if (!tile) return;
    tile.remove();
    this.tiles.delete(streamId);
    this.updateRemoteEmpty();
  }

  updateRemoteEmpty() {
    byId('t-remote-empty').hidden = this.tiles.size > 0;
  }

  // ---------------------------------------------------------------- the lobby

  renderLobby() {
    const waiting = this.conn.lobby;
    byId('t-lobby').replaceChildren(...waiting.map(lobbyItem));
    byId('t-lobby-count').textContent = waiting.length ? `(${waiting.length})` : '';
    byId('t-lobby-empty').hidden = waiting.length > 0;
    const fresh = waiting.filter((w) => !this.knocked.has(w.participant_id));
    if (fresh.length > 0) {
      const names = fresh.map((w) => w.display_name).join(', ');
      this.shell.setStatus(`${names} ${fresh.length === 1 ? 'is' : 'are'} waiting to join. Admit or refuse them in the list.`, true);
    }
    this.knocked = new Set(waiting.map((w) => w.participant_id));
  }

  /** @param {Event} ev */
  onLobbyClick(ev) {
    const target = /** @type {HTMLElement} */ (ev.target);
    const button = /** @type {HTMLButtonElement | null} */ (target.closest('button[data-action]'));
    const item = target.closest('li[data-participant-id]');
    if (!button || !(item instanceof HTMLElement) || button.disabled) return;
    const id = item.dataset.participantId || '';
    const entry = this.conn.lobby.find((w) => w.participant_id === id);
    if (!entry) return;
    if (button.dataset.action === 'admit') {
      button.disabled = true;
      this.conn.admit(id);
    } else if (button.dataset.action === 'refuse') {
      if (this.confirmFirst(button, 'Confirm refuse', 'Refuse', entry.display_name)) {
        button.disabled = true;
        this.conn.refuse(id);
      }
    }
  }

  // ---------------------------------------------------------------- pupil list and controls

  renderPeople() {
    const list = byId('t-people');
    const pupils = [...this.conn.participants.values()]
      .filter((p) => p.id !== this.conn.participantId && p.role !== 'teacher');
    const seen = new Set();
    for (const p of pupils) {
      let item = this.items.get(p.id);
      if (!item) {
        item = personItem(p.id);
        this.items.set(p.id, item);
        list.append(item);
      }
      updatePersonItem(item, p);
      seen.add(p.id);
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    byId('t-count').textContent = `(${pupils.length})`;
    byId('t-people-empty').hidden = pupils.length > 0;
    const hands = pupils.filter((p) => p.hand_raised).length;
    byId('t-people-title').dataset.hands = String(hands);
  }

  /** @param {Event} ev */
  onPeopleClick(ev) {
    const target = /** @type {HTMLElement} */ (ev.target);
    const button = /** @type {HTMLButtonElement | null} */ (target.closest('button[data-action]'));
    const item = target.closest('li[data-participant-id]');
    if (!button || !(item instanceof HTMLElement) || button.disabled) return;
    const id = item.dataset.participantId || '';
    const p = this.conn.participants.get(id);
    if (!p) return;
    const action = button.dataset.action;
    if (action === 'microphone' || action === 'camera') {
      const media = /** @type {Media} */ (action);
      if (p.grants.includes(media)) this.conn.revoke(id, media);
      else this.conn.grant(id, media);
    } else if (action === 'mute') {
      this.conn.mute(id);
    } else if (action === 'remove') {
      if (this.confirmFirst(button, 'Confirm remove', 'Remove', p.display_name)) this.conn.remove(id);
    }
  }

  /**
   * Two-step confirmation without a modal dialog: the first press changes the label, a second
   * press within a few seconds confirms.
   * @param {HTMLButtonElement} button
   * @param {string} confirmLabel
   * @param {string} label
   * @param {string} [name] appended for screen readers ("Remove for Ada")
   * @returns {boolean} true when confirmed
   */
  confirmFirst(button, confirmLabel, label, name) {
    if (button.dataset.confirming === '1') {
      this.resetConfirm(button, label, name);
      return true;
    }
    button.dataset.confirming = '1';
    button.classList.add('is-confirming');
    setLabel(button, confirmLabel, name);
    setTimeout(() => {
      if (button.dataset.confirming === '1') this.resetConfirm(button, label, name);
    }, CONFIRM_MS);
    return false;
  }

  /** @param {HTMLElement} button @param {string} label @param {string} [name] */
  resetConfirm(button, label, name) {
    delete button.dataset.confirming;
    button.classList.remove('is-confirming');
    setLabel(button, label, name);
  }
}

/**
 * Sets a button's visible label, adding " for <name>" for screen readers.
 * @param {HTMLElement} button
 * @param {string} label
 * @param {string} [name]
 */
function setLabel(button, label, name) {
  button.replaceChildren(label);
  if (name) button.append(visuallyHidden(` for ${name}`));
}

/**
 * One person waiting in the lobby: who they are (name, role, email domain) and the choices.
 * @param {LobbyEntry} w
 */
function lobbyItem(w) {
  const button = (/** @type {string} */ action, /** @type {string} */ cls, /** @type {string} */ label) => {
    const b = h('button', { type: 'button', class: `btn btn-small ${cls}`, 'data-action': action });
    setLabel(b, label, w.display_name);
    return b;
  };
  return h('li', { class: 'person person-lobby', 'data-participant-id': w.participant_id, 'data-name': w.display_name }, [
    h('div', { class: 'person-head' }, [h('span', { class: 'person-name' }, [w.display_name])]),
    h('p', { class: 'person-note hint' }, [`${ROLE_WORDS[w.role] || 'Staff'} · ${w.domain}`]),
    h('div', { class: 'person-actions' }, [
      button('admit', 'btn-primary', 'Admit'),
      button('refuse', 'btn-danger-quiet', 'Refuse'),
    ]),
  ]);
}

/** @type {Record<string, string>} */
const ROLE_WORDS = {
  teacher: 'Teacher', leader: 'School leader', superuser: 'School administrator', external: 'Visiting staff',
};

/** @param {string} id */
function personItem(id) {
  const button = (/** @type {string} */ action, /** @type {string} */ cls) =>
    h('button', { type: 'button', class: `btn btn-small ${cls}`, 'data-action': action });
  return h('li', { class: 'person', 'data-participant-id': id }, [
    h('div', { class: 'person-head' }, [
      h('span', { class: 'person-name' }),
      h('span', { class: 'badge badge-hand', hidden: true }, ['Hand raised']),
      h('span', { class: 'badge badge-live', hidden: true }),
    ]),
    h('p', { class: 'person-note hint', hidden: true }),
    h('div', { class: 'person-actions' }, [
      button('microphone', 'btn-secondary'),
      button('camera', 'btn-secondary'),
      button('mute', 'btn-secondary'),
      button('remove', 'btn-danger-quiet'),
    ]),
  ]);
}

/**
 * Updates one list item in place, so keyboard focus stays on the button that was pressed.
 * @param {HTMLElement} item
 * @param {Participant} p
 */
function updatePersonItem(item, p) {
  const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (item.querySelector(sel));
  q('.person-name').textContent = p.display_name;
  item.dataset.name = p.display_name;
  item.classList.toggle('person-hand', p.hand_raised);
  q('.badge-hand').hidden = !p.hand_raised;
  const live = q('.badge-live');
  const words = p.publishing.map((k) => (k === 'microphone' ? 'mic on' : `${k} on`));
  live.hidden = words.length === 0;
  live.textContent = words.join(', ');
  const mic = q('button[data-action="microphone"]');
  const cam = q('button[data-action="camera"]');
  const micGranted = p.grants.includes('microphone');
  const camGranted = p.grants.includes('camera');
  const camLocked = Boolean(p.privacy && p.privacy.camera_always_off);
  setLabel(mic, micGranted ? 'Stop mic' : 'Allow mic', p.display_name);
  setLabel(cam, camGranted ? 'Stop camera' : camLocked ? 'Camera stays off' : 'Allow camera', p.display_name);
  /** @type {HTMLButtonElement} */ (cam).disabled = camLocked && !camGranted;
  const notes = [];
  if (p.role === 'guest') notes.push('Guest from the lobby');
  if (p.privacy && p.privacy.alias) notes.push(`Pupils see "${p.privacy.alias}"`);
  if (p.privacy && p.privacy.hidden_from_pupils) notes.push('Hidden from pupils');
  if (camLocked) notes.push('Camera always off (school setting)');
  const note = q('.person-note');
  note.textContent = notes.join(' · ');
  note.hidden = notes.length === 0;
  mic.classList.toggle('is-on', micGranted);
  cam.classList.toggle('is-on', camGranted);
  const mute = /** @type {HTMLButtonElement} */ (q('button[data-action="mute"]'));
  setLabel(mute, 'Mute', p.display_name);
  mute.disabled = p.publishing.length === 0;
  const remove = q('button[data-action="remove"]');
  if (remove.dataset.confirming !== '1') setLabel(remove, 'Remove', p.display_name);
}
