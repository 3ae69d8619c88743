// Notices when received media stops arriving: a frozen picture is otherwise silent. Every
// second it adds up the bytes received over the given peer connections; when they have not
// grown for FROZEN_MS while there was something to receive, the media is frozen (the
// connection's own recovery restarts it a few seconds later; this only lets the page say so at
// once). Like all of lib/, it imports only lib/ (nothing here).
// @ts-check

/** How long without a received byte counts as frozen: a few frames' worth, many times over. */
export const FROZEN_MS = 2_500;
const EVERY_MS = 1_000;

/**
 * @param {() => RTCPeerConnection[]} pcs the peer connections that receive now
 * @param {(frozen: boolean) => void} onChange called when the media freezes or flows again
 * @returns {() => void} stop
 */
export function watchFlow(pcs, onChange) {
  let total = -1;
  let movedAt = Date.now();
  let frozen = false;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const list = pcs();
      let bytes = 0;
      for (const pc of list) {
        const report = await pc.getStats();
        report.forEach((s) => { if (s.type === 'inbound-rtp') bytes += s.bytesReceived || 0; });
      }
      const now = Date.now();
      if (list.length === 0 || bytes !== total) movedAt = now;
      total = bytes;
      const stuck = now - movedAt >= FROZEN_MS;
      if (stuck !== frozen) {
        frozen = stuck;
        onChange(frozen);
      }
    } catch {
      // A peer connection closed while being read: the next round sees the new list.
    } finally {
      busy = false;
    }
  }, EVERY_MS);
  return () => clearInterval(timer);
}
