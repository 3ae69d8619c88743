// Who is speaking now, for the teacher and for pupils: the sound level of every stream this
// person receives (the `audioLevel` of its inbound audio, which the browser measures as it
// plays), turned into words that do not rely on colour: a line "Speaking now: Ms Rivera" and a
// "speaking" mark in that person's tile caption. A voice counts as speaking for HOLD_MS after
// its last loud moment, so words between pauses do not make it flicker.
// @ts-check

import { byId, h } from '../lib/dom.js';

/** @typedef {import('../lib/signalling.js').LessonConnection} LessonConnection */

/** How often the levels are read. */
const POLL_MS = 250;
/** A level (0 to 1, linear) above this is a voice, not room noise (about -34 dBov). */
export const LOUD = 0.02;
/** How long a voice stays "speaking" after its last loud moment. */
export const HOLD_MS = 1_500;

export class SpeakingWatch {
  /**
   * @param {LessonConnection} conn
   * @param {string} lineId the element that says who is speaking, in words
   * @param {(publisherId: string) => string} nameOf
   * @param {() => ParentNode[]} roots where the tiles of received streams are
   */
  constructor(conn, lineId, nameOf, roots) {
    this.conn = conn;
    this.line = byId(lineId);
    this.nameOf = nameOf;
    this.roots = roots;
    /** @type {Map<string, number>} publisher id -> the last time they were loud */
    this.loudAt = new Map();
    this.reading = false;
    this.last = '';
    this.timer = setInterval(() => void this.tick(), POLL_MS);
    this.draw([]);
  }

  stop() {
    clearInterval(this.timer);
    this.draw([]);
  }

  async tick() {
    if (this.reading) return; // a slow getStats: skip a turn rather than pile up
    this.reading = true;
    try {
      const now = Date.now();
      for (const r of this.conn.received.values()) {
        if (await loudness(r.pc) > LOUD) this.loudAt.set(r.publisherId, now);
      }
      const speaking = [...this.loudAt].filter(([, at]) => now - at < HOLD_MS).map(([id]) => id);
      for (const [id, at] of this.loudAt) if (now - at >= HOLD_MS) this.loudAt.delete(id);
      this.draw(speaking.filter((id) => this.conn.participants.has(id)));
    } finally {
      this.reading = false;
    }
  }

  /** @param {string[]} ids who is speaking now */
  draw(ids) {
    const names = ids.map((id) => this.nameOf(id)).sort();
    const key = `${ids.join(',')}|${names.join(',')}`;
    if (key === this.last) return;
    this.last = key;
    this.line.hidden = ids.length === 0;
    this.line.replaceChildren(...(ids.length
      ? [h('span', { class: 'speaking-mark', 'aria-hidden': 'true' }), `Speaking now: ${names.join(', ')}`]
      : []));
    this.line.dataset.speaking = ids.join(' ');
    const on = new Set(ids);
    for (const root of this.roots()) {
      for (const tile of root.querySelectorAll('[data-publisher-id]')) {
        if (!(tile instanceof HTMLElement)) continue;
        const speaking = on.has(tile.dataset.publisherId || '');
        tile.classList.toggle('is-speaking', speaking);
        const caption = tile.querySelector('figcaption');
        let mark = caption ? caption.querySelector('.speaking-tag') : null;
        if (speaking && caption && !mark) {
          mark = h('span', { class: 'speaking-tag' }, [' · speaking']);
          caption.append(mark);
        } else if (!speaking && mark) {
          mark.remove();
        }
      }
    }
  }
}

/**
 * The loudest inbound audio level of a peer connection now (0 when it carries no sound).
 * @param {RTCPeerConnection} pc
 */
async function loudness(pc) {
  let level = 0;
  if (pc.connectionState === 'closed') return level;
  try {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio' && typeof s.audioLevel === 'number') level = Math.max(level, s.audioLevel);
    });
  } catch {
    // A connection closing between the check and the call: no sound.
  }
  return level;
}
