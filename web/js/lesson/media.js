// Media helpers shared by the teacher console and the pupil view: tiles that play received
// streams, autoplay handling, stopping local tracks, plain reasons for device failures, and
// whether this browser can share a screen at all.
// @ts-check

import { h, tryPlay } from '../lib/dom.js';

/** @typedef {import('../lib/signalling.js').ReceivedStream} ReceivedStream */
/** @typedef {import('../lib/api.js').StreamKind} StreamKind */

const KIND_WORDS = /** @type {Record<StreamKind, string>} */ ({
  camera: 'camera', microphone: 'microphone', screen: 'screen',
});

/**
 * Builds a figure that plays one received stream. Video kinds use a <video> element (which
 * also plays the stream's audio); a microphone stream uses an <audio> element.
 * @param {ReceivedStream} received
 * @param {string} name the publisher's display name
 * @returns {{tile: HTMLElement, media: HTMLMediaElement}}
 */
export function mediaTile(received, name) {
  const audioOnly = received.kind === 'microphone';
  const media = /** @type {HTMLMediaElement} */ (audioOnly
    ? h('audio', { autoplay: true })
    : h('video', { class: 'tile-video', autoplay: true, playsinline: true }));
  media.srcObject = received.stream;
  const caption = audioOnly ? `${name}: microphone on` : `${name}: ${KIND_WORDS[received.kind]}`;
  /** @type {(Node | string)[]} */
  const children = audioOnly
    ? [h('span', { class: 'tile-audio-icon', 'aria-hidden': 'true' }), media]
    : [media];
  children.push(h('figcaption', {}, [caption]));
  const tile = h('figure', {
    class: audioOnly ? 'tile tile-audio' : 'tile',
    'data-stream-id': received.streamId,
    'data-publisher-id': received.publisherId,
    'data-kind': received.kind,
  }, children);
  return { tile, media };
}

/**
 * Plays a received stream with sound if the browser allows it, else muted: muted autoplay is
 * always allowed (Safari, and every browser on iOS, refuse sound before a tap), so the picture
 * shows at once while the caller offers a tap for the sound (`unmuteAll`). Resolves false
 * when the sound is held back.
 * @param {HTMLMediaElement} media
 */
export async function playOrMute(media) {
  if (await tryPlay(media)) return true;
  media.muted = true;
  media.dataset.heldBack = '1';
  await tryPlay(media);
  return false;
}

/**
 * Turns on the sound `playOrMute` held back, in every media element under the given roots.
 * Call it from the tap's handler itself: Safari allows sound only when `play()` runs inside the
 * user's gesture, so every element is unmuted and started before the first `await`.
 * @param {ParentNode[]} roots
 * @returns {Promise<boolean>} whether every element now plays with sound
 */
export async function unmuteAll(roots) {
  const media = roots.flatMap((r) => [...r.querySelectorAll('video, audio')]).map((m) => /** @type {HTMLMediaElement} */ (m));
  for (const m of media) {
    if (m.dataset.heldBack) {
      m.muted = false;
      delete m.dataset.heldBack;
    }
  }
  const results = await Promise.all(media.map((m) => tryPlay(m)));
  return results.every(Boolean);
}

/**
 * Stops and forgets every track of a local stream.
 * @param {MediaStream | null} media
 */
export function stopTracks(media) {
  if (media) for (const t of media.getTracks()) t.stop();
}

/**
 * A plain reason for a failed getUserMedia / getDisplayMedia call.
 * @param {unknown} err
 */
export function deviceError(err) {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError') return 'The browser was not allowed to use it. Check the permission in the address bar.';
  if (name === 'NotFoundError') return 'No camera or microphone was found.';
  if (name === 'NotReadableError') return 'Another app may be using it.';
  return 'The browser could not start it.';
}

/**
 * Whether this browser can share a screen. Safari on iPhone and iPad has no
 * `getDisplayMedia` (nor have other iOS browsers, which are WebKit too), so the teacher's
 * "Share screen" would only fail there: the console hides it and says why instead.
 */
export function canShareScreen() {
  return typeof navigator.mediaDevices?.getDisplayMedia === 'function';
}
