// The recording player of the leader's pages: every stream of an opened recording in its own
// <video> element (the first stream, normally the teacher's camera, large; the others beside
// it), all driven by one play/pause, seek and skip control so they stay together in time. The
// common timeline is "time since the recording started" (the streams' start_ms / end_ms); a
// stream outside its own span is paused and says so. While the large stream is playing it is
// the clock (so buffering holds everything back); otherwise, and through a hole in its media,
// a wall clock is. Each element is fed segment by segment around the common clock
// (segments.js), and every segment carries the recording's own times, so an
// element's time is the lesson's time.
// @ts-check

import { explainFor } from '../lib/messages.js';
import { h, tryPlay, visuallyHidden } from '../lib/dom.js';
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
    const streams = [...opened.streams].sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }));
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
    this.sideBox = h('div', { class: 'rec-side' });
    /** @type {Track[]} */
    this.tracks = streams.map((s, i) => this.makeTrack(s, i));
    this.build();
    this.render();
  }

  /** The streams in display order: the large one first. */
  get main() {
    return this.tracks[0];
  }

  /**
   * @param {RecordedStream} stream
   * @param {number} index
   * @returns {Track}
   */
  makeTrack(stream, index) {
    const video = /** @type {HTMLVideoElement} */ (h('video', {
      class: 'rec-video', playsinline: true, preload: 'auto', 'data-label': stream.label,
    }));
    const hasVideo = !stream.tracks || stream.tracks.includes('video');
    const what = hasVideo ? (stream.tracks && stream.tracks.includes('audio') ? 'video and sound' : 'video') : 'sound only';
    const name = index === 0 ? `Stream ${stream.label} (first published, normally the teacher's camera)` : `Stream ${stream.label}`;
    const state = h('span', { class: 'rec-tile-state', 'aria-live': 'polite' });
    const caption = h('figcaption', {}, [
      h('span', { class: 'rec-tile-name' }, [name]),
      h('span', { class: 'rec-tile-sub' }, [`${what}, ${clock(stream.start_ms)}–${clock(stream.end_ms)}`]),
      state,
    ]);
    const tile = h('figure', { class: hasVideo ? 'rec-tile' : 'rec-tile rec-tile-audio', 'data-label': stream.label }, [video, caption]);
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
      h('div', { class: 'rec-buttons' }, [this.playButton, this.back, this.fwd, this.mute]),
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
    this.seek.addEventListener('input', () => this.seekTo(Number(this.seek.value)), { signal });
  }

  /**
   * A side tile gets a button that swaps it with the large one.
   * @param {Track} track
   */
  sideTile(track) {
    const button = h('button', { type: 'button', class: 'btn btn-quiet rec-swap' }, ['Show large', visuallyHidden(`: stream ${track.stream.label}`)]);
    button.addEventListener('click', () => this.makeMain(track), { signal: this.abort.signal });
    const wrap = h('div', { class: 'rec-side-item' }, [track.tile, button]);
    return wrap;
  }

  /** @param {Track} track */
  makeMain(track) {
    const old = this.main;
    const i = this.tracks.indexOf(track);
    if (i <= 0) return;
    this.tracks[i] = old;
    this.tracks[0] = track;
    // Moving a playing element in the DOM pauses nothing, but keep the clock honest anyway.
    const at = this.now();
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
    if (this.inSpan(m, this.baseMs) && !m.video.paused && !m.video.seeking && !m.failed && holding) {
      const t = m.video.currentTime * 1000;
      if (t >= m.stream.start_ms - 50) return Math.min(t, this.endMs);
    }
    return Math.min(this.baseMs + (performance.now() - this.baseWall), this.endMs);
  }

  /** @param {Track} track @param {number} ms */
  inSpan(track, ms) {
    return ms >= track.stream.start_ms && ms < track.stream.end_ms;
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
    const inside = this.inSpan(track, ms);
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
    const text = ms < track.stream.start_ms ? `Starts at ${clock(track.stream.start_ms)}` : inside ? '' : 'Ended';
    if (track.state.textContent !== text) track.state.textContent = text;
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
