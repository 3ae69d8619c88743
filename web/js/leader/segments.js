// One stream of an opened recording, fed to its <video> element through Media Source
// Extensions: the stream's two-second WebM segments come from the server as the play position
// needs them (the one that covers it, then a few ahead; after a seek, the one that covers the
// target first), go into a SourceBuffer in "segments" mode (every segment carries the
// recording's own times and starts on a keyframe, so any of them can be played first), and
// those far behind or ahead of the position are removed again. Neither the server nor the
// browser ever holds the whole recording. Where the recording itself has a hole (the recorder
// drops video it lost part of until the next keyframe, a second or two when a stream starts),
// the element would wait at its edge for ever; the feed moves it on to where the media resumes
// once the player's time gets there. Browsers without WebM in Media Source Extensions
// (Safari on iPhone and iPad) cannot play recordings here: `playbackSupported` says so.
// @ts-check

import { segmentUrl } from './api.js';

/** @typedef {import('./api.js').RecordedStream} RecordedStream */

/** How far ahead of the play position segments are fetched. */
const AHEAD_MS = 10_000;
/** How much is kept behind the play position (for a short step back). */
const KEEP_BEHIND_MS = 20_000;
/** How much is kept ahead of it (after a step back, what was fetched beyond this goes). */
const KEEP_AHEAD_MS = 30_000;
/** How close the player's time must come to the end of a hole before the element jumps it. */
const HOLE_SLACK_MS = 100;

/**
 * The MIME type of a stream's segments.
 * @param {string[] | null} tracks
 */
export function mimeFor(tracks) {
  const video = !tracks || tracks.includes('video');
  const audio = !tracks || tracks.includes('audio');
  if (video && audio) return 'video/webm; codecs="vp8, opus"';
  return video ? 'video/webm; codecs="vp8"' : 'audio/webm; codecs="opus"';
}

/** True if this browser can play recordings (WebM with VP8 and Opus in Media Source Extensions). */
export function playbackSupported() {
  return typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(mimeFor(null));
}

/** A segment that could not be had: the server's error code, or `network`. */
class FeedError extends Error {
  /** @param {string} code */
  constructor(code) {
    super(code);
    this.code = code;
  }
}

/**
 * Waits until a SourceBuffer has finished its current append or removal.
 * @param {SourceBuffer} buffer
 * @returns {Promise<void>}
 */
function settled(buffer) {
  return new Promise((resolve, reject) => {
    const done = () => { buffer.removeEventListener('error', fail); resolve(); };
    const fail = () => { buffer.removeEventListener('updateend', done); reject(new FeedError('internal')); };
    buffer.addEventListener('updateend', done, { once: true });
    buffer.addEventListener('error', fail, { once: true });
  });
}

export class SegmentFeed {
  /**
   * @param {HTMLVideoElement} video the element this feed plays into
   * @param {{recordingId: string, view: string, stream: RecordedStream}} source
   * @param {(code: string) => void} onError told once, with the server's code, if a segment cannot be had
   */
  constructor(video, source, onError) {
    this.video = video;
    this.source = source;
    this.onError = onError;
    this.segments = source.stream.segments;
    /** Positions of the segments in the buffer. */
    this.have = new Set();
    this.wantMs = source.stream.start_ms;
    this.busy = false;
    this.stopped = false;
    this.abort = new AbortController();
    this.media = new MediaSource();
    /** @type {SourceBuffer | null} */
    this.buffer = null;
    const url = URL.createObjectURL(this.media);
    this.media.addEventListener('sourceopen', () => {
      URL.revokeObjectURL(url);
      this.start();
    }, { once: true });
    video.src = url;
  }

  start() {
    if (this.stopped) return;
    try {
      this.media.duration = this.source.stream.end_ms / 1000;
      const buffer = this.media.addSourceBuffer(mimeFor(this.source.stream.tracks));
      buffer.mode = 'segments';
      this.buffer = buffer;
    } catch {
      this.fail('internal');
      return;
    }
    void this.pump();
  }

  /**
   * Where the player is (ms since the recording started): the feed fetches what covers it.
   * @param {number} ms
   */
  want(ms) {
    const { start_ms: start, end_ms: end } = this.source.stream;
    this.wantMs = Math.min(Math.max(ms, start), end);
    this.skipHole();
    void this.pump();
  }

  /**
   * Where the media resumes (s), if the element waits at a hole in the recording's media
   * rather than for media still on its way (every segment from here to there is in the
   * buffer); otherwise -1. The player lets time run on through a hole, as it did when recorded.
   */
  holeEnd() {
    const v = this.video;
    if (!this.buffer || this.stopped || v.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA) return -1;
    const t = v.currentTime;
    let next = -1;
    for (let i = 0; i < v.buffered.length; i += 1) {
      // Inside a range with more than a few frames ahead: it is only decoding.
      if (v.buffered.start(i) <= t && t < v.buffered.end(i) - 0.25) return -1;
      if (v.buffered.start(i) > t) {
        next = v.buffered.start(i);
        break;
      }
    }
    if (next < 0) return -1;
    for (let i = this.indexAt(t * 1000); i <= this.indexAt(next * 1000); i += 1) {
      if (!this.have.has(i)) return -1;
    }
    return next;
  }

  /** Once the player's time has reached the end of a hole, moves the element past it. */
  skipHole() {
    const end = this.holeEnd();
    if (end >= 0 && end * 1000 <= this.wantMs + HOLE_SLACK_MS) this.video.currentTime = end;
  }

  /**
   * The position of the segment that covers `ms`: the last that starts at or before it.
   * @param {number} ms
   */
  indexAt(ms) {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.segments[mid].start_ms <= ms) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** The next segment to fetch, or -1 when everything near the position is in. */
  nextIndex() {
    for (let i = this.indexAt(this.wantMs); i < this.segments.length; i += 1) {
      if (this.segments[i].start_ms >= this.wantMs + AHEAD_MS) break;
      if (!this.have.has(i)) return i;
    }
    return -1;
  }

  /** Fetches and appends segments until the position is covered, one at a time. */
  async pump() {
    if (this.busy || !this.buffer || this.stopped) return;
    this.busy = true;
    try {
      for (let next = this.nextIndex(); next >= 0 && !this.stopped; next = this.nextIndex()) {
        await this.evict(this.buffer, this.wantMs - KEEP_BEHIND_MS, this.wantMs + KEEP_AHEAD_MS);
        const data = await this.fetchSegment(next);
        await this.append(this.buffer, data);
        this.have.add(next);
        this.skipHole();
      }
      this.endIfWhole();
    } catch (err) {
      if (!this.stopped) this.fail(err instanceof FeedError ? err.code : 'network');
    } finally {
      this.busy = false;
    }
  }

  /**
   * Segment `n` from the server, or a FeedError with the server's code.
   * @param {number} n
   */
  async fetchSegment(n) {
    const { recordingId, view, stream } = this.source;
    const res = await fetch(segmentUrl(recordingId, stream.label, n, view), { credentials: 'same-origin', signal: this.abort.signal });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new FeedError(body && body.error && typeof body.error.code === 'string' ? body.error.code : 'internal');
    }
    return res.arrayBuffer();
  }

  /**
   * Appends one segment; if the browser's buffer is full, drops all but the position's
   * neighbourhood and tries once more.
   * @param {SourceBuffer} buffer
   * @param {ArrayBuffer} data
   */
  async append(buffer, data) {
    try {
      buffer.appendBuffer(data);
    } catch (err) {
      if (!(err instanceof DOMException && err.name === 'QuotaExceededError')) throw err;
      await this.evict(buffer, this.wantMs - 2_000, this.wantMs + AHEAD_MS);
      buffer.appendBuffer(data);
    }
    await settled(buffer);
  }

  /**
   * Removes what lies outside [fromMs, toMs], cutting only where a segment starts (a keyframe,
   * so nothing kept depends on what goes).
   * @param {SourceBuffer} buffer
   * @param {number} fromMs
   * @param {number} toMs
   */
  async evict(buffer, fromMs, toMs) {
    const lo = this.indexAt(fromMs);
    const hi = this.indexAt(toMs);
    const end = this.media.duration;
    const cuts = [];
    if ([...this.have].some((i) => i < lo)) cuts.push([0, this.segments[lo].start_ms / 1000]);
    if (hi + 1 < this.segments.length && [...this.have].some((i) => i > hi)) cuts.push([this.segments[hi + 1].start_ms / 1000, end]);
    for (const [from, to] of cuts) {
      if (to <= from) continue;
      buffer.remove(from, to);
      await settled(buffer);
    }
    for (const i of [...this.have]) if (i < lo || i > hi) this.have.delete(i);
  }

  /** With the last segment in, the stream may end, so the element reaches its end and stops. */
  endIfWhole() {
    const last = this.segments.length - 1;
    if (this.have.has(last) && this.media.readyState === 'open' && this.buffer && !this.buffer.updating) {
      try {
        this.media.endOfStream();
      } catch {
        // Another append started meanwhile; the next pump ends it.
      }
    }
  }

  /** @param {string} code */
  fail(code) {
    if (this.stopped) return;
    this.stopped = true;
    this.onError(code);
  }

  /** Stops fetching (the element is released by its owner). */
  destroy() {
    this.stopped = true;
    this.abort.abort();
  }
}
