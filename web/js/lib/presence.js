// Waiting for a lesson's teacher without polling (PROTOCOL.md "The teacher's presence"): an
// EventSource on `GET /api/lessons/{id}/presence`, whose `presence` events the server pushes at
// once and at every change. The browser reopens the stream by itself when the server ends it
// (the stream lasts a few minutes) or the network drops it. Like all of lib/, it imports only
// lib/ (nothing here).
// @ts-check

/** @typedef {{live: boolean, teacher_present: boolean}} Presence */

/** How long to wait before trying again when the browser gives the stream up for good. */
const GIVE_UP_RETRY_MS = 3_000;

/**
 * Watches a lesson's presence until `stop()` is called. `onPresence` gets every event;
 * `onLost` is called when the stream cannot be opened at all (refused or gone), after which
 * the caller decides (it usually asks for a ticket, which says why).
 * @param {string} lessonId
 * @param {(p: Presence) => void} onPresence
 * @param {() => void} onLost
 * @returns {() => void} stop
 */
export function watchPresence(lessonId, onPresence, onLost) {
  const source = new EventSource(`/api/lessons/${encodeURIComponent(lessonId)}/presence`);
  /** @type {ReturnType<typeof setTimeout> | null} */
  let lostTimer = null;
  source.addEventListener('presence', (ev) => {
    let p;
    try {
      p = JSON.parse(/** @type {MessageEvent} */ (ev).data);
    } catch {
      return;
    }
    if (p && typeof p.live === 'boolean' && typeof p.teacher_present === 'boolean') onPresence(p);
  });
  source.addEventListener('error', () => {
    // CONNECTING: the browser retries by itself. CLOSED: the answer was not a stream (a
    // refusal, or the lesson is gone): let the caller ask why, a little later.
    if (source.readyState === EventSource.CLOSED && !lostTimer) {
      lostTimer = setTimeout(onLost, GIVE_UP_RETRY_MS);
    }
  });
  return () => {
    if (lostTimer) clearTimeout(lostTimer);
    source.close();
  };
}
