// Livegate protocol client (PROTOCOL.md section 2): tickets, the WebSocket, message dispatch,
// one RTCPeerConnection per stream, heartbeat and reconnection. No DOM code lives here; the UI
// listens to the events a LessonConnection dispatches (lesson/). Like all of lib/, it imports
// nothing outside lib/.
// @ts-check

import { ApiError, lessonTicket } from './api.js';
import { watchFlow } from './flow.js';
import { watchPresence } from './presence.js';

/** @typedef {import('./api.js').Media} Media */
/** @typedef {import('./api.js').StreamKind} StreamKind */
/** @typedef {import('./api.js').LessonSummary} LessonSummary */
/** A role inside a lesson: `guest` is staff let in from the lobby. @typedef {'teacher' | 'pupil' | 'guest'} Role */
/**
 * A pupil's privacy profile, sent only to the class's teachers and to the pupil themself.
 * @typedef {{camera_always_off: boolean, alias: string | null, hidden_from_pupils: boolean}} PrivacyView
 */
/**
 * @typedef {{id: string, display_name: string, role: Role, grants: Media[],
 *   hand_raised: boolean, publishing: StreamKind[], privacy?: PrivacyView}} Participant
 */
/**
 * Someone waiting in the lobby, as teachers see them.
 * @typedef {{participant_id: string, display_name: string, role: string, domain: string}} LobbyEntry
 */
/**
 * A stream this client receives: the server offered it, we answered.
 * @typedef {{streamId: string, publisherId: string, kind: StreamKind,
 *   pc: RTCPeerConnection, stream: MediaStream}} ReceivedStream
 */
/**
 * A stream this client wants to publish. It survives reconnection: after every `joined` it is
 * offered again under a fresh stream id.
 * @typedef {{kind: StreamKind, media: MediaStream, streamId: string | null,
 *   pc: RTCPeerConnection | null}} Publication
 */
/**
 * idle → connecting → (waiting →) joined ⇄ reconnecting → closed. `waiting`: in the lobby until
 * a teacher admits us. `held`: no teacher is in the lesson yet (or they stepped out); we watch
 * the lesson's presence and join the moment they are in. `closed` is final; `endCode` says why.
 * @typedef {'idle' | 'connecting' | 'waiting' | 'held' | 'joined' | 'reconnecting' | 'closed'} ConnectionState
 */

export const PROTOCOL_VERSION = 1;
const HEARTBEAT_MS = 10_000;
const SILENCE_LIMIT_MS = 25_000;
const JOIN_TIMEOUT_MS = 10_000;
const PC_FAILURE_GRACE_MS = 3_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 8_000;
/** At most one `hand` this often, the newest state last: well inside the server's budget. */
const HAND_INTERVAL_MS = 250;

/** Codes that end the attempt to be in the lesson; retrying would not help. */
const FINAL_CODES = new Set([
  'not_on_roster', 'wrong_school', 'lesson_not_live', 'removed_by_teacher',
  'replaced', 'protocol_mismatch', 'forbidden_role', 'not_found', 'not_signed_in',
  'consent_missing', 'consent_withdrawn', 'consent_opted_out', 'domain_not_trusted',
  'account_disabled', 'refused_by_teacher', 'bad_request', 'recording_unavailable',
  'school_disabled',
]);

/**
 * Whether a refusal ends the attempt. (`teacher_absent` never does: we wait for the teacher,
 * see `hold`.)
 * @param {string} code
 */
function isFinal(code) {
  return FINAL_CODES.has(code);
}

/** Which grant each stream kind needs when a pupil publishes it (PROTOCOL.md "Stream kinds"). */
const KIND_NEEDS = /** @type {Record<StreamKind, Media>} */ ({
  camera: 'camera', microphone: 'microphone', screen: 'screen',
});

/**
 * A fresh client-chosen stream id: 1 to 64 characters of [A-Za-z0-9_-].
 * @param {StreamKind} kind
 */
function newStreamId(kind) {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${kind}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Restricts a transceiver to the codecs the server accepts (VP8 video, Opus audio), so the
 * offer never carries a codec the server would refuse with `unsupported_media`.
 * @param {RTCRtpTransceiver} transceiver
 * @param {string} trackKind 'audio' or 'video'
 */
function preferServerCodecs(transceiver, trackKind) {
  const wanted = trackKind === 'video' ? 'video/vp8' : 'audio/opus';
  const caps = RTCRtpSender.getCapabilities(trackKind);
  if (!caps || typeof transceiver.setCodecPreferences !== 'function') return;
  const codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() === wanted);
  if (codecs.length === 0) return;
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (err) {
    console.warn('livegate: setCodecPreferences failed', err);
  }
}

/**
 * One participant's presence in one lesson. Events (all CustomEvent, details in brackets):
 * - `state` {state, attempt}: connection state changed
 * - `waiting` {participantId, lesson}: we are in the lobby until a teacher admits us
 * - `held` {}: no teacher is in the lesson; we join by ourselves the moment one is
 * - `flow` {frozen}: received media stopped arriving (`frozen`), or flows again
 * - `joined` {participantId, role, lesson}
 * - `participants` {}: the participant list changed (read `participants`)
 * - `lobby` {}: (teachers) who waits in the lobby changed (read `lobby`)
 * - `grants` {grants}: this client's grants changed
 * - `stream-added` {received: ReceivedStream}; `stream-removed` {streamId}
 * - `publication` {kind, live: boolean, code?: string}: a local stream went live or ended
 * - `problem` {code, message}: a request failed but we are still in the lesson
 * - `closed` {code, message}: final; the UI should leave the lesson view
 */
export class LessonConnection extends EventTarget {
  /** @param {string} lessonId */
  constructor(lessonId) {
    super();
    this.lessonId = lessonId;
    /** @type {ConnectionState} */
    this.state = 'idle';
    /** @type {string | null} */
    this.endCode = null;
    /** @type {string | null} */
    this.participantId = null;
    /** @type {Role | null} */
    this.role = null;
    /** @type {LessonSummary | null} */
    this.lesson = null;
    /** @type {Map<string, Participant>} */
    this.participants = new Map();
    /** @type {LobbyEntry[]} who waits in the lobby (teachers only) */
    this.lobby = [];
    /** @type {Set<Media>} */
    this.grants = new Set();
    /** @type {Map<string, ReceivedStream>} */
    this.received = new Map();
    /** @type {Map<StreamKind, Publication>} */
    this.publications = new Map();
    /** @type {number | null} epoch ms of the most recent `joined` */
    this.joinedAt = null;

    /** @type {WebSocket | null} */
    this.ws = null;
    this.generation = 0;
    this.attempt = 0;
    this.lastHeard = 0;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.heartbeat = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.joinTimer = null;
    /** @type {Map<RTCPeerConnection, ReturnType<typeof setTimeout>>} */
    this.failureTimers = new Map();
    /** Messages are handled one at a time so an offer is applied before what follows it. */
    this.queue = Promise.resolve();
    /** @type {boolean | null} a hand state waiting for the next `hand` slot */
    this.handWanted = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.handTimer = null;
    /** True while received media has stopped arriving (lib/flow.js). */
    this.frozen = false;
    /** @type {(() => void) | null} stops watching received media */
    this.stopFlow = null;
    /** @type {(() => void) | null} stops watching the lesson's presence while held */
    this.stopPresence = null;
  }

  /** Starts joining. Safe to call once. */
  start() {
    if (this.state !== 'idle') return;
    void this.connect();
  }

  /** Leaves the lesson on purpose (no reconnection). */
  leave() {
    this.finish('left', 'You left the lesson.');
  }

  // ---------------------------------------------------------------- teacher and pupil actions

  /**
   * Publishes (or re-publishes after a reconnect) a local stream of the given kind.
   * @param {StreamKind} kind
   * @param {MediaStream} media
   */
  publish(kind, media) {
    this.unpublish(kind);
    /** @type {Publication} */
    const publication = { kind, media, streamId: null, pc: null };
    this.publications.set(kind, publication);
    if (this.state === 'joined') void this.negotiatePublication(publication);
  }

  /**
   * Stops publishing a kind. The caller owns (and stops) the tracks.
   * @param {StreamKind} kind
   */
  unpublish(kind) {
    const publication = this.publications.get(kind);
    if (!publication) return;
    this.publications.delete(kind);
    if (publication.streamId && this.state === 'joined') {
      this.send({ type: 'unpublish', stream_id: publication.streamId });
    }
    this.closePc(publication.pc);
  }

  /**
   * Raises or lowers the hand. However fast the button is pressed, the server gets at most one
   * `hand` every 250 ms, the last one carrying the newest state (PROTOCOL.md "Budgets").
   * @param {boolean} raised
   */
  setHand(raised) {
    this.handWanted = raised;
    if (!this.handTimer) this.sendHand();
  }

  sendHand() {
    if (this.handWanted === null) return;
    this.send({ type: 'hand', raised: this.handWanted });
    this.handWanted = null;
    this.handTimer = setTimeout(() => {
      this.handTimer = null;
      this.sendHand();
    }, HAND_INTERVAL_MS);
  }

  /** @param {string} participantId @param {Media} media */
  grant(participantId, media) {
    this.send({ type: 'grant', participant_id: participantId, media });
  }

  /** @param {string} participantId @param {Media} media */
  revoke(participantId, media) {
    this.send({ type: 'revoke', participant_id: participantId, media });
  }

  /** @param {string} participantId */
  mute(participantId) {
    this.send({ type: 'mute', participant_id: participantId });
  }

  /** Lowers a pupil's raised hand (teacher). @param {string} participantId */
  lowerHand(participantId) {
    this.send({ type: 'lower_hand', participant_id: participantId });
  }

  /** @param {string} participantId */
  remove(participantId) {
    this.send({ type: 'remove', participant_id: participantId });
  }

  /** Lets someone in from the lobby as a guest. @param {string} participantId */
  admit(participantId) {
    this.send({ type: 'admit', participant_id: participantId });
  }

  /** Turns someone in the lobby away. @param {string} participantId */
  refuse(participantId) {
    this.send({ type: 'refuse', participant_id: participantId });
  }

  endLesson() {
    this.send({ type: 'end_lesson' });
  }

  /**
   * Every live peer connection, for the debug hook and tests.
   * @returns {{stream_id: string, direction: 'recv' | 'send', kind: StreamKind,
   *   publisher_id: string | null, pc: RTCPeerConnection}[]}
   */
  peerConnections() {
    const out = [];
    for (const r of this.received.values()) {
      out.push({ stream_id: r.streamId, direction: /** @type {const} */ ('recv'), kind: r.kind,
        publisher_id: r.publisherId, pc: r.pc });
    }
    for (const p of this.publications.values()) {
      if (p.pc && p.streamId) {
        out.push({ stream_id: p.streamId, direction: /** @type {const} */ ('send'), kind: p.kind,
          publisher_id: this.participantId, pc: p.pc });
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- connection lifecycle

  /** Fetches a ticket, opens the socket and sends `join`. */
  async connect() {
    const generation = ++this.generation;
    this.setState(this.joinedAt === null ? 'connecting' : 'reconnecting');
    let ticket;
    try {
      ticket = await lessonTicket(this.lessonId);
    } catch (err) {
      if (generation !== this.generation || this.state === 'closed') return;
      const e = err instanceof ApiError ? err : new ApiError(0, 'network', String(err));
      if (e.code === 'teacher_absent') this.hold();
      else if (isFinal(e.code)) this.finish(e.code, e.message);
      else this.scheduleReconnect();
      return;
    }
    if (generation !== this.generation || this.state === 'closed') return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}${ticket.ws_path || '/ws'}`);
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (generation !== this.generation) return;
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: 'join', protocol: PROTOCOL_VERSION, ticket: ticket.ticket }));
    });
    ws.addEventListener('message', (ev) => {
      if (generation !== this.generation) return;
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        console.warn('livegate: ignoring a frame that is not JSON');
        return;
      }
      this.queue = this.queue
        .then(() => (generation === this.generation ? this.handle(msg) : undefined))
        .catch((err) => console.error('livegate: handling', msg && msg.type, err));
    });
    ws.addEventListener('close', (ev) => {
      if (generation !== this.generation || this.state === 'closed') return;
      console.info(`livegate: socket closed (${ev.code}); reconnecting`);
      this.dropConnection();
      this.scheduleReconnect();
    });
    this.joinTimer = setTimeout(() => {
      const settled = this.state === 'joined' || this.state === 'waiting' || this.state === 'closed';
      if (generation === this.generation && !settled) {
        console.warn('livegate: no `joined` in time; reconnecting');
        this.restart();
      }
    }, JOIN_TIMEOUT_MS);
  }

  /**
   * No teacher is in the lesson: wait for one, told by the server's push, then join. The
   * socket and peer connections are already closed (a ticket was refused, or the join was).
   */
  hold() {
    if (this.state === 'closed' || this.stopPresence) return;
    this.setState('held');
    this.emit('held', {});
    this.stopPresence = watchPresence(this.lessonId, (p) => {
      if (!p.live) {
        this.finish('lesson_ended', 'The lesson has ended.');
      } else if (p.teacher_present) {
        this.unhold();
        this.attempt = 0;
        void this.connect();
      }
    }, () => {
      // The stream was refused: a ticket request says why (or finds the teacher there).
      this.unhold();
      void this.connect();
    });
  }

  unhold() {
    if (this.stopPresence) this.stopPresence();
    this.stopPresence = null;
  }

  /** Drops the socket and every peer connection and tries again after the backoff delay. */
  restart() {
    if (this.state === 'closed') return;
    this.generation++;
    this.dropConnection();
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.state === 'closed' || this.retryTimer) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt++;
    this.setState('reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  /** Closes the socket and all peer connections, keeping the wish to publish. */
  dropConnection() {
    this.stopTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try { ws.close(1000); } catch { /* already closing */ }
    }
    for (const streamId of [...this.received.keys()]) this.dropReceived(streamId);
    for (const p of this.publications.values()) {
      this.closePc(p.pc);
      p.pc = null;
      p.streamId = null;
    }
  }

  stopTimers() {
    if (this.stopFlow) this.stopFlow();
    this.stopFlow = null;
    this.setFrozen(false);
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.heartbeat = null;
    this.joinTimer = null;
    for (const t of this.failureTimers.values()) clearTimeout(t);
    this.failureTimers.clear();
  }

  /**
   * Ends this connection for good.
   * @param {string} code
   * @param {string} message
   */
  finish(code, message) {
    if (this.state === 'closed') return;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.unhold();
    this.dropConnection();
    for (const p of this.publications.values()) {
      this.emit('publication', { kind: p.kind, live: false, code });
    }
    this.publications.clear();
    this.endCode = code;
    this.setState('closed');
    this.emit('closed', { code, message });
  }

  /** @param {ConnectionState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', { state, attempt: this.attempt });
  }

  /** @param {Record<string, unknown>} msg */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** @param {string} type @param {object} detail */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---------------------------------------------------------------- incoming messages

  /** @param {any} msg */
  async handle(msg) {
    switch (msg.type) {
      case 'joined': return this.onJoined(msg);
      case 'lobby': return this.onLobby(msg);
      case 'lobby_updated':
        this.lobby = Array.isArray(msg.waiting) ? msg.waiting : [];
        this.emit('lobby', {});
        return undefined;
      case 'answer': return this.onAnswer(msg.stream_id, msg.sdp);
      case 'offer': return this.onOffer(msg);
      case 'stream_ended': return this.onStreamEnded(msg.stream_id);
      case 'participant_joined':
      case 'participant_updated':
        this.participants.set(msg.participant.id, msg.participant);
        this.emit('participants', {});
        return undefined;
      case 'participant_left':
        this.participants.delete(msg.participant_id);
        this.emit('participants', {});
        return undefined;
      case 'grants': return this.onGrants(msg.grants);
      case 'removed': return this.finish(msg.reason || 'removed_by_teacher', 'removed');
      case 'lesson_ended':
        // A server stopping for a restart ends its lessons with a reason of its own.
        if (msg.reason === 'server_stopping') return this.finish('server_stopping', 'Livegate is restarting.');
        // The operator switched the school off: say so rather than a plain end.
        if (msg.reason === 'school_disabled') return this.finish('school_disabled', 'The school is switched off.');
        return this.finish('lesson_ended', 'The lesson has ended.');
      case 'pong': return undefined;
      case 'error': return this.onError(msg);
      default:
        console.warn('livegate: unknown message type', msg.type);
        return undefined;
    }
  }

  /**
   * In the lobby: the socket stays open (with its heartbeat) until a teacher admits us
   * (`joined`) or refuses us (`removed`).
   * @param {any} msg
   */
  onLobby(msg) {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
    this.attempt = 0;
    this.participantId = msg.participant_id;
    this.lesson = msg.lesson;
    this.setState('waiting');
    this.startHeartbeat();
    this.emit('waiting', { participantId: this.participantId, lesson: this.lesson });
  }

  startHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.tick(), HEARTBEAT_MS);
  }

  /** @param {any} msg */
  async onJoined(msg) {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
    this.attempt = 0;
    this.lobby = [];
    this.participantId = msg.participant_id;
    this.role = msg.role;
    this.lesson = msg.lesson;
    this.participants = new Map((msg.participants || []).map((/** @type {Participant} */ p) => [p.id, p]));
    this.grants = new Set(msg.grants || []);
    this.joinedAt = Date.now();
    this.setState('joined');
    this.startHeartbeat();
    if (this.stopFlow) this.stopFlow();
    this.stopFlow = watchFlow(() => [...this.received.values()].map((r) => r.pc), (frozen) => this.setFrozen(frozen));
    this.emit('joined', { participantId: this.participantId, role: this.role, lesson: this.lesson });
    this.emit('participants', {});
    this.emit('grants', { grants: [...this.grants] });
    for (const p of [...this.publications.values()]) {
      if (this.mayPublish(p.kind, p.media)) void this.negotiatePublication(p);
      else this.dropPublication(p.kind, 'not_granted');
    }
  }

  /** @param {boolean} frozen */
  setFrozen(frozen) {
    if (this.frozen === frozen) return;
    this.frozen = frozen;
    this.emit('flow', { frozen });
  }

  tick() {
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      console.warn('livegate: server silent; reconnecting');
      this.restart();
      return;
    }
    this.send({ type: 'ping' });
  }

  /** @param {Media[]} grants */
  onGrants(grants) {
    this.grants = new Set(grants || []);
    this.emit('grants', { grants: [...this.grants] });
  }

  /** @param {any} msg */
  onError(msg) {
    const code = String(msg.code || 'internal');
    const message = String(msg.message || code);
    if (msg.stream_id) {
      for (const p of this.publications.values()) {
        if (p.streamId === msg.stream_id) {
          this.dropPublication(p.kind, code);
          break;
        }
      }
      this.emit('problem', { code, message });
      return;
    }
    if (this.state !== 'joined' && this.state !== 'waiting') {
      // Refused at the gate, or the ticket was stale: the socket is about to close.
      if (code === 'teacher_absent') {
        this.generation++;
        this.dropConnection();
        this.hold();
      } else if (isFinal(code)) {
        this.finish(code, message);
      }
      return;
    }
    if (code === 'replaced' || code === 'removed_by_teacher' || code === 'lesson_not_live'
      || code === 'refused_by_teacher') {
      this.finish(code, message);
      return;
    }
    this.emit('problem', { code, message });
  }

  /**
   * @param {StreamKind} kind
   * @param {MediaStream} media
   */
  mayPublish(kind, media) {
    if (this.role === 'teacher') return true;
    if (kind === 'camera' && this.ownPrivacy()?.camera_always_off) return false;
    if (!this.grants.has(KIND_NEEDS[kind])) return false;
    return !(kind === 'camera' && media.getAudioTracks().length > 0 && !this.grants.has('microphone'));
  }

  /** This participant's own privacy profile, if the school set one. */
  ownPrivacy() {
    const me = this.participantId ? this.participants.get(this.participantId) : undefined;
    return me && me.privacy ? me.privacy : null;
  }

  /**
   * @param {StreamKind} kind
   * @param {string} code
   */
  dropPublication(kind, code) {
    const p = this.publications.get(kind);
    if (!p) return;
    this.publications.delete(kind);
    this.closePc(p.pc);
    this.emit('publication', { kind, live: false, code });
  }

  // ---------------------------------------------------------------- peer connections

  /** @param {Publication} publication */
  async negotiatePublication(publication) {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    const streamId = newStreamId(publication.kind);
    publication.pc = pc;
    publication.streamId = streamId;
    this.watchPc(pc);
    for (const track of publication.media.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [publication.media] });
      preferServerCodecs(transceiver, track.kind);
    }
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
    } catch (err) {
      console.error('livegate: could not create an offer', err);
      this.dropPublication(publication.kind, 'bad_sdp');
      return;
    }
    if (publication.pc !== pc) return; // unpublished meanwhile
    const sdp = pc.localDescription ? pc.localDescription.sdp : '';
    this.send({ type: 'publish', stream_id: streamId, kind: publication.kind, sdp });
  }

  /** @param {string} streamId @param {string} sdp */
  async onAnswer(streamId, sdp) {
    const publication = [...this.publications.values()].find((p) => p.streamId === streamId);
    if (!publication || !publication.pc) return;
    try {
      await publication.pc.setRemoteDescription({ type: 'answer', sdp });
      this.emit('publication', { kind: publication.kind, live: true });
    } catch (err) {
      console.error('livegate: bad answer', err);
      this.send({ type: 'unpublish', stream_id: streamId });
      this.dropPublication(publication.kind, 'bad_sdp');
    }
  }

  /** @param {{stream_id: string, publisher_id: string, kind: StreamKind, sdp: string}} msg */
  async onOffer(msg) {
    this.dropReceived(msg.stream_id);
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    const stream = new MediaStream();
    pc.addEventListener('track', (ev) => stream.addTrack(ev.track));
    /** @type {ReceivedStream} */
    const received = { streamId: msg.stream_id, publisherId: msg.publisher_id, kind: msg.kind, pc, stream };
    this.received.set(msg.stream_id, received);
    this.watchPc(pc);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
    } catch (err) {
      console.error('livegate: could not answer an offer', err);
      this.dropReceived(msg.stream_id);
      this.emit('problem', { code: 'bad_sdp', message: String(err) });
      return;
    }
    if (this.received.get(msg.stream_id) !== received) return;
    const sdp = pc.localDescription ? pc.localDescription.sdp : '';
    this.send({ type: 'answer', stream_id: msg.stream_id, sdp });
    this.emit('stream-added', { received });
  }

  /** @param {string} streamId */
  onStreamEnded(streamId) {
    if (this.received.has(streamId)) {
      this.dropReceived(streamId);
      return;
    }
    for (const p of this.publications.values()) {
      if (p.streamId === streamId) {
        this.dropPublication(p.kind, 'stream_ended');
        return;
      }
    }
  }

  /** @param {string} streamId */
  dropReceived(streamId) {
    const r = this.received.get(streamId);
    if (!r) return;
    this.received.delete(streamId);
    this.closePc(r.pc);
    this.emit('stream-removed', { streamId });
  }

  /**
   * Restarts the whole session when a peer connection stays failed or disconnected for more
   * than three seconds: the server offers every stream afresh after the rejoin.
   * @param {RTCPeerConnection} pc
   */
  watchPc(pc) {
    pc.addEventListener('connectionstatechange', () => {
      const bad = pc.connectionState === 'failed' || pc.connectionState === 'disconnected';
      const timer = this.failureTimers.get(pc);
      if (bad && !timer) {
        this.failureTimers.set(pc, setTimeout(() => {
          this.failureTimers.delete(pc);
          if (pc.connectionState === 'failed' || pc.connectionState === 'disconnected') {
            console.warn(`livegate: a peer connection is ${pc.connectionState}; rejoining`);
            this.restart();
          }
        }, PC_FAILURE_GRACE_MS));
      } else if (!bad && timer) {
        clearTimeout(timer);
        this.failureTimers.delete(pc);
      }
    });
  }

  /** @param {RTCPeerConnection | null} pc */
  closePc(pc) {
    if (!pc) return;
    const timer = this.failureTimers.get(pc);
    if (timer) clearTimeout(timer);
    this.failureTimers.delete(pc);
    try { pc.close(); } catch { /* already closed */ }
  }
}
