// The teacher's lesson console: own camera, microphone (with a live level meter) and screen,
// each on and off by itself (own-media.js), pupils' streams, the lobby (staff waiting to join,
// with Admit and Refuse, and the lesson's link to give them), and the list of pupils and guests
// in compact rows, raised hands first, with their privacy settings and the controls: lower a
// hand, grant/revoke microphone and camera, turn off what they share (saying exactly what),
// remove. Leaving asks whether to step out (the lesson goes on) or end it; ending and removing
// ask in a dialog that a double click cannot answer (lib/dialog.js).
// @ts-check

import { byId, h, tryPlay, visuallyHidden } from '../lib/dom.js';
import { choose } from '../lib/dialog.js';
import { canShareScreen, mediaTile } from './media.js';
import { OwnMedia } from './own-media.js';
import { SpeakingWatch } from './speaking.js';
import { needsHttps } from '../lib/secure.js';

/** @typedef {import('../lib/signalling.js').LessonConnection} LessonConnection */
/** @typedef {import('../lib/signalling.js').Participant} Participant */
/** @typedef {import('../lib/signalling.js').ReceivedStream} ReceivedStream */
/** @typedef {import('../lib/signalling.js').LobbyEntry} LobbyEntry */
/** @typedef {import('./index.js').LessonView} LessonView */
/** @typedef {import('./status.js').StatusItem} StatusItem */
/** @typedef {import('../lib/api.js').Media} Media */
/** @typedef {import('../lib/api.js').StreamKind} StreamKind */

export class TeacherConsole {
  /**
   * @param {LessonConnection} conn
   * @param {LessonView} shell
   */
  constructor(conn, shell) {
    this.conn = conn;
    this.shell = shell;
    this.own = new OwnMedia(conn, () => {
      this.updateButtons();
      shell.refreshStatus();
    });
    /** @type {Map<string, HTMLElement>} list items by participant id */
    this.items = new Map();
    /** @type {Map<string, HTMLElement>} tiles by stream id */
    this.tiles = new Map();
    this.abort = new AbortController();
    /** @type {SpeakingWatch | null} which pupils are speaking, in words */
    this.speaking = null;
  }

  start() {
    const signal = this.abort.signal;
    const conn = this.conn;
    byId('t-people').replaceChildren();
    byId('t-remote').replaceChildren();
    byId('t-lobby-link').textContent = `${location.origin}/#/lessons/${conn.lessonId}`;
    this.renderLobby();
    this.renderPeople();
    this.updateRemoteEmpty();
    this.updateButtons();
    byId('t-camera').addEventListener('click', () => void this.own.toggleCamera(), { signal });
    byId('t-mic').addEventListener('click', () => void this.own.toggleMic(), { signal });
    byId('t-screen').addEventListener('click', () => void this.own.toggleScreen(), { signal });
    byId('t-leave').addEventListener('click', () => void this.leave(), { signal });
    byId('t-end').addEventListener('click', () => void this.end(), { signal });
    byId('t-people').addEventListener('click', (ev) => void this.onPeopleClick(ev), { signal });
    byId('t-lobby').addEventListener('click', (ev) => void this.onLobbyClick(ev), { signal });
    conn.addEventListener('participants', () => this.renderPeople(), { signal });
    conn.addEventListener('lobby', () => this.renderLobby(), { signal });
    conn.addEventListener('stream-added', (ev) => this.addTile(/** @type {CustomEvent} */ (ev).detail.received), { signal });
    conn.addEventListener('stream-removed', (ev) => this.removeTile(/** @type {CustomEvent} */ (ev).detail.streamId), { signal });
    conn.addEventListener('publication', (ev) => this.onPublication(/** @type {CustomEvent} */ (ev).detail), { signal });
    this.speaking = new SpeakingWatch(conn, 't-speaking', (id) => this.shell.nameOf(id), () => [byId('t-remote')]);
    void this.own.start();
  }

  destroy() {
    this.abort.abort();
    this.speaking?.stop();
    this.own.destroy();
    byId('t-screen-tile').hidden = true;
    byId('teacher-console').classList.remove('is-sharing');
    for (const tile of this.tiles.values()) tile.remove();
    this.tiles.clear();
    this.items.clear();
    byId('t-people').replaceChildren();
    byId('t-lobby').replaceChildren();
  }

  /**
   * What is true now, most important first (index.js draws it).
   * @returns {StatusItem[]}
   */
  status() {
    /** @type {StatusItem[]} */
    const items = [];
    const waiting = this.conn.lobby;
    if (waiting.length > 0) {
      const names = waiting.map((w) => w.display_name).join(', ');
      items.push({ key: 'lobby-waiting', warn: true,
        text: `${names} ${waiting.length === 1 ? 'is' : 'are'} waiting to join. Admit or refuse them in the list.` });
    }
    const own = this.own;
    if (own.error) items.push({ key: 'device', text: own.error, warn: true });
    if (own.screen) items.push({ key: 'sharing', text: 'Your screen is being shared with the class.' });
    const cam = own.camOn;
    const mic = Boolean(own.audio) && own.micOn;
    if (own.busy) items.push({ key: 'starting', text: 'Starting your camera and microphone…' });
    else if (cam && mic) items.push({ key: 'live', text: 'You are live. The class can see and hear you.' });
    else if (mic) items.push({ key: 'camera-off', text: 'Your camera is off. The class can hear you.' });
    else if (cam) items.push({ key: 'mic-off', text: 'Your microphone is off. The class can see you but not hear you.' });
    else items.push({ key: 'all-off', text: 'Your camera and microphone are off. The class cannot see or hear you.' });
    const hands = [...this.conn.participants.values()].filter((p) => p.hand_raised).length;
    if (hands > 0) items.push({ key: 'hands', text: hands === 1 ? 'A hand is raised.' : `${hands} hands are raised.` });
    return items;
  }

  // ---------------------------------------------------------------- leaving and ending

  /** Leave asks: step out (the lesson goes on, pupils are told) or end it for everyone. */
  async leave() {
    const answer = await choose({
      title: 'Leave the lesson?',
      text: 'Pupils stay in the lesson, and it is still recorded, until you come back or end it.',
      choices: [
        { value: 'step-out', label: 'Step out', cls: 'btn-primary',
          hint: 'pupils are told you will be back; rejoin from your classes. The lesson ends by itself if you stay away.' },
        { value: 'end', label: 'End lesson for everyone', cls: 'btn-danger' },
      ],
      cancel: 'Stay',
    });
    if (answer === 'step-out') this.conn.leave();
    else if (answer === 'end') this.conn.endLesson();
  }

  async end() {
    const answer = await choose({
      title: 'End the lesson for everyone?',
      text: 'Everyone leaves the lesson and its recording stops. This cannot be undone.',
      choices: [{ value: 'end', label: 'End lesson for everyone', cls: 'btn-danger' }],
      cancel: 'Keep teaching',
    });
    if (answer === 'end') this.conn.endLesson();
  }

  // ---------------------------------------------------------------- own media

  /** @param {{kind: string, live: boolean, code?: string}} detail */
  onPublication(detail) {
    if (!detail.live) this.own.ended(detail.kind);
    this.shell.refreshStatus();
  }

  updateButtons() {
    const own = this.own;
    const cam = /** @type {HTMLButtonElement} */ (byId('t-camera'));
    cam.textContent = own.camOn ? 'Turn camera off' : 'Turn camera on';
    cam.classList.toggle('is-on', own.camOn);
    cam.disabled = own.busy;
    const micOn = Boolean(own.audio) && own.micOn;
    const mic = /** @type {HTMLButtonElement} */ (byId('t-mic'));
    mic.textContent = micOn ? 'Mute microphone' : 'Unmute microphone';
    mic.classList.toggle('is-on', micOn);
    mic.disabled = own.busy;
    byId('t-mic-label').textContent = micOn ? 'Microphone level' : 'Microphone off';
    const screen = byId('t-screen');
    screen.textContent = own.screen ? 'Stop sharing' : 'Share screen';
    screen.classList.toggle('is-on', Boolean(own.screen));
    // On an http:// address the browser hides screen sharing too: the button stays, and says why.
    const canShare = canShareScreen() || needsHttps();
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
    this.shell.refreshStatus();
  }

  /** @param {Event} ev */
  async onLobbyClick(ev) {
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
      const answer = await choose({
        title: `Refuse ${entry.display_name}?`,
        text: 'They are told you did not let them in, and cannot ask again in this lesson.',
        choices: [{ value: 'refuse', label: `Refuse ${entry.display_name}`, cls: 'btn-danger' }],
      });
      if (answer === 'refuse' && this.conn.lobby.some((w) => w.participant_id === id)) this.conn.refuse(id);
    }
  }

  // ---------------------------------------------------------------- pupil list and controls

  /** Compact rows, raised hands first (in the order they came), then by name. */
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
    const order = [...pupils].sort((a, b) => Number(b.hand_raised) - Number(a.hand_raised)
      || a.display_name.localeCompare(b.display_name, undefined, { numeric: true }));
    // Moving a row loses nothing: the buttons are the same elements, so focus stays.
    order.forEach((p, i) => {
      const item = this.items.get(p.id);
      if (item && list.children[i] !== item) list.insertBefore(item, list.children[i] || null);
    });
    byId('t-count').textContent = `(${pupils.length})`;
    byId('t-people-empty').hidden = pupils.length > 0;
    const hands = pupils.filter((p) => p.hand_raised).length;
    byId('t-people-title').dataset.hands = String(hands);
    this.shell.refreshStatus();
  }

  /** @param {Event} ev */
  async onPeopleClick(ev) {
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
    } else if (action === 'lower') {
      this.conn.lowerHand(id);
    } else if (action === 'mute') {
      const what = sharedWords(p.publishing);
      if (!what) return;
      this.conn.mute(id);
      this.shell.note('muted', `You turned off ${p.display_name}'s ${what}. They can turn it on again while they have your permission.`);
    } else if (action === 'remove') {
      const answer = await choose({
        title: `Remove ${p.display_name} from the lesson?`,
        text: 'They leave at once and cannot join this lesson again.',
        choices: [{ value: 'remove', label: `Remove ${p.display_name}`, cls: 'btn-danger' }],
      });
      if (answer === 'remove' && this.conn.participants.has(id)) this.conn.remove(id);
    }
  }
}

/**
 * "microphone", "camera", "microphone and camera"...: what a list of stream kinds shares.
 * @param {StreamKind[]} kinds
 */
function sharedWords(kinds) {
  const words = ['microphone', 'camera', 'screen'].filter((k) => kinds.includes(/** @type {StreamKind} */ (k)));
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
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
  return h('li', { class: 'person person-row', 'data-participant-id': id }, [
    h('div', { class: 'person-head' }, [
      h('span', { class: 'person-name' }),
      h('span', { class: 'badge badge-hand', hidden: true }, ['Hand raised']),
      h('span', { class: 'badge badge-live', hidden: true }),
    ]),
    h('p', { class: 'person-note hint', hidden: true }),
    h('div', { class: 'person-actions' }, [
      button('lower', 'btn-secondary'),
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
  const lower = q('button[data-action="lower"]');
  setLabel(lower, 'Lower hand', p.display_name);
  lower.hidden = !p.hand_raised;
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
  // "Turn off" names exactly what it turns off; with nothing shared there is nothing to turn off.
  const mute = /** @type {HTMLButtonElement} */ (q('button[data-action="mute"]'));
  const what = sharedWords(p.publishing);
  const short = what === 'microphone' ? 'mic' : what.replace('microphone', 'mic');
  setLabel(mute, `Turn off ${short}`, p.display_name);
  mute.hidden = !what;
  setLabel(q('button[data-action="remove"]'), 'Remove', p.display_name);
}
