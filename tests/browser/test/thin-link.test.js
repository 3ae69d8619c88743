// Retransmission budget in a real browser (issue 11, item 7): a Chromium pupil receives the
// teacher's lesson through a userspace relay whose downlink is capped at 700 kbit/s with a
// 150 ms drop-tail queue (lib/relay.js), far below the lesson's rate. Before the budget the
// server answered every NACK in full, again and again, and offered that pupil about fifteen
// times the lesson's rate, nearly all of it retransmissions. Now what it offers stays within a
// small multiple of what the teacher sends, and its retransmissions within the budget.
// THIN_LINK_KBPS changes the cap (for the measurements in BENCHMARKS.md).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeSession, openSession, waitUntil } from '../lib/harness.js';
import { lessonThroughRelay, startRelay } from '../lib/relay.js';

/** How long the pupil watches through the thin link. */
const WATCH_MS = 20_000;
const CAP_KBPS = Number(process.env.THIN_LINK_KBPS || 250);
const THIN = { loss: 0, delayMs: 20, jitterMs: 0, reorder: 0, rateBps: CAP_KBPS * 1000, queueMs: 150 };
const CLEAN = { loss: 0, delayMs: 0, jitterMs: 0, reorder: 0 };
/** The server's budget (server/src/sfu/retransmit.rs): a quarter of the media and a 16 kB burst. */
const SHARE = 0.25;
const BURST = 16_000;

/**
 * Bytes sent (teacher) or received (pupil), frames decoded and audio concealed, over every
 * peer connection of the page.
 * @param {import('playwright-core').Page} page
 */
function rtpTotals(page) {
  return page.evaluate(async () => {
    const out = { bytesSent: 0, framesDecoded: 0, audioSamples: 0, audioConcealed: 0, nackCount: 0 };
    for (const entry of window.livegate.peerConnections()) {
      const report = await entry.pc.getStats();
      report.forEach((s) => {
        if (s.type === 'outbound-rtp') out.bytesSent += s.bytesSent || 0;
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out.framesDecoded += s.framesDecoded || 0;
          out.nackCount += s.nackCount || 0;
        }
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.audioSamples += s.totalSamplesReceived || 0;
          out.audioConcealed += s.concealedSamples || 0;
        }
      });
    }
    return out;
  });
}

describe('a pupil behind a thin link', () => {
  /** @type {Awaited<ReturnType<typeof openSession>>['server']} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {Awaited<ReturnType<typeof startRelay>>} */
  let relay;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];

  before(async () => {
    ({ server, browser } = await openSession());
    relay = await startRelay(server.media, { down: THIN, up: CLEAN, seed: 11 });
  });

  after(async () => {
    if (relay) relay.close();
    await closeSession(server, browser, users);
  });

  it(`is offered a bounded share of retransmissions behind ${CAP_KBPS} kbit/s`, async () => {
    const { teacher, pupil } = await lessonThroughRelay(browser, server, relay, users, 'ada-thin');
    await waitUntil(async () => relay.stats.down.mediaBytes > 100_000, { timeoutMs: 15_000, what: 'media through the relay' });

    const [t0, p0] = [await rtpTotals(teacher.page), await rtpTotals(pupil.page)];
    const d0 = { ...relay.stats.down };
    await new Promise((r) => setTimeout(r, WATCH_MS));
    const [t1, p1] = [await rtpTotals(teacher.page), await rtpTotals(pupil.page)];
    const d1 = { ...relay.stats.down };

    const secs = WATCH_MS / 1000;
    const mbps = (/** @type {number} */ bytes) => (bytes * 8) / secs / 1e6;
    const offered = d1.mediaBytes - d0.mediaBytes;
    const resent = d1.rtxBytes - d0.rtxBytes;
    const lesson = t1.bytesSent - t0.bytesSent;
    const samples = p1.audioSamples - p0.audioSamples;
    const concealed = samples > 0 ? (100 * (p1.audioConcealed - p0.audioConcealed)) / samples : 0;
    console.log(`cap ${CAP_KBPS} kbit/s: lesson ${mbps(lesson).toFixed(2)} Mbit/s; offered to the pupil ${mbps(offered).toFixed(2)} Mbit/s, `
      + `${(100 * resent / Math.max(offered, 1)).toFixed(0)} % retransmissions; frames decoded ${p1.framesDecoded - p0.framesDecoded} in ${secs} s; `
      + `audio concealed ${concealed.toFixed(1)} %; NACKs ${p1.nackCount - p0.nackCount}; relay down ${JSON.stringify(relay.stats.down)}`);

    assert.ok(lesson > 0 && offered > 0, 'media flowed');
    assert.ok(d1.overflowed > d0.overflowed, 'the thin link never filled');
    assert.ok(resent <= ((offered - resent) * SHARE + BURST) * 1.1, `retransmissions ${resent} B for ${offered - resent} B of media`);
    assert.ok(offered <= lesson * 2, `offered ${mbps(offered).toFixed(2)} Mbit/s for a lesson of ${mbps(lesson).toFixed(2)} Mbit/s`);
  });
});
