// The recording player of the leader's pages: every timeline of an opened recording (one per
// person and kind, named as the lesson showed them: "Ms Rivera, camera", a pupil's alias where
// set; a camera turned off and on, or a rejoin, is one timeline with gaps) in its own <video>
// element, one large and the others beside it, all driven by one play/pause, seek and skip
// control so they stay together in time. The large view follows the teacher: her screen while
// she shares it, otherwise her camera, until the leader picks another with "Show large" ("Follow
// the teacher" hands it back). The common timeline is "time since the recording started"; a
// timeline outside its spans is paused and says why (not started, off, ended). While the large
// one is playing it is the clock (so buffering holds everything back); otherwise, and through a
// gap or a hole in its media, a wall clock is. Each element is fed segment by segment around the
// common clock (segments.js), and every segment carries the recording's own times, so an
// element's time is the lesson's time.
// @ts-check

import { explainFor } from '../lib/messages.js';
import { h, tryPlay, visuallyHidden } from '../lib/dom.js';
import { downloadUrl } from './api.js';
import { SegmentFeed } from './segments.js';

/** @typedef {import('./api.js').OpenedRecording} OpenedRecording */
/** @typedef {import('./api.js').RecordedStream} RecordedStream */

const TICK_MS = 200;
/** An element further than this from the common clock is moved back into place. */
const DRIFT_S = 0.35;
const SKIP_MS = 10_000;

/**
 * mm:ss (or h:mm:ss) for a number of milliseconds.
 * @param {number} ms
 */
export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = String(total % 60).padStart(2, '0');
  const m = Math.floor(total / 60) % 60;
  const hrs = Math.floor(total / 3600);
  return hrs ? `${hrs}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * What a timeline holds and when it was on: "Video and sound, 0:00–0:10 and 0:20–0:50".
 * @param {RecordedStream} stream
 */
export function describe(stream) {
  const hasVideo = !stream.tracks || stream.tracks.includes('video');
  const what = hasVideo ? (stream.tracks && stream.tracks.includes('audio') ? 'Video and sound' : 'Video') : 'Sound only';
  const parts = stream.parts && stream.parts.length ? stream.parts : [stream];
  const spans = parts.map((p) => `${clock(p.start_ms)}–${clock(p.end_ms)}`);
  if (spans.length > 3) return `${what}, on ${spans.length} times between ${clock(stream.start_ms)} and ${clock(stream.end_ms)}`;
  const list = spans.length === 1 ? spans[0] : `${spans.slice(0, -1).join(', ')} and ${spans[spans.length - 1]}`;
  return `${what}, ${list}`;
}

/**
 * Why a timeline shows nothing at `ms`, in the leader's words; empty while it plays.
 * @param {RecordedStream} stream
 * @param {number} ms
 * @param {boolean} on
 */
function stateWords(stream, ms, on) {
  if (on) return '';
  if (ms < stream.start_ms) return `Starts at ${clock(stream.start_ms)}`;
  if (ms >= stream.end_ms) return 'Ended';
  const next = (stream.parts || []).find((p) => p.start_ms > ms);
  const back = next ? `, back at ${clock(next.start_ms)}` : '';
  /** @type {Record<string, string>} */
  const words = { camera: 'Camera off', screen: 'Not sharing', microphone: 'Microphone off' };
  const off = words[stream.kind || ''] || 'Off';
  return `${off}${back}`;
}

/**
 * @typedef {{
 *   stream: RecordedStream, video: HTMLVideoElement, tile: HTMLElement, state: HTMLElement,
 *   feed: SegmentFeed | null, failed: boolean,
 * }} Track
 */

export class SyncPlayer {
  /**
   * @param {HTMLElement} container emptied and filled with the player
   * @param {string} recordingId
   * @param {OpenedRecording} opened
   */
  constructor(container, recordingId, opened) {
    this.container = container;
    this.recordingId = recordingId;
    this.opened = opened;
    // The server's order: the teacher's timelines first, then everyone's as they first published.
    const streams = [...opened.streams];
    this.startMs = Math.min(...streams.map((s) => s.start_ms));
    this.endMs = Math.max(...streams.map((s) => s.end_ms));
    /** The common clock: time `baseMs` at wall time `baseWall` (performance.now()). */
    this.baseMs = this.startMs;
    this.baseWall = performance.now();
    this.playing = false;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    this.abort = new AbortController();
    this.playButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-primary rec-play' }, ['Play']));
    this.back = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-secondary' }, ['Back 10 s']));
    this.fwd = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-secondary' }, ['On 10 s']));
    this.mute = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-toggle', 'aria-pressed': 'false' }, ['Mute sound']));
    this.seek = /** @type {HTMLInputElement} */ (h('input', {
      type: 'range', class: 'rec-seek', min: String(this.startMs), max: String(this.endMs), step: '100',
      value: String(this.startMs), 'aria-label': 'Position in the lesson',
    }));
    this.time = h('p', { class: 'rec-time' });
    this.status = h('p', { class: 'rec-player-status', role: 'status' });
    this.stage = h('div', { class: 'rec-stage' });
    /** Whether the large view follows the teacher's screen or camera (until the leader picks one). */
    this.following = streams.some((st) => st.role === 'teacher' && (st.kind === 'camera' || st.kind === 'screen'));
    this.followButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn btn-quiet rec-follow', hidden: true }, ['Follow the teacher']));
    this.sideBox = h('div', { class: 'rec-side' });
    /** @type {Track[]} */
    this.tracks = streams.map((s) => this.makeTrack(s));
    this.build();
    this.follow(this.baseMs);
    this.render();
  }

  /** The streams in display order: the large one first. */
  get main() {
    return this.tracks[0];
  }

  /**
   * @param {RecordedStream} stream
   * @returns {Track}
   */
  makeTrack(stream) {
    const video = /** @type {HTMLVideoElement} */ (h('video', {
      class: 'rec-video', playsinline: true, preload: 'auto', 'data-label': stream.label,
    }));
    const hasVideo = !stream.tracks || stream.tracks.includes('video');
    const name = stream.title || `Stream ${stream.label}`;
    const state = h('span', { class: 'rec-tile-state', 'aria-live': 'polite' });
    const download = h('a', {
      class: 'rec-download', href: downloadUrl(this.recordingId, stream.label, this.opened.view), download: '',
    }, ['Download', visuallyHidden(`: ${name}`)]);
    const caption = h('figcaption', {}, [
      h('span', { class: 'rec-tile-name' }, [name]),
      h('span', { class: 'rec-tile-sub' }, [describe(stream)]),
      download,
      state,
    ]);
    const tile = h('figure', {
      class: hasVideo ? 'rec-tile' : 'rec-tile rec-tile-audio', 'data-label': stream.label, 'aria-label': name,
    }, [video, caption]);
    /** @type {Track} */
    const track = { stream, video, tile, state, feed: null, failed: false };
    const signal = this.abort.signal;
    video.addEventListener('loadedmetadata', () => this.place(track, this.now(), true), { signal });
    video.addEventListener('error', () => this.onError(track, 'internal'), { signal });
    const source = { recordingId: this.recordingId, view: this.opened.view, stream };
    track.feed = new SegmentFeed(video, source, (code) => this.onError(track, code));
    return track;
  }

  build() {
    const signal = this.abort.signal;
    const side = this.sideBox;
    side.replaceChildren(...this.tracks.slice(1).map((t) => this.sideTile(t)));
    this.stage.replaceChildren(this.main.tile);
    const lost = this.opened.lost_after_ms;
    const lostNote = this.opened.status === 'interrupted'
      ? h('p', { class: 'rec-lost' }, [lost !== null && lost !== undefined
        ? `This recording was interrupted: media after ${clock(lost)} was lost.`
        : 'This recording was interrupted: the end of the lesson was lost.'])
      : '';
    // The controls sit right under the large stream, so on a phone they stay near the picture.
    const controls = h('div', { class: 'rec-controls', role: 'group', 'aria-label': 'Playback' }, [
      h('div', { class: 'rec-seek-row' }, [this.seek, this.time]),
      h('div', { class: 'rec-buttons' }, [this.playButton, this.back, this.fwd, this.mute, this.followButton]),
    ]);
    this.container.replaceChildren(
      lostNote,
      h('div', { class: this.tracks.length > 1 ? 'rec-layout rec-layout-many' : 'rec-layout' }, [
        h('div', { class: 'rec-main' }, [this.stage, controls, this.status]),
        side,
      ]),
    );
    this.playButton.addEventListener('click', () => (this.playing ? this.pause() : this.play()), { signal });
    this.back.addEventListener('click', () => this.seekTo(this.now() - SKIP_MS), { signal });
    this.fwd.addEventListener('click', () => this.seekTo(this.now() + SKIP_MS), { signal });
    this.mute.addEventListener('click', () => this.toggleMute(), { signal });
    this.followButton.addEventListener('click', () => {
      this.following = true;
      this.followButton.hidden = true;
      this.follow(this.now());
    }, { signal });
    this.seek.addEventListener('input', () => this.seekTo(Number(this.seek.value)), { signal });
  }

  /**
   * A side tile gets a button that swaps it with the large one.
   * @param {Track} track
   */
  sideTile(track) {
    const button = h('button', { type: 'button', class: 'btn btn-quiet rec-swap' }, ['Show large', visuallyHidden(`: ${track.stream.title || `stream ${track.stream.label}`}`)]);
    button.addEventListener('click', () => {
      // The leader's choice stands until they ask to follow the teacher again.
      if (this.following) this.followButton.hidden = false;
      this.following = false;
      this.makeMain(track);
    }, { signal: this.abort.signal });
    const wrap = h('div', { class: 'rec-side-item' }, [track.tile, button]);
    return wrap;
  }

  /**
   * @param {Track} track
   * @param {number} [at] the common clock now (a seek's target), if not where it was
   */
  makeMain(track, at = this.now()) {
    const old = this.main;
    const i = this.tracks.indexOf(track);
    if (i <= 0) return;
    this.tracks[i] = old;
    this.tracks[0] = track;
    // Moving a playing element in the DOM pauses nothing, but keep the clock honest anyway.
    this.stage.replaceChildren(track.tile);
    this.sideBox.replaceChildren(...this.tracks.slice(1).map((t) => this.sideTile(t)));
    this.baseMs = at;
    this.baseWall = performance.now();
    for (const t of this.tracks) this.place(t, at, false);
  }

  /** The common clock, in ms since the recording started. */
  now() {
    if (!this.playing) return this.baseMs;
    const m = this.main;
    // Waiting for media holds the clock back; a hole in the recording's media does not.
    const holding = m.video.readyState >= 2 && !(m.feed && m.feed.holeEnd() >= 0);
    if (this.inPart(m, this.baseMs) && !m.video.paused && !m.video.seeking && !m.failed && holding) {
      const t = m.video.currentTime * 1000;
      if (t >= m.stream.start_ms - 50) return Math.min(t, this.endMs);
    }
    return Math.min(this.baseMs + (performance.now() - this.baseWall), this.endMs);
  }

  /** @param {Track} track @param {number} ms */
  inSpan(track, ms) {
    return ms >= track.stream.start_ms && ms < track.stream.end_ms;
  }

  /**
   * Whether the timeline was on at `ms`: inside one of its parts, not in a gap between them.
   * @param {Track} track @param {number} ms
   */
  inPart(track, ms) {
    const parts = track.stream.parts;
    if (!parts || parts.length === 0) return this.inSpan(track, ms);
    return parts.some((p) => ms >= p.start_ms && ms < p.end_ms);
  }

  /**
   * The large view follows the teacher: her screen while she shares it, otherwise her camera
   * while it is on; when neither is on, it stays where it is.
   * @param {number} ms
   */
  follow(ms) {
    if (!this.following) return;
    const teacher = (/** @type {string} */ kind) => this.tracks.find((t) => t.stream.role === 'teacher' && t.stream.kind === kind && !t.failed && this.inPart(t, ms));
    const want = teacher('screen') || teacher('camera');
    if (want && want !== this.main) this.makeMain(want, ms);
  }

  play() {
    if (this.now() >= this.endMs - 100) this.baseMs = this.startMs;
    this.playing = true;
    this.baseWall = performance.now();
    for (const t of this.tracks) this.place(t, this.baseMs, true);
    if (!this.timer) this.timer = setInterval(() => this.tick(), TICK_MS);
    this.render();
  }

  pause() {
    this.baseMs = this.now();
    this.playing = false;
    for (const t of this.tracks) t.video.pause();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.render();
  }

  /** @param {number} ms */
  seekTo(ms) {
    const at = Math.min(Math.max(ms, this.startMs), this.endMs);
    this.baseMs = at;
    this.baseWall = performance.now();
    this.follow(at);
    for (const t of this.tracks) this.place(t, at, true);
    this.render();
  }

  toggleMute() {
    const muted = this.mute.getAttribute('aria-pressed') !== 'true';
    this.mute.setAttribute('aria-pressed', String(muted));
    this.mute.classList.toggle('is-on', muted);
    for (const t of this.tracks) t.video.muted = muted;
  }

  tick() {
    const at = this.now();
    // Keep the wall clock where the master clock is, so a hand-over between them is smooth.
    this.baseMs = at;
    this.baseWall = performance.now();
    if (at >= this.endMs) {
      this.pause();
      return;
    }
    this.follow(at);
    for (const t of this.tracks) this.place(t, at, false);
    this.render();
  }

  /**
   * Puts one element where the common clock says: playing inside its span, paused outside.
   * @param {Track} track
   * @param {number} ms
   * @param {boolean} force set the position even if it is close
   */
  place(track, ms, force) {
    const v = track.video;
    if (track.failed) return;
    // The feed fetches what covers the clock even before the element has anything to show.
    if (track.feed) track.feed.want(ms);
    if (v.readyState < 1) return;
    const inside = this.inPart(track, ms);
    const want = Math.min(Math.max(ms, track.stream.start_ms), track.stream.end_ms) / 1000;
    // In a hole in its media the element shows its last picture; its time follows the clock
    // at every tick, so it comes out of the hole together with the others.
    const hole = track.feed !== null && track.feed.holeEnd() >= 0;
    if (force || hole || Math.abs(v.currentTime - want) > DRIFT_S) {
      if (!v.seeking || force || hole) v.currentTime = want;
    }
    if (inside && this.playing) {
      if (v.paused) void tryPlay(v);
    } else if (!v.paused) {
      v.pause();
    }
    const text = stateWords(track.stream, ms, inside);
    if (track.state.textContent !== text) track.state.textContent = text;
    track.tile.classList.toggle('rec-tile-off', !inside);
  }

  render() {
    const at = this.now();
    this.playButton.textContent = this.playing ? 'Pause' : 'Play';
    this.seek.value = String(Math.round(at));
    const text = `${clock(at)} of ${clock(this.endMs)}`;
    this.seek.setAttribute('aria-valuetext', `${text} into the lesson`);
    this.time.textContent = text;
  }

  /**
   * A stream failed: a segment was refused (an expired view, a failed check...) or could not
   * be fetched or played. Says why, in the leader's words.
   * @param {Track} track
   * @param {string} code the server's error code, `network` or `internal`
   */
  onError(track, code) {
    if (track.failed) return;
    track.failed = true;
    track.tile.classList.add('rec-tile-failed');
    if (track.feed) track.feed.destroy();
    track.video.pause();
    const { text } = explainFor(code, 'leader');
    track.state.textContent = `Could not play this stream. ${text}`;
    this.status.textContent = text;
  }

  /** Stops playback and releases the media elements (and their connections). */
  destroy() {
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.tracks) {
      if (t.feed) t.feed.destroy();
      t.video.pause();
      t.video.removeAttribute('src');
      t.video.load();
    }
  }
}
