// End-to-end lesson test in real browsers (Debian's Chromium via playwright-core, one browser
// context per person) against the livegate binary in demo mode. A teacher starts 7A's lesson and
// publishes camera and microphone; three pupils join and must decode her video and receive her
// audio within 5 s (join -> first frame times are printed). Safety rules are tested from both
// sides: a pupil off the roster is refused and receives nothing, publish controls stay disabled
// without a grant and a forged publish is refused, grant / mute / revoke / remove / end work.
// Also covered: screen share, raised hands, reconnection after a dropped socket, heartbeat.
// The tests run in order and share one lesson. Run with `npm test` in tests/browser.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ARTIFACTS,
  closeSession,
  debugState,
  DEMO,
  median,
  mediaStats,
  newUser,
  openSession,
  parseCsp,
  signIn,
  startServer,
  waitUntil,
} from '../lib/harness.js';

const FIRST_MEDIA_LIMIT_MS = 5_000;

describe('a live lesson in real browsers', () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('../lib/harness.js').User[]} */
  const users = [];
  /** @type {Record<string, import('../lib/harness.js').User>} */
  const by = {};
  let lessonId = '';
  let recordingNotice = '';

  /** @param {string} label @param {{phone?: boolean, trackSockets?: boolean}} [opts] */
  async function user(label, opts) {
    const u = await newUser(browser, server.url, label, opts);
    users.push(u);
    by[label] = u;
    return u;
  }

  before(async () => {
    ({ server, browser } = await openSession());
  });

  after(() => closeSession(server, browser, users));

  it('the teacher starts 7A, sees the recording notice, and publishes camera and microphone', async () => {
    const teacher = await user('teacher', { trackSockets: true });
    await signIn(teacher, DEMO.teacher);
    const { page } = teacher;
    const card = page.locator('li[data-class-id="7a"]');
    await card.getByRole('button', { name: /Start lesson|Rejoin lesson/ }).click();
    await page.locator('#view-notice').waitFor({ state: 'visible' });
    recordingNotice = (await page.locator('#notice-text').textContent()) || '';
    assert.ok(recordingNotice.trim().length > 0, 'the recording notice is shown before joining');
    await page.getByRole('button', { name: 'Start teaching' }).click();
    await page.locator('#view-lesson').waitFor({ state: 'visible' });

    const state = await waitUntil(async () => {
      const s = await debugState(page);
      return s.state === 'joined' ? s : null;
    }, { timeoutMs: 10_000, what: 'the teacher to join' });
    assert.equal(state.role, 'teacher');
    lessonId = state.lesson_id;
    assert.match(lessonId, /^[A-Za-z0-9_-]+$/);

    const sent = await waitUntil(async () => {
      const stats = await mediaStats(page);
      const send = stats.find((s) => s.direction === 'send' && s.kind === 'camera');
      if (!send) return null;
      const video = send.outbound.find((o) => o.kind === 'video' && o.packetsSent > 0);
      const audio = send.outbound.find((o) => o.kind === 'audio' && o.packetsSent > 0);
      return video && audio ? send : null;
    }, { timeoutMs: 10_000, what: "the teacher's camera stream to send video and audio" });
    assert.equal(sent.connectionState, 'connected');
    assert.ok(await page.locator('#rec-badge').isVisible(), 'recording indicator visible to the teacher');
  });

  it('three pupils join and receive video and audio within 5 s', async () => {
    assert.ok(lessonId, 'needs the lesson from the previous test');
    const pupils = [
      { label: 'ada', who: DEMO.ada, phone: false },
      { label: 'ben', who: DEMO.ben, phone: false },
      { label: 'cara', who: DEMO.cara, phone: true },
    ];
    await Promise.all(pupils.map(async (p) =>
      signIn(await user(p.label, { phone: p.phone, trackSockets: p.label === 'ben' }), p.who)));
    const teacherId = (await debugState(by.teacher.page)).participant_id;

    /** @type {Record<string, {video: number, audio: number}>} */
    const times = {};
    for (const p of pupils) {
      const { page } = by[p.label];
      const join = page.locator('li[data-class-id="7a"]').getByRole('button', { name: /Join lesson/ });
      await join.waitFor({ state: 'visible', timeout: 10_000 });
      await join.click();
      await page.locator('#view-notice').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#notice-text').textContent(), recordingNotice,
        `${p.label} sees the recording notice before joining`);

      const t0 = Date.now();
      await page.getByRole('button', { name: 'Join lesson', exact: true }).click();
      let videoAt = 0;
      let audioAt = 0;
      await waitUntil(async () => {
        const stats = await mediaStats(page);
        const fromTeacher = stats.filter((s) => s.direction === 'recv' && s.publisher_id === teacherId);
        const now = Date.now();
        if (!videoAt && fromTeacher.some((s) => s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0))) videoAt = now;
        if (!audioAt && fromTeacher.some((s) => s.inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0))) audioAt = now;
        return videoAt && audioAt;
      }, { timeoutMs: FIRST_MEDIA_LIMIT_MS, intervalMs: 25, what: `${p.label} to decode video and receive audio` });
      times[p.label] = { video: videoAt - t0, audio: audioAt - t0 };
      assert.ok(times[p.label].video <= FIRST_MEDIA_LIMIT_MS);
      assert.ok(times[p.label].audio <= FIRST_MEDIA_LIMIT_MS);

      const s = await debugState(page);
      assert.equal(s.state, 'joined');
      assert.equal(s.role, 'pupil');
      assert.deepEqual(s.grants, [], `${p.label} starts with no grants`);
      assert.ok(await page.locator('#rec-badge').isVisible(), `recording indicator visible to ${p.label}`);
      const sends = (await mediaStats(page)).filter((x) => x.direction === 'send');
      assert.equal(sends.length, 0, `${p.label} publishes nothing by default`);
    }

    for (const p of pupils) {
      // The teacher's stream plays with sound in the stage video element.
      const playing = await waitUntil(() => by[p.label].page.evaluate(() => {
        const v = document.querySelector('#p-stage video');
        return v instanceof HTMLVideoElement && !v.paused && !v.muted && v.videoWidth > 0
          && v.srcObject instanceof MediaStream && v.srcObject.getAudioTracks().length > 0;
      }), { timeoutMs: 5_000, what: `${p.label}'s stage video to play with sound` });
      assert.ok(playing);
    }

    const videoTimes = pupils.map((p) => times[p.label].video);
    console.log('join -> first decoded frame (ms):',
      pupils.map((p) => `${p.label}=${times[p.label].video}`).join(' '),
      `median=${median(videoTimes)}`);
    console.log('join -> first audio packet (ms):',
      pupils.map((p) => `${p.label}=${times[p.label].audio}`).join(' '),
      `median=${median(pupils.map((p) => times[p.label].audio))}`);

    // The teacher sees all three pupils in the list.
    await waitUntil(async () => (await by.teacher.page.locator('#t-people li.person').count()) === 3,
      { timeoutMs: 5_000, what: 'three pupils in the teacher list' });

    // Cara's phone: let a few frames paint, then keep a screenshot to look at the layout.
    const phone = by.cara.page;
    await phone.waitForTimeout(500);
    await phone.screenshot({ path: path.join(ARTIFACTS, 'pupil-phone.png') });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
    await by.teacher.page.screenshot({ path: path.join(ARTIFACTS, 'teacher-laptop.png') });
  });

  it('a pupil off the roster is refused and receives no media', async () => {
    assert.ok(lessonId, 'needs the lesson from the first test');
    const owen = await user('owen');
    await owen.page.addInitScript(() => {
      // Count every peer connection the page ever creates, not only the live ones.
      const Original = window.RTCPeerConnection;
      let created = 0;
      window.RTCPeerConnection = class extends Original {
        /** @param {RTCConfiguration} [config] */
        constructor(config) {
          super(config);
          created += 1;
        }
      };
      Object.defineProperty(window, 'testPeerConnectionsCreated', { get: () => created });
    });
    await signIn(owen, DEMO.owen);
    const { page } = owen;
    assert.equal(await page.locator('li[data-class-id="7a"]').count(), 0, '7A is not among Owen\'s classes');

    await page.goto(`/#/lessons/${lessonId}`);
    await page.locator('#view-message').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('#view-message').getAttribute('data-code'), 'not_on_roster');
    const text = (await page.locator('#message-text').textContent()) || '';
    assert.match(text, /not on this class's list/);
    assert.equal(await page.getByRole('button', { name: 'Join lesson', exact: true }).isVisible(), false);

    // The gate itself, asked directly: no ticket for Owen.
    const ticket = await page.evaluate(async (id) => {
      const res = await fetch(`/api/lessons/${id}/ticket`, { method: 'POST' });
      return { status: res.status, body: await res.json().catch(() => null) };
    }, lessonId);
    assert.equal(ticket.status, 403, `ticket refused with 403 (got ${JSON.stringify(ticket)})`);
    assert.equal(ticket.body?.error?.code, 'not_on_roster');

    await page.waitForTimeout(1_000);
    assert.deepEqual(await mediaStats(page), [], 'Owen holds no peer connection');
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).testPeerConnectionsCreated), 0,
      'Owen never created a peer connection');
  });

  it('pupils without a grant cannot publish; a granted pupil\'s microphone reaches the teacher', async () => {
    for (const label of ['ada', 'ben', 'cara']) {
      const { page } = by[label];
      assert.equal(await page.locator('#p-mic').isDisabled(), true, `${label}'s mic control is disabled`);
      assert.equal(await page.locator('#p-cam').isDisabled(), true, `${label}'s camera control is disabled`);
    }
    const teacher = by.teacher.page;
    const adaId = (await debugState(by.ada.page)).participant_id;
    await teacher.getByRole('button', { name: 'Allow mic for Ada' }).click();

    const ada = by.ada.page;
    await ada.locator('#p-mic:not([disabled])').waitFor({ timeout: 5_000 });
    assert.deepEqual((await debugState(ada)).grants, ['microphone']);
    assert.equal(await ada.locator('#p-cam').isDisabled(), true, 'the camera stays off without its grant');
    // Ben and Cara were not granted anything.
    for (const label of ['ben', 'cara']) {
      assert.equal(await by[label].page.locator('#p-mic').isDisabled(), true, `${label}'s mic stays disabled`);
      assert.deepEqual((await debugState(by[label].page)).grants, []);
    }

    const t0 = Date.now();
    await ada.getByRole('button', { name: 'Turn mic on' }).click();
    await waitUntil(async () => {
      const stats = await mediaStats(ada);
      return stats.some((s) => s.direction === 'send' && s.kind === 'microphone'
        && s.outbound.some((o) => o.kind === 'audio' && o.packetsSent > 0));
    }, { timeoutMs: 5_000, what: "Ada's microphone to send audio" });

    const heard = await waitUntil(async () => {
      const stats = await mediaStats(teacher);
      return stats.find((s) => s.direction === 'recv' && s.publisher_id === adaId && s.kind === 'microphone'
        && s.inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0));
    }, { timeoutMs: 5_000, what: "the teacher to receive Ada's audio" });
    console.log(`Ada mic on -> teacher receives audio: ${Date.now() - t0} ms`);
    assert.ok(heard);
    const audioPlaying = await waitUntil(() => teacher.evaluate((id) => {
      const el = document.querySelector(`#t-remote [data-publisher-id="${id}"] audio`);
      return el instanceof HTMLAudioElement && !el.paused && !el.muted;
    }, adaId), { timeoutMs: 5_000, what: "Ada's audio element to play on the teacher's page" });
    assert.ok(audioPlaying);
    await teacher.locator(`#t-people li[data-participant-id="${adaId}"] .badge-live:not([hidden])`)
      .waitFor({ timeout: 5_000 });

    // Ben, without a grant, holds no sending peer connection.
    const benSends = (await mediaStats(by.ben.page)).filter((s) => s.direction === 'send');
    assert.equal(benSends.length, 0);
  });

  it('muting closes the pupil\'s stream but keeps the grant', async () => {
    const teacher = by.teacher.page;
    const ada = by.ada.page;
    const adaId = (await debugState(ada)).participant_id;
    await teacher.getByRole('button', { name: 'Turn off mic for Ada' }).click();
    await waitUntil(async () => (await mediaStats(ada)).every((s) => s.direction !== 'send'),
      { timeoutMs: 5_000, what: "Ada's microphone stream to close" });
    await waitUntil(async () => (await mediaStats(teacher)).every((s) => s.publisher_id !== adaId),
      { timeoutMs: 5_000, what: "the teacher's copy of Ada's stream to end" });
    assert.deepEqual((await debugState(ada)).grants, ['microphone'], 'the grant stays');
    // Ada may speak again straight away.
    await ada.getByRole('button', { name: 'Turn mic on' }).click();
    await waitUntil(async () => (await mediaStats(teacher)).some((s) => s.publisher_id === adaId
      && s.inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0)),
    { timeoutMs: 5_000, what: "the teacher to hear Ada again" });
  });

  it('a pupil who forges a publish without a grant is refused and reaches nobody', async () => {
    // Dev bypasses the UI and speaks the protocol directly from his browser.
    const dev = await user('dev');
    await signIn(dev, DEMO.dev);
    const teacherRecvBefore = (await mediaStats(by.teacher.page)).filter((s) => s.direction === 'recv').length;
    const result = await dev.page.evaluate(async (id) => {
      const res = await fetch(`/api/lessons/${id}/ticket`, { method: 'POST' });
      const { ticket } = await res.json();
      const ws = new WebSocket(`ws://${location.host}/ws`);
      /** @type {any[]} */
      const seen = [];
      const waitFor = (/** @type {(m: any) => boolean} */ pred, /** @type {number} */ ms) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve(null), ms);
          const check = () => {
            const hit = seen.find(pred);
            if (hit) { clearTimeout(timer); resolve(hit); } else setTimeout(check, 20);
          };
          check();
        });
      ws.onmessage = (e) => seen.push(JSON.parse(e.data));
      await new Promise((r) => { ws.onopen = r; });
      ws.send(JSON.stringify({ type: 'join', protocol: 1, ticket }));
      const joined = await waitFor((m) => m.type === 'joined', 5000);
      const media = await navigator.mediaDevices.getUserMedia({ audio: true });
      const pc = new RTCPeerConnection();
      pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      ws.send(JSON.stringify({ type: 'publish', stream_id: 'forged-mic', kind: 'microphone', sdp: pc.localDescription?.sdp }));
      const reply = await waitFor((m) => (m.type === 'error' || m.type === 'answer') && m.stream_id === 'forged-mic', 5000);
      pc.close();
      media.getTracks().forEach((t) => t.stop());
      ws.close();
      return { joined: Boolean(joined), grants: joined?.grants, reply };
    }, lessonId);
    assert.ok(result.joined, 'Dev is on the roster and may join');
    assert.deepEqual(result.grants, []);
    assert.equal(result.reply?.type, 'error', `publish refused: ${JSON.stringify(result.reply)}`);
    assert.equal(result.reply?.code, 'not_granted');
    await by.teacher.page.waitForTimeout(500);
    const teacherRecvAfter = (await mediaStats(by.teacher.page)).filter((s) => s.direction === 'recv').length;
    assert.equal(teacherRecvAfter, teacherRecvBefore, 'no stream from Dev reached the teacher');
    await dev.context.close();
  });

  it('revoking the grant stops the pupil\'s microphone on both sides', async () => {
    const teacher = by.teacher.page;
    const ada = by.ada.page;
    const adaId = (await debugState(ada)).participant_id;
    await teacher.getByRole('button', { name: 'Stop mic for Ada' }).click();
    await waitUntil(async () => (await mediaStats(ada)).every((s) => s.direction !== 'send'),
      { timeoutMs: 5_000, what: "Ada's microphone stream to close" });
    await ada.locator('#p-mic[disabled]').waitFor({ timeout: 5_000 });
    await waitUntil(async () => (await mediaStats(teacher)).every((s) => s.publisher_id !== adaId),
      { timeoutMs: 5_000, what: "the teacher's copy of Ada's stream to end" });
    assert.deepEqual((await debugState(ada)).grants, []);
  });

  it('a shared screen takes the pupils\' stage; the camera keeps playing beside it', async () => {
    const teacher = by.teacher.page;
    const teacherId = (await debugState(teacher)).participant_id;
    await teacher.getByRole('button', { name: 'Share screen' }).click();
    for (const label of ['ada', 'ben', 'cara']) {
      const { page } = by[label];
      await waitUntil(async () => (await mediaStats(page)).some((s) => s.direction === 'recv'
        && s.publisher_id === teacherId && s.kind === 'screen'
        && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)),
      { timeoutMs: 5_000, what: `${label} to decode the teacher's screen` });
      await page.locator('#p-stage figure[data-kind="screen"]').waitFor({ timeout: 2_000 });
      const camera = await page.evaluate(() => {
        const v = document.querySelector('#p-others figure[data-kind="camera"] video');
        return v instanceof HTMLVideoElement && !v.paused && !v.muted;
      });
      assert.ok(camera, `${label}: the teacher's camera (and voice) still plays beside the screen`);
    }
    await teacher.getByRole('button', { name: 'Stop sharing' }).click();
    for (const label of ['ada', 'ben', 'cara']) {
      const { page } = by[label];
      await page.locator('#p-stage figure[data-kind="camera"]').waitFor({ timeout: 5_000 });
      assert.equal((await mediaStats(page)).filter((s) => s.kind === 'screen').length, 0,
        `${label} closed the screen stream`);
    }
  });

  it('a raised hand shows in the teacher\'s list', async () => {
    const ben = by.ben.page;
    const benId = (await debugState(ben)).participant_id;
    await ben.getByRole('button', { name: 'Raise hand' }).click();
    const item = by.teacher.page.locator(`#t-people li[data-participant-id="${benId}"]`);
    await item.locator('.badge-hand:not([hidden])').waitFor({ timeout: 5_000 });
    await ben.getByRole('button', { name: 'Lower hand' }).click();
    await item.locator('.badge-hand[hidden]').waitFor({ state: 'attached', timeout: 5_000 });
  });

  it('a pupil whose socket drops rejoins by itself and gets video again', async () => {
    const ben = by.ben.page;
    const teacherId = (await debugState(by.teacher.page)).participant_id;
    const before = await mediaStats(ben);
    assert.ok(before.length > 0);
    const t0 = Date.now();
    await ben.evaluate(() => {
      const sockets = /** @type {any} */ (window).testSockets;
      sockets[sockets.length - 1].close();
    });
    await waitUntil(async () => (await debugState(ben)).state === 'reconnecting',
      { timeoutMs: 2_000, intervalMs: 10, what: 'Ben to notice the lost socket' });
    const stats = await waitUntil(async () => {
      const s = await mediaStats(ben);
      const ok = s.some((x) => x.direction === 'recv' && x.publisher_id === teacherId
        && x.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0));
      return ok ? s : null;
    }, { timeoutMs: 10_000, what: 'Ben to decode video again after rejoining' });
    console.log(`Ben socket cut -> video decoded again: ${Date.now() - t0} ms`);
    const oldIds = new Set(before.map((x) => x.stream_id));
    assert.ok(stats.every((x) => !oldIds.has(x.stream_id)), 'old peer connections were torn down');
    assert.equal((await debugState(ben)).state, 'joined');
    // The teacher still sees three pupils, not a ghost of Ben beside the new one.
    await waitUntil(async () => (await by.teacher.page.locator('#t-people li.person').count()) === 3,
      { timeoutMs: 5_000, what: 'the teacher list to settle at three pupils' });
  });

  it('the client sends a heartbeat every 10 s and the server answers', async () => {
    const ben = by.ben.page;
    const since = Date.now();
    const frames = await waitUntil(async () => {
      const f = await ben.evaluate(() => /** @type {any} */ (window).testFrames);
      const ping = f.find((/** @type {any} */ x) => x.dir === 'out' && x.type === 'ping' && x.at >= since);
      const pong = ping && f.find((/** @type {any} */ x) => x.dir === 'in' && x.type === 'pong' && x.at >= ping.at);
      return pong ? f : null;
    }, { timeoutMs: 11_000, intervalMs: 200, what: 'a ping and its pong' });
    const joinedAt = (await debugState(ben)).joined_at;
    const pings = frames.filter((/** @type {any} */ x) => x.dir === 'out' && x.type === 'ping' && x.at >= joinedAt);
    assert.ok(pings.length >= 1);
    assert.ok(pings[0].at - joinedAt <= 10_500, `first ping ${pings[0].at - joinedAt} ms after joining`);
  });

  it('when the teacher\'s socket drops she rejoins, republishes, and pupils get video again', async () => {
    const teacher = by.teacher.page;
    const oldTeacherId = (await debugState(teacher)).participant_id;
    const t0 = Date.now();
    await teacher.evaluate(() => {
      const sockets = /** @type {any} */ (window).testSockets;
      sockets[sockets.length - 1].close();
    });
    await waitUntil(async () => {
      const s = await debugState(teacher);
      return s.state === 'joined' && s.joined_at > t0;
    }, { timeoutMs: 10_000, what: 'the teacher to rejoin' });
    const teacherId = (await debugState(teacher)).participant_id;
    for (const label of ['ada', 'ben', 'cara']) {
      await waitUntil(async () => (await mediaStats(by[label].page)).some((s) => s.direction === 'recv'
        && s.publisher_id === teacherId && s.kind === 'camera'
        && s.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0)
        && s.inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0)),
      { timeoutMs: 10_000, what: `${label} to receive the republished camera` });
    }
    console.log(`teacher socket cut -> all pupils decode her video again: ${Date.now() - t0} ms`
      + ` (participant id ${oldTeacherId === teacherId ? 'kept' : 'changed'})`);
    const sends = (await mediaStats(teacher)).filter((s) => s.direction === 'send');
    assert.deepEqual(sends.map((s) => s.kind), ['camera'], 'one camera stream, no leftovers');
  });

  it('a removed pupil is told so, loses the media, and cannot rejoin', async () => {
    const cara = by.cara.page;
    const caraId = (await debugState(cara)).participant_id;
    const teacher = by.teacher.page;
    const remove = teacher.getByRole('button', { name: 'Remove for Cara' });
    await remove.click();
    await teacher.getByRole('dialog').getByRole('button', { name: 'Remove Cara' }).click();
    await cara.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await cara.locator('#view-message').getAttribute('data-code'), 'removed_by_teacher');
    assert.deepEqual(await mediaStats(cara), []);
    await teacher.locator(`#t-people li[data-participant-id="${caraId}"]`).waitFor({ state: 'detached', timeout: 5_000 });
    const ticket = await cara.evaluate(async (id) => {
      const res = await fetch(`/api/lessons/${id}/ticket`, { method: 'POST' });
      return { status: res.status, body: await res.json().catch(() => null) };
    }, lessonId);
    assert.equal(ticket.body?.error?.code, 'removed_by_teacher', `rejoin refused: ${JSON.stringify(ticket)}`);
  });

  it('ending the lesson ends it for everyone', async () => {
    const teacher = by.teacher.page;
    await teacher.getByRole('button', { name: 'End lesson', exact: true }).click();
    await teacher.getByRole('dialog').getByRole('button', { name: 'End lesson for everyone' }).click();
    for (const label of ['teacher', 'ada', 'ben']) {
      const { page } = by[label];
      await page.locator('#view-message').waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await page.locator('#view-message').getAttribute('data-code'), 'lesson_ended', label);
      assert.deepEqual(await mediaStats(page), [], `${label} holds no peer connection`);
    }
  });

  it('after the lesson a pupil\'s home says there is no live lesson; signing out works', async () => {
    const ada = by.ada.page;
    await ada.getByRole('button', { name: 'Back to classes' }).click();
    await ada.locator('#view-home').waitFor({ state: 'visible' });
    await ada.locator('#home-empty:not([hidden])').waitFor({ timeout: 10_000 });
    assert.match((await ada.locator('#home-empty').textContent()) || '', /No live lesson right now/);
    assert.equal(await ada.getByRole('button', { name: /Join lesson/ }).count(), 0);
    await ada.getByRole('button', { name: 'Sign out' }).click();
    await ada.locator('#view-signin').waitFor({ state: 'visible' });
    const me = await ada.evaluate(async () => (await fetch('/api/me')).status);
    assert.equal(me, 401, 'the session is gone on the server too');
  });

  it('the pages ran under a strict CSP without script errors or CSP violations', async () => {
    const response = await by.teacher.page.request.get('/');
    const csp = parseCsp(response.headers()['content-security-policy'] || '');
    for (const directive of ['script-src', 'style-src']) {
      const sources = csp.get(directive) || csp.get('default-src');
      assert.ok(sources, `the page's CSP restricts ${directive} (got ${JSON.stringify([...csp])})`);
      assert.ok(!sources.includes("'unsafe-inline'") && !sources.includes("'unsafe-eval'"),
        `${directive} allows no inline code: ${sources.join(' ')}`);
    }
    for (const u of users) {
      const bad = u.console.filter((l) => l.startsWith('[pageerror]') || /Content Security Policy/i.test(l));
      assert.deepEqual(bad, [], `${u.label}: ${bad.join('\n')}`);
    }
  });
});
