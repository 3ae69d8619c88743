// The pupil's lesson view, also used by guests the teacher let in from the lobby: the
// teacher's video big (their screen, when shared, takes the stage and the camera moves to a
// thumbnail), microphone and camera off by default and usable only after the teacher's grant
// (the camera never, when the school's privacy setting keeps it off), raise hand, and the list
// of people in the lesson as the server lets this person see it. Its status states (teacher
// away, what the teacher turned off, what is on) are drawn by index.js's status area; the
// stage has a full-screen control, and a phone on its side shows the stage alone (lesson.css).
// @ts-check

import { byId, h, tryPlay } from '../lib/dom.js';
import { deviceError, mediaTile, playOrMute, stopTracks, unmuteAll } from './media.js';
import { SpeakingWatch } from './speaking.js';
import { httpsAdvice, needsHttps } from '../lib/secure.js';

/** @typedef {import('../lib/signalling.js').LessonConnection} LessonConnection */
/** @typedef {import('../lib/signalling.js').ReceivedStream} ReceivedStream */
/** @typedef {import('./index.js').LessonView} LessonView */
/** @typedef {import('./status.js').StatusItem} StatusItem */
/** @typedef {import('../lib/api.js').Media} Media */

/** @typedef {{tile: HTMLElement, media: HTMLMediaElement, received: ReceivedStream}} Tile */

/** How long the teacher must be gone before the class is told they stepped out. */
const AWAY_AFTER_MS = 1_500;

export class PupilView {
  /**
   * @param {LessonConnection} conn
   * @param {LessonView} shell
   */
  constructor(conn, shell) {
    this.conn = conn;
    this.shell = shell;
    /** @type {MediaStream | null} */
    this.mic = null;
    /** @type {MediaStream | null} */
    this.cam = null;
    this.busy = { microphone: false, camera: false };
    this.hand = false;
    /** @type {Set<Media>} grants seen last time, to tell the pupil what changed */
    this.knownGrants = new Set();
    /** @type {Set<string>} what the teacher turned off, until the pupil turns it on again */
    this.turnedOff = new Set();
    /** Whether a teacher was in the lesson at the last look (null before the first). */
    /** @type {boolean | null} */
    this.teacherHere = null;
    /** The last device failure, said until the next attempt. */
    this.error = '';
    /** @type {ReturnType<typeof setTimeout> | null} confirms the teacher's absence */
    this.awayTimer = null;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    this.abort = new AbortController();
    /** @type {SpeakingWatch | null} who is speaking, in words */
    this.speaking = null;
  }

  start() {
    const signal = this.abort.signal;
    const conn = this.conn;
    this.resetDom();
    byId('p-hand').addEventListener('click', () => this.toggleHand(), { signal });
    byId('p-mic').addEventListener('click', () => void this.toggleMic(), { signal });
    byId('p-cam').addEventListener('click', () => void this.toggleCam(), { signal });
    byId('p-leave').addEventListener('click', () => conn.leave(), { signal });
    byId('p-sound').addEventListener('click', () => void this.unlockSound(), { signal });
    byId('p-fullscreen').addEventListener('click', () => void this.toggleFullscreen(), { signal });
    document.addEventListener('fullscreenchange', () => this.updateControls(), { signal });
    conn.addEventListener('participants', () => this.onParticipants(), { signal });
    conn.addEventListener('grants', () => this.onGrants(), { signal });
    conn.addEventListener('stream-added', (ev) => this.addStream(/** @type {CustomEvent} */ (ev).detail.received), { signal });
    conn.addEventListener('stream-removed', (ev) => this.removeStream(/** @type {CustomEvent} */ (ev).detail.streamId), { signal });
    conn.addEventListener('publication', (ev) => this.onPublication(/** @type {CustomEvent} */ (ev).detail), { signal });
    this.speaking = new SpeakingWatch(conn, 'p-speaking', (id) => this.shell.nameOf(id), () => [byId('p-stage'), byId('p-others')]);
    this.updateControls();
  }

  destroy() {
    this.abort.abort();
    this.speaking?.stop();
    if (this.awayTimer) clearTimeout(this.awayTimer);
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
    stopTracks(this.mic);
    stopTracks(this.cam);
    this.mic = null;
    this.cam = null;
    for (const t of this.tiles.values()) {
      t.media.srcObject = null;
      t.tile.remove();
    }
    this.tiles.clear();
    /** @type {HTMLVideoElement} */ (byId('p-self')).srcObject = null;
    byId('p-self-tile').hidden = true;
  }

  resetDom() {
    byId('p-stage').replaceChildren(byId('p-waiting'));
    byId('p-waiting').hidden = false;
    byId('p-others').replaceChildren();
    byId('p-people').replaceChildren();
    byId('p-sound').hidden = true;
    byId('p-self-tile').hidden = true;
  }

  // ---------------------------------------------------------------- received streams

  /** @param {ReceivedStream} received */
  addStream(received) {
    this.removeStream(received.streamId);
    const { tile, media } = mediaTile(received, this.shell.nameOf(received.publisherId));
    this.tiles.set(received.streamId, { tile, media, received });
    this.layout();
  }

  /** @param {string} streamId */
  removeStream(streamId) {
    const t = this.tiles.get(streamId);
    if (!t) return;
    t.media.srcObject = null;
    t.tile.remove();
    this.tiles.delete(streamId);
    this.layout();
  }

  /**
   * Puts the teacher's screen (or, without one, the teacher's camera) on the stage and every
   * other stream in the row below. Moving an element pauses it, so moved ones play again.
   */
  layout() {
    // Only a known teacher takes the stage: a pupil hidden from this list stays in the row.
    const fromTeacher = [...this.tiles.values()].filter((t) => {
      const p = this.conn.participants.get(t.received.publisherId);
      return Boolean(p && p.role === 'teacher');
    });
    const main = fromTeacher.find((t) => t.received.kind === 'screen')
      || fromTeacher.find((t) => t.received.kind === 'camera')
      || null;
    const stage = byId('p-stage');
    const others = byId('p-others');
    /** @type {HTMLMediaElement[]} */
    const toPlay = [];
    for (const t of this.tiles.values()) {
      const parent = t === main ? stage : others;
      t.tile.classList.toggle('tile-main', t === main);
      if (t.tile.parentElement !== parent) {
        parent.append(t.tile);
        toPlay.push(t.media);
      }
    }
    byId('p-waiting').hidden = Boolean(main);
    byId('p-waiting').textContent = this.teacherHere === false
      ? 'Your teacher will be back soon.'
      : fromTeacher.some((t) => t.received.kind === 'microphone')
        ? "Your teacher's camera is off. You can still hear them."
        : "Waiting for your teacher's video…";
    stage.classList.toggle('stage-live', Boolean(main));
    void Promise.all(toPlay.map(playOrMute)).then((ok) => {
      if (!ok.every(Boolean)) byId('p-sound').hidden = false;
    });
  }

  /** The stage (the teacher's video) fills the screen, or goes back. */
  async toggleFullscreen() {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await byId('pupil-view').requestFullscreen({ navigationUI: 'hide' });
    } catch (err) {
      console.warn('livegate: full screen refused', err);
    }
  }

  async unlockSound() {
    const ok = await unmuteAll([byId('p-stage'), byId('p-others')]);
    byId('p-sound').hidden = ok;
  }

  // ---------------------------------------------------------------- people, hand and grants

  onParticipants() {
    const me = this.conn.participantId ? this.conn.participants.get(this.conn.participantId) : undefined;
    if (me) this.hand = me.hand_raised;
    const here = [...this.conn.participants.values()].some((p) => p.role === 'teacher');
    if (here) {
      if (this.awayTimer) clearTimeout(this.awayTimer);
      this.awayTimer = null;
      if (this.teacherHere === false) this.shell.note('teacher-back', 'Your teacher is back.');
      this.teacherHere = true;
    } else if (this.teacherHere === null) {
      this.teacherHere = false;
    } else if (this.teacherHere && !this.awayTimer) {
      // A teacher whose connection is replaced leaves and is back within a moment: only an
      // absence that lasts is news for the class.
      this.awayTimer = setTimeout(() => {
        this.awayTimer = null;
        this.teacherHere = false;
        this.layout();
        this.shell.refreshStatus();
      }, AWAY_AFTER_MS);
    }
    const people = [...this.conn.participants.values()];
    byId('p-people').replaceChildren(...people.map((p) => h('li', { class: 'person-compact' }, [
      p.display_name,
      p.id === this.conn.participantId ? ' (you)' : '',
      p.role === 'teacher' ? ' (teacher)' : '',
      p.role === 'guest' ? ' (guest)' : '',
      p.hand_raised ? h('span', { class: 'badge badge-hand' }, ['Hand raised']) : '',
    ])));
    byId('p-count').textContent = `(${people.length})`;
    this.layout();
    this.updateControls();
    this.shell.refreshStatus();
  }

  /**
   * What is true now, most important first (index.js draws it).
   * @returns {StatusItem[]}
   */
  status() {
    /** @type {StatusItem[]} */
    const items = [];
    if (this.teacherHere === false) {
      items.push({ key: 'teacher-away', warn: true,
        text: 'Your teacher has stepped out. Stay here: the lesson carries on when they are back.' });
    }
    if (this.error) items.push({ key: 'device', text: this.error, warn: true });
    if (this.turnedOff.size > 0) {
      const what = ['microphone', 'camera'].filter((k) => this.turnedOff.has(k)).join(' and ');
      items.push({ key: 'turned-off', text: `Your teacher turned your ${what} off.`, warn: true });
    }
    const on = [this.mic ? 'microphone' : '', this.cam ? 'camera' : ''].filter(Boolean);
    if (on.length > 0) {
      items.push({ key: 'sharing', text: `Your ${on.join(' and ')} ${on.length > 1 ? 'are' : 'is'} on. The class can ${this.cam ? 'see' : 'hear'}${this.cam && this.mic ? ' and hear' : ''} you.` });
    }
    if (this.hand) items.push({ key: 'hand', text: 'Your hand is raised. Your teacher can see it.' });
    if (items.length === 0) items.push({ key: 'in-lesson', text: 'You are in the lesson.' });
    return items;
  }

  toggleHand() {
    this.hand = !this.hand;
    this.conn.setHand(this.hand);
    this.updateControls();
    this.shell.refreshStatus();
  }

  /** Grants given and taken back, said in one sentence however many changed at once. */
  onGrants() {
    const grants = this.conn.grants;
    /** @type {string[]} */
    const given = [];
    for (const media of /** @type {Media[]} */ (['microphone', 'camera'])) {
      if (grants.has(media) && !this.knownGrants.has(media)) {
        given.push(media);
        this.turnedOff.delete(media);
      } else if (!grants.has(media) && this.knownGrants.has(media)) {
        const was = media === 'microphone' ? this.mic : this.cam;
        this.stopLocal(media);
        if (was) this.turnedOff.add(media);
      }
    }
    if (given.length > 0) {
      const them = given.length > 1 ? 'them' : 'it';
      this.shell.note('granted', `Your teacher says you can use your ${given.join(' and ')}. Turn ${them} on when you are ready.`);
    }
    this.knownGrants = new Set(grants);
    this.updateControls();
    this.shell.refreshStatus();
  }

  // ---------------------------------------------------------------- own microphone and camera

  async toggleMic() {
    if (this.mic) {
      this.stopLocal('microphone');
      return;
    }
    await this.startLocal('microphone');
  }

  async toggleCam() {
    if (this.cam) {
      this.stopLocal('camera');
      return;
    }
    await this.startLocal('camera');
  }

  /** @param {Media} media */
  async startLocal(media) {
    if (!this.conn.grants.has(media) || this.busy[/** @type {'microphone' | 'camera'} */ (media)]) return;
    const which = /** @type {'microphone' | 'camera'} */ (media);
    if (needsHttps()) {
      this.error = httpsAdvice('pupil');
      this.updateControls();
      this.shell.refreshStatus();
      return;
    }
    this.busy[which] = true;
    this.error = '';
    this.turnedOff.delete(which);
    this.updateControls();
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        which === 'microphone' ? { audio: true } : { video: true },
      );
      if (this.abort.signal.aborted || !this.conn.grants.has(which)) {
        stopTracks(stream);
        return;
      }
      if (which === 'microphone') {
        this.mic = stream;
      } else {
        this.cam = stream;
        const self = /** @type {HTMLVideoElement} */ (byId('p-self'));
        self.muted = true;
        self.srcObject = stream;
        byId('p-self-tile').hidden = false;
        void tryPlay(self);
      }
      this.conn.publish(which, stream);
    } catch (err) {
      this.error = `Your ${which} did not start. ${deviceError(err)}`;
    } finally {
      this.busy[which] = false;
      this.updateControls();
      this.shell.refreshStatus();
    }
  }

  /** @param {Media} media */
  stopLocal(media) {
    if (media === 'microphone' && this.mic) {
      this.conn.unpublish('microphone');
      stopTracks(this.mic);
      this.mic = null;
    } else if (media === 'camera' && this.cam) {
      this.conn.unpublish('camera');
      stopTracks(this.cam);
      this.cam = null;
      /** @type {HTMLVideoElement} */ (byId('p-self')).srcObject = null;
      byId('p-self-tile').hidden = true;
    }
    this.updateControls();
    this.shell.refreshStatus();
  }

  /** @param {{kind: string, live: boolean, code?: string}} detail */
  onPublication(detail) {
    const word = detail.kind === 'microphone' ? 'microphone' : 'camera';
    if (detail.live) {
      this.shell.refreshStatus();
      return;
    }
    const had = detail.kind === 'microphone' ? this.mic : this.cam;
    if (!had) return;
    // The server closed the stream: the teacher muted us, revoked the grant, or refused it.
    if (detail.kind === 'microphone') {
      stopTracks(this.mic);
      this.mic = null;
    } else if (detail.kind === 'camera') {
      stopTracks(this.cam);
      this.cam = null;
      /** @type {HTMLVideoElement} */ (byId('p-self')).srcObject = null;
      byId('p-self-tile').hidden = true;
    }
    // The server closed it: the teacher turned it off (one `mute` may end both, and the
    // status says both in one sentence), or the stream was refused.
    if (detail.code === 'stream_ended') this.turnedOff.add(word);
    else this.error = `Your ${word} could not be shared.`;
    this.updateControls();
    this.shell.refreshStatus();
  }

  updateControls() {
    const grants = this.conn.grants;
    const mic = /** @type {HTMLButtonElement} */ (byId('p-mic'));
    const cam = /** @type {HTMLButtonElement} */ (byId('p-cam'));
    const hand = byId('p-hand');
    mic.textContent = this.mic ? 'Turn mic off' : 'Turn mic on';
    cam.textContent = this.cam ? 'Turn camera off' : 'Turn camera on';
    const privacy = this.conn.ownPrivacy();
    const camLocked = Boolean(privacy && privacy.camera_always_off);
    mic.disabled = this.busy.microphone || !(this.mic || grants.has('microphone'));
    cam.disabled = this.busy.camera || camLocked || !(this.cam || grants.has('camera'));
    mic.classList.toggle('is-on', Boolean(this.mic));
    cam.classList.toggle('is-on', Boolean(this.cam));
    hand.textContent = this.hand ? 'Lower hand' : 'Raise hand';
    hand.classList.toggle('is-on', this.hand);
    byId('p-fullscreen').textContent = document.fullscreenElement ? 'Exit full screen' : 'Full screen';
    const allowed = [grants.has('microphone') ? 'microphone' : '', grants.has('camera') ? 'camera' : '']
      .filter(Boolean);
    const notes = [allowed.length === 0
      ? 'Your microphone and camera are off. Your teacher decides when you can turn them on.'
      : `Your teacher lets you use your ${allowed.join(' and ')}.`];
    if (camLocked) notes.push('Your school has set your camera to stay off in live lessons.');
    if (privacy && privacy.alias) notes.push(`Other pupils see you as "${privacy.alias}".`);
    byId('p-grant-note').textContent = notes.join(' ');
  }
}
