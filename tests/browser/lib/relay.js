// A userspace UDP impairment relay for the browser tests (the kernel's netem is not available
// here; the Rust harness has the same relay in tests/src/relay.rs). A browser sends its media
// to the relay, which forwards each client's datagrams to the server's one media port from a
// socket of its own (so the server sees one steady address per client), and the replies back.
// SRTP/SRTCP (first byte 128..191) is dropped, delayed and reordered from a seeded RNG, and can
// cross a capped link (a FIFO drained at `rateBps`, dropping what would wait past `queueMs`, as
// a real bottleneck does); STUN and DTLS pass at once, so connection set-up is the same on every
// run.

import dgram from 'node:dgram';
import { debugState, DEMO, newUser, signIn, waitUntil } from './harness.js';

/**
 * A small seeded PRNG (mulberry32), so a run can be repeated.
 * @param {number} seed
 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @typedef {{loss: number, delayMs: number, jitterMs: number, reorder: number, rateBps?: number, queueMs?: number}} Impairment
 * @typedef {{received: number, dropped: number, forwarded: number, delayed: number, rtx: number,
 *   overflowed: number, mediaBytes: number, rtxBytes: number}} DirStats
 */

/**
 * Starts a relay on 127.0.0.1 in front of `server` ("127.0.0.1:PORT").
 * @param {string} server
 * @param {{down: Impairment, up: Impairment, seed: number}} opts `down` is server to client.
 * @returns {Promise<{port: number, stats: {down: DirStats, up: DirStats}, rewrite: (sdp: string) => string, close: () => void}>}
 */
export async function startRelay(server, opts) {
  const [serverHost, serverPortText] = server.split(':');
  const serverPort = Number(serverPortText);
  const random = rng(opts.seed);
  const dirStats = () => ({ received: 0, dropped: 0, forwarded: 0, delayed: 0, rtx: 0, overflowed: 0, mediaBytes: 0, rtxBytes: 0 });
  const stats = { down: dirStats(), up: dirStats() };
  // When each direction's capped link is next free (performance.now() milliseconds).
  const free = new Map();
  const front = dgram.createSocket('udp4');
  /** @type {Map<string, dgram.Socket>} */
  const upstream = new Map();
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();

  /**
   * Sends `msg` now or later, or drops it, as the direction's impairment says.
   * @param {Buffer} msg @param {Impairment} imp @param {DirStats} dir @param {() => void} send
   */
  function schedule(msg, imp, dir, send) {
    dir.received += 1;
    const media = msg.length > 0 && msg[0] >= 128 && msg[0] <= 191;
    // RTP (not RTCP: payload types 192..223), and RTX among it (payload type 97 for VP8 here).
    if (media && msg.length >= 12 && !(msg[1] >= 192 && msg[1] <= 223)) {
      dir.mediaBytes += msg.length;
      if ((msg[1] & 0x7f) === 97) {
        dir.rtx += 1;
        dir.rtxBytes += msg.length;
      }
    }
    if (!media) {
      send();
      dir.forwarded += 1;
      return;
    }
    if (random() < imp.loss) {
      dir.dropped += 1;
      return;
    }
    let delay = imp.delayMs;
    if (imp.rateBps) {
      const now = performance.now();
      const start = Math.max(now, free.get(dir) ?? now);
      if (start - now > (imp.queueMs ?? 150)) {
        dir.dropped += 1;
        dir.overflowed += 1;
        return;
      }
      const done = start + (msg.length * 8 * 1000) / imp.rateBps;
      free.set(dir, done);
      delay += done - now;
    }
    if (imp.jitterMs > 0 && random() < imp.reorder) {
      delay += imp.jitterMs * (0.2 + 0.8 * random());
      dir.delayed += 1;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      send();
      dir.forwarded += 1;
    }, delay);
    timers.add(t);
  }

  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let sock = upstream.get(key);
    if (!sock) {
      const s = dgram.createSocket('udp4');
      s.on('message', (reply, from) => {
        if (from.port !== serverPort) return;
        schedule(reply, opts.down, stats.down, () => front.send(reply, rinfo.port, rinfo.address));
      });
      s.bind(0, '127.0.0.1');
      upstream.set(key, s);
      sock = s;
    }
    const out = sock;
    schedule(msg, opts.up, stats.up, () => out.send(msg, serverPort, serverHost));
  });
  await new Promise((resolve) => front.bind(0, '127.0.0.1', () => resolve(undefined)));
  const port = front.address().port;
  return {
    port,
    stats,
    // Moves the server's candidate (its media address) to the relay in an SDP.
    rewrite: (sdp) => sdp.split(` ${serverHost} ${serverPort} typ `).join(` 127.0.0.1 ${port} typ `),
    close: () => {
      for (const t of timers) clearTimeout(t);
      for (const s of upstream.values()) s.close();
      front.close();
    },
  };
}

/**
 * Sends a user's media through the relay on `relayPort`: the server's offers name its media
 * address (`server`, "HOST:PORT"), and the page's browser is given the relay's in its place.
 * Call before the user's page loads.
 * @param {{context: import('playwright-core').BrowserContext}} user
 * @param {string} server
 * @param {number} relayPort
 */
export async function routeThroughRelay(user, server, relayPort) {
  const [host, port] = server.split(':');
  await user.context.addInitScript(({ from, to }) => {
    const original = RTCPeerConnection.prototype.setRemoteDescription;
    /** @param {RTCSessionDescriptionInit} desc @param {any[]} rest */
    RTCPeerConnection.prototype.setRemoteDescription = function (desc, ...rest) {
      const moved = desc && desc.sdp ? { type: desc.type, sdp: desc.sdp.split(from).join(to) } : desc;
      return original.call(this, moved, ...rest);
    };
  }, { from: ` ${host} ${port} typ `, to: ` 127.0.0.1 ${relayPort} typ ` });
}

/**
 * Ms Rivera starts teaching 7a, and Ada joins it with her media through `relay`: the set-up
 * of the bad-network tests. Both users are added to `users` (for the logs and the clean-up).
 * @param {import('playwright-core').Browser} browser
 * @param {{url: string, media: string}} server
 * @param {{port: number}} relay
 * @param {import('./harness.js').User[]} users
 * @param {string} label the pupil's label in the artifacts
 */
export async function lessonThroughRelay(browser, server, relay, users, label) {
  const teacher = await newUser(browser, server.url, 'teacher');
  users.push(teacher);
  await signIn(teacher, DEMO.teacher);
  await teacher.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Start lesson|Rejoin lesson/ }).click();
  await teacher.page.getByRole('button', { name: 'Start teaching' }).click();
  await waitUntil(async () => (await debugState(teacher.page)).state === 'joined', { timeoutMs: 10_000, what: 'the teacher to join' });

  const pupil = await newUser(browser, server.url, label);
  users.push(pupil);
  // The server's offers name its media port; the pupil's browser is sent to the relay instead.
  await routeThroughRelay(pupil, server.media, relay.port);
  await signIn(pupil, DEMO.ada);
  const join = pupil.page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
  await join.waitFor({ state: 'visible', timeout: 10_000 });
  await join.click();
  await pupil.page.getByRole('button', { name: 'Join lesson', exact: true }).click();
  return { teacher, pupil };
}
